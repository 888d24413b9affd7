// Merging LoRAs into a model's weights (conformance rule 22): for every module a LoRA names,
// W += weight · alpha / rank · (up · down), reshaped to W (a k×k LoCon convolution's down is
// [rank, in, k, k], flattened to [rank, in·k·k]; a MatMul's W is stored transposed). Several LoRAs
// add up, in the order given. The patched values replace the graph's initializers when the session
// is created (onnx/patchedGraph.ts); the model's files are never written.

import fs from "node:fs/promises";
import path from "node:path";
import { EaselError } from "../errors";
import { bytesToFloat32, float32ToBytes, forEachTensorBytes, type GraphWeights, type ModuleWeight, moduleWeights } from "../onnx/graphWeights";
import type { WeightPatch } from "../onnx/patchedGraph";
import { addLowRank } from "./gemm";
import { isLdmKey, ldmToDiffusersKey, type LoraModule, type LoraTarget, loraModules, LoraKeyError, type UnetLayout } from "./keys";
import { SafetensorsFile, SafetensorsFormatError, type TensorEntry } from "../model/safetensors";

/** Weights outside this range are refused: they only ever come from a typo (A1111's sliders stop at ±2…±10). */
export const LORA_WEIGHT_LIMIT = 10;

export const LORA_BASES = ["SD 1.x", "SD 2.x", "SDXL"] as const;
export type LoraBase = (typeof LORA_BASES)[number];

/** A LoRA file, opened and its keys read (no weights yet). */
export interface LoraFile {
  readonly file: string;
  /** The file's stem: what `<lora:NAME>` and the infotext call it. */
  readonly name: string;
  /** The tensors its header lists (no weights read yet). */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly modules: readonly LoraModule[];
  /** What the key shapes say it was trained for; undefined when they do not tell. */
  readonly base: LoraBase | undefined;
}

/** One LoRA of a request: its weight for the UNet and for the text encoders (A1111's te/unet multipliers). */
export interface LoraUse {
  readonly lora: LoraFile;
  readonly unetWeight: number;
  readonly textWeight: number;
}

/** The named tensors of a LoRA as f32, read one at a time from the file (opened again: a LoraFile keeps no handle). */
async function readLoraTensors(lora: LoraFile, names: Iterable<string>): Promise<Map<string, Float32Array>> {
  const file = await SafetensorsFile.open(lora.file);
  try {
    const out = new Map<string, Float32Array>();
    for (const name of names) {
      const entry = file.tensors.get(name);
      if (!entry) throw new EaselError("bad-argument", `LoRA ${lora.file} changed while in use (it has no tensor ${name} now): use it again`);
      out.set(name, await file.readFloat32(entry));
    }
    return out;
  } finally {
    await file.close();
  }
}

export function loraName(file: string): string {
  return path.basename(file).replace(/\.safetensors$/i, "");
}

/** Opens a LoRA file: one clear line for anything that is not a LoRA we can apply. */
export async function openLora(file: string): Promise<LoraFile> {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".ckpt" || ext === ".pt" || ext === ".pth" || ext === ".bin") {
    throw new EaselError(
      "bad-argument",
      `LoRA ${file} is a PyTorch pickle (${ext}), which can run code when loaded and which Easel never unpickles: convert it to .safetensors (e.g. kohya's sd-scripts or a trusted converter) and use that file`,
    );
  }
  let header: Pick<LoraFile, "tensors" | "metadata">;
  try {
    const opened = await SafetensorsFile.open(file);
    await opened.close();
    header = opened;
  } catch (error) {
    if (error instanceof SafetensorsFormatError) throw new EaselError("bad-argument", `LoRA ${file} is not a safetensors file (${error.reason}): give a LoRA in the .safetensors format`);
    if (error instanceof EaselError && error.code !== "bad-argument") throw error;
    // The reader could not open it: say why in LoRA terms.
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat) throw new EaselError("bad-argument", `LoRA file ${file} does not exist: check the path`);
    if (stat.isDirectory()) throw new EaselError("bad-argument", `LoRA ${file} is a folder: give the .safetensors file`);
    throw new EaselError("bad-argument", `cannot read LoRA ${file} (${error instanceof Error ? error.message : String(error)})`);
  }
  let modules: LoraModule[];
  try {
    modules = loraModules(header.tensors.keys()).modules;
  } catch (error) {
    if (error instanceof LoraKeyError) throw new EaselError("model-unsupported", `LoRA ${file} ${error.message}`);
    throw error;
  }
  if (modules.length === 0) {
    throw new EaselError("bad-argument", `${file} holds no LoRA weights (no lora_down/lora_up or lora_A/lora_B pairs): is it a checkpoint or an embedding rather than a LoRA?`);
  }
  for (const m of modules) {
    const down = header.tensors.get(m.down)!;
    const up = header.tensors.get(m.up)!;
    if (down.shape.length < 2 || up.shape.length < 2 || up.shape[1] !== down.shape[0] || up.shape.slice(2).some((d) => d !== 1)) {
      throw new EaselError("bad-argument", `LoRA ${file} is malformed: ${m.up} ${JSON.stringify(up.shape)} does not pair with ${m.down} ${JSON.stringify(down.shape)}`);
    }
  }
  return { file, name: loraName(file), tensors: header.tensors, metadata: header.metadata, modules, base: guessBase(header.tensors, modules) };
}

