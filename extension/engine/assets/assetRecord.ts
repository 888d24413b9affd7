// Lockfile entries from what a generation made, and images made again from entries: the same
// model (found by catalog id or repository@commit, its UNet hash compared), the same request, the
// same post-processing. Same machine and provider: the same pixels (Easel follows diffusers' RNG).
// No ONNX Runtime here (the editor's host imports this): what runs models comes in as RegeneratorDeps.
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { EaselError, firstLine } from "../errors";
import { findCatalogBackgroundRemover, findCatalogEntry, findCatalogLora, loadCatalog } from "../hub/catalog";
import { readManifest } from "../hub/manifest";
import { resolveModel, type ResolvedModel } from "../hub/resolveModel";
import { findStoreFile, pullSingleFile } from "../hub/singleFile";
import type { ModelStore } from "../hub/store";
import { encodeAs } from "../image/convert";
import { renderIcon } from "../image/iconRender";
import { readPngChunk } from "../image/pngChunks";
import { MAX_IMAGE_FILE_BYTES, readImageFile } from "../image/readImageFile";
import type { TransparentFormat } from "../matte/backgroundRemoval";
import { type AssetPack, DEFAULT_PACK_BACKGROUND, DEFAULT_PACK_FONT, type PackOptions, type PackPreset, renderAssetPack } from "../packs/assetPack";
import type { ProviderChoice } from "../onnx/providers";
import { seedFromString } from "../random/torchGenerator";
import type { TimestepSpacing } from "../schedulers/betas";
import type { SchedulerChoice } from "../schedulers/scheduler";
import type { PromptSyntax } from "../text/a1111Prompt";
import { a1111LoraHash } from "../lora/hash";
import { findLora, storeLoraFolder } from "../lora/library";
import type { AppliedLora, Decoder, GenerateRequest, GenerateResult, LoraRequest } from "../types";
import { EASEL_VERSION } from "../version";
import { pixelDifference } from "../image/pixelDifference";
import {
  type AssetEntry,
  type Assets,
  decodeRgba,
  type GenerationRecord,
  type InputChunk,
  type InputImage,
  type LoraRecord,
  type ModelRecord,
  type PackStep,
  pixelHash,
  type PostStep,
  type RemoveBackgroundStep,
  type ToolModel,
  type UpscaleStep,
  workspaceRelative,
} from "./lockfile";

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

/**
 * An input image's workspace-relative path and pixel hash (img2img's image, a mask, a post-processed
 * file's source); `chunk`: the image is the one stored in that chunk of `file` (`bytes` are the chunk's).
 */
export async function inputImage(workspace: string, file: string, bytes: Uint8Array, chunk?: InputChunk): Promise<InputImage> {
  const rel = workspaceRelative(workspace, file);
  if (rel === undefined) throw new EaselError("bad-argument", `${file} is outside the workspace ${workspace}: a recorded asset can only start from an image inside it`);
  return { path: rel, pixels: (await pixelHash(bytes)).pixels, ...(chunk ? { chunk } : {}) };
}

