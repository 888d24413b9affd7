// `easel-assets.json`: how each image Easel wrote into a workspace was made, so it can be checked
// and made again. One entry per file, keyed by its workspace-relative path; JSON with sorted keys
// and two-space indents, so it diffs well in git. Writers take a lock file beside it, re-read it,
// change their entries and rename a new copy over it, so concurrent writers lose nothing and a
// reader never sees half a file. A file that is not a valid lockfile is an error, never overwritten.
//
// Format 2 (format 1 files still read: their entries are a subset) adds what the editor's edits and
// post-processing need to be made again: inputs stored in a PNG chunk or inline (a painted mask has
// no file), and the post-processing steps `removeBackground`, `upscale` and `pack`.
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { EaselError, firstLine } from "../errors";
import { writeFileAtomic } from "../image/atomicWrite";
import type { ImageFormat } from "../image/convert";
import type { TransparentFormat } from "../matte/backgroundRemoval";
import type { PackPreset } from "../packs/assetPack";
import { isSafeRelativePath } from "../safePath";

export const LOCKFILE_NAME = "easel-assets.json";
const FORMAT = 2;
/** Formats this Easel reads (older entries are a subset of the newer). */
const READABLE_FORMATS: readonly number[] = [1, 2];

/** The PNG chunks an input can be stored in: an Easel PNG's starting image and mask (extension/generation/storedInputs.ts). */
export const INPUT_CHUNKS = ["esIn", "esMk"] as const;
export type InputChunk = (typeof INPUT_CHUNKS)[number];

/**
 * An input image (img2img's image, a mask, a post-processed file's source) and the sha256 of its
 * decoded RGBA pixels. Where it is: a workspace file (`path`), an image stored in a chunk of that
 * file (`path` + `chunk`: an inpainted Easel PNG's starting image), or, for an image that has no
 * file at all (a mask painted in the Studio), the PNG itself in `data` (base64).
 */
export interface InputImage {
  readonly path?: string;
  readonly pixels: string;
  readonly chunk?: InputChunk;
  readonly data?: string;
}

/** A model file a post-processing step ran (a background remover, an upscaler): a catalog id, else the .onnx file; its sha256. */
export interface ToolModel {
  /** As the user (or the catalog) names it: the catalog entry's name, or the file's stem. */
  readonly name: string;
  readonly catalogId?: string;
  /** An .onnx file that is not from the catalog: workspace-relative when inside the workspace, else absolute. */
  readonly file?: string;
  readonly sha256?: string;
}

/** The model as it can be found again: a catalog id or repository at a commit (with the UNet hash the store recorded), or a folder. */
export interface ModelRecord {
  /** What the user named (`sd15`, `owner/name@rev`, a folder). */
  readonly name: string;
  readonly catalogId?: string;
  readonly repo?: string;
  readonly commit?: string;
  /** sha256 of the UNet file as the model store recorded it at download. */
  readonly unetSha256?: string;
  /** A model folder that is not in the store: its path (workspace-relative when inside the workspace). */
  readonly folder?: string;
}

/**
 * A LoRA a generation merged: its name (a `<lora:NAME>` tag's, a catalog LoRA's id, else the file's
 * stem), found again by name in the LoRA folders (a catalog LoRA: in the model store), and its
 * A1111 hash (sha256 of the data after the safetensors header, all 64 hex digits), which the file
 * found must still have.
 */
export interface LoraRecord {
  readonly name: string;
  readonly hash: string;
  readonly unetWeight: number;
  readonly textWeight: number;
  /** Named by a tag of the (a1111-syntax) prompt, which names it again; absent: the request named it. */
  readonly fromPrompt?: true;
}

export interface GenerationRecord {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly promptSyntax: string;
  /** Decimal: seeds go past 2^53. */
  readonly seed: string;
  readonly model: ModelRecord;
  /** The request's scheduler (`default`: the model's own) and the sampler that ran. */
  readonly scheduler: string;
  readonly sampler: string;
  /** The request's timestep spacing (absent: the model's scheduler config's), e.g. fast mode's "trailing" for SDXL-Lightning. */
  readonly timestepSpacing?: string;
  readonly steps: number;
  readonly guidance: number;
  readonly width: number;
  readonly height: number;
  readonly strength?: number;
  readonly initImage?: InputImage;
  readonly mask?: InputImage;
  readonly outpaint?: { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number; readonly overlap?: number; readonly fill?: string };
  readonly decoder: string;
  /** Seamless tiling (absent: off). */
  readonly tileable?: boolean;
  /** The hires fix (absent: off); width, height and steps above are the first pass's. `upscaler` as requested (absent: the default). */
  readonly hires?: { readonly scale: number; readonly strength: number; readonly steps?: number; readonly upscaler?: string };
  /** The LoRAs merged (absent: none), fast mode's LoRA among them (under its catalog id). */
  readonly loras?: readonly LoraRecord[];
  /** Fast mode (absent: off): steps, guidance, scheduler and spacing above are the ones it ran with; its LoRA is the catalog one in `loras`. */
  readonly fast?: true;
}

