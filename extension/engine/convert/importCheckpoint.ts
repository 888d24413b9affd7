// `easel models import FILE.safetensors`: a single-file SD 1.x / 2.x / SDXL checkpoint becomes a
// diffusers ONNX folder in the model store. The graphs come from a template of the same
// architecture (their weights are not needed), the weights from the checkpoint, read tensor by
// tensor from the file; tokenizers, configs and the scheduler from the template. Everything is
// staged in the store's `.partial/` folder and renamed into `imported/NAME` only after the folder
// loads and draws a 1-step 64² image, so a failure or a cancel leaves nothing behind. `--dtype`
// other than a template graph's precision rewrites the graph first (graphPrecision.ts).
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { EaselError, firstLine } from "../errors";
import { MANIFEST_NAME } from "../hub/manifest";
import { ModelStore } from "../hub/store";
import { assertStrictlyInside } from "../safePath";
import { type Prediction, ARCHITECTURE_LABELS, detectCheckpoint, entriesUnder } from "./architecture";
import { type ParamMap, convertHfClip, convertOpenClip, convertUnet, convertVae, isIgnoredKey, UNET_PREFIX, VAE_PREFIX } from "./ldmKeys";
import { planWeights, readOnnxModel, writeWeights } from "./onnxWeights";
import { checkConvertible, convertGraphPrecision, weightsDtype } from "./graphPrecision";
import { readGraphWeights } from "../onnx/graphWeights";
import { SafetensorsFile } from "../model/safetensors";

import { IMPORT_RECORD, IMPORTED_FOLDER, type ImportDtype, type ImportProgress, type ImportRecord } from "./importRecord";

export interface ImportOptions {
  readonly store: ModelStore;
  /** Name in the store (`easel generate --model NAME`); the file's stem by default. */
  readonly name?: string;
  /** A diffusers ONNX folder of the same architecture whose graphs, tokenizers and configs are used. */
  readonly templateDir: string;
  readonly dtype?: ImportDtype;
  readonly prediction?: Prediction;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ImportProgress) => void;
  /**
   * Loads the staged folder and runs a 1-step 64² generation (the engine's, injected so this module
   * stays free of ONNX Runtime sessions and tests can see what is verified).
   */
  readonly verify: (dir: string, signal?: AbortSignal) => Promise<void>;
}

