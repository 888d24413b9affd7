// Encoding generated images: sharp turns the decoder's raw RGB into an 8-bit RGB PNG, then the
// infotext goes in as a `parameters` text chunk (the keyword A1111 and PIL-based tools read).

import sharp from "sharp";
import { insertPngText, readPngText } from "./pngChunks";

/** The PNG text keyword A1111 stores its infotext under. */
export const PARAMETERS_KEYWORD = "parameters";

/**
 * A PNG (8-bit RGB, no palette, zlib level 6) of `rgb` (row-major, 3 bytes a pixel), carrying
 * `parameters` as a `parameters` text chunk (tEXt when Latin-1, else iTXt).
 */
export async function encodePng(rgb: Uint8Array, width: number, height: number, parameters: string): Promise<Buffer> {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Image size must be positive integers, got ${width}x${height}.`);
  }
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`RGB buffer holds ${rgb.length} bytes, but ${width}x${height}x3 needs ${width * height * 3}.`);
  }
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: true, palette: false })
    .toBuffer();
  return insertPngText(png, PARAMETERS_KEYWORD, parameters);
}

/**
 * The infotext stored in a PNG's `parameters` text chunk, or undefined when it has none.
 * Throws a one-line Error when `buf` is not a valid PNG.
 */
export function readPngParameters(buf: Uint8Array): string | undefined {
  return readPngText(buf, PARAMETERS_KEYWORD);
}
