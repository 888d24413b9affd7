// Upscaling to an exact size, as A1111's upscalers do: the super-resolution model is applied (again,
// while the image is still smaller than the target, at most three times), then Lanczos takes the
// result to the exact size; without a model, Lanczos alone.
import sharp from "sharp";
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

export async function upscaleTo(image: RgbImage, width: number, height: number, sr: SuperResolution | undefined, options: TileOptions = {}): Promise<RgbImage> {
  let current = image;
  for (let pass = 0; sr && pass < MAX_SR_PASSES && (current.width < width || current.height < height); pass++) {
    current = await sr.upscale(current, options);
  }
  return lanczosResize(current, width, height);
}