/** An input that has no file (a mask painted in the Studio): its PNG kept in the entry itself. */
export async function inlineInputImage(bytes: Uint8Array): Promise<InputImage> {
  return { pixels: (await pixelHash(bytes)).pixels, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") };
}

const fileHashes = new Map<string, { readonly key: string; readonly sha256: string }>();

/** sha256 of a file, streamed; remembered per path while its size and mtime stay the same (a remover is hundreds of MB). */
export async function fileSha256(file: string): Promise<string> {
  const stat = await fs.stat(file);
  const key = `${stat.size}:${stat.mtimeMs}`;
  const have = fileHashes.get(file);
  if (have?.key === key) return have.sha256;
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const sha256 = hash.digest("hex");
  fileHashes.set(file, { key, sha256 });
  return sha256;
}

/** A post-processing model as the lockfile records it: the catalog id when it is the catalog's, else the file (workspace-relative when inside). */
export async function toolModelRecord(file: string, workspace: string, catalog?: { readonly id: string; readonly name: string }): Promise<ToolModel> {
  const sha256 = await fileSha256(file);
  if (catalog) return { name: catalog.name, catalogId: catalog.id, sha256 };
  return { name: path.basename(file, path.extname(file)), file: workspaceRelative(workspace, file) ?? path.resolve(file), sha256 };
}

/** The background-removal step of a remover run with `matte` into `format`. */
export async function removeBackgroundStep(removerFile: string, workspace: string, options: { readonly catalogId?: string; readonly matte?: number; readonly format: TransparentFormat }): Promise<RemoveBackgroundStep> {
  const entry = options.catalogId === undefined ? undefined : findCatalogBackgroundRemover(options.catalogId);
  return { op: "removeBackground", model: await toolModelRecord(removerFile, workspace, entry), ...(options.matte === undefined ? {} : { matte: options.matte }), format: options.format };
}

/**
 * The upscale step, what `easel upscale --record` and Upscale Image record: `upscaler` as
 * resolveUpscaler gave it (undefined: Lanczos), with the tiling asked for and `wrap` when the source
 * was upscaled wrapped around (upscaleWraps: a tileable image).
 */
export async function upscaleStep(
  scale: number,
  upscaler: { readonly file: string; readonly name: string } | undefined,
  workspace: string,
  tiles: { readonly tile?: number; readonly overlap?: number; readonly wrap?: boolean } = {},
): Promise<UpscaleStep> {
  const entry = upscaler && (loadCatalog().upscalers ?? []).find((u) => u.name === upscaler.name);
  return {
    op: "upscale",
    scale,
    ...(upscaler ? { model: await toolModelRecord(upscaler.file, workspace, entry) } : {}),
    ...(tiles.tile === undefined ? {} : { tile: tiles.tile }),
    ...(tiles.overlap === undefined ? {} : { overlap: tiles.overlap }),
    ...(tiles.wrap ? { wrap: true } : {}),
  };
}

/** The pack step for one image file of a pack rendered with `options`. */
export function packStep(preset: PackPreset, file: string, options: Pick<PackOptions, "background" | "title" | "fontFamily">): PackStep {
  return {
    op: "pack",
    preset,
    file,
    background: options.background ?? DEFAULT_PACK_BACKGROUND,
    ...(preset === "social" && options.title !== undefined && options.title.trim() !== "" ? { title: options.title } : {}),
    ...(preset === "social" ? { fontFamily: options.fontFamily ?? DEFAULT_PACK_FONT } : {}),
  };
}

/** Entries for a pack's image files (PNGs: the ICO, manifest and tags are not images to check), from `source`. */
export async function packEntries(source: InputImage, pack: AssetPack, options: Pick<PackOptions, "background" | "title" | "fontFamily">): Promise<[string, AssetEntry][]> {
  const out: [string, AssetEntry][] = [];
  for (const file of pack.files) {
    if (!file.path.toLowerCase().endsWith(".png")) continue;
    out.push([file.path, await derivedEntry(source, file.bytes, [packStep(pack.preset, file.path, options)])]);
  }
  return out;
}

/** The LoRAs a generation merged, as its record names them (none: no field). */
export function loraRecords(applied: readonly AppliedLora[]): { readonly loras?: readonly LoraRecord[] } {
  if (applied.length === 0) return {};
  return { loras: applied.map((l) => ({ name: l.name, hash: l.hash, unetWeight: l.unetWeight, textWeight: l.textWeight, ...(l.fromPrompt ? { fromPrompt: true as const } : {}) })) };
}

/**
 * How image `index` of a generation was made, with its model and input images; `fast`: the request
 * asked for fast mode (the result has its steps, guidance, scheduler and LoRA).
 */
export function generationOf(result: GenerateResult, index: number, model: ModelRecord, inputs: { readonly initImage?: InputImage; readonly mask?: InputImage } = {}, fast = false): GenerationRecord {
  const r = result.request;
  return {
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    promptSyntax: r.promptSyntax,
    seed: result.images[index].seed.toString(),
    model,
    scheduler: r.scheduler,
    sampler: result.sampler,
    ...(r.timestepSpacing !== undefined ? { timestepSpacing: r.timestepSpacing } : {}),
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
    ...loraRecords(result.loras),
    ...(fast ? { fast: true } : {}),
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

/** What runs the post-processing steps that need a model: this process in the CLI, the engine process (and the CLI) in the editor. */
export interface PostRunners {
  removeBackground(image: Uint8Array, step: RemoveBackgroundStep, signal?: AbortSignal): Promise<Uint8Array>;
  upscale(image: Uint8Array, step: UpscaleStep, signal?: AbortSignal): Promise<Uint8Array>;
}

/** Packs rendered from one source image, so each of a pack's files does not render the whole pack again. */
const renderedPacks = new WeakMap<Uint8Array, Map<string, Promise<AssetPack>>>();

/** One image file of a pack, rendered from `image` as the pack step says. */
async function packFile(image: Uint8Array, step: PackStep): Promise<Uint8Array> {
  const byOptions = renderedPacks.get(image) ?? new Map<string, Promise<AssetPack>>();
  renderedPacks.set(image, byOptions);
  const key = JSON.stringify([step.preset, step.background, step.title, step.fontFamily]);
  let pack = byOptions.get(key);
  if (!pack) {
    pack = renderAssetPack(image, step.preset, { background: step.background, title: step.title, fontFamily: step.fontFamily, small: "upscale" });
    byOptions.set(key, pack);
  }
  const file = (await pack).files.find((f) => f.path === step.file);
  if (!file) throw new EaselError("bad-argument", `the ${step.preset} pack has no file ${step.file} in this Easel: export the pack again`);
  return file.bytes;
}

/** The post-processing steps, in order, on the PNG the engine made (or the source image). */
export async function applyPost(image: Uint8Array, post: readonly PostStep[], runners?: PostRunners, signal?: AbortSignal): Promise<Buffer> {
  let out: Uint8Array = image;
  for (const step of post) {
    switch (step.op) {
      case "icon":
        out = await renderIcon(out, step.size);
        break;
      case "encode":
        out = await encodeAs(step.format, out);
        break;
      case "pack":
        out = await packFile(out, step);
        break;
      case "removeBackground":
      case "upscale":
        if (!runners) throw new EaselError("internal", `nothing here runs the ${step.op} step`);
        out = step.op === "upscale" ? await runners.upscale(out, step, signal) : await runners.removeBackground(out, step, signal);
        break;
    }
  }
  return Buffer.from(out);
}

export interface RegenerateContext {
  readonly workspace: string;
  readonly store: ModelStore;
  readonly provider: ProviderChoice;
  /** Fetch a recorded model that is not on this machine (otherwise it is an error saying so). */
  readonly download: boolean;
  /** Folders searched for recorded LoRAs by name before the store's loras/ (`--lora-folder`, easel.loraFolders). */
  readonly loraFolders?: readonly string[];
  readonly signal?: AbortSignal;
}

/** Where a Regenerator in `ctx` finds recorded LoRAs: its folders, then the store's loras/, as the engine searches. */
export function loraPlaces(ctx: Pick<RegenerateContext, "store" | "loraFolders">): LoraPlaces {
  return { folders: [...(ctx.loraFolders ?? []), storeLoraFolder(ctx.store.root)], store: ctx.store };
}

/** Where an input is, for messages: `cat.png`, `cat.png (its stored starting image)`, `the mask kept in the entry`. */
function inputName(image: InputImage): string {
  if (image.path === undefined) return "kept in the entry";
  return image.chunk ? `stored in ${image.path}` : image.path;
}

/**
 * An input image as recorded: the file (or the image stored in its chunk, or the PNG kept in the
 * entry), which must still have the pixels it had when the asset was made. `what` names it in
 * errors ("init image", "mask", "source image"). Returns the bytes, or a reason it cannot.
 */
export async function readRecordedInput(workspace: string, image: InputImage, what: string): Promise<{ readonly bytes: Buffer } | { readonly problem: "missing" | "changed"; readonly message: string }> {
  let bytes: Buffer | undefined;
  if (image.path === undefined) {
    bytes = image.data === undefined ? undefined : Buffer.from(image.data, "base64");
    if (!bytes) return { problem: "missing", message: `its ${what} is neither a file nor kept in the entry: record the asset again` };
  } else {
    const file = path.join(workspace, ...image.path.split("/"));
    try {
      bytes = await readImageFile(file);
    } catch (error) {
      return { problem: "missing", message: `its ${what} ${image.path} cannot be read (${firstLine(error)}): restore it` };
    }
    if (image.chunk) {
      const stored = readPngChunk(bytes, image.chunk, MAX_IMAGE_FILE_BYTES);
      if (!stored) return { problem: "missing", message: `its ${what} was stored in ${image.path}, which no longer carries it: restore that file` };
      bytes = stored;
    }
  }
  const pixels = await pixelHash(bytes).then((h) => h.pixels, () => undefined);
  if (pixels !== image.pixels) return { problem: "changed", message: `its ${what} ${inputName(image)} has changed since the asset was made (its pixels differ from the recorded ${image.pixels.slice(0, 19)}…): restore it` };
  return { bytes };
}

/** An input image, which must still have the pixels it had when the asset was made (no chaining: see Regenerator). */
export async function recordedInput(workspace: string, image: InputImage, what: string): Promise<Buffer> {
  const read = await readRecordedInput(workspace, image, what);
  if ("problem" in read) throw new EaselError("image-invalid", read.message);
  return read.bytes;
}

/** Where recorded LoRAs are looked for by name: the LoRA folders (easel.loraFolders, `--lora-folder`, then the store's loras/) and the store. */
export interface LoraPlaces {
  readonly folders: readonly string[];
  readonly store: ModelStore;
}

/**
 * The recorded LoRAs' files, found by name as the engine finds them (a catalog LoRA in the store,
 * else the first NAME.safetensors in the folders), each checked against its recorded A1111 hash:
 * a different file with the same name is one line that says which and what to do.
 */
export async function recordedLoraFiles(loras: readonly LoraRecord[], places: LoraPlaces): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const l of loras) {
    if (files.has(l.name)) continue;
    const entry = findCatalogLora(l.name);
    const file = entry ? await findStoreFile(places.store, entry) : await findLora(l.name, places.folders);
    if (!file) throw new EaselError("model-missing", `the LoRA ${entry?.name ?? l.name} it was made with is not downloaded: run 'easel models pull ${l.name}'`);
    const hash = await a1111LoraHash(file);
    if (hash !== l.hash) {
      throw new EaselError("model-missing", `the LoRA ${l.name} found at ${file} is not the one it was made with (hash ${hash.slice(0, 12)}, recorded ${l.hash.slice(0, 12)}): put that LoRA's file back under its name`);
    }
    files.set(l.name, file);
  }
  return files;
}

/**
 * The request that makes a recorded generation again (one image, its own seed); `input` reads its
 * init image and mask. Recorded LoRAs need `places` (found there and hash-checked): the request's
 * own are passed as the files found (a catalog LoRA by its id, as fast mode names it); the prompt's
 * tags name theirs again, found in the same folders.
 */
export async function recordedRequest(g: GenerationRecord, input: (image: InputImage, what: string) => Promise<Buffer>, places?: LoraPlaces): Promise<GenerateRequest> {
  let loras: LoraRequest[] | undefined;
  if (g.loras && g.loras.length > 0) {
    if (!places) throw new EaselError("internal", "recorded LoRAs need the LoRA folders to be found in");
    const files = await recordedLoraFiles(g.loras, places);
    loras = g.loras.filter((l) => !l.fromPrompt).map((l) => ({ name: findCatalogLora(l.name) ? l.name : files.get(l.name)!, weight: l.unetWeight }));
  }
  return {
    prompt: g.prompt,
    negativePrompt: g.negativePrompt,
    promptSyntax: g.promptSyntax as PromptSyntax,
    seed: seedFromString(g.seed),
    scheduler: g.scheduler as SchedulerChoice,
    ...(g.timestepSpacing !== undefined ? { timestepSpacing: g.timestepSpacing as TimestepSpacing } : {}),
    steps: g.steps,
    guidance: g.guidance,
    ...(g.outpaint ? { outpaint: { ...g.outpaint, fill: g.outpaint.fill as "edge" | "noise" | undefined } } : { width: g.width, height: g.height }),
    strength: g.strength,
    initImage: g.initImage ? await input(g.initImage, "init image") : undefined,
    mask: g.mask ? await input(g.mask, "mask") : undefined,
    decoder: g.decoder as Decoder,
    ...(g.tileable === true ? { tileable: true } : {}),
    ...(g.hires ? { hires: { ...g.hires } } : {}),
    ...(loras && loras.length > 0 ? { loras } : {}),
    // Fast mode again with the same LoRA (the catalog one it recorded), whatever the family's default is now.
    ...(g.fast ? { fast: true, ...fastLoraOf(g.loras) } : {}),
    batch: 1,
  };
}

/** The catalog fast-mode LoRA among a record's LoRAs, as the request's `fastLora`. */
function fastLoraOf(loras: readonly LoraRecord[] | undefined): { readonly fastLora?: string } {
  const entry = loras?.find((l) => !l.fromPrompt && findCatalogLora(l.name) !== undefined);
  return entry ? { fastLora: entry.name } : {};
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

/**
 * The file of a post-processing model an asset was made with: the catalog's from the store (fetched
 * only with `download`), or the recorded .onnx file; either way with the sha256 it had then.
 */
export async function recordedToolFile(model: ToolModel, kind: "background remover" | "upscaler", ctx: Omit<RegenerateContext, "provider">): Promise<string> {
  let file: string;
  if (model.catalogId !== undefined) {
    const entry = kind === "upscaler" ? (loadCatalog().upscalers ?? []).find((u) => u.id === model.catalogId) : findCatalogBackgroundRemover(model.catalogId);
    if (!entry) throw new EaselError("model-missing", `its ${kind} ${model.catalogId} is not in this Easel's catalog: update Easel`);
    const have = await findStoreFile(ctx.store, entry);
    if (have) file = have;
    else if (!ctx.download) throw new EaselError("model-missing", `its ${kind} ${model.catalogId} (${entry.license.name}) is not on this machine: add --download to fetch it, or 'easel models pull ${model.catalogId}'`);
    else {
      const pulled = await pullSingleFile(entry, { store: ctx.store, signal: ctx.signal });
      if (pulled.status === "declined") throw new EaselError("model-missing", `its ${kind} ${model.catalogId} was not downloaded: 'easel models pull ${model.catalogId}'`);
      file = pulled.file;
    }
  } else if (model.file !== undefined) {
    file = path.resolve(ctx.workspace, model.file);
    if (!(await fs.stat(file).then((s) => s.isFile(), () => false))) throw new EaselError("model-missing", `its ${kind} ${file} is gone: restore that .onnx file`);
  } else {
    throw new EaselError("bad-argument", `the entry names no catalog id or file for its ${kind} ${model.name}`);
  }
  if (model.sha256 !== undefined && (await fileSha256(file)) !== model.sha256) {
    throw new EaselError("model-invalid", `its ${kind} ${file} is not the file the asset was made with (sha256 ${model.sha256.slice(0, 12)}…): restore that file${model.catalogId ? ` ('easel models pull ${model.catalogId}')` : ""}`);
  }
  return file;
}

/** A post-processing step in a few words (`easel assets list`, the Markdown hover). */
export function describeStep(p: PostStep): string {
  switch (p.op) {
    case "encode":
      return p.format;
    case "icon":
      return `icon ${p.size}px`;
    case "removeBackground":
      return `background removed (${p.model.catalogId ?? p.model.name}${p.matte === undefined ? "" : `, matte ${p.matte}`})`;
    case "upscale":
      return `upscaled ${p.scale}x (${p.model?.catalogId ?? p.model?.name ?? "Lanczos"})`;
    case "pack":
      return `${p.preset} pack's ${p.file}`;
  }
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

/** What a Regenerator needs from where it runs (the CLI's own engine, or the editor's engine process). */
export interface RegeneratorDeps {
  readonly workspace: string;
  /** The lockfile's entries: an input that is itself a recorded file is made again from its entry when it is missing or changed. */
  readonly assets: Assets;
  /** One recorded generation's PNG (its request has batch 1 and the recorded seed). */
  generate(model: ModelRecord, request: GenerateRequest, signal?: AbortSignal): Promise<Uint8Array>;
  readonly runners: PostRunners;
  /** Where recorded LoRAs are found (the folders the engine that generates searches); needed only by entries with LoRAs. */
  readonly loras?: LoraPlaces;
  readonly signal?: AbortSignal;
}

/** How deep a chain of recorded inputs may go (an icon of an upscale of a cut-out of an img2img of …). */
const MAX_CHAIN = 16;

/**
 * Makes entries' images again in memory. An input image (init image, mask, source) is read from its
 * file; when that file is missing or changed and is itself recorded with the pixels the input had,
 * it is made again from its own entry first (so a pack from a generated image can be checked with
 * neither file present). Otherwise the error says which input and what to do.
 */
export class Regenerator {
  private readonly inputs = new Map<string, Promise<Buffer>>();

  constructor(private readonly deps: RegeneratorDeps) {}

  /** The file bytes the entry describes. */
  async regenerate(entry: AssetEntry, chain: readonly string[] = []): Promise<Buffer> {
    const { runners, signal } = this.deps;
    if (entry.generation) {
      const request = await recordedRequest(entry.generation, (image, what) => this.input(image, what, chain), this.deps.loras);
      return applyPost(await this.deps.generate(entry.generation.model, request, signal), entry.post, runners, signal);
    }
    if (!entry.source) throw new EaselError("bad-argument", "the entry says neither how it was generated nor its source");
    return applyPost(await this.input(entry.source, "source image", chain), entry.post, runners, signal);
  }

  /** An input's bytes, read once per run (a pack's files share their source). */
  private input(image: InputImage, what: string, chain: readonly string[]): Promise<Buffer> {
    const key = JSON.stringify([image.path, image.chunk, image.pixels, image.data === undefined]);
    let got = this.inputs.get(key);
    if (!got) {
      got = this.readInput(image, what, chain);
      this.inputs.set(key, got);
      got.catch(() => this.inputs.delete(key));
    }
    return got;
  }

  private async readInput(image: InputImage, what: string, chain: readonly string[]): Promise<Buffer> {
    const read = await readRecordedInput(this.deps.workspace, image, what);
    if (!("problem" in read)) return read.bytes;
    const own = image.path !== undefined && image.chunk === undefined ? this.deps.assets.get(image.path) : undefined;
    if (!own || own.pixels !== image.pixels || chain.includes(image.path!) || chain.length >= MAX_CHAIN) throw new EaselError("image-invalid", read.message);
    // Recorded itself with the pixels this asset started from: made again from its own entry.
    const made = await this.regenerate(own, [...chain, image.path!]);
    if ((await pixelHash(made)).pixels !== image.pixels) throw new EaselError("image-invalid", `${read.message}; made again from its own entry it does not match either`);
    return made;
  }
}
