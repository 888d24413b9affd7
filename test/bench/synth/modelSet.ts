// A complete diffusers ONNX model folder (model_index.json, tokenizer/, text_encoder/, unet/,
// vae_decoder/, scheduler/; SDXL: tokenizer_2/, text_encoder_2/ too) plus taesd_decoder/, built
// from a ModelSet, and the cache that keeps
// real-size sets outside the repository: $XDG_CACHE_HOME/easel/bench-models/v<BUILDER_VERSION>/.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MODELS } from "../../helpers/paths";
import { FOLDER, modelIndex, schedulerConfig, SET, textEncoderConfig, unetConfig, vaeConfig, VARIANTS, type ModelSet, type Variant } from "./configs";
import { denseFlops, type GraphBuilder } from "./graph";
import { buildTaesdDecoder } from "./taesd";
import { buildTextEncoder } from "./textEncoder";
import { buildUnet, type LatentSize } from "./unet";
import { buildVaeDecoder } from "./vae";
import { WEIGHTS_FILE, writeModel } from "./write";

/** Bump whenever the graphs or weights change: cached sets of another version are rebuilt. */
export const BUILDER_VERSION = 1;
export const DEFAULT_SEED = 0;
export const STAMP = "easel-synth.json";

export const ALL_COMPONENTS = ["text_encoder", "text_encoder_2", "unet", "vae_decoder", "taesd_decoder"] as const;
export type SynthComponent = (typeof ALL_COMPONENTS)[number];
/** SD 1.x/2.x's components (no second text encoder). */
export const COMPONENTS: readonly SynthComponent[] = ["text_encoder", "unet", "vae_decoder", "taesd_decoder"];

export function componentsOf(set: ModelSet): readonly SynthComponent[] {
  return set.text2 ? ALL_COMPONENTS : COMPONENTS;
}

/** The graph of one component; `size` only sets the reference shapes FLOPs are counted at. */
export function buildComponent(set: ModelSet, component: SynthComponent, size: LatentSize = { batch: 1, height: 64, width: 64 }): GraphBuilder {
  switch (component) {
    case "text_encoder":
      return buildTextEncoder(set.text, size.batch);
    case "text_encoder_2":
      if (!set.text2) throw new Error("this model set has no second text encoder");
      return buildTextEncoder(set.text2, size.batch);
    case "unet":
      return buildUnet(set.unet, size);
    case "vae_decoder":
      return buildVaeDecoder(set.vae, size);
    case "taesd_decoder":
      return buildTaesdDecoder(set.taesd, size);
  }
}

/** Dense FLOPs (conv + linear + attention MatMuls) of one evaluation at `side`² pixels. */
export function componentFlops(set: ModelSet, component: SynthComponent, side: number, batch = 1): number {
  return denseFlops(buildComponent(set, component, { batch, height: side / 8, width: side / 8 }).flops);
}

