import fs from "node:fs/promises";
import path from "node:path";
import { EaselError, notSupportedYet } from "../errors";
import { MANIFEST_NAME } from "../hub/manifest";
import { isRepoId } from "../hub/repoId";
import { type JsonObject, readJsonObject, stringField } from "./jsonFile";

/** The ONNX graphs of a diffusers ONNX pipeline folder (text_encoder_2: SDXL's second encoder). */
export const COMPONENTS = ["text_encoder", "text_encoder_2", "unet", "vae_decoder", "vae_encoder"] as const;
export type Component = (typeof COMPONENTS)[number];

const TOKENIZER_FILES = ["vocab.json", "merges.txt"] as const;

/** An fp32 VAE graph beside an fp16 model.onnx, named as diffusers names a weight variant (model.<variant>.onnx). */
export const VAE_FP32_VARIANT = "model.fp32.onnx";

// diffusers' own ONNX pipelines, optimum's ORT pipelines and the PyTorch class names some
// converters leave in model_index.json all describe the same text-to-image / img2img graphs.
const SUPPORTED_PIPELINE =
  /^(Onnx|ORT)?(StableDiffusion|StableDiffusionImg2Img|StableDiffusionInpaint|LatentConsistencyModel|LatentConsistencyModelImg2Img|StableDiffusionXL|StableDiffusionXLImg2Img)Pipeline$/;

/** What a model folder holds on disk, before any ONNX session exists. */
export interface ModelFolder {
  readonly dir: string;
  /** Shown to users and written into the infotext's `Model:` field. */
  readonly name: string;
  readonly pipelineClass: string;
  readonly tokenizerDir: string;
  /** SDXL's second tokenizer (tokenizer_2/), present exactly when text_encoder_2/model.onnx is. */
  readonly tokenizer2Dir: string | undefined;
  readonly files: Readonly<Record<Component, string | undefined>>;
  readonly schedulerConfig: JsonObject;
  readonly unetConfig: JsonObject | undefined;
  readonly vaeConfig: JsonObject | undefined;
  /** The file vaeConfig was read from (the decoder's, else the encoder's), for messages. */
  readonly vaeConfigFile: string;
  readonly textEncoderConfig: JsonObject | undefined;
  readonly textEncoder2Config: JsonObject | undefined;
  /**
   * model_index.json's `force_zeros_for_empty_prompt` (SDXL: an empty negative prompt is all zeros);
   * true when absent, as diffusers' and optimum's SDXL pipelines default it. Only SDXL reads it.
   */
  readonly forceZerosForEmptyPrompt: boolean;
  /** For a folder pulled from the Hub: the repo, the commit and the revision asked for. */
  readonly pulled?: { readonly repo: string; readonly commit: string; readonly revision: string };
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    const stat = await fs.stat(dir);
    if (!stat.isDirectory()) {
      throw new EaselError("model-missing", `${dir} is a file, not a model folder: pass the folder that holds model_index.json`);
    }
  } catch (error) {
    if (error instanceof EaselError) throw error;
    throw new EaselError("model-missing", `model folder ${dir} does not exist: pass a folder in the diffusers ONNX layout (model_index.json, unet/model.onnx, …)`);
  }
  return fs.readdir(dir);
}

