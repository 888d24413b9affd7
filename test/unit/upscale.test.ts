// Super-resolution tiled with overlap (extension/engine/upscale): a tiled result equals the untiled
// one wherever the overlap covers the model's receptive field, on tiny synthetic SR graphs (three 3x3
// convolutions: a 3-pixel field, then a pixel shuffle) with dynamic and fixed input sizes.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { SuperResolution, tileWindows, type RgbImage } from "../../extension/engine/upscale/superResolution";
import { lanczosResize, upscaleTo, wrapPad } from "../../extension/engine/upscale/upscaleImage";
import { seamRatio } from "../helpers/pixels";
import { writeConvNet, type ConvSpec } from "../helpers/tinyConvNets";

const CONVS: readonly ConvSpec[] = [
  { name: "/conv_first/Conv", pad: 1 },
  { name: "/body/Conv", pad: 1 },
  { name: "/conv_last/Conv", pad: 1 },
];
/** Three 3x3 convolutions: each output pixel sees 3 input pixels on every side. */
const FIELD = 3;

function image(width: number, height: number, seed = 5): RgbImage {
  let s = seed;
  const rgb = Uint8Array.from({ length: width * height * 3 }, () => (s = (s * 1103515245 + 12345) % 2 ** 31) % 256);
  return { rgb, width, height };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

let dir: string;
let x2: SuperResolution;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-sr-"));
  x2 = await SuperResolution.load(await writeConvNet(path.join(dir, "x2.onnx"), { convs: CONVS, scale: 2 }), "cpu");
});
after(async () => {
  await x2.release();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("tiled super-resolution", () => {
  it("reads the scale from the graph", async () => {
    assert.equal(x2.scale, 2);
    const x4 = await SuperResolution.load(await writeConvNet(path.join(dir, "x4.onnx"), { convs: CONVS, scale: 4 }), "cpu");
    assert.equal(x4.scale, 4);
    await x4.release();
  });

  it("equals the untiled result when the overlap covers the receptive field, and not when it does not", async () => {
    const img = image(41, 27);
    const whole = await x2.upscaleFloat(img, { tile: 1000, overlap: 0 }); // one tile: the untiled graph
    for (const tile of [7, 8, 16]) assert.ok(maxDiff(await x2.upscaleFloat(img, { tile, overlap: FIELD }), whole) < 1e-5, `tile ${tile}`);
    assert.ok(maxDiff(await x2.upscaleFloat(img, { tile: 8, overlap: 1 }), whole) > 1e-3);
  });

  it("tiles a fixed-size graph with windows of its size, and pads an image smaller than it", async () => {
    const fixed = await SuperResolution.load(await writeConvNet(path.join(dir, "fixed.onnx"), { convs: CONVS, scale: 2, fixedSide: 16 }), "cpu");
    try {
      assert.deepEqual(fixed.fixed, { width: 16, height: 16 });
      const img = image(41, 27);
      assert.ok(maxDiff(await fixed.upscaleFloat(img, { overlap: FIELD }), await x2.upscaleFloat(img, { tile: 1000, overlap: 0 })) < 1e-5);
      const small = await fixed.upscale(image(10, 6));
      assert.deepEqual([small.width, small.height, small.rgb.length], [20, 12, 20 * 12 * 3]);
    } finally {
      await fixed.release();
    }
  });

  it("gives a graph that unshuffles pixels (Real-ESRGAN x2plus) even-sided windows, odd images included", async () => {
    const even = await SuperResolution.load(await writeConvNet(path.join(dir, "even.onnx"), { convs: CONVS, scale: 2, unshuffle: true }), "cpu");
    try {
      assert.equal(even.evenSides, true);
      const img = image(41, 27);
      // Three convolutions at half resolution: 6 pixels of field, and one more for the 2x2 blocks.
      const whole = await even.upscaleFloat(img, { tile: 1000, overlap: 0 });
      assert.equal(whole.length, 3 * 82 * 54);
      assert.ok(maxDiff(await even.upscaleFloat(img, { tile: 10, overlap: 8 }), whole) < 1e-5);
    } finally {
      await even.release();
    }
  });

  it("covers the image with cores exactly once", () => {
    const covered = new Uint8Array(50 * 30);
    for (const t of tileWindows(50, 30, 12, 4)) for (let y = t.cy0; y < t.cy1; y++) for (let x = t.cx0; x < t.cx1; x++) covered[y * 50 + x]++;
    assert.ok(covered.every((n) => n === 1));
  });

  it("upscales to an exact size: the model while smaller, then Lanczos (sharp); Lanczos alone without a model", async () => {
    const img = image(20, 12);
    const withModel = await upscaleTo(img, 60, 36, x2); // x2 twice (80x48), then down to 60x36
    const twice = await x2.upscale(await x2.upscale(img));
    assert.deepEqual(withModel, await lanczosResize(twice, 60, 36));
    // A pass that would overshoot the largest side shrinks the image first, so the model lands on the target: never an image larger than the result.
    const passes: string[] = [];
    const capped = await upscaleTo(img, 30, 18, x2, { maxSide: 32, onProgress: (p) => passes.push(`${p.pass}/${p.passes}`) });
    assert.deepEqual(capped, await x2.upscale(await lanczosResize(img, 15, 9)));
    assert.deepEqual([...new Set(passes)], ["1/1"]);
    const plain = await upscaleTo(img, 40, 24, undefined);
    const want = await sharp(img.rgb, { raw: { width: 20, height: 12, channels: 3 } }).resize({ width: 40, height: 24, fit: "fill", kernel: "lanczos3" }).raw().toBuffer();
    assert.deepEqual(Buffer.from(plain.rgb), want);
  });

  it("writes each tile straight into the 8-bit result: the float result clamped and rounded, with progress per tile", async () => {
    const img = image(41, 27);
    const float = await x2.upscaleFloat(img, { tile: 8, overlap: FIELD });
    const ticks: string[] = [];
    const u8 = await x2.upscale(img, { tile: 8, overlap: FIELD, onTile: (done, total) => ticks.push(`${done}/${total}`) });
    const n = 82 * 54;
    assert.deepEqual(u8.rgb, Uint8Array.from({ length: n * 3 }, (_, i) => Math.round(Math.min(1, Math.max(0, float[(i % 3) * n + Math.floor(i / 3)])) * 255)));
    assert.deepEqual(ticks, Array.from({ length: 24 }, (_, i) => `${i + 1}/24`)); // 6 x 4 tiles of 8
    const controller = new AbortController();
    await assert.rejects(x2.upscale(img, { tile: 8, overlap: FIELD, signal: controller.signal, onTile: () => controller.abort() }), /cancelled/);
  });
});

/** The 3x3 repeat of an image (its infinite tiling, one copy on every side). */
function repeat3(img: RgbImage): RgbImage {
  const W = img.width * 3;
  const rgb = new Uint8Array(W * img.height * 3 * 3);
  for (let y = 0; y < img.height * 3; y++) {
    for (let x = 0; x < W; x++) rgb.set(img.rgb.subarray(((y % img.height) * img.width + (x % img.width)) * 3, ((y % img.height) * img.width + (x % img.width)) * 3 + 3), (y * W + x) * 3);
  }
  return { rgb, width: W, height: img.height * 3 };
}

function crop(img: RgbImage, x0: number, y0: number, width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) rgb.set(img.rgb.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x0 + width) * 3), y * width * 3);
  return { rgb, width, height };
}

