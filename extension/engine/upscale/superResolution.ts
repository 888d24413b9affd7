// Super-resolution (Real-ESRGAN and alike): an ONNX graph from RGB in [0, 1], NCHW float, to the
// same image `scale` times larger, run tile by tile so any image fits in bounded memory, as
// Real-ESRGAN's own RealESRGANer does (tile, tile_pad): each tile is run with `overlap` pixels of
// context around it (clamped to the image) and only its core is kept. A convolution network's output
// pixel depends on the input within its receptive field only, so wherever the overlap covers that
// field the tiled image equals the untiled one; at the image's border the context ends where the
// whole image ends, so the graph's own zero padding sees the same border either way.
import * as ort from "onnxruntime-node";
import { EaselError } from "../errors";
import { ModelSession, floatData, floatTensor, type PortInfo } from "../onnx/session";
import type { ProviderName } from "../onnx/providers";

export interface RgbImage {
  /** [H,W,3] u8 */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface TileOptions {
  /** The core of each tile, in input pixels (default 192; a fixed-size graph's side minus twice the overlap). */
  readonly tile?: number;
  /** Context around each tile, in input pixels (default 16, Real-ESRGAN's tile_pad is 10). */
  readonly overlap?: number;
  readonly signal?: AbortSignal;
  /** Called after each tile: `done` of `total` tiles of this pass. */
  readonly onTile?: (done: number, total: number) => void;
}

export const DEFAULT_TILE = 192;
export const DEFAULT_OVERLAP = 16;

/** One window of the input: the region run through the graph, and the core of it that is kept. */
export interface TileWindow {
  /** The region fed to the graph. */
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
  /** The core it contributes, inside the region. */
  readonly cx0: number;
  readonly cy0: number;
  readonly cx1: number;
  readonly cy1: number;
}

/** Windows along one axis: cores of `tile` covering [0, size), each widened by `overlap` (or to `fixed` when the graph's side is fixed). */
function axisWindows(size: number, tile: number, overlap: number, fixed: number | undefined, even = false): Array<[number, number, number, number]> {
  const out: Array<[number, number, number, number]> = [];
  for (let c0 = 0; c0 < size; c0 += tile) {
    const c1 = Math.min(size, c0 + tile);
    let w0 = Math.max(0, c0 - overlap);
    let w1 = Math.min(size, c1 + overlap);
    if (fixed !== undefined) {
      // A fixed-size graph: the window is exactly `fixed` wide, slid inside the image (size >= fixed).
      w0 = Math.max(0, Math.min(w0, size - fixed));
      w1 = w0 + fixed;
    } else if (even && (w1 - w0) % 2 === 1) {
      // Graphs that unshuffle pixels (Real-ESRGAN x2) take even sides only: one more pixel of context.
      if (w1 < size) w1++;
      else w0--;
    }
    out.push([w0, w1, c0, c1]);
  }
  return out;
}

/** The tiles covering a width x height image. */
export function tileWindows(width: number, height: number, tile: number, overlap: number, fixed?: { readonly width: number; readonly height: number }, even = false): TileWindow[] {
  const xs = axisWindows(width, tile, overlap, fixed?.width, even);
  const ys = axisWindows(height, tile, overlap, fixed?.height, even);
  const out: TileWindow[] = [];
  for (const [y0, y1, cy0, cy1] of ys) for (const [x0, x1, cx0, cx1] of xs) out.push({ x0, y0, x1, y1, cx0, cy0, cx1, cy1 });
  return out;
}

function staticSide(port: PortInfo, axis: 2 | 3): number | undefined {
  const d = port.shape[axis];
  return typeof d === "number" && d > 0 ? d : undefined;
}

/** A loaded super-resolution graph. Its scale is read from the graph: the output side over the input side. */
export class SuperResolution {
  private constructor(
    private readonly session: ModelSession,
    private readonly input: PortInfo,
    readonly scale: number,
    /** The graph's input size when it is fixed (many mobile exports declare 128x128). */
    readonly fixed: { readonly width: number; readonly height: number } | undefined,
    /** The graph takes even sides only (it unshuffles pixels by 2, as Real-ESRGAN x2plus does). */
    readonly evenSides: boolean,
  ) {}

