// Reading img2img init images the way diffusers does: `load_image` applies the EXIF orientation
// (PIL.ImageOps.exif_transpose) and `.convert("RGB")`, which drops an alpha channel without
// compositing it onto any background and ignores embedded ICC profiles; VaeImageProcessor.preprocess
// then resizes to the requested size with PIL's Lanczos filter when the sizes differ.
//
// Differences that remain: sharp's lanczos3 is not bit-identical to PIL's Lanczos; 16-bit images are
// scaled to 8 bits properly (PIL's RGB conversion of 16-bit PNGs clips); CMYK JPEGs go through
// libvips' CMYK->sRGB transform rather than PIL's naive formula.

import sharp from "sharp";
import { ImageFileError, readImageFile as readCappedImageFile } from "./readImageFile";

function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}

/**
 * The init image, given as a file path or as the encoded file's bytes, as `width` x `height` raw
 * RGB (3 bytes a pixel, row-major): oriented by EXIF, alpha dropped, resized with Lanczos-3
 * (stretching, like diffusers) only when its size differs. Throws a one-line Error saying what to
 * do when the file is missing or not a readable image.
 */
export async function decodeImageToRgb(source: string | Uint8Array, width: number, height: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Requested image size must be positive integers, got ${width}x${height}.`);
  }
  const decoded = await decodeImageRgb(source);
  if (decoded.width === width && decoded.height === height) return decoded.rgb;
  // A second pass, so the resize runs on the alpha-free RGB exactly as PIL's resize after convert("RGB").
  const resized = await sharp(decoded.rgb, { raw: { width: decoded.width, height: decoded.height, channels: 3 } })
    .resize({ width, height, fit: "fill", kernel: "lanczos3" })
    .raw({ depth: "uchar" })
    .toBuffer();
  return new Uint8Array(resized.buffer, resized.byteOffset, resized.byteLength);
}

/**
 * An image (file path or encoded bytes) at its own size, as raw RGB (3 bytes a pixel, row-major):
 * oriented by EXIF, alpha dropped, as diffusers' `load_image(...).convert("RGB")`. `what` names
 * the image in errors ("init image", "mask").
 */
export async function decodeImageRgb(source: string | Uint8Array, what = "init image"): Promise<{ readonly rgb: Uint8Array; readonly width: number; readonly height: number }> {
  const capital = what.charAt(0).toUpperCase() + what.slice(1);
  const name = typeof source === "string" ? `${capital} ${source}` : `The ${what}`;
  const input = typeof source === "string" ? await readImageFile(source, capital) : source;
  if (input.length === 0) throw new Error(`${name} is empty. Use a PNG, JPEG or WebP file.`);

  let decoded: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    decoded = await sharp(input, { autoOrient: true, ignoreIcc: true })
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`${name} is not a readable image (${describe(err)}). Use a PNG, JPEG or WebP file.`);
  }
  const { data, info } = decoded;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new Error(`${name} decoded to ${info.channels} channels; re-save it as an 8-bit RGB PNG or JPEG.`);
  }
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

async function readImageFile(filePath: string, what: string): Promise<Buffer> {
  try {
    return await readCappedImageFile(filePath);
  } catch (err) {
    const problem = err instanceof ImageFileError ? err.problem : "unreadable";
    if (problem === "missing") throw new Error(`${what} not found: ${filePath}. Check the path, or choose an existing image file.`);
    if (problem === "folder") throw new Error(`${what} ${filePath} is a folder. Choose an image file (PNG, JPEG or WebP).`);
    if (problem === "unreadable") throw new Error(`Cannot read ${what.toLowerCase()} ${filePath}: ${describe(err)}. Check the file's permissions.`);
    throw new Error(`${what} ${describe(err)}.`);
  }
}
