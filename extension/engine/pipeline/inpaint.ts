// Inpainting's inputs, prepared the way diffusers' StableDiffusionInpaintPipeline prepares them
// (conformance rules 14-16): the mask read as grey and binarised, the masked image, the mask at
// latent size, and the extra UNet channels of a 9-channel inpainting UNet. The denoising loop
// (denoise.ts) only calls withInpaintChannels (9-channel UNets) or keepUnmasked (4-channel UNets).

import { EaselError } from "../errors";
import { decodeImageRgb } from "../image/decode";

/** A binarised mask at image size: 1 = repaint, 0 = keep. */
export type PixelMask = Uint8Array; // [H,W] u8 of 0|1

/**
 * PIL's `convert("L")` of one RGB pixel (ITU-R 601-2 luma in 16-bit fixed point, rounded), which
 * diffusers' mask processor (do_convert_grayscale) applies before anything else.
 */
export function pilLuma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/**
 * diffusers' mask processor: grey → [0, 1] → binarised (>= 0.5 → 1). A grey value v is
 * v / 255 >= 0.5 exactly when v >= 128.
 */
export function binariseMask(rgb: Uint8Array, width: number, height: number): PixelMask {
  const mask = new Uint8Array(width * height); // [H,W] u8
  for (let i = 0; i < mask.length; i++) mask[i] = pilLuma(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]) >= 128 ? 1 : 0;
  return mask;
}

/**
 * A mask image (encoded bytes) checked against the output size: rule 14 wants it the same size as
 * the image, and stretching a mask silently would repaint what the user did not mark.
 */
export async function readMask(encoded: Uint8Array, width: number, height: number): Promise<PixelMask> {
  let decoded: Awaited<ReturnType<typeof decodeImageRgb>>;
  try {
    decoded = await decodeImageRgb(encoded, "mask");
  } catch (error) {
    throw new EaselError("image-invalid", error instanceof Error ? error.message : String(error));
  }
  if (decoded.width !== width || decoded.height !== height) {
    throw new EaselError(
      "image-invalid",
      `the mask is ${decoded.width}x${decoded.height} but the image is ${width}x${height}: make the mask the same size as the image (white repaints, black keeps)`,
    );
  }
  return binariseMask(decoded.rgb, width, height);
}

/** A mask that repaints everything: what an inpainting UNet is given when no mask was (A1111's txt2img conditioning). */
export function fullMask(width: number, height: number): PixelMask {
  return new Uint8Array(width * height).fill(1);
}

/** diffusers' `masked_image = image * (mask < 0.5)`, on [-1, 1] pixels: the area to repaint becomes 0 (grey). */
export function maskedPixels(pixels: Float32Array, mask: PixelMask): Float32Array {
  const plane = mask.length;
  const out = new Float32Array(pixels.length); // [1,3,H,W] f32
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) out[c * plane + i] = mask[i] ? 0 : pixels[c * plane + i];
  }
  return out;
}

/**
 * The mask at latent size by PyTorch's `interpolate(mode="nearest")`: output cell i takes source
 * index floor(i · in / out), on each axis.
 */
export function latentMask(mask: PixelMask, width: number, height: number, latentWidth: number, latentHeight: number): Float32Array {
  const out = new Float32Array(latentWidth * latentHeight); // [1,1,h,w] f32
  for (let y = 0; y < latentHeight; y++) {
    const sy = Math.floor((y * height) / latentHeight);
    for (let x = 0; x < latentWidth; x++) {
      const sx = Math.floor((x * width) / latentWidth);
      out[y * latentWidth + x] = mask[sy * width + sx];
    }
  }
  return out;
}

/** What a 9-channel inpainting UNet takes besides the latents, for one image. */
export interface InpaintConditioning {
  readonly mask: Float32Array; // [1,1,h,w] f32 of 0|1
  readonly maskedImageLatents: Float32Array; // [1,4,h,w] f32, already × scaling factor
}

/**
 * Rule 16: the 9-channel UNet input, `concat([scale_model_input(latents), mask, masked_image_latents],
 * channels)` for each of the `batch` rows (CFG's two rows get the same mask and masked image, as
 * diffusers' `torch.cat([mask] * 2)` does).
 */
export function withInpaintChannels(scaled: Float32Array, batch: number, cond: InpaintConditioning): Float32Array {
  const plane = cond.mask.length;
  const latentSize = scaled.length / batch; // 4 · plane
  const rowSize = latentSize + plane + cond.maskedImageLatents.length; // 9 · plane
  const out = new Float32Array(rowSize * batch); // [b,9,h,w] f32
  for (let b = 0; b < batch; b++) {
    const row = b * rowSize;
    out.set(scaled.subarray(b * latentSize, (b + 1) * latentSize), row);
    out.set(cond.mask, row + latentSize);
    out.set(cond.maskedImageLatents, row + latentSize + plane);
  }
  return out;
}

/**
 * A 4-channel UNet's inpainting (diffusers' StableDiffusionInpaintPipeline for num_channels_unet 4,
 * A1111's img2img with a mask): `(1 - mask) * known + mask * latents`, where `known` is the original
 * image's latents noised to the step's level. The mask is binary, so this is a selection per cell.
 */
export function keepUnmasked(latents: Float32Array, known: Float32Array, mask: Float32Array): Float32Array {
  const plane = mask.length;
  const out = new Float32Array(latents.length); // [1,4,h,w] f32
  for (let i = 0; i < latents.length; i++) out[i] = mask[i % plane] ? latents[i] : known[i];
  return out;
}