/** Background removal (`easel rembg`, --transparent, the Studio's toggle): the model's mask as alpha, cut at `matte` when set. */
export interface RemoveBackgroundStep {
  readonly op: "removeBackground";
  readonly model: ToolModel;
  readonly matte?: number;
  readonly format: TransparentFormat;
}

/** `easel upscale` / Upscale Image: `scale`× by the model (absent: Lanczos), tiled as recorded; a PNG. */
export interface UpscaleStep {
  readonly op: "upscale";
  readonly scale: number;
  readonly model?: ToolModel;
  readonly tile?: number;
  readonly overlap?: number;
  /** A tileable image upscaled wrapped around (so it still tiles); absent: not wrapped. */
  readonly wrap?: boolean;
}

/** One image file of an asset pack (`easel pack`, Export Asset Pack): the preset's `file`, rendered with this fill and title. */
export interface PackStep {
  readonly op: "pack";
  readonly preset: PackPreset;
  /** The file's path inside the pack (`favicon-32x32.png`, `mipmap-hdpi/ic_launcher.png`). */
  readonly file: string;
  /** The fill of opaque icons, the maskable icon's padding and the card, #rrggbb. */
  readonly background: string;
  /** The social card's title and its font. */
  readonly title?: string;
  readonly fontFamily?: string;
}

/** What happened to the generated (or source) image before it became the file, in order. */
export type PostStep =
  | { readonly op: "encode"; readonly format: ImageFormat }
  | { readonly op: "icon"; readonly size: number }
  | RemoveBackgroundStep
  | UpscaleStep
  | PackStep;

export const POST_OPS = ["encode", "icon", "removeBackground", "upscale", "pack"] as const;

export interface AssetEntry {
  /** sha256 of the decoded RGBA pixels, `sha256:<hex>`. */
  readonly pixels: string;
  readonly width: number;
  readonly height: number;
  /** How the image was generated; absent for an image made only by post-processing `source`. */
  readonly generation?: GenerationRecord;
  /** The image post-processed into this one (an icon set's picture), when not generated. */
  readonly source?: InputImage;
  readonly post: readonly PostStep[];
  readonly easelVersion: string;
  readonly provider?: string;
}

export type Assets = Map<string, AssetEntry>;

/** `sha256:<hex>` of an image's decoded RGBA pixels, and its size. */
export async function pixelHash(image: Uint8Array): Promise<{ readonly pixels: string; readonly width: number; readonly height: number }> {
  const { data, info } = await decodeRgba(image);
  return { pixels: `sha256:${createHash("sha256").update(data).digest("hex")}`, width: info.width, height: info.height };
}

/** An image's pixels as 8-bit RGBA (what pixelHash hashes and check compares). */
export async function decodeRgba(image: Uint8Array): Promise<{ readonly data: Buffer; readonly info: { readonly width: number; readonly height: number } }> {
  try {
    return await sharp(image).ensureAlpha().raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new EaselError("image-invalid", `cannot decode the image (${firstLine(error)}): is it a PNG, WebP or JPEG?`);
  }
}

/** The lockfile's entries; none when there is no file. A file that is not a valid lockfile throws. */
export async function readAssets(workspace: string): Promise<Assets> {
  const file = path.join(workspace, LOCKFILE_NAME);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw new EaselError("output-unwritable", `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? firstLine(error)}): check its permissions`);
  }
  return parseAssets(text, file);
}