  static async load(file: string, provider: ProviderName): Promise<SuperResolution> {
    const session = await ModelSession.create("upscaler", file, provider);
    const input = session.inputs[0];
    if (session.inputs.length !== 1 || session.outputs.length < 1 || input.shape.length !== 4 || (input.shape[1] !== 3 && typeof input.shape[1] === "number")) {
      await session.release();
      throw new EaselError("model-unsupported", `${file} is not a super-resolution graph (one [N,3,H,W] image in, one out): choose a Real-ESRGAN-style ONNX model`);
    }
    const fixedW = staticSide(input, 3);
    const fixedH = staticSide(input, 2);
    const fixed = fixedW !== undefined && fixedH !== undefined ? { width: fixedW, height: fixedH } : undefined;
    // The scale, from one run on a small probe (a declared output shape may be symbolic).
    const probe = fixed ?? { width: 16, height: 16 };
    const out = await session.run({ [input.name]: floatTensor(input, new Float32Array(3 * probe.width * probe.height).fill(0.5), [1, 3, probe.height, probe.width]) });
    const dims = (out[session.outputs[0].name] as ort.Tensor | undefined)?.dims ?? [];
    const scale = dims.length === 4 ? dims[3] / probe.width : NaN;
    if (!Number.isInteger(scale) || scale < 1 || dims[2] !== probe.height * scale || dims[1] !== 3) {
      await session.release();
      throw new EaselError("model-unsupported", `${file} does not upscale a 3-channel image by a whole factor (it made [${dims.join(",")}] from [1,3,${probe.height},${probe.width}]): choose a Real-ESRGAN-style ONNX model`);
    }
    let evenSides = false;
    if (!fixed) {
      try {
        await session.run({ [input.name]: floatTensor(input, new Float32Array(3 * 17 * 17).fill(0.5), [1, 3, 17, 17]) });
      } catch {
        evenSides = true;
      }
    }
    return new SuperResolution(session, input, scale, fixed, evenSides);
  }

  /** The graph's output for a [1,3,h,w] f32 RGB input in [0, 1]: [1,3,h*s,w*s] f32. */
  async runTile(pixels: Float32Array, width: number, height: number): Promise<Float32Array> {
    const out = await this.session.run({ [this.input.name]: floatTensor(this.input, pixels, [1, 3, height, width]) });
    return floatData(out[this.session.outputs[0].name], "the upscaler");
  }

  /** The image the tiles cover (padded when the graph needs a larger or even-sided one) and the tiles. */
  private plan(image: RgbImage, options: TileOptions): { readonly padded: RgbImage; readonly windows: readonly TileWindow[] } {
    // A small fixed-size graph keeps half its window for the core by default.
    const overlap = options.overlap ?? (this.fixed ? Math.min(DEFAULT_OVERLAP, Math.floor(Math.min(this.fixed.width, this.fixed.height) / 4)) : DEFAULT_OVERLAP);
    const padded = this.fixed
      ? padToAtLeast(image, this.fixed.width, this.fixed.height)
      : this.evenSides
        ? padToAtLeast(image, image.width + (image.width % 2), image.height + (image.height % 2))
        : image;
    const tile = this.fixed ? Math.min(this.fixed.width, this.fixed.height) - 2 * overlap : (options.tile ?? DEFAULT_TILE);
    if (!Number.isInteger(overlap) || overlap < 0) throw new EaselError("bad-argument", `the overlap must be a whole number of pixels, 0 or more (got ${overlap})`);
    if (!Number.isInteger(tile) || tile < 1) throw new EaselError("bad-argument", this.fixed ? `the overlap ${overlap} leaves no tile inside the graph's ${this.fixed.width}x${this.fixed.height} input: use a smaller overlap` : `the tile must be a whole number of pixels, 1 or more (got ${tile})`);
    return { padded, windows: tileWindows(padded.width, padded.height, tile, overlap, this.fixed, this.evenSides) };
  }