/** Reads and checks a diffusers ONNX layout folder; every problem found is one clear error. */
export async function readModelFolder(dirArg: string): Promise<ModelFolder> {
  const dir = path.resolve(dirArg);
  const entries = await listDir(dir);
  if (entries.length === 0) {
    throw new EaselError("model-missing", `model folder ${dir} is empty: download or export a diffusers ONNX model into it`);
  }
  const index = await readJsonObject(path.join(dir, "model_index.json"), "model_index.json");
  if (!index) {
    throw new EaselError("model-invalid", `${dir} has no model_index.json: it is not a diffusers ONNX model folder (export one with optimum or diffusers' converter)`);
  }
  const pipelineClass = stringField(index, "_class_name") ?? "";
  checkPipelineKind(pipelineClass, index);
  // SDXL's second encoder is required when the index or the class name says SDXL; a folder that has
  // one anyway is read as SDXL too, and the UNet's inputs decide (describeModel).
  const xl = isXlIndex(pipelineClass, index) || (await isFile(path.join(dir, "text_encoder_2", "model.onnx")));

  const files = {} as Record<Component, string | undefined>;
  const missing: string[] = [];
  for (const component of COMPONENTS) {
    const file = path.join(dir, component, "model.onnx");
    const present = await isFile(file);
    files[component] = present ? file : undefined;
    const required = component === "text_encoder_2" ? xl : component !== "vae_encoder";
    if (!present && required) missing.push(`${component}/model.onnx`);
  }
  const tokenizerDir = path.join(dir, "tokenizer");
  missing.push(...(await missingTokenizerFiles(tokenizerDir, "tokenizer")));
  const tokenizer2Dir = xl ? path.join(dir, "tokenizer_2") : undefined;
  if (tokenizer2Dir) missing.push(...(await missingTokenizerFiles(tokenizer2Dir, "tokenizer_2")));
  const schedulerConfig = await readJsonObject(path.join(dir, "scheduler", "scheduler_config.json"), "scheduler/scheduler_config.json");
  if (!schedulerConfig) missing.push("scheduler/scheduler_config.json");
  if (missing.length > 0 || !schedulerConfig) {
    throw new EaselError("model-invalid", `model folder ${dir} is incomplete: missing ${missing.join(", ")}; download or export the model again`);
  }
  const vaeDecoderConfig = await readJsonObject(path.join(dir, "vae_decoder", "config.json"), "vae_decoder/config.json");
  const vaeConfigFile = vaeDecoderConfig ? "vae_decoder/config.json" : "vae_encoder/config.json";
  const vaeConfig = vaeDecoderConfig ?? (await readJsonObject(path.join(dir, "vae_encoder", "config.json"), vaeConfigFile));
  // diffusers' force_upcast: the VAE runs in fp32 whatever precision the rest runs in (SDXL's VAE
  // overflows in fp16: NaN or black images). A folder whose model.onnx is an fp16 VAE can carry the
  // fp32 one as a variant; with force_upcast that one is used.
  if (vaeConfig?.["force_upcast"] === true) {
    for (const component of ["vae_decoder", "vae_encoder"] as const) {
      const fp32 = path.join(dir, component, VAE_FP32_VARIANT);
      if (files[component] && (await isFile(fp32))) files[component] = fp32;
    }
  }
  // A folder pulled from the Hub is named after its repo (owner/name), not the store's folder name.
  const manifest = await readJsonObject(path.join(dir, MANIFEST_NAME), MANIFEST_NAME).catch(() => undefined);
  return {
    dir,
    name: manifestRepo(manifest) ?? path.basename(dir),
    pipelineClass,
    tokenizerDir,
    tokenizer2Dir,
    files,
    schedulerConfig,
    unetConfig: await readJsonObject(path.join(dir, "unet", "config.json"), "unet/config.json"),
    vaeConfig,
    vaeConfigFile,
    textEncoderConfig: await readJsonObject(path.join(dir, "text_encoder", "config.json"), "text_encoder/config.json"),
    textEncoder2Config: xl ? await readJsonObject(path.join(dir, "text_encoder_2", "config.json"), "text_encoder_2/config.json") : undefined,
    forceZerosForEmptyPrompt: index["force_zeros_for_empty_prompt"] !== false,
    pulled: pulledFrom(manifest),
  };
}

/** A fast-tokenizer export (tokenizer.json) carries the same vocabulary and merges as vocab.json + merges.txt. */
async function missingTokenizerFiles(tokenizerDir: string, label: string): Promise<string[]> {
  if (await isFile(path.join(tokenizerDir, "tokenizer.json"))) return [];
  const missing: string[] = [];
  for (const name of TOKENIZER_FILES) {
    if (!(await isFile(path.join(tokenizerDir, name)))) missing.push(`${label}/${name}`);
  }
  return missing;
}

/** model_index.json lists a component as [library, class]; an absent one is missing or [null, null]. */
function listsComponent(index: JsonObject, component: string): boolean {
  const entry = index[component];
  return Array.isArray(entry) && entry.some((part) => typeof part === "string");
}

function isXlIndex(pipelineClass: string, index: JsonObject): boolean {
  return /XL/.test(pipelineClass) || listsComponent(index, "text_encoder_2");
}

function checkPipelineKind(pipelineClass: string, index: JsonObject): void {
  if (pipelineClass === "") {
    throw new EaselError("model-invalid", "model_index.json names no pipeline (_class_name): download or export the model again");
  }
  // The SDXL refiner has only the second text encoder (text_encoder: [null, null]) and conditions
  // on an aesthetic score.
  const noTextEncoder = "text_encoder" in index && !listsComponent(index, "text_encoder");
  if (isXlIndex(pipelineClass, index) && (index["requires_aesthetics_score"] === true || noTextEncoder)) {
    throw notSupportedYet(`${pipelineClass} without text_encoder (the SDXL refiner); use an SDXL base or SDXL-Turbo model`);
  }
  if (!SUPPORTED_PIPELINE.test(pipelineClass)) {
    throw notSupportedYet(`${pipelineClass} pipelines; Easel runs Stable Diffusion 1.x/2.x, SDXL, SD-Turbo, SDXL-Turbo and LCM models (text-to-image, and inpainting with SD 1.x/2.x)`);
  }
}

/**
 * The manifest's repo when it is a Hub repo id. The name goes into every image's infotext, so a
 * hand-edited manifest cannot put arbitrary text there (a lone surrogate made the PNG unwritable).
 */
function manifestRepo(manifest: JsonObject | undefined): string | undefined {
  const repo = stringField(manifest, "repo");
  return repo !== undefined && isRepoId(repo) ? repo : undefined;
}

function pulledFrom(manifest: JsonObject | undefined): ModelFolder["pulled"] {
  const repo = manifestRepo(manifest);
  const commit = stringField(manifest, "commit");
  const revision = stringField(manifest, "revision");
  return repo && commit && revision ? { repo, commit, revision } : undefined;
}
