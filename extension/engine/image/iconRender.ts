// Square PNGs at the sizes editors, browsers and OS icon sets ask for, centre-cropped from any image
// (`easel mcp`'s icon_set, its lockfile regeneration, and the asset packs' square icons).
import sharp from "sharp";
import { EaselError, firstLine } from "../errors";

export const ICON_SIZES = [16, 32, 48, 64, 128, 256] as const;

/** One icon: `image` centre-cropped to a square and resized to `size` px (a PNG). */
export function renderIcon(image: Uint8Array, size: number): Promise<Buffer> {
  return sharp(image).resize(size, size, { fit: "cover", position: "centre", kernel: "lanczos3" }).png({ compressionLevel: 9 }).toBuffer();
}

export async function renderIconSet(image: Uint8Array): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  try {
    for (const size of ICON_SIZES) out.set(size, await renderIcon(image, size));
  } catch (error) {
    throw new EaselError("image-invalid", `cannot make icons from this file (${firstLine(error)}): choose a PNG, WebP or JPEG image`);
  }
  return out;
}

