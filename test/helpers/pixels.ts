import sharp from "sharp";

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
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.data.length, max };
}
