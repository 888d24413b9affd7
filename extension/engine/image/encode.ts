// Encoding generated images: sharp turns the decoder's raw RGB into an 8-bit RGB PNG, then the
// infotext goes in as a `parameters` text chunk (the keyword A1111 and PIL-based tools read).

import sharp from "sharp";
import { MAX_INFOTEXT_LENGTH } from "./infotext";
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

/** UTF-8 spends at most 3 bytes on a UTF-16 unit, so a text within MAX_INFOTEXT_LENGTH fits in this. */
const MAX_INFOTEXT_BYTES = 3 * MAX_INFOTEXT_LENGTH;

/**
 * The infotext stored in a PNG's `parameters` text chunk, or undefined when it has none. Only that
 * chunk is decoded, and at most MAX_INFOTEXT_LENGTH characters of it. Throws a one-line Error when
 * `buf` is not a valid PNG or its parameters are longer than that (the file then has no readable
 * parameters, and the message says why).
 */
export function readPngParameters(buf: Uint8Array): string | undefined {
  const text = readPngText(buf, PARAMETERS_KEYWORD, MAX_INFOTEXT_BYTES);
  if (text !== undefined && text.length > MAX_INFOTEXT_LENGTH) {
    throw new Error(`The PNG's "${PARAMETERS_KEYWORD}" text is ${text.length} characters, over the ${MAX_INFOTEXT_LENGTH} Easel reads as generation parameters.`);
  }
  return text;
}
