// Outpainting: the image is padded on the chosen sides, the new area is filled (edge colours or
// noise, as A1111's "fill" / "latent noise" starting points), and a mask marks the new area plus an
// overlap band into the original; then it is inpainted like any masked image (pipeline/inpaint.ts).
//
// The overlap band: the seam between old and new pixels is repainted too, so the model joins them
// instead of butting new content against an unchanged edge. Its default, 8 pixels, is one latent
// cell (the mask goes to latent size by nearest neighbour, so a band thinner than 8 px may vanish).

import { badArgument } from "../errors";
import { Mt19937 } from "../random/mt19937";
import type { PixelMask } from "./inpaint";
import { MAX_SIDE, MIN_SIDE } from "./resolveRequest";

export const OUTPAINT_FILLS = ["edge", "noise"] as const;
export type OutpaintFill = (typeof OUTPAINT_FILLS)[number];
export const DEFAULT_OUTPAINT_OVERLAP = 8;

/** Pixels to add on each side of the init image (absent = 0). */
export interface OutpaintRequest {
  readonly left?: number;
  readonly right?: number;
  readonly top?: number;
  readonly bottom?: number;
  /** Pixels of the original next to each extended side that are repainted too (default 8). */
  readonly overlap?: number;
  /** How the new area starts: the nearest edge pixel repeated (default), or random colours. */
  readonly fill?: OutpaintFill;
}

export interface OutpaintSides {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
  readonly overlap: number;
  readonly fill: OutpaintFill;
}

/** Fills defaults and checks every value; the size checks come later (outpaintSize), once the image's size is known. */
export function checkOutpaint(req: OutpaintRequest): OutpaintSides {
  const side = (name: "left" | "right" | "top" | "bottom" | "overlap", fallback: number): number => {
    const v = req[name] ?? fallback;
    if (!Number.isInteger(v) || v < 0 || v > MAX_SIDE) throw badArgument(`outpaint ${name} must be a whole number of pixels from 0 to ${MAX_SIDE} (got ${v})`);
    return v;
  };
  const sides = { left: side("left", 0), right: side("right", 0), top: side("top", 0), bottom: side("bottom", 0), overlap: side("overlap", DEFAULT_OUTPAINT_OVERLAP) };
  if (sides.left + sides.right + sides.top + sides.bottom === 0) throw badArgument("outpainting needs at least one side to extend: give --left, --right, --top or --bottom N");
  const fill = req.fill ?? "edge";
  if (!(OUTPAINT_FILLS as readonly string[]).includes(fill)) throw badArgument(`unknown outpaint fill "${String(fill)}": use ${OUTPAINT_FILLS.join(" or ")}`);
  return { ...sides, fill };
}

/**
 * The outpainted image's size, checked against the model: each side within MIN_SIDE..MAX_SIDE and a
 * multiple of the model's granularity. The message names the padding that would fit.
 */
export function outpaintSize(imageWidth: number, imageHeight: number, sides: OutpaintSides, granularity: number): { readonly width: number; readonly height: number } {
  const check = (axis: "width" | "height", image: number, a: number, b: number, flags: string): number => {
    const total = image + a + b;
    if (total > MAX_SIDE) throw badArgument(`outpainting makes the ${axis} ${image} + ${a + b} = ${total}, above the ${MAX_SIDE} limit: extend by less`);
    if (total < MIN_SIDE) throw badArgument(`outpainting makes the ${axis} ${total}, below the ${MIN_SIDE} minimum: extend by more`);
    if (total % granularity !== 0) {
      const up = Math.ceil(total / granularity) * granularity - image;
      throw badArgument(
        `outpainting makes the ${axis} ${image} + ${a + b} = ${total}, not a multiple of ${granularity} as this model needs: make ${flags} add up to ${up} (or another value that gives a multiple of ${granularity})`,
      );
    }
    return total;
  };
  return {
    width: check("width", imageWidth, sides.left, sides.right, "--left + --right"),
    height: check("height", imageHeight, sides.top, sides.bottom, "--top + --bottom"),
  };
}

/**
 * The init image placed at (left, top) of the larger canvas; the new area filled with the nearest
 * edge pixel ("edge", numpy's pad mode "edge") or with uniform random colours drawn from an MT19937
 * seeded with the generation's seed ("noise", reproducible).
 */
export function padImage(rgb: Uint8Array, imageWidth: number, imageHeight: number, sides: OutpaintSides, seed: bigint): Uint8Array {
  const width = imageWidth + sides.left + sides.right;
  const height = imageHeight + sides.top + sides.bottom;
  const out = new Uint8Array(width * height * 3); // [H,W,3] u8
  const random = sides.fill === "noise" ? new Mt19937(seed) : undefined;
  for (let y = 0; y < height; y++) {
    const sy = Math.min(imageHeight - 1, Math.max(0, y - sides.top));
    const insideY = y >= sides.top && y < sides.top + imageHeight;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(imageWidth - 1, Math.max(0, x - sides.left));
      const inside = insideY && x >= sides.left && x < sides.left + imageWidth;
      const o = (y * width + x) * 3;
      if (!inside && random) {
        for (let c = 0; c < 3; c++) out[o + c] = random.nextU32() >>> 24;
      } else {
        const s = (sy * imageWidth + sx) * 3;
        out[o] = rgb[s];
        out[o + 1] = rgb[s + 1];
        out[o + 2] = rgb[s + 2];
      }
    }
  }
  return out;
}

/** 1 over the new area and over `overlap` pixels of the original along each extended side; 0 elsewhere. */
export function outpaintMask(imageWidth: number, imageHeight: number, sides: OutpaintSides): PixelMask {
  const width = imageWidth + sides.left + sides.right;
  const height = imageHeight + sides.top + sides.bottom;
  // The kept rectangle: the original, less the overlap band on each side that was extended.
  const band = (extended: number) => (extended > 0 ? sides.overlap : 0);
  const keepLeft = sides.left + band(sides.left);
  const keepRight = sides.left + imageWidth - band(sides.right);
  const keepTop = sides.top + band(sides.top);
  const keepBottom = sides.top + imageHeight - band(sides.bottom);
  const mask = new Uint8Array(width * height).fill(1); // [H,W] u8
  for (let y = keepTop; y < keepBottom; y++) {
    for (let x = keepLeft; x < keepRight; x++) mask[y * width + x] = 0;
  }
  return mask;
}