  /**
   * Runs the graph over each window and hands its output to `put`, in the coordinates of the padded
   * image `scale` times larger. One tile's tensors are alive at a time: beyond the caller's output,
   * the memory is one tile's, whatever the image's size.
   */
  private async runTiles(
    padded: RgbImage,
    windows: readonly TileWindow[],
    options: TileOptions,
    put: (tile: Float32Array, t: TileWindow, tileWidth: number, tileHeight: number) => void,
  ): Promise<void> {
    for (let i = 0; i < windows.length; i++) {
      const t = windows[i];
      if (options.signal?.aborted) throw new EaselError("cancelled", "upscaling was cancelled");
      const w = t.x1 - t.x0;
      const h = t.y1 - t.y0;
      put(await this.runTile(cropPixels(padded, t.x0, t.y0, w, h), w, h), t, w, h); // [1,3,h*s,w*s] f32
      options.onTile?.(i + 1, windows.length);
    }
  }

  /** `image` `scale` times larger, tile by tile (see the file comment), as float RGB [3,H*s,W*s] in the graph's range. */
  async upscaleFloat(image: RgbImage, options: TileOptions = {}): Promise<Float32Array> {
    const { padded, windows } = this.plan(image, options);
    const s = this.scale;
    const W = padded.width * s;
    const H = padded.height * s;
    const out = new Float32Array(3 * W * H); // [3,H*s,W*s] f32
    await this.runTiles(padded, windows, options, (result, t, w, h) => {
      const tw = w * s;
      for (let c = 0; c < 3; c++) {
        for (let y = t.cy0 * s; y < t.cy1 * s; y++) {
          const from = c * h * s * tw + (y - t.y0 * s) * tw + (t.cx0 - t.x0) * s;
          out.set(result.subarray(from, from + (t.cx1 - t.cx0) * s), c * H * W + y * W + t.cx0 * s);
        }
      }
    });
    if (padded === image) return out;
    // Only the image's own part of a padded small image.
    const keep = new Float32Array(3 * image.width * s * image.height * s);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < image.height * s; y++) keep.set(out.subarray(c * H * W + y * W, c * H * W + y * W + image.width * s), (c * image.height * s + y) * image.width * s);
    }
    return keep;
  }

  /**
   * `image` `scale` times larger as 8-bit RGB (the graph's [0, 1] clamped and rounded). Each tile's
   * core goes straight into the 8-bit result, so a large image never has a float copy of its whole
   * output (four times the result's bytes) in memory: the input, the result and one tile.
   */
  async upscale(image: RgbImage, options: TileOptions = {}): Promise<RgbImage> {
    const { padded, windows } = this.plan(image, options);
    const s = this.scale;
    const width = image.width * s;
    const height = image.height * s;
    const rgb = new Uint8Array(width * height * 3); // [H*s,W*s,3] u8
    await this.runTiles(padded, windows, options, (result, t, w, h) => {
      const tw = w * s;
      const plane = tw * h * s;
      // Rows and columns past the image's own (those of a padded small image) are left out.
      const x1 = Math.min(t.cx1 * s, width);
      for (let y = t.cy0 * s; y < Math.min(t.cy1 * s, height); y++) {
        const row = (y - t.y0 * s) * tw - t.x0 * s;
        for (let x = t.cx0 * s; x < x1; x++) {
          const at = (y * width + x) * 3;
          for (let c = 0; c < 3; c++) rgb[at + c] = Math.round(Math.min(1, Math.max(0, result[c * plane + row + x])) * 255);
        }
      }
    });
    return { rgb, width, height };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** [1,3,h,w] f32 in [0, 1] from a region of an 8-bit RGB image. */
function cropPixels(image: RgbImage, x0: number, y0: number, w: number, h: number): Float32Array {
  const out = new Float32Array(3 * w * h); // [1,3,h,w] f32
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const at = ((y0 + y) * image.width + x0 + x) * 3;
      for (let c = 0; c < 3; c++) out[c * w * h + y * w + x] = image.rgb[at + c] / 255;
    }
  }
  return out;
}

/** A fixed-size graph needs at least its size (an even-sided one, even sides): a smaller image is extended by repeating its last row and column. */
function padToAtLeast(image: RgbImage, width: number, height: number): RgbImage {
  if (image.width >= width && image.height >= height) return image;
  const W = Math.max(width, image.width);
  const H = Math.max(height, image.height);
  const rgb = new Uint8Array(W * H * 3); // [H,W,3] u8
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const from = (Math.min(y, image.height - 1) * image.width + Math.min(x, image.width - 1)) * 3;
      rgb.set(image.rgb.subarray(from, from + 3), (y * W + x) * 3);
    }
  }
  return { rgb, width: W, height: H };
}