/** An image that tiles: whole periods of sines across it, 3 to a side, so an edge read without its wrap-around neighbours shows. */
function tileableImage(width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = (2 * Math.PI * x) / width;
      const b = (2 * Math.PI * y) / height;
      rgb.set([128 + 120 * Math.sin(3 * a), 128 + 120 * Math.cos(3 * b + a), 128 + 120 * Math.sin(3 * a) * Math.cos(3 * b)].map(Math.round), (y * width + x) * 3);
    }
  }
  return { rgb, width, height };
}

describe("upscaling a tileable image (wrap)", () => {
  it("picks wrap-around context that scales to whole output pixels", () => {
    assert.equal(wrapPad(64, 128), 16);
    assert.equal(wrapPad(512, 1000), 64); // gcd 8: the context must be a multiple of 64 source pixels
    assert.equal(wrapPad(7, 14), 7); // never more than the image: a 3x3 repeat
    for (const [side, target] of [[64, 128], [512, 1000], [40, 60], [48, 120]]) assert.ok(Number.isInteger((wrapPad(side, target) * target) / side));
  });

  it("equals the middle of the upscaled 3x3 repeat (Lanczos and the model), so its edges meet as its inside does", async () => {
    const img = tileableImage(24, 16);
    for (const sr of [undefined, x2]) {
      const wrapped = await upscaleTo(img, 48, 32, sr, { wrap: true });
      const middle = crop(await upscaleTo(repeat3(img), 144, 96, sr), 48, 32, 48, 32);
      assert.ok(maxDiff(Float32Array.from(wrapped.rgb), Float32Array.from(middle.rgb)) <= 1, sr ? "model" : "Lanczos");
    }
    // Lanczos keeps the image's look, so the seam shows in the pixels: about the inside's step when
    // wrapped, twice it when the edges were read clamped. (The tiny model's output does not look
    // like its input: for it the 3x3-repeat equality above is the check.)
    const original = seamRatio(img);
    const wrapped = seamRatio(await upscaleTo(img, 48, 32, undefined, { wrap: true }));
    const plain = seamRatio(await upscaleTo(img, 48, 32, undefined));
    assert.ok(Math.abs(wrapped - original) < 0.2, `wrapped seam ${wrapped}, the original's ${original}`);
    assert.ok(plain > original + 0.8, `plain seam ${plain}, the original's ${original}`);
    // A ratio that does not divide evenly (40 -> 60 and 16 -> 40) lands on the same grid too.
    const odd = await upscaleTo(img, 36, 40, undefined, { wrap: true });
    assert.ok(maxDiff(Float32Array.from(odd.rgb), Float32Array.from(crop(await upscaleTo(repeat3(img), 108, 120, undefined), 36, 40, 36, 40).rgb)) <= 1);
  });
});

