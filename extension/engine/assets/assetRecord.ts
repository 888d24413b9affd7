// Lockfile entries from what a generation made, and images made again from entries: the same
// model (found by catalog id or repository@commit, its UNet hash compared), the same request, the
// same post-processing. Same machine and provider: the same pixels (Easel follows diffusers' RNG).
import { promises as fs } from "node:fs";
import path from "node:path";
import { Engine } from "../engine";
import { EaselError, firstLine } from "../errors";
import { findCatalogEntry } from "../hub/catalog";
import { readManifest } from "../hub/manifest";
import { resolveModel, type ResolvedModel } from "../hub/resolveModel";
import type { ModelStore } from "../hub/store";
import { encodeAs } from "../image/convert";
import { renderIcon } from "../image/iconRender";
import { readImageFile } from "../image/readImageFile";
import type { ProviderChoice } from "../onnx/providers";
import { seedFromString } from "../random/torchGenerator";
import type { SchedulerChoice } from "../schedulers/scheduler";
import type { PromptSyntax } from "../text/a1111Prompt";
import type { Decoder, GenerateRequest, GenerateResult } from "../types";
import { EASEL_VERSION } from "../version";
import { pixelDifference } from "../image/pixelDifference";
import { type AssetEntry, decodeRgba, type GenerationRecord, type InputImage, type ModelRecord, pixelHash, type PostStep, workspaceRelative } from "./lockfile";

/**
 * Where a model came from, as the lockfile records it: `name` is what the user named (a catalog id
 * is kept as one), `dir` the folder it resolved to; `unetFile` the UNet graph the engine loaded, when
 * known (else the folder's unet/model.onnx as the store's manifest lists it).
 */
export async function modelRecord(name: string, dir: string, workspace: string, unetFile?: string): Promise<ModelRecord> {
  const manifest = await readManifest(dir);
  if (manifest) {
    const unetRel = unetFile === undefined ? undefined : path.relative(dir, unetFile).split(path.sep).join("/");
    const isUnet = (p: string) => (unetRel !== undefined ? p === unetRel || p.endsWith(`/${unetRel}`) : /(^|\/)unet\/model\.onnx$/.test(p));
    const unet = manifest.files.find((f) => isUnet(f.path));
    return { name, catalogId: findCatalogEntry(name)?.id, repo: manifest.repo, commit: manifest.commit, unetSha256: unet?.sha256 };
  }
  return { name, folder: workspaceRelative(workspace, dir) ?? dir };
}

/** An input image's workspace-relative path and pixel hash (img2img's image, a mask, an icon's source). */
export async function inputImage(workspace: string, file: string, bytes: Uint8Array): Promise<InputImage> {
  const rel = workspaceRelative(workspace, file);
  if (rel === undefined) throw new EaselError("bad-argument", `${file} is outside the workspace ${workspace}: a recorded asset can only start from an image inside it`);
  return { path: rel, pixels: (await pixelHash(bytes)).pixels };
}

/** How image `index` of a generation was made, with its model and input images. */
export function generationOf(result: GenerateResult, index: number, model: ModelRecord, inputs: { readonly initImage?: InputImage; readonly mask?: InputImage } = {}): GenerationRecord {
  const r = result.request;
  return {
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    promptSyntax: r.promptSyntax,
    seed: result.images[index].seed.toString(),
    model,
    scheduler: r.scheduler,
    sampler: result.sampler,
    steps: r.steps,
    guidance: r.guidance,
    width: r.width,
    height: r.height,
    strength: r.strength,
    initImage: inputs.initImage,
    mask: inputs.mask,
    outpaint: r.outpaint ? { left: r.outpaint.left ?? 0, right: r.outpaint.right ?? 0, top: r.outpaint.top ?? 0, bottom: r.outpaint.bottom ?? 0, overlap: r.outpaint.overlap, fill: r.outpaint.fill } : undefined,
    decoder: r.decoder,
    ...(r.tileable ? { tileable: true } : {}),
    ...(r.hires ? { hires: { scale: r.hires.scale, strength: r.hires.strength, steps: r.hires.steps, upscaler: r.hires.upscaler } } : {}),
  };
}