export function parseAssets(text: string, file: string): Assets {
  const corrupt = (why: string) =>
    new EaselError("bad-argument", `${file} is not a valid Easel asset lockfile (${why}); Easel leaves it as it is: repair it (e.g. git checkout ${LOCKFILE_NAME}) or move it away`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw corrupt(firstLine(error));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw corrupt("not a JSON object");
  const { format, assets } = value as { format?: unknown; assets?: unknown };
  if (typeof format !== "number" || !READABLE_FORMATS.includes(format)) {
    throw corrupt(`format ${JSON.stringify(format)}, expected ${READABLE_FORMATS.join(" or ")}${typeof format === "number" && format > FORMAT ? ": written by a newer Easel, update Easel" : ""}`);
  }
  if (typeof assets !== "object" || assets === null || Array.isArray(assets)) throw corrupt('no "assets" object');
  const out: Assets = new Map();
  for (const [key, entry] of Object.entries(assets)) {
    if (!isSafeRelativePath(key)) throw corrupt(`the path ${JSON.stringify(key)} is not a workspace-relative path`);
    const e = entry as Partial<AssetEntry> | null;
    if (typeof e !== "object" || e === null || typeof e.pixels !== "string" || !/^sha256:[0-9a-f]{64}$/.test(e.pixels) || !Array.isArray(e.post)) {
      throw corrupt(`the entry for ${key} has no pixel hash or post-processing list`);
    }
    if (e.generation === undefined && e.source === undefined) throw corrupt(`the entry for ${key} says neither how it was generated nor its source`);
    for (const step of e.post) {
      const op = (step as { op?: unknown } | null)?.op;
      if (!(POST_OPS as readonly unknown[]).includes(op)) throw corrupt(`the entry for ${key} has an unknown post-processing step ${JSON.stringify(op)} (written by a newer Easel?)`);
    }
    for (const input of [e.source, e.generation?.initImage, e.generation?.mask]) {
      if (input === undefined) continue;
      const ok = typeof input === "object" && input !== null && typeof input.pixels === "string" && (typeof input.path === "string" ? isSafeRelativePath(input.path) : typeof input.data === "string");
      if (!ok) throw corrupt(`the entry for ${key} has an input image with no workspace-relative path or data`);
    }
    out.set(key, e as AssetEntry);
  }
  return out;
}

/** JSON with every object's keys sorted (arrays keep their order), two-space indents, a final newline. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (typeof v === "object" && v !== null) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

export function serializeAssets(assets: Assets): string {
  return stableJson({ format: FORMAT, assets: Object.fromEntries([...assets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) });
}

/** How long a writer waits for another's lock, and when a lock is taken to be left by a crashed writer. */
const LOCK_WAIT_MS = 30_000;
const STALE_LOCK_MS = 60_000;

/**
 * Changes the lockfile under its lock: reads it as it is now (another writer may have just
 * changed it), lets `change` edit the entries, and renames the new file over the old one. A
 * corrupt file stops here, unwritten.
 */
export async function updateAssets(workspace: string, change: (assets: Assets) => boolean | void): Promise<void> {
  const file = path.join(workspace, LOCKFILE_NAME);
  const lock = `${file}.lock`;
  await acquire(lock);
  try {
    const assets = await readAssets(workspace);
    // false: nothing changed, and the file is left as it is.
    if (change(assets) === false) return;
    await writeFileAtomic(file, Buffer.from(serializeAssets(assets), "utf8"));
  } finally {
    await fs.rm(lock, { force: true });
  }
}

async function acquire(lock: string): Promise<void> {
  const started = Date.now();
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      const handle = await fs.open(lock, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") throw new EaselError("output-unwritable", `cannot lock ${lock} (${code ?? firstLine(error)}): check that the workspace folder is writable`);
    }
    const age = await fs.stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > STALE_LOCK_MS) {
      // A writer that crashed holding it: the lock is only ever held for a read and a rename.
      await fs.rm(lock, { force: true });
      continue;
    }
    if (Date.now() - started > LOCK_WAIT_MS) throw new EaselError("output-unwritable", `${lock} has been locked for over ${LOCK_WAIT_MS / 1000} s: if no Easel is writing, delete it`, true);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** A file's path relative to the workspace (`/`-separated), or undefined when it lies outside. */
export function workspaceRelative(workspace: string, file: string): string | undefined {
  const rel = path.relative(path.resolve(workspace), path.resolve(file));
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join("/");
}

/** `p` with the leading `from` (a file, or a folder and everything in it) replaced by `to`; undefined when `p` is not under `from`. */
function moved(p: string, from: string, to: string): string | undefined {
  if (p === from) return to;
  return p.startsWith(`${from}/`) ? `${to}${p.slice(from.length)}` : undefined;
}

/**
 * A file or folder moved from `from` to `to` (workspace-relative): its entries move with it, and
 * entries that name it as an input (init image, mask, source) follow. Returns whether anything changed.
 */
export function moveEntries(assets: Assets, from: string, to: string): boolean {
  let changed = false;
  for (const [key, entry] of [...assets]) {
    const g = entry.generation;
    const follow = (image: InputImage | undefined) => {
      const p = image?.path !== undefined ? moved(image.path, from, to) : undefined;
      return image && p !== undefined ? { ...image, path: p } : image;
    };
    const updated: AssetEntry = {
      ...entry,
      ...(g ? { generation: { ...g, initImage: follow(g.initImage), mask: follow(g.mask) } } : {}),
      ...(entry.source ? { source: follow(entry.source) } : {}),
    };
    const newKey = moved(key, from, to) ?? key;
    if (newKey !== key || JSON.stringify(updated) !== JSON.stringify(entry)) {
      assets.delete(key);
      assets.set(newKey, updated);
      changed = true;
    }
  }
  return changed;
}

/** Adds (or replaces) entries under the lockfile's lock: what every recorder calls once its files are written. */
export async function recordAssets(workspace: string, entries: Iterable<readonly [string, AssetEntry]>): Promise<void> {
  const list = [...entries];
  if (list.length === 0) return;
  await updateAssets(workspace, (assets) => {
    for (const [rel, entry] of list) assets.set(rel, entry);
  });
}

/** A file or folder deleted: its entries go. Returns whether any did. */
export function removeEntries(assets: Assets, removed: string): boolean {
  let changed = false;
  for (const key of [...assets.keys()]) {
    if (moved(key, removed, "") !== undefined) changed = assets.delete(key) || changed;
  }
  return changed;
}
