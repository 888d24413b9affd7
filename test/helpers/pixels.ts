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

/**
 * How far the image is from tiling: the mean step across its wrap-around edges (last column to
 * first, last row to first) over the mean step between neighbours inside it. About 1 for an image
 * that tiles; well above for one that does not.
 */
export function seamRatio(img: { readonly rgb: Uint8Array; readonly width: number; readonly height: number }): number {
  const at = (x: number, y: number, c: number) => img.rgb[(y * img.width + x) * 3 + c];
  let seam = 0;
  let seams = 0;
  let inner = 0;
  let inners = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      for (let c = 0; c < 3; c++) {
        const right = Math.abs(at(x, y, c) - at((x + 1) % img.width, y, c));
        const down = Math.abs(at(x, y, c) - at(x, (y + 1) % img.height, c));
        if (x === img.width - 1) {
          seam += right;
          seams++;
        } else {
          inner += right;
          inners++;
        }
        if (y === img.height - 1) {
          seam += down;
          seams++;
        } else {
          inner += down;
          inners++;
        }
      }
    }
  }
  return seam / seams / (inner / inners);
}
