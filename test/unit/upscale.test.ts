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
import { lanczosResize, upscaleTo } from "../../extension/engine/upscale/upscaleImage";
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
    const plain = await upscaleTo(img, 40, 24, undefined);
    const want = await sharp(img.rgb, { raw: { width: 20, height: 12, channels: 3 } }).resize({ width: 40, height: 24, fit: "fill", kernel: "lanczos3" }).raw().toBuffer();
    assert.deepEqual(Buffer.from(plain.rgb), want);
  });
});
