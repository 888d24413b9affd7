// The formats generated images are saved in: PNG as the engine made it (with its parameters), or
// WebP / JPEG at quality 92. Shared by the extension's saving and the asset lockfile's regeneration,
// which must convert exactly as the file was converted.
import sharp from "sharp";
import { EaselError, firstLine } from "../errors";

export const IMAGE_FORMATS = ["png", "webp", "jpeg"] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export async function encodeAs(format: ImageFormat, png: Uint8Array): Promise<Uint8Array> {
  if (format === "png") return png;
  try {
    const img = sharp(png);
    return format === "webp" ? await img.webp({ quality: 92 }).toBuffer() : await img.jpeg({ quality: 92, mozjpeg: true }).toBuffer();
  } catch (error) {
    throw new EaselError("internal", `could not convert the image to ${format}: ${firstLine(error)}`);
  }
}
