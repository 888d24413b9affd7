// Background removal: a salient-object segmentation graph (BiRefNet_lite, or any graph with the same
// ports) gives a mask, which becomes the alpha channel of a PNG or WebP.
//
// Pre- and post-processing follow BiRefNet's reference inference (its model card and repository):
//   transforms.Resize((1024, 1024))            -> the whole image squeezed to the input size, bilinear
//   transforms.ToTensor(); Normalize(mean, std)-> x / 255, then (x - mean) / std per channel, CHW
//   model(x)[-1].sigmoid()                     -> the logits' sigmoid (U²-Net-style graphs: min-max)
//   ToPILImage()(pred)                         -> mask.mul(255).byte(): 8 bits, truncated
//   .resize(image.size)                        -> back to the image's size, PIL's default (bicubic)
// What the spec holds (input size, mean/std, output scaling) comes from the catalog entry, so a
// U²-Net export (320², ImageNet mean/std, min-max) runs through the same code.
//
// Edges: PNG and WebP store straight (un-premultiplied) alpha, so the colour of a half-transparent
// pixel is shown as it is stored. The original pixel there is a blend of subject and background;
// keeping it as it is leaves a halo of the old background (a dark fringe on a dark one), and
// multiplying it by alpha (premultiplied data written as straight) darkens every soft edge. So the
// colour at soft edges is re-estimated as BiRefNet's own `refine_foreground` does (Forte & Pitié's
// blur-fusion foreground estimation, two passes of box blurs r=90 then r=6): F = Ḟ + α(I − αḞ − (1−α)Ḃ).
// Fully opaque pixels keep their exact colour; fully transparent ones get the estimated subject
// colour too, so a viewer that filters the image (scaling it) blends towards the subject, not black.
import sharp from "sharp";
import { EaselError, firstLine } from "../errors";
import { PARAMETERS_KEYWORD, readPngParameters } from "../image/encode";
import { withBackgroundRemoval } from "../image/infotext";
import { insertPngText } from "../image/pngChunks";

export const MATTE_OUTPUTS = ["sigmoid", "min-max"] as const;
export const TRANSPARENT_FORMATS = ["png", "webp"] as const;
export type TransparentFormat = (typeof TRANSPARENT_FORMATS)[number];

export interface MatteSpec {
  /** The square side the graph takes (when its input declares no fixed size). */
  readonly inputSize: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** How the graph's output becomes [0, 1]: a sigmoid of logits, or the output's own min–max range. */
  readonly output: (typeof MATTE_OUTPUTS)[number];
}

/** What runs the graph: takes [1,3,S,S] f32, returns [1,1,S,S] (or [1,S,S]) as f32. */
export interface MatteRunner {
  /** The input side the graph declares, when it is fixed. */
  readonly fixedInputSize?: number;
  run(input: Float32Array, side: number): Promise<Float32Array>;
}

export interface RemoveBackgroundOptions {
  /** 0..1: alpha at or above it becomes opaque, below it transparent (hard edges). */
  readonly matte?: number;
  readonly format?: TransparentFormat;
  /** Skip the foreground colour estimation (tests compare raw colours with it off). */
  readonly keepColours?: boolean;
  /** The remover's name (catalog id, or the .onnx file's stem) for the parameters a PNG carries on (`Background removal`). */
  readonly remover?: string;
}

export interface Rgba {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** The one message for transparency asked of JPEG. */
export function transparentJpegError(): EaselError {
  return new EaselError("bad-argument", "JPEG has no alpha channel, so a transparent image cannot be saved as JPEG: save it as PNG or WebP (e.g. --out image.png)");
}

/** Refuses JPEG for transparent output; returns the format to write. */
export function transparentFormatFor(fileName: string): TransparentFormat {
  const ext = /\.([^./\\]+)$/.exec(fileName)?.[1]?.toLowerCase();
  if (ext === "jpg" || ext === "jpeg") throw transparentJpegError();
  if (ext === "webp") return "webp";
  if (ext === undefined || ext === "png") return "png";
  throw new EaselError("bad-argument", `cannot write a transparent image as .${ext}: name a .png or .webp file`);
}

export function checkMatte(matte: number | undefined): void {
  if (matte !== undefined && !(matte > 0 && matte < 1)) {
    throw new EaselError("bad-argument", `--matte must be a number between 0 and 1, exclusive (got ${matte}): e.g. 0.5 cuts the mask at half opacity`);
  }
}

/** The image as raw RGB at its own size (EXIF-oriented; its own alpha, if any, is dropped as the reference's convert("RGB") does). */
export async function decodeRgb(image: Uint8Array): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  try {
    const { data, info } = await sharp(image, { autoOrient: true }).removeAlpha().toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    throw new EaselError("image-invalid", `cannot read this image (${firstLine(error)}): choose a PNG, WebP or JPEG image`);
  }
}