export interface Stamp {
  readonly builderVersion: number;
  readonly variant: Variant;
  readonly seed: number;
  readonly components: Readonly<Partial<Record<SynthComponent, { readonly parameters: number; readonly weightBytes: number }>>>;
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes the configs and tokenizer: everything but the graphs. */
function writeConfigs(dir: string, set: ModelSet, variant: Variant): void {
  writeJson(path.join(dir, "model_index.json"), modelIndex(variant));
  writeJson(path.join(dir, "scheduler", "scheduler_config.json"), schedulerConfig(variant));
  writeJson(path.join(dir, "unet", "config.json"), unetConfig(set.unet));
  writeJson(path.join(dir, "vae_decoder", "config.json"), vaeConfig(set.vae));
  writeJson(path.join(dir, "text_encoder", "config.json"), textEncoderConfig(set.text));
  if (set.text2) writeJson(path.join(dir, "text_encoder_2", "config.json"), textEncoderConfig(set.text2));
  // The real CLIP vocabularies; SDXL's second tokenizer pads with "!" as OpenCLIP's does.
  const tokenizers = set.text2 ? ["tokenizer", "tokenizer_2"] : ["tokenizer"];
  for (const name of tokenizers) {
    const from = path.join(MODELS, set.text2 ? "tiny-sdxl" : "tiny-turbo", name);
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (const file of fs.readdirSync(from)) fs.copyFileSync(path.join(from, file), path.join(dir, name, file));
  }
}

export interface BuildOptions {
  readonly seed?: number;
  /** A finished folder of the same set and seed whose graphs can be hard-linked instead of generated. */
  readonly linkFrom?: string;
  readonly log?: (line: string) => void;
}

/** Builds a model folder at `dir` (via `dir`.partial, renamed when complete). */
export function buildModelFolder(dir: string, set: ModelSet, variant: Variant, options: BuildOptions = {}): Stamp {
  const seed = options.seed ?? DEFAULT_SEED;
  const log = options.log ?? (() => undefined);
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  writeConfigs(partial, set, variant);
  const components: Partial<Record<SynthComponent, { parameters: number; weightBytes: number }>> = {};
  for (const component of componentsOf(set)) {
    const out = path.join(partial, component);
    const g = buildComponent(set, component);
    if (options.linkFrom && linkComponent(path.join(options.linkFrom, component), out)) {
      const parameters = g.weights.reduce((n, w) => n + w.dims.reduce((a, b) => a * b, 1), 0);
      components[component] = { parameters, weightBytes: parameters * 4 };
      log(`${component}: linked from ${options.linkFrom}`);
      continue;
    }
    const start = performance.now();
    const written = writeModel(g, out, seed);
    components[component] = { parameters: written.parameters, weightBytes: written.weightBytes };
    log(`${component}: ${(written.parameters / 1e6).toFixed(1)}M parameters, ${(written.weightBytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
  const stamp: Stamp = { builderVersion: BUILDER_VERSION, variant, seed, components };
  writeJson(path.join(partial, STAMP), stamp);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
  return stamp;
}

/** Hard-links model.onnx and weights.pb (same bytes, no extra disk); false where links fail. */
function linkComponent(from: string, to: string): boolean {
  try {
    fs.mkdirSync(to, { recursive: true });
    for (const file of ["model.onnx", WEIGHTS_FILE]) fs.linkSync(path.join(from, file), path.join(to, file));
    return true;
  } catch {
    return false;
  }
}

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "easel", "bench-models");
}

export function readStamp(dir: string): Stamp | undefined {
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(dir, STAMP), "utf8")) as Stamp;
    return stamp.builderVersion === BUILDER_VERSION ? stamp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cached real-size folder of a variant, built first when missing or stale. Folders of other
 * builder versions are deleted (they are several GB each); a variant of the same set's graphs are
 * reused through hard links (SD-Turbo and SD 2.1-base share every weight).
 */
export function ensureModelSet(variant: Variant, options: { readonly root?: string; readonly seed?: number; readonly log?: (line: string) => void } = {}): string {
  const root = options.root ?? cacheRoot();
  const seed = options.seed ?? DEFAULT_SEED;
  const versionDir = path.join(root, `v${BUILDER_VERSION}${seed === DEFAULT_SEED ? "" : `-seed${seed}`}`);
  const dir = path.join(versionDir, FOLDER[variant]);
  const stamp = readStamp(dir);
  if (stamp && stamp.seed === seed) return dir;
  if (fs.existsSync(root)) {
    for (const entry of fs.readdirSync(root)) {
      if (/^v\d+/.test(entry) && !entry.startsWith(`v${BUILDER_VERSION}`)) {
        options.log?.(`removing stale bench models ${path.join(root, entry)}`);
        fs.rmSync(path.join(root, entry), { recursive: true, force: true });
      }
    }
  }
  const set = SET[variant];
  const sibling = VARIANTS.filter((v) => v !== variant && SET[v] === set)
    .map((v) => path.join(versionDir, FOLDER[v]))
    .find((d) => readStamp(d)?.seed === seed);
  options.log?.(`building ${dir}`);
  buildModelFolder(dir, set, variant, { seed, linkFrom: sibling, log: options.log });
  return dir;
}
