// Upscaling to an exact size, as A1111's upscalers do: the super-resolution model is applied (again,
// while the image is still smaller than the target, at most three times), then Lanczos takes the
// result to the exact size; without a model, Lanczos alone. A tileable image is upscaled as a
// wrapped copy and cropped, so its opposite edges still meet. Also the one path from an encoded
// image to its upscaled PNG, shared by `easel upscale` and the engine process.
import sharp from "sharp";
import { badArgument, EaselError, firstLine } from "../errors";
import { decodeImageRgb } from "../image/decode";
import { readPngParameters } from "../image/encode";
import { infotextFields, parseInfotext } from "../image/infotext";
import { insertPngText } from "../image/pngChunks";
import { type RgbImage, type SuperResolution, type TileOptions } from "./superResolution";

/** Lanczos-3 resampling (sharp) of 8-bit RGB to exactly width x height. */
export async function lanczosResize(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const out = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize({ width, height, fit: "fill", kernel: "lanczos3" })
    .raw({ depth: "uchar" })
    .toBuffer();
  return { rgb: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), width, height };
}

const MAX_SR_PASSES = 3;

/** Where an upscale is: the super-resolution pass (1-based, of `passes`) and its tile; Lanczos alone has no passes. */
export interface UpscaleProgress {
  readonly pass: number;
  readonly passes: number;
  readonly tile: number;
  readonly tiles: number;
}

export interface UpscaleOptions extends Omit<TileOptions, "onTile"> {
  /** The image tiles seamlessly: its edges wrap around through every filter, so the result tiles too. */
  readonly wrap?: boolean;
  readonly onProgress?: (progress: UpscaleProgress) => void;
  /** The largest side a model's pass may make (default MAX_UPSCALED_SIDE); tests pass a small one. */
  readonly maxSide?: number;
}

/**
 * The sizes the super-resolution passes start from, to reach at least width x height (at most
 * three). A pass that would make a side over `maxSide` (a 4x model asked for 2x of a large image)
 * starts from the image shrunk by Lanczos so that it lands on the target instead: the largest image
 * held stays the result's size, whatever the model's scale.
 */
function srPlan(image: RgbImage, width: number, height: number, scale: number, maxSide: number): { readonly width: number; readonly height: number }[] {
  const plan: { width: number; height: number }[] = [];
  let w = image.width;
  let h = image.height;
  while (plan.length < MAX_SR_PASSES && (w < width || h < height)) {
    if (w * scale > Math.max(maxSide, width) || h * scale > Math.max(maxSide, height)) [w, h] = [Math.ceil(width / scale), Math.ceil(height / scale)];
    plan.push({ width: w, height: h });
    [w, h] = [w * scale, h * scale];
  }
  return plan;
}

export async function upscaleTo(image: RgbImage, width: number, height: number, sr: SuperResolution | undefined, options: UpscaleOptions = {}): Promise<RgbImage> {
  if (options.wrap) return upscaleWrapped(image, width, height, sr, options);
  const plan = sr ? srPlan(image, width, height, sr.scale, options.maxSide ?? MAX_UPSCALED_SIDE) : [];
  let current = image;
  for (let i = 0; sr && i < plan.length; i++) {
    const pass = i + 1;
    current = await lanczosResize(current, plan[i].width, plan[i].height);
    current = await sr.upscale(current, { ...options, onTile: (tile, tiles) => options.onProgress?.({ pass, passes: plan.length, tile, tiles }) });
  }
  if (options.signal?.aborted) throw new EaselError("cancelled", "upscaling was cancelled");
  return lanczosResize(current, width, height);
}

/** Context wrapped around each side of a tileable image before it is upscaled: Lanczos-3 reads 3 pixels, the SR tiles' overlap is 16. */
const MIN_WRAP = 16;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The pixels of wrap-around context for a side of `side` going to `target`: at least MIN_WRAP, and a
 * multiple of side/gcd(side, target), so the context becomes a whole number of output pixels and the
 * crop lands on the same sampling grid as the unpadded image's (at most the whole side, a 3x3 repeat).
 */
export function wrapPad(side: number, target: number): number {
  const unit = side / gcd(side, target);
  return Math.min(unit * Math.ceil(MIN_WRAP / unit), unit * Math.max(1, Math.floor(side / unit)));
}