/** The graph's input: the image squeezed to side², x/255 normalised by mean/std, channels first. */
export async function matteInput(rgb: Uint8Array, width: number, height: number, side: number, spec: MatteSpec): Promise<Float32Array> {
  const resized = width === side && height === side ? rgb : await sharp(rgb, { raw: { width, height, channels: 3 } }).resize(side, side, { fit: "fill", kernel: "linear" }).raw().toBuffer();
  const plane = side * side;
  const input = new Float32Array(3 * plane); // [1,3,S,S] f32
  for (let c = 0; c < 3; c++) {
    const mean = spec.mean[c];
    const std = spec.std[c];
    for (let i = 0; i < plane; i++) input[c * plane + i] = (resized[i * 3 + c] / 255 - mean) / std;
  }
  return input;
}

/** The graph's output as an 8-bit mask at side² (sigmoid or min-max, then ×255 truncated, as ToPILImage does). */
export function maskFromOutput(output: Float32Array, side: number, spec: MatteSpec): Uint8Array {
  const plane = side * side;
  if (output.length < plane) throw new EaselError("model-invalid", `the background-removal model returned ${output.length} values, fewer than its ${side}×${side} mask: choose a background-removal model from the catalog`);
  // [1,1,S,S] f32: the first plane is the mask.
  const mask = new Uint8Array(plane);
  if (spec.output === "sigmoid") {
    for (let i = 0; i < plane; i++) mask[i] = Math.trunc((1 / (1 + Math.exp(-output[i]))) * 255);
  } else {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < plane; i++) {
      lo = Math.min(lo, output[i]);
      hi = Math.max(hi, output[i]);
    }
    const range = hi - lo;
    for (let i = 0; i < plane; i++) mask[i] = range > 0 ? Math.trunc(((output[i] - lo) / range) * 255) : 0;
  }
  return mask;
}

/** The mask back at the image's size (bicubic, PIL's default for Image.resize). */
async function maskAtSize(mask: Uint8Array, side: number, width: number, height: number): Promise<Uint8Array> {
  if (width === side && height === side) return mask;
  const out = await sharp(mask, { raw: { width: side, height: side, channels: 1 } }).resize(width, height, { fit: "fill", kernel: "cubic" }).extractChannel(0).raw().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The alpha mask of `image` at its own size. */
export async function backgroundMask(rgb: Uint8Array, width: number, height: number, runner: MatteRunner, spec: MatteSpec): Promise<Uint8Array> {
  const side = runner.fixedInputSize ?? spec.inputSize;
  const output = await runner.run(await matteInput(rgb, width, height, side, spec), side);
  for (const v of output.subarray(0, side * side)) {
    if (!Number.isFinite(v)) throw new EaselError("model-invalid", "the background-removal model returned NaN or infinite values: download it again (easel models verify)");
  }
  return maskAtSize(maskFromOutput(output, side, spec), side, width, height);
}

/** The --matte cut: hard edges, every pixel opaque or transparent. */
export function applyMatte(alpha: Uint8Array, matte: number): Uint8Array {
  const cut = matte * 255;
  return alpha.map((a) => (a >= cut ? 255 : 0));
}

/** Mirror index (OpenCV's BORDER_REFLECT_101, cv2.blur's default), folded until it is inside [0, n). */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  for (;;) {
    if (i < 0) i = -i;
    else if (i >= n) i = 2 * n - 2 - i;
    else return i;
  }
}

/** Source index for each window position -before … n-1+after+1 along an axis of n (reflect-101). */
function reflectTable(n: number, before: number, after: number): Int32Array {
  const table = new Int32Array(n + before + after + 1);
  for (let k = 0; k < table.length; k++) table[k] = reflect101(k - before, n);
  return table;
}

/** cv2.blur(src, (r, r)): the mean over an r×r box anchored at its centre, reflect-101 borders. One channel, f32 planes. */
export function boxBlur(src: Float32Array, width: number, height: number, r: number): Float32Array {
  const before = Math.floor(r / 2);
  const after = r - 1 - before;
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  // Sliding sums along rows, then columns; the tables turn a window position into its mirrored pixel.
  const xs = reflectTable(width, before, after);
  const ys = reflectTable(height, before, after);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let sum = 0;
    for (let k = 0; k < r; k++) sum += src[row + xs[k]];
    for (let x = 0; x < width; x++) {
      tmp[row + x] = sum / r;
      sum += src[row + xs[x + r]] - src[row + xs[x]];
    }
  }
  // The columns' sliding sums advance together, a row at a time, so the reads stay along rows
  // (a column at a time strides the whole image per pixel); each column's sum is the same.
  const sums = new Float64Array(width);
  for (let k = 0; k < r; k++) {
    const from = ys[k] * width;
    for (let x = 0; x < width; x++) sums[x] += tmp[from + x];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const enter = ys[y + r] * width;
    const leave = ys[y] * width;
    for (let x = 0; x < width; x++) {
      out[row + x] = sums[x] / r;
      sums[x] += tmp[enter + x] - tmp[leave + x];
    }
  }
  return out;
}

