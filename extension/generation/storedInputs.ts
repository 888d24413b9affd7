// What an inpainted or outpainted image was made from, kept inside its own PNG so that Regenerate
// and the Studio's restore can make it again: the starting image (chunk `esIn`, its bytes as the
// engine got them) and the mask (`esMk`, a PNG, white repaints). A1111's `parameters` text cannot
// hold them, and files beside the image would be left behind when it is moved, renamed or deleted.
// Both are private ancillary chunks after the image data: A1111, ComfyUI and image viewers skip them.
import { readPngParameters } from "../engine/image/encode";
import type { BackgroundRemovalInfo } from "../engine/image/infotext";
import { readPngChunk, replacePngChunks } from "../engine/image/pngChunks";
import { MAX_IMAGE_FILE_BYTES } from "../engine/image/readImageFile";
import { EaselError } from "../engine/errors";
import type { InputChunk } from "../engine/assets/lockfile";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import { MAX_MASK_PNG_BYTES } from "../protocol/studioMessages";
import { requestFromInfotext } from "./requestFromInfotext";

// The lockfile names these chunks as where an input is (INPUT_CHUNKS in engine/assets/lockfile.ts).
export const STORED_INIT_CHUNK: InputChunk = "esIn";
export const STORED_MASK_CHUNK: InputChunk = "esMk";
const STORED_CHUNKS = [STORED_INIT_CHUNK, STORED_MASK_CHUNK];
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];

export interface StoredInputs {
  readonly initImage?: Uint8Array;
  readonly mask?: Uint8Array;
}

const isPng = (bytes: Uint8Array) => PNG_SIGNATURE.every((b, i) => bytes[i] === b);

/** Whether a request's image can only be made again with its starting image (and mask) at hand. */
export function needsStoredInputs(request: WireGenerateRequest): boolean {
  return request.initImage !== undefined && (request.mask !== undefined || request.outpaint !== undefined);
}

/**
 * The PNG with the request's starting image and mask stored in it. A starting image that is itself
 * an Easel PNG is stored without its own stored inputs (its pixels are all the engine reads), so
 * inpainting an inpainted image does not nest them.
 */
export function withStoredInputs(png: Uint8Array, request: WireGenerateRequest): Uint8Array {
  if (!needsStoredInputs(request) || !request.initImage) return png;
  const init = isPng(request.initImage) ? replacePngChunks(request.initImage, STORED_CHUNKS, []) : request.initImage;
  const add = [{ type: STORED_INIT_CHUNK, data: init }, ...(request.mask ? [{ type: STORED_MASK_CHUNK, data: request.mask }] : [])];
  return replacePngChunks(png, STORED_CHUNKS, add);
}

/** The inputs stored in a PNG (none for any other file); a damaged chunk is an error saying so. */
export function readStoredInputs(png: Uint8Array): StoredInputs {
  if (!isPng(png)) return {};
  const initImage = readPngChunk(png, STORED_INIT_CHUNK, MAX_IMAGE_FILE_BYTES);
  const mask = readPngChunk(png, STORED_MASK_CHUNK, MAX_MASK_PNG_BYTES);
  return { ...(initImage ? { initImage } : {}), ...(mask ? { mask } : {}) };
}

/**
 * The request that made an image, from its PNG: the parameters, and for an inpainted or outpainted
 * image its stored starting image and mask (with the strength and the sides they were made with).
 * An image Easel inpainted without storing them (the CLI) is refused with what to run instead.
 */
export function recallRequest(png: Uint8Array, name: string): WireGenerateRequest {
  const text = readPngParameters(png);
  if (!text) throw new EaselError("image-invalid", `${name} has no generation parameters: pick a PNG that Easel (or A1111) made`);
  const { request, outpaint, masked } = requestFromInfotext(text);
  const inputs = readStoredInputs(png);
  if (!masked && !outpaint) return { ...request, strength: undefined };
  if (!inputs.initImage || (masked && !outpaint && !inputs.mask)) {
    throw new EaselError(
      "image-invalid",
      `${name} was ${outpaint ? "outpainted" : "inpainted"} from an image it does not carry (made outside the editor?): run it again with easel ${outpaint ? "outpaint --image FILE" : "generate --init-image FILE --mask FILE"}`,
    );
  }
  // Outpainting's size comes from the image and the sides (the engine refuses a width or height with them).
  return outpaint
    ? { ...request, width: undefined, height: undefined, initImage: inputs.initImage, outpaint }
    : { ...request, initImage: inputs.initImage, mask: inputs.mask };
}

/** The background removal a PNG's parameters record (`Background removal`, `Matte threshold`), if any. */
export function recalledRemoval(png: Uint8Array): BackgroundRemovalInfo | undefined {
  const text = isPng(png) ? readPngParameters(png) : undefined;
  return text ? requestFromInfotext(text).backgroundRemoval : undefined;
}

/** A data: URL for a stored starting image (PNG, JPEG or WebP by its first bytes), to show it in the Studio. */
export function imageDataUrl(bytes: Uint8Array): string {
  const type = isPng(bytes) ? "png" : bytes[0] === 0xff && bytes[1] === 0xd8 ? "jpeg" : "webp";
  return `data:image/${type};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}`;
}
