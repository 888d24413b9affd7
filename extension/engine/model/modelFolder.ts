import fs from "node:fs/promises";
import path from "node:path";
import { EaselError, notSupportedYet } from "../errors";
import { MANIFEST_NAME } from "../hub/manifest";
import { type JsonObject, readJsonObject, stringField } from "./jsonFile";

/** The ONNX graphs of a diffusers ONNX pipeline folder. */
export const COMPONENTS = ["text_encoder", "unet", "vae_decoder", "vae_encoder"] as const;
export type Component = (typeof COMPONENTS)[number];

const TOKENIZER_FILES = ["vocab.json", "merges.txt"] as const;

// diffusers' own ONNX pipelines, optimum's ORT pipelines and the PyTorch class names some
// converters leave in model_index.json all describe the same text-to-image / img2img graphs.
const SUPPORTED_PIPELINE = /^(Onnx|ORT)?(StableDiffusion|StableDiffusionImg2Img|StableDiffusionInpaint|LatentConsistencyModel|LatentConsistencyModelImg2Img)Pipeline$/;

/** What a model folder holds on disk, before any ONNX session exists. */
export interface ModelFolder {
  readonly dir: string;
  /** Shown to users and written into the infotext's `Model:` field. */
  readonly name: string;
  readonly pipelineClass: string;
  readonly tokenizerDir: string;
  readonly files: Readonly<Record<Component, string | undefined>>;
  readonly schedulerConfig: JsonObject;
  readonly unetConfig: JsonObject | undefined;
  readonly vaeConfig: JsonObject | undefined;
  readonly textEncoderConfig: JsonObject | undefined;
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

  const files = {} as Record<Component, string | undefined>;
  const missing: string[] = [];
  for (const component of COMPONENTS) {
    const file = path.join(dir, component, "model.onnx");
    const present = await isFile(file);
    files[component] = present ? file : undefined;
    if (!present && component !== "vae_encoder") missing.push(`${component}/model.onnx`);
  }
  const tokenizerDir = path.join(dir, "tokenizer");
  // A fast-tokenizer export (tokenizer.json) carries the same vocabulary and merges.
  if (!(await isFile(path.join(tokenizerDir, "tokenizer.json")))) {
    for (const name of TOKENIZER_FILES) {
      if (!(await isFile(path.join(tokenizerDir, name)))) missing.push(`tokenizer/${name}`);
    }
  }
  const schedulerConfig = await readJsonObject(path.join(dir, "scheduler", "scheduler_config.json"), "scheduler/scheduler_config.json");
  if (!schedulerConfig) missing.push("scheduler/scheduler_config.json");
  if (missing.length > 0 || !schedulerConfig) {
    throw new EaselError("model-invalid", `model folder ${dir} is incomplete: missing ${missing.join(", ")}; download or export the model again`);
  }
  const vaeConfig =
    (await readJsonObject(path.join(dir, "vae_decoder", "config.json"), "vae_decoder/config.json")) ??
    (await readJsonObject(path.join(dir, "vae_encoder", "config.json"), "vae_encoder/config.json"));
  // A folder pulled from the Hub is named after its repo (owner/name), not the store's folder name.
  const manifest = await readJsonObject(path.join(dir, MANIFEST_NAME), MANIFEST_NAME).catch(() => undefined);
  return {
    dir,
    name: stringField(manifest, "repo") ?? path.basename(dir),
    pipelineClass,
    tokenizerDir,
    files,
    schedulerConfig,
    unetConfig: await readJsonObject(path.join(dir, "unet", "config.json"), "unet/config.json"),
    vaeConfig,
    textEncoderConfig: await readJsonObject(path.join(dir, "text_encoder", "config.json"), "text_encoder/config.json"),
    pulled: pulledFrom(manifest),
  };
}

function checkPipelineKind(pipelineClass: string, index: JsonObject): void {
  if (pipelineClass === "") {
    throw new EaselError("model-invalid", "model_index.json names no pipeline (_class_name): download or export the model again");
  }
  if (/XL/i.test(pipelineClass) || "text_encoder_2" in index) {
    throw notSupportedYet(`${pipelineClass} (SDXL models); use an SD 1.x, SD 2.x, SD-Turbo or LCM model`);
  }
  if (!SUPPORTED_PIPELINE.test(pipelineClass)) {
    throw notSupportedYet(`${pipelineClass} pipelines; Easel runs Stable Diffusion 1.x/2.x (text-to-image and inpainting), SD-Turbo and LCM models`);
  }
}

function pulledFrom(manifest: JsonObject | undefined): ModelFolder["pulled"] {
  const repo = stringField(manifest, "repo");
  const commit = stringField(manifest, "commit");
  const revision = stringField(manifest, "revision");
  return repo && commit && revision ? { repo, commit, revision } : undefined;
}