/**
 * The base model a LoRA was trained for, from its keys' shapes: the cross-attention's context width
 * (attn2 to_k's input: 768 SD 1.x, 1024 SD 2.x, 2048 SDXL), the text encoder's width, SDXL's second
 * encoder or its LDM block names.
 */
export function guessBase(tensors: ReadonlyMap<string, TensorEntry>, modules: readonly LoraModule[]): LoraBase | undefined {
  if (modules.some((m) => m.target === "text_encoder_2" || (m.target === "unet" && isLdmKey(m.key)))) return "SDXL";
  const width = (m: LoraModule | undefined) => (m ? tensors.get(m.down)?.shape[1] : undefined);
  const context = width(modules.find((m) => m.target === "unet" && /attn2_to_k$/.test(m.key)));
  if (context === 2048) return "SDXL";
  if (context === 1024) return "SD 2.x";
  if (context === 768) return "SD 1.x";
  const text = width(modules.find((m) => m.target === "text_encoder" && /self_attn_q_proj$/.test(m.key)));
  if (text === 1024) return "SD 2.x";
  if (text === 768) return "SD 1.x";
  return undefined;
}

/** One LoRA module matched to a graph initializer. */
interface Contribution {
  readonly lora: LoraFile;
  readonly module: LoraModule;
  readonly weight: number;
}

export interface LoraPlan {
  /** Per model part: the initializers to patch and what adds into each. */
  readonly targets: ReadonlyMap<LoraTarget, ReadonlyMap<string, { readonly weight: ModuleWeight; readonly contributions: readonly Contribution[] }>>;
  /** Lines to show: partial matches with their counts. */
  readonly warnings: readonly string[];
}

/** The modules of a graph by kohya's spelling (underscores), with and without an exporter's wrapper prefix. */
function graphModules(graph: GraphWeights): Map<string, ModuleWeight & { readonly dims: readonly number[] }> {
  const out = new Map<string, ModuleWeight & { readonly dims: readonly number[] }>();
  for (const [module, weight] of moduleWeights(graph)) {
    const dims = graph.initializers.get(weight.initializer)!.dims;
    const key = module.replace(/[./]/g, "_");
    out.set(key, { ...weight, dims });
    const unwrapped = /^(unet|text_encoder|text_encoder_2|model)_(.+)$/.exec(key);
    if (unwrapped && !out.has(unwrapped[2])) out.set(unwrapped[2], { ...weight, dims });
  }
  return out;
}

function shapeFits(weight: ModuleWeight & { readonly dims: readonly number[] }, out: number, inFlat: number): boolean {
  const d = weight.dims;
  if (weight.layout === "in-out") return d.length === 2 && d[0] === inFlat && d[1] === out;
  return d.length >= 2 && d[0] === out && d.slice(1).reduce((a, b) => a * b, 1) === inFlat;
}

/**
 * Matches every module of every LoRA to the model's graphs. A LoRA none of whose modules match is
 * an error naming the base model it seems to be for; a partial match is a warning with the count.
 */