/** `image` with `px` and `py` pixels of its own opposite sides around it (a window of its infinite repeat). */
function wrapAround(image: RgbImage, px: number, py: number): RgbImage {
  const W = image.width + 2 * px;
  const H = image.height + 2 * py;
  const rgb = new Uint8Array(W * H * 3); // [H,W,3] u8
  const mod = (v: number, n: number) => ((v % n) + n) % n;
  for (let y = 0; y < H; y++) {
    const sy = mod(y - py, image.height);
    for (let x = 0; x < W; x++) {
      const from = (sy * image.width + mod(x - px, image.width)) * 3;
      rgb.set(image.rgb.subarray(from, from + 3), (y * W + x) * 3);
    }
  }
  return { rgb, width: W, height: H };
}

/** A tileable image upscaled as a wrapped copy (wrapPad on each side), then cropped back to its own part. */
async function upscaleWrapped(image: RgbImage, width: number, height: number, sr: SuperResolution | undefined, options: UpscaleOptions): Promise<RgbImage> {
  const px = wrapPad(image.width, width);
  const py = wrapPad(image.height, height);
  // Whole numbers by wrapPad's choice: the context scales by exactly width/image.width.
  const ox = (px * width) / image.width;
  const oy = (py * height) / image.height;
  const big = await upscaleTo(wrapAround(image, px, py), width + 2 * ox, height + 2 * oy, sr, { ...options, wrap: false });
  const rgb = new Uint8Array(width * height * 3); // [H,W,3] u8
  for (let y = 0; y < height; y++) rgb.set(big.rgb.subarray(((y + oy) * big.width + ox) * 3, ((y + oy) * big.width + ox + width) * 3), y * width * 3);
  return { rgb, width, height };
}

/** The largest side an upscale writes: 8192² RGB is 192 MiB in memory. */
export const MAX_UPSCALED_SIDE = 8192;
export const UPSCALE_SCALES = [2, 4] as const;
/** The tile sizes and overlaps an upscale accepts (`easel upscale --tile/--overlap`, the engine process's request). */
export const UPSCALE_TILE = { min: 16, max: 2048 } as const;
export const UPSCALE_OVERLAP = { min: 0, max: 256 } as const;
export type UpscaleScale = (typeof UPSCALE_SCALES)[number];

/** An encoded image, decoded (one clear line for a file that is not an image). */
export async function decodeForUpscale(bytes: Uint8Array, name: string): Promise<RgbImage> {
  try {
    return await decodeImageRgb(bytes, "image");
  } catch (error) {
    throw new EaselError("image-invalid", `${name}: ${firstLine(error)}`);
  }
}

/** The size `scale` makes of a width x height image, refused over MAX_UPSCALED_SIDE before any work. */
export function upscaledSize(name: string, width: number, height: number, scale: number): { readonly width: number; readonly height: number } {
  const out = { width: width * scale, height: height * scale };
  if (out.width > MAX_UPSCALED_SIDE || out.height > MAX_UPSCALED_SIDE) {
    throw badArgument(`${name} is ${width}x${height}; ${scale}x makes ${out.width}x${out.height}, over the ${MAX_UPSCALED_SIDE}-pixel limit: use --scale 2 or a smaller image`);
  }
  return out;
}

function safeParameters(bytes: Uint8Array): string | undefined {
  try {
    return readPngParameters(bytes);
  } catch {
    return undefined;
  }
}

/** Whether upscaleToPng wraps `original` around by default: its parameters say it is tileable (`Tiling: True`). */
export function upscaleWraps(original: Uint8Array): boolean {
  const parameters = safeParameters(original);
  return parameters !== undefined && infotextFields(parseInfotext(parameters)).tiling;
}

/**
 * The upscaled image as a PNG, keeping the original's generation parameters (its `parameters`
 * chunk). A tileable original (`Tiling: True`) is upscaled wrapped around, so it still tiles,
 * unless `options.wrap` says otherwise (a recorded upscale is made again as it was recorded).
 */
export async function upscaleToPng(image: RgbImage, original: Uint8Array, scale: number, sr: SuperResolution | undefined, options: UpscaleOptions = {}): Promise<{ readonly png: Buffer; readonly width: number; readonly height: number }> {
  const parameters = safeParameters(original);
  const wrap = options.wrap ?? upscaleWraps(original);
  const result = await upscaleTo(image, image.width * scale, image.height * scale, sr, { ...options, wrap });
  let png: Buffer = await sharp(result.rgb, { raw: { width: result.width, height: result.height, channels: 3 } }).png({ compressionLevel: 6, adaptiveFiltering: true, palette: false }).toBuffer();
  if (parameters !== undefined) png = insertPngText(png, "parameters", parameters);
  return { png, width: result.width, height: result.height };
}
