import sharp from "sharp";
import { pixelDifference } from "../../extension/engine/image/pixelDifference";

export interface Rgb {
  readonly width: number;
  readonly height: number;
  readonly data: Buffer;
}

export async function readRgb(input: string | Buffer): Promise<Rgb> {
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** The conformance kit's measure: mean and max absolute difference over all RGB values. */
export function pixelDiff(a: Rgb, b: Rgb): { mean: number; max: number } {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`size ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  return pixelDifference(a.data, b.data);
}