export function planLoras(
  uses: readonly LoraUse[],
  graphs: Partial<Record<LoraTarget, GraphWeights>>,
  model: { readonly name: string; readonly base: LoraBase | undefined; readonly unet: UnetLayout },
): LoraPlan {
  const modulesOf = new Map<LoraTarget, ReturnType<typeof graphModules>>();
  for (const [target, graph] of Object.entries(graphs) as Array<[LoraTarget, GraphWeights]>) modulesOf.set(target, graphModules(graph));
  const targets = new Map<LoraTarget, Map<string, { weight: ModuleWeight; contributions: Contribution[] }>>();
  const warnings: string[] = [];
  for (const use of uses) {
    const { lora } = use;
    if (lora.base !== undefined && model.base !== undefined && lora.base !== model.base) {
      throw new EaselError("bad-argument", `LoRA ${lora.name} is for ${lora.base} models and ${model.name} is ${model.base}: use a ${model.base} LoRA, or a ${lora.base} model`);
    }
    let matched = 0;
    let skippedTarget = 0;
    for (const module of lora.modules) {
      const weight = module.target === "unet" ? use.unetWeight : use.textWeight;
      const modules = modulesOf.get(module.target);
      if (!modules) {
        skippedTarget++;
        continue;
      }
      const key = module.target === "unet" && isLdmKey(module.key) ? ldmToDiffusersKey(module.key, model.unet) : module.key;
      // Exports of CLIPTextModel name modules text_model.encoder…; some graphs drop the text_model wrapper.
      const found = modules.get(key) ?? (module.target !== "unet" ? modules.get(key.replace(/^text_model_/, "")) : undefined);
      const down = lora.tensors.get(module.down)!.shape;
      const up = lora.tensors.get(module.up)!.shape;
      const inFlat = down.slice(1).reduce((a, b) => a * b, 1);
      if (!found || !shapeFits(found, up[0], inFlat)) continue;
      matched++;
      if (weight === 0) continue;
      let perTarget = targets.get(module.target);
      if (!perTarget) targets.set(module.target, (perTarget = new Map()));
      let slot = perTarget.get(found.initializer);
      if (!slot) perTarget.set(found.initializer, (slot = { weight: found, contributions: [] }));
      slot.contributions.push({ lora, module, weight });
    }
    const total = lora.modules.length - skippedTarget;
    if (matched === 0) {
      const seems = lora.base ? `it seems to be for ${lora.base} models` : "its keys match no module of this model";
      const is = model.base ? ` and ${model.name} is ${model.base}` : "";
      throw new EaselError("bad-argument", `LoRA ${lora.name} matches nothing in ${model.name}: ${seems}${is}; use a LoRA made for this model's base`);
    }
    if (matched < total) warnings.push(`LoRA ${lora.name}: ${matched} of ${total} modules matched this model; ${total - matched} were left out`);
    if (skippedTarget > 0) warnings.push(`LoRA ${lora.name}: ${skippedTarget} modules are for a text encoder this model does not have`);
  }
  return { targets, warnings };
}

/**
 * The graph's initializers the slots patch, and a producer of their merged values (raw bytes in each
 * tensor's dtype), one tensor at a time: the original read, the LoRAs' deltas added, handed over,
 * released before the next. Each LoRA file's tensors are read once, when the values are first asked for.
 */
export function loraMerge(
  graph: GraphWeights,
  slots: ReadonlyMap<string, { readonly weight: ModuleWeight; readonly contributions: readonly Contribution[] }>,
): Pick<WeightPatch, "replaced" | "write"> {
  const tensors = [...slots.keys()].map((name) => graph.initializers.get(name)!);
  const write = async (sink: (name: string, bytes: Uint8Array) => Promise<void>) => {
    const wanted = new Map<LoraFile, Set<string>>();
    for (const slot of slots.values()) {
      for (const c of slot.contributions) {
        const set = wanted.get(c.lora) ?? new Set<string>();
        set.add(c.module.down).add(c.module.up);
        if (c.module.alpha) set.add(c.module.alpha);
        wanted.set(c.lora, set);
      }
    }
    const values = new Map<LoraFile, Map<string, Float32Array>>();
    for (const [lora, names] of wanted) values.set(lora, await readLoraTensors(lora, names));
    await forEachTensorBytes(tensors, async (t, original) => {
      const slot = slots.get(t.name)!;
      let w = bytesToFloat32(original, t.dataType); // W's own layout, f32
      for (const c of slot.contributions) {
        const v = values.get(c.lora)!;
        const down = v.get(c.module.down)!; // [r, in(,k,k)] f32
        const up = v.get(c.module.up)!; // [out, r(,1,1)] f32
        const downShape = c.lora.tensors.get(c.module.down)!.shape;
        const rank = downShape[0];
        const outFeatures = up.length / rank;
        const inFlat = down.length / rank;
        const alpha = c.module.alpha ? v.get(c.module.alpha)![0] : rank;
        const scale = (c.weight * alpha) / rank;
        const scaled = new Float32Array(up.length); // [out, r] f32
        for (let i = 0; i < up.length; i++) scaled[i] = up[i] * scale;
        w = await addLowRank(w, scaled, down, outFeatures, rank, inFlat, slot.weight.layout);
      }
      await sink(t.name, float32ToBytes(w, t.dataType));
    });
  };
  return { replaced: new Set(slots.keys()), write };
}