/** One blur-fusion pass (BiRefNet's blur_fusion_estimator), channel by channel. Planes in [0, 1]. */
function blurFusion(image: Float32Array[], fg: Float32Array[], bg: Float32Array[], alpha: Float32Array, width: number, height: number, r: number): { fg: Float32Array[]; bg: Float32Array[] } {
  const blurredAlpha = boxBlur(alpha, width, height, r);
  const outF: Float32Array[] = [];
  const outB: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    const fa = new Float32Array(alpha.length);
    const b1a = new Float32Array(alpha.length);
    for (let i = 0; i < alpha.length; i++) {
      fa[i] = fg[c][i] * alpha[i];
      b1a[i] = bg[c][i] * (1 - alpha[i]);
    }
    const blurredFa = boxBlur(fa, width, height, r);
    const blurredB1a = boxBlur(b1a, width, height, r);
    const f = new Float32Array(alpha.length);
    const b = new Float32Array(alpha.length);
    for (let i = 0; i < alpha.length; i++) {
      const blurredF = blurredFa[i] / (blurredAlpha[i] + 1e-5);
      const blurredB = blurredB1a[i] / (1 - blurredAlpha[i] + 1e-5);
      const a = alpha[i];
      const v = blurredF + a * (image[c][i] - a * blurredF - (1 - a) * blurredB);
      f[i] = Math.min(1, Math.max(0, v));
      b[i] = blurredB;
    }
    outF.push(f);
    outB.push(b);
  }
  return { fg: outF, bg: outB };
}

/**
 * The subject's colour behind every pixel (BiRefNet's refine_foreground: blur fusion at r=90, then
 * r=6), with fully opaque pixels kept exactly as they were. RGB in, RGB out, 8 bits.
 */
export function estimateForeground(rgb: Uint8Array, alpha: Uint8Array, width: number, height: number): Uint8Array {
  const n = width * height;
  const image = [0, 1, 2].map((c) => {
    const plane = new Float32Array(n);
    for (let i = 0; i < n; i++) plane[i] = rgb[i * 3 + c] / 255;
    return plane;
  });
  const a = Float32Array.from(alpha, (v) => v / 255);
  const first = blurFusion(image, image, image, a, width, height, 90);
  const second = blurFusion(image, first.fg, first.bg, a, width, height, 6);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = alpha[i] === 255 ? rgb[i * 3 + c] : Math.round(second.fg[c][i] * 255);
  }
  return out;
}

/** RGB plus an alpha mask as straight-alpha RGBA, the colour at soft edges estimated unless `keepColours`. */
export function composeRgba(rgb: Uint8Array, alpha: Uint8Array, width: number, height: number, keepColours = false): Rgba {
  const colours = keepColours ? rgb : estimateForeground(rgb, alpha, width, height);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = colours[i * 3];
    data[i * 4 + 1] = colours[i * 3 + 1];
    data[i * 4 + 2] = colours[i * 3 + 2];
    data[i * 4 + 3] = alpha[i];
  }
  return { data, width, height };
}

/** RGBA (straight alpha) as an 8-bit RGBA PNG or WebP (lossless alpha, and its colours kept where alpha is 0). */
export async function encodeRgba(image: Rgba, format: TransparentFormat): Promise<Buffer> {
  const img = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 4 } });
  return format === "webp" ? img.webp({ quality: 92, alphaQuality: 100, exact: true }).toBuffer() : img.png({ compressionLevel: 6, adaptiveFiltering: true, palette: false }).toBuffer();
}

/** The whole operation on raw RGB: mask, matte cut, edge colours, RGBA. */
export async function cutOut(rgb: Uint8Array, width: number, height: number, runner: MatteRunner, spec: MatteSpec, options: RemoveBackgroundOptions = {}): Promise<Rgba> {
  checkMatte(options.matte);
  let alpha = await backgroundMask(rgb, width, height, runner, spec);
  if (options.matte !== undefined) alpha = applyMatte(alpha, options.matte);
  return composeRgba(rgb, alpha, width, height, options.keepColours ?? false);
}

/** The generation parameters of a PNG made by Easel (or A1111), if any; anything else has none. */
function parametersOf(image: Uint8Array): string | undefined {
  try {
    return readPngParameters(image);
  } catch {
    return undefined; // not a PNG, or unreadable parameters: the cut-out simply carries none
  }
}

/**
 * An encoded image in, a transparent PNG or WebP out. A PNG keeps the source PNG's `parameters`
 * text, so a generated image made transparent still reads back (easel info, the gallery, recall),
 * with the removal added to it (`Background removal`, `Matte threshold`) so a recall makes the same
 * transparent image.
 */
export async function removeBackground(image: Uint8Array, runner: MatteRunner, spec: MatteSpec, options: RemoveBackgroundOptions = {}): Promise<Buffer> {
  checkMatte(options.matte);
  const { rgb, width, height } = await decodeRgb(image);
  const format = options.format ?? "png";
  const out = await encodeRgba(await cutOut(rgb, width, height, runner, spec, options), format);
  const parameters = format === "png" ? parametersOf(image) : undefined;
  if (parameters === undefined) return out;
  return insertPngText(out, PARAMETERS_KEYWORD, withBackgroundRemoval(parameters, { remover: options.remover ?? "True", matte: options.matte }));
}