/** The entry for a generated image: `file` is the bytes written (after `post`). */
export async function generatedEntry(generation: GenerationRecord, file: Uint8Array, post: readonly PostStep[], provider: string): Promise<AssetEntry> {
  return { ...(await pixelHash(file)), generation, post, easelVersion: EASEL_VERSION, provider };
}

/** An entry for an image made only by post-processing another (an icon from a picture). */
export async function derivedEntry(source: InputImage, file: Uint8Array, post: readonly PostStep[]): Promise<AssetEntry> {
  return { ...(await pixelHash(file)), source, post, easelVersion: EASEL_VERSION };
}

/** The post-processing steps, in order, on the PNG the engine made (or the source image). */
export async function applyPost(image: Uint8Array, post: readonly PostStep[]): Promise<Buffer> {
  let out: Uint8Array = image;
  for (const step of post) out = step.op === "icon" ? await renderIcon(out, step.size) : await encodeAs(step.format, out);
  return Buffer.from(out);
}

export interface RegenerateContext {
  readonly workspace: string;
  readonly store: ModelStore;
  readonly provider: ProviderChoice;
  /** Fetch a recorded model that is not on this machine (otherwise it is an error saying so). */
  readonly download: boolean;
  readonly signal?: AbortSignal;
}

/** An input image, which must still have the pixels it had when the asset was made. */
export async function recordedInput(workspace: string, image: InputImage, what: string): Promise<Buffer> {
  const file = path.join(workspace, ...image.path.split("/"));
  let bytes: Buffer;
  try {
    bytes = await readImageFile(file);
  } catch (error) {
    throw new EaselError("image-invalid", `its ${what} ${image.path} cannot be read (${firstLine(error)}): restore it first`);
  }
  if ((await pixelHash(bytes)).pixels !== image.pixels) throw new EaselError("image-invalid", `its ${what} ${image.path} has changed since the asset was made: restore it (or regenerate it first)`);
  return bytes;
}

/** The request that makes a recorded generation again (one image, its own seed). */
export async function recordedRequest(g: GenerationRecord, workspace: string): Promise<GenerateRequest> {
  return {
    prompt: g.prompt,
    negativePrompt: g.negativePrompt,
    promptSyntax: g.promptSyntax as PromptSyntax,
    seed: seedFromString(g.seed),
    scheduler: g.scheduler as SchedulerChoice,
    steps: g.steps,
    guidance: g.guidance,
    ...(g.outpaint ? { outpaint: { ...g.outpaint, fill: g.outpaint.fill as "edge" | "noise" | undefined } } : { width: g.width, height: g.height }),
    strength: g.strength,
    initImage: g.initImage ? await recordedInput(workspace, g.initImage, "init image") : undefined,
    mask: g.mask ? await recordedInput(workspace, g.mask, "mask") : undefined,
    decoder: g.decoder as Decoder,
    ...(g.tileable === true ? { tileable: true } : {}),
    ...(g.hires ? { hires: { ...g.hires } } : {}),
    batch: 1,
  };
}