export interface ImportResult {
  readonly name: string;
  readonly dir: string;
  readonly record: ImportRecord;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function defaultImportName(file: string): string {
  const stem = path.basename(file).replace(/\.safetensors$/i, "");
  const cleaned = stem.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return cleaned.length > 0 ? cleaned.slice(0, 100) : "imported";
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await fs.readFile(file, "utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/** Everything of the template but its graphs and weights: configs, tokenizers, the scheduler (not a pulled template's download manifest, which lists files the import does not have). */
async function copyTemplateFiles(from: string, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) await copyTemplateFiles(source, target);
    else if (entry.isFile() && /\.(json|txt|model)$/i.test(entry.name) && entry.name !== IMPORT_RECORD && entry.name !== MANIFEST_NAME) await fs.copyFile(source, target);
  }
}

interface TemplateFacts {
  readonly layersPerBlock: number;
  readonly vaeBlocks: number;
  readonly unetInChannels: number;
  readonly crossAttentionDim: number | undefined;
}

async function templateFacts(dir: string): Promise<TemplateFacts> {
  const unet = await readJson(path.join(dir, "unet", "config.json"));
  const vae = (await readJson(path.join(dir, "vae_decoder", "config.json"))) ?? (await readJson(path.join(dir, "vae_encoder", "config.json")));
  const lpb = unet?.layers_per_block;
  const blocks = vae?.block_out_channels;
  if (typeof lpb !== "number" || !Array.isArray(blocks)) {
    throw new EaselError("model-invalid", `the template ${dir} lacks unet/config.json or vae_decoder/config.json (layers_per_block, block_out_channels): use a diffusers ONNX export with its configs`);
  }
  return {
    layersPerBlock: lpb,
    vaeBlocks: blocks.length,
    unetInChannels: typeof unet?.in_channels === "number" ? unet.in_channels : 4,
    crossAttentionDim: typeof unet?.cross_attention_dim === "number" ? unet.cross_attention_dim : undefined,
  };
}

/** The template's graph for a component names OpenCLIP's modules (`transformer.resblocks.…`). */
async function usesOpenClipNames(graphFile: string): Promise<boolean> {
  const model = await readOnnxModel(graphFile);
  return (model.graph?.initializer ?? []).some((t) => (t.name ?? "").includes("resblocks.")) || (model.graph?.node ?? []).some((n) => (n.name ?? "").includes("/resblocks"));
}

/** Tensors the graph may leave unused: the projection a CLIPTextModel graph has no use for, and encoder layers past the last one it reads (SD 2.x uses the penultimate). */
function mayBeUnused(param: string, used: ReadonlySet<string>): boolean {
  if (/(^|\.)text_projection(\.weight)?$/.test(param)) return true;
  const layer = /(?:encoder\.layers|resblocks)\.(\d+)\./.exec(param);
  if (!layer) return false;
  let maxUsed = -1;
  for (const u of used) {
    const m = /(?:encoder\.layers|resblocks)\.(\d+)\./.exec(u);
    if (m) maxUsed = Math.max(maxUsed, Number(m[1]));
  }
  return Number(layer[1]) > maxUsed;
}

/** The UNet's inputs that stay float32 in an fp16 import: sinusoid arguments (see graphPrecision.ts). */
const UNET_FLOAT32_INPUTS = ["timestep", "time_ids"];

/**
 * The precision a component is written in: --dtype's, except that a VAE is never made fp16 (SD 1.x's
 * and SDXL's VAE overflow float16, which is why diffusers upcasts it unless it is an fp16-fix); a
 * VAE the template has in fp16 stays fp16 under --dtype fp16.
 */
export function componentDtype(component: string, graphDtype: ImportDtype, asked: ImportDtype | undefined): ImportDtype {
  if (asked === undefined) return graphDtype;
  if (asked === "fp16" && component.startsWith("vae_")) return graphDtype;
  return asked;
}

interface ComponentPrecision {
  /** The template graph's. */
  readonly graph: ImportDtype;
  /** What the import writes. */
  readonly target: ImportDtype;
}

/** Each component's precision, read from the template graphs' headers (weights unread); a conversion the graph does not allow is refused here, before anything is written. */
async function componentPrecisions(templateDir: string, components: readonly string[], asked: ImportDtype | undefined): Promise<Map<string, ComponentPrecision>> {
  const out = new Map<string, ComponentPrecision>();
  for (const component of components) {
    const file = path.join(templateDir, component, "model.onnx");
    let graph: Awaited<ReturnType<typeof readGraphWeights>>;
    try {
      graph = await readGraphWeights(file);
    } catch (error) {
      throw new EaselError("model-invalid", `the template graph ${file} does not read as ONNX (${firstLine(error)}): give a template folder exported by optimum or diffusers`);
    }
    const graphDtype = weightsDtype(graph.initializers.values()) ?? "fp32";
    const target = componentDtype(component, graphDtype, asked);
    if (target !== graphDtype) checkConvertible(graph.nodes, component, target);
    out.set(component, { graph: graphDtype, target });
  }
  return out;
}

export async function importCheckpoint(file: string, options: ImportOptions): Promise<ImportResult> {
  const { store } = options;
  const name = options.name ?? defaultImportName(file);
  if (!NAME_PATTERN.test(name)) throw new EaselError("bad-argument", `"${name}" cannot name a model: use letters, digits, '.', '_' and '-' (--name NAME)`);
  const checkpoint = await SafetensorsFile.open(file);
  try {
    const detected = detectCheckpoint(checkpoint);
    const label = ARCHITECTURE_LABELS[detected.architecture];
    const prediction = options.prediction ?? detected.prediction;
    if (prediction === undefined) {
      throw new EaselError("bad-argument", `${path.basename(file)} is an SD 2.x checkpoint whose metadata does not say v-prediction (768-v models) or epsilon (base models): add --prediction v or --prediction eps`);
    }
    const templateDir = path.resolve(options.templateDir);
    const facts = await templateFacts(templateDir);
    if (detected.architecture === "sdxl" !== (await exists(path.join(templateDir, "text_encoder_2", "model.onnx")))) {
      throw new EaselError("bad-argument", `the template ${templateDir} is not ${label}: give a template of the checkpoint's architecture (--template DIR)`);
    }
    // Cross-attention width tells SD 1.x (768) from SD 2.x (1024) from SDXL (2048) at any size.
    const toK = [...checkpoint.tensors.values()].find((e) => e.name.startsWith(UNET_PREFIX) && e.name.endsWith(".attn2.to_k.weight"));
    if (toK && facts.crossAttentionDim !== undefined && toK.shape[1] !== facts.crossAttentionDim) {
      throw new EaselError("bad-argument", `the template ${templateDir} reads text of width ${facts.crossAttentionDim} and this ${label} checkpoint's UNet ${toK.shape[1]}: give a ${label} template (--template DIR)`);
    }
    if (detected.unetInChannels !== facts.unetInChannels) {
      const what = detected.unetInChannels === 9 ? "an inpainting checkpoint needs an inpainting template" : "the template is an inpainting model and the checkpoint is not";
      throw new EaselError("bad-argument", `${what} (UNet input channels ${detected.unetInChannels} vs ${facts.unetInChannels}): give a matching --template DIR`);
    }

    // Every key is placed, or known to be unused: anything else means a different or damaged model.
    const prefixes = [UNET_PREFIX, VAE_PREFIX, ...detected.textEncoders.map((t) => t.prefix)];
    for (const key of checkpoint.tensors.keys()) {
      if (!prefixes.some((p) => key.startsWith(p)) && !isIgnoredKey(key)) {
        throw new EaselError("model-invalid", `the checkpoint has a key no ${label} component has: ${key} (a merged or damaged file: Easel imports plain SD checkpoints)`);
      }
    }
    const unet: ParamMap = new Map();
    convertUnet(entriesUnder(checkpoint, UNET_PREFIX).filter((e) => !isIgnoredKey(e.name)), facts.layersPerBlock, unet);
    const vae: ParamMap = new Map();
    if (detected.hasVae) convertVae(entriesUnder(checkpoint, VAE_PREFIX).filter((e) => !isIgnoredKey(e.name)), facts.vaeBlocks, vae);
    const textEncoders = new Map<string, ParamMap>();
    for (const te of detected.textEncoders) {
      const params: ParamMap = new Map();
      const entries = entriesUnder(checkpoint, te.prefix).filter((e) => !isIgnoredKey(e.name));
      if (te.format === "hf-clip") convertHfClip(entries, te.prefix, params);
      else convertOpenClip(entries, te.prefix, await usesOpenClipNames(path.join(templateDir, te.component, "model.onnx")), params);
      textEncoders.set(te.component, params);
    }

    // Components and the parameters each reads; the VAE's two graphs share one parameter set.
    const jobs: { component: string; params: ParamMap; group: string }[] = [];
    for (const [component, params] of textEncoders) jobs.push({ component, params, group: component });
    jobs.push({ component: "unet", params: unet, group: "unet" });
    for (const component of ["vae_decoder", "vae_encoder"]) {
      if (detected.hasVae && (await exists(path.join(templateDir, component, "model.onnx")))) jobs.push({ component, params: vae, group: "vae" });
    }
    const templateVaes: string[] = [];
    if (!detected.hasVae) for (const component of ["vae_decoder", "vae_encoder"]) if (await exists(path.join(templateDir, component, "model.onnx"))) templateVaes.push(component);
    const precisions = await componentPrecisions(templateDir, [...jobs.map((j) => j.component), ...templateVaes], options.dtype);
    const precisionOf = (component: string): ComponentPrecision => precisions.get(component) ?? { graph: "fp32", target: "fp32" };
    // Bytes the weights take in the graphs as written (each in its component's precision, which
    // need not be the checkpoint's); the VAE's parameter set once, its two graphs splitting it.
    const elementBytes = (component: string) => (precisionOf(component).target === "fp16" ? 2 : 4);
    const groups = new Map<string, (typeof jobs)[number]>();
    for (const job of jobs) if (!groups.has(job.group)) groups.set(job.group, job);
    const total = [...groups.values()].reduce((sum, j) => sum + [...j.params.values()].reduce((s, p) => s + shapeOf(p).reduce((a, d) => a * d, 1) * elementBytes(j.component), 0), 0);

    await store.ensureRoot();
    const finalDir = assertStrictlyInside(store.root, path.join(store.root, IMPORTED_FOLDER, name), "an imported model");
    if (await exists(finalDir)) throw new EaselError("bad-argument", `a model named "${name}" was already imported (${finalDir}): remove it (easel models rm ${name}) or choose another --name`);
    if ((await store.listLocal()).some((l) => l.name === name)) throw new EaselError("bad-argument", `a local model named "${name}" already exists: choose another --name`);
    const staging = assertStrictlyInside(store.root, path.join(store.root, ".partial", `import-${name}-${randomBytes(4).toString("hex")}`), "an import's staging folder");
    try {
      await copyTemplateFiles(templateDir, staging);
      const started = Date.now();
      let lastSent = 0;
      let bytes = 0;
      const used = new Map<string, Set<string>>();
      for (const job of jobs) {
        if (options.signal?.aborted) throw new EaselError("cancelled", "import cancelled");
        const graphFile = path.join(templateDir, job.component, "model.onnx");
        const plan = planWeights(await readOnnxModel(graphFile), new Map([...job.params].map(([k, v]) => [k, { shape: shapeOf(v) }])));
        if (plan.missing.length > 0) {
          throw new EaselError("model-invalid", `the checkpoint lacks weights the ${job.component} graph needs (${plan.missing.length}, e.g. ${plan.missing[0]}): it is not a complete ${label} checkpoint`);
        }
        // Weights take their initializer's type: a --dtype other than the graph's retypes the graph first.
        const precision = precisionOf(job.component);
        const externalFrom =
          precision.target === precision.graph
            ? undefined
            : convertGraphPrecision(plan.model, precision.target, {
                component: job.component,
                replaced: new Set(plan.placements.map((p) => p.template)),
                keepInputs: job.component === "unet" ? UNET_FLOAT32_INPUTS : [],
              }).externalFrom;
        const set = used.get(job.group) ?? new Set<string>();
        for (const p of plan.used) set.add(p);
        used.set(job.group, set);
        await fs.mkdir(path.join(staging, job.component), { recursive: true });
        await writeWeights(plan, path.join(staging, job.component), {
          templateDir: path.dirname(graphFile),
          signal: options.signal,
          externalFrom,
          describe: (param) => {
            const source = job.params.get(param);
            if (!source) throw new EaselError("internal", `no source for ${param}`);
            return { shape: shapeOf(source), key: source.key };
          },
          read: async (param) => readParam(checkpoint, job.params, param),
          onBytes: (n) => {
            bytes += n;
            const now = Date.now();
            if (now - lastSent < 200 && bytes < total) return;
            lastSent = now;
            const elapsed = (now - started) / 1000;
            const rate = elapsed > 0.5 ? bytes / elapsed : 0;
            options.onProgress?.({ stage: "converting", component: job.component, bytes, total, eta: rate > 0 ? Math.max(0, (total - bytes) / rate) : undefined });
          },
        });
      }
      // A checkpoint tensor no graph reads is a different architecture's (or a damaged name).
      for (const job of jobs) {
        const set = used.get(job.group) ?? new Set<string>();
        for (const [param, source] of job.params) {
          if (set.has(param) || mayBeUnused(param, set)) continue;
          if (job.group === "vae" && !jobs.some((j) => j.component === "vae_encoder") && (param.startsWith("encoder.") || param.startsWith("quant_conv."))) continue;
          throw new EaselError("model-invalid", `the checkpoint's ${source.key} has no place in the template's ${job.component} graph: the checkpoint is not a plain ${label} model of the template's layout`);
        }
      }
      for (const component of templateVaes) {
        const precision = precisionOf(component);
        if (precision.target === precision.graph) await copyComponent(path.join(templateDir, component), path.join(staging, component));
        else await convertComponent(path.join(templateDir, component), path.join(staging, component), component, precision.target, options.signal);
      }
      await setPrediction(staging, prediction);
      if (options.signal?.aborted) throw new EaselError("cancelled", "import cancelled");
      options.onProgress?.({ stage: "verifying", component: "", bytes: total, total, eta: 0 });
      try {
        await options.verify(staging, options.signal);
      } catch (error) {
        if (error instanceof EaselError && error.code === "cancelled") throw error;
        throw new EaselError("model-invalid", `the imported model does not run (${firstLine(error)}): the checkpoint and the template ${templateDir} do not fit together`);
      }
      const record: ImportRecord = {
        source: path.basename(file),
        architecture: detected.architecture,
        baseModel: detected.architecture === "sd2" ? `${label} (${prediction === "v" ? "v-prediction" : "epsilon"})` : label,
        prediction,
        dtype: precisionOf("unet").target,
        vaeDtype: precisionOf("vae_decoder").target,
        vae: detected.hasVae ? "checkpoint" : "template",
        template: templateDir,
        importedAt: new Date().toISOString(),
      };
      await fs.writeFile(path.join(staging, IMPORT_RECORD), `${JSON.stringify(record, null, 2)}\n`);
      await fs.mkdir(path.dirname(finalDir), { recursive: true });
      await fs.rename(staging, finalDir);
      await store.addLocal(finalDir, name);
      return { name, dir: finalDir, record };
    } finally {
      await store.removeFolder(staging);
    }
  } finally {
    await checkpoint.close();
  }
}

function shapeOf(source: { entry: { shape: readonly number[] }; split?: { parts: number }; transpose?: boolean }): number[] {
  const shape = [...source.entry.shape];
  if (source.split) shape[0] /= source.split.parts;
  // OpenCLIP's positional_embedding is [77,W] where CLIP's Embedding is too: no change. text_projection is stored [W,P].
  return source.transpose ? shape.reverse() : shape;
}

async function readParam(checkpoint: SafetensorsFile, params: ParamMap, param: string): Promise<Float32Array> {
  const source = params.get(param);
  if (!source) throw new EaselError("internal", `no source for ${param}`);
  const all = await checkpoint.readFloat32(source.entry); // checkpoint layout f32
  let values = all;
  if (source.split) {
    const part = all.length / source.split.parts;
    values = all.slice(part * source.split.index, part * (source.split.index + 1));
  }
  if (source.transpose) {
    const [rows, cols] = source.entry.shape;
    const out = new Float32Array(values.length); // [cols,rows] f32
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
    values = out;
  }
  return values;
}

async function copyComponent(from: string, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  for (const entry of await fs.readdir(from, { withFileTypes: true })) if (entry.isFile()) await fs.copyFile(path.join(from, entry.name), path.join(to, entry.name));
}

/** The template's own graph and weights in another precision (its VAE, when the checkpoint bakes none in). */
async function convertComponent(from: string, to: string, component: string, dtype: ImportDtype, signal: AbortSignal | undefined): Promise<void> {
  const model = await readOnnxModel(path.join(from, "model.onnx"));
  // No parameters: every initializer is the template's, converted as a constant.
  const plan = planWeights(model, new Map());
  const { externalFrom } = convertGraphPrecision(model, dtype, { component, replaced: new Set() });
  await fs.mkdir(to, { recursive: true });
  const none = (): never => {
    throw new EaselError("internal", `no checkpoint weights go into the template's ${component}`);
  };
  await writeWeights(plan, to, { templateDir: from, signal, externalFrom, describe: none, read: none });
}

/** SD 2.x comes as v-prediction (768-v) and epsilon (base) models with the same graphs: the scheduler says which. */
async function setPrediction(dir: string, prediction: Prediction): Promise<void> {
  const file = path.join(dir, "scheduler", "scheduler_config.json");
  const config = await readJson(file);
  if (!config) return;
  config.prediction_type = prediction === "v" ? "v_prediction" : "epsilon";
  await fs.writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
}