/** The folder of the model an asset was made with: the same commit, with the same UNet. */
export async function recordedModelDir(model: ModelRecord, ctx: Omit<RegenerateContext, "provider" | "signal">): Promise<string> {
  if (model.folder !== undefined) {
    const dir = path.resolve(ctx.workspace, model.folder);
    if (!(await fs.stat(dir).then((s) => s.isDirectory(), () => false))) throw new EaselError("model-missing", `the model folder ${dir} it was made with is gone: restore it`);
    return dir;
  }
  if (model.repo === undefined || model.commit === undefined) throw new EaselError("bad-argument", `the entry names no model folder or repository for ${model.name}`);
  const spec = model.catalogId ?? `${model.repo}@${model.commit}`;
  let resolved: ResolvedModel;
  try {
    resolved = await resolveModel(spec, { store: ctx.store, download: ctx.download, cwd: ctx.workspace });
  } catch (error) {
    if (error instanceof EaselError && error.code === "model-missing" && !ctx.download) {
      throw new EaselError("model-missing", `its model ${spec} (${model.repo}@${model.commit.slice(0, 12)}) is not on this machine: add --download to fetch it, or 'easel models pull ${spec}'`);
    }
    throw error;
  }
  const manifest = await readManifest(resolved.dir);
  if (manifest && manifest.commit !== model.commit) {
    throw new EaselError("model-invalid", `${spec} is at commit ${manifest.commit.slice(0, 12)} here, but the asset was made with ${model.commit.slice(0, 12)}: pull ${model.repo}@${model.commit}`);
  }
  if (model.unetSha256 && manifest && !manifest.files.some((f) => f.sha256 === model.unetSha256)) {
    throw new EaselError("model-invalid", `${spec}'s UNet here is not the one the asset was made with (sha256 ${model.unetSha256.slice(0, 12)}…): pull ${model.repo}@${model.commit} again`);
  }
  return resolved.dir;
}

/** How a file compares with its entry's image made again. */
export interface AssetComparison {
  readonly status: "ok" | "differs" | "missing";
  /** One line: `ok FILE`, `missing FILE: …`, `differs FILE: mean difference …, max … (of 255)`. */
  readonly line: string;
}

/** Compares the file's bytes (undefined: gone) with the image made again; `tolerance` is the largest per-channel difference still a match. */
export async function compareAsset(rel: string, current: Uint8Array | undefined, made: Uint8Array, tolerance = 0): Promise<AssetComparison> {
  const a = current === undefined ? undefined : await decodeRgba(current).catch(() => undefined);
  if (!a) return { status: "missing", line: `missing ${rel}: the file is gone or unreadable ('easel assets regenerate ${rel}' makes it again)` };
  const b = await decodeRgba(made);
  if (a.info.width !== b.info.width || a.info.height !== b.info.height) {
    return { status: "differs", line: `differs ${rel}: size ${a.info.width}x${a.info.height}, expected ${b.info.width}x${b.info.height}` };
  }
  const { mean, max } = pixelDifference(a.data, b.data);
  if (max <= tolerance) return { status: "ok", line: `ok ${rel}${max > 0 ? ` (max difference ${max})` : ""}` };
  return { status: "differs", line: `differs ${rel}: mean difference ${mean.toFixed(4)}, max ${max} (of 255)` };
}

/**
 * Makes entries' images again, loading each model once. Callers take images one by one from
 * `regenerate` and `dispose` at the end.
 */
export class Regenerator {
  private readonly engines = new Map<string, Engine>();

  constructor(private readonly ctx: RegenerateContext) {}

  /** The file bytes the entry describes, made again in memory. */
  async regenerate(entry: AssetEntry): Promise<Buffer> {
    if (entry.generation) {
      const engine = await this.engineFor(entry.generation.model);
      const result = await engine.generate(await recordedRequest(entry.generation, this.ctx.workspace), { signal: this.ctx.signal });
      return applyPost(result.images[0].png, entry.post);
    }
    if (!entry.source) throw new EaselError("bad-argument", "the entry says neither how it was generated nor its source");
    return applyPost(await recordedInput(this.ctx.workspace, entry.source, "source image"), entry.post);
  }

  async dispose(): Promise<void> {
    for (const engine of this.engines.values()) await engine.dispose();
    this.engines.clear();
  }

  private async engineFor(model: ModelRecord): Promise<Engine> {
    const dir = await recordedModelDir(model, this.ctx);
    const have = this.engines.get(dir);
    if (have) return have;
    // One model in memory at a time: entries are taken in order, so most runs load each model once.
    await this.dispose();
    const engine = await Engine.load(dir, { provider: this.ctx.provider, modelStore: this.ctx.store.root });
    this.engines.set(dir, engine);
    return engine;
  }
}
