// Background removal with a tiny synthetic graph of BiRefNet_lite's ports, against masks computed
// here from the reference preprocessing (x/255, ImageNet mean/std, sigmoid, ×255 truncated).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { backgroundMask, boxBlur, composeRgba, type MatteSpec, removeBackground, transparentFormatFor } from "../../extension/engine/matte/backgroundRemoval";
import { backgroundRemoverEntry, type LoadedRemover, matteSpecOf, openRemover } from "../../extension/engine/matte/remover";
import { writeTinyMatte } from "../helpers/tinyMatte";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-matte-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SPEC: MatteSpec = matteSpecOf(backgroundRemoverEntry("birefnet-lite"));
const WEIGHTS = [2, -1, 0.5] as const;
const BIAS = 0.25;

/** The expected logit of one pixel, computed in f64 from the reference's normalisation. */
function logit(r: number, g: number, b: number): number {
  const x = [r, g, b].map((v, c) => (v / 255 - SPEC.mean[c]) / SPEC.std[c]);
  return WEIGHTS[0] * x[0] + WEIGHTS[1] * x[1] + WEIGHTS[2] * x[2] + BIAS;
}
const sigmoidByte = (z: number) => Math.trunc((1 / (1 + Math.exp(-z))) * 255);

/** A deterministic 16×16 RGB picture. */
function pattern(side: number): Uint8Array {
  const rgb = new Uint8Array(side * side * 3);
  let s = 12345;
  for (let i = 0; i < rgb.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    rgb[i] = s >>> 24;
  }
  return rgb;
}

async function decodeRgba(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, info };
}

describe("background removal (tiny BiRefNet-shaped graph)", () => {
  let fixed: LoadedRemover;
  let dynamic: LoadedRemover;
  before(async () => {
    fixed = await openRemover(await writeTinyMatte(path.join(tmp, "fixed"), { weights: WEIGHTS, bias: BIAS, side: 16 }), "cpu");
    dynamic = await openRemover(await writeTinyMatte(path.join(tmp, "dynamic"), { weights: WEIGHTS, bias: BIAS }), "cpu");
  });
  after(async () => {
    await fixed.release();
    await dynamic.release();
  });

  it("reads the input size the graph declares, else the catalog's", () => {
    assert.equal(fixed.fixedInputSize, 16);
    assert.equal(dynamic.fixedInputSize, undefined);
    assert.equal(SPEC.inputSize, 1024);
    assert.deepEqual(SPEC.mean, [0.485, 0.456, 0.406]);
    assert.deepEqual(SPEC.std, [0.229, 0.224, 0.225]);
    assert.equal(SPEC.output, "sigmoid");
  });

  it("gives the reference mask: normalised by mean/std, sigmoid, ×255 truncated", async () => {
    const rgb = pattern(16);
    const mask = await backgroundMask(rgb, 16, 16, fixed, SPEC);
    let exact = 0;
    for (let i = 0; i < 256; i++) {
      const expected = sigmoidByte(logit(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]));
      assert.ok(Math.abs(mask[i] - expected) <= 1, `pixel ${i}: ${mask[i]} vs ${expected}`);
      if (mask[i] === expected) exact++;
    }
    // f32 in the graph, f64 here: only a value within rounding of a whole step may differ.
    assert.ok(exact >= 250, `${exact}/256 exact`);
  });

  it("scales min-max outputs (U²-Net style) to the full range", async () => {
    const rgb = pattern(16);
    const mask = await backgroundMask(rgb, 16, 16, fixed, { ...SPEC, output: "min-max" });
    const logits = Array.from({ length: 256 }, (_, i) => logit(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]));
    const lo = Math.min(...logits);
    const hi = Math.max(...logits);
    for (let i = 0; i < 256; i++) assert.ok(Math.abs(mask[i] - Math.trunc(((logits[i] - lo) / (hi - lo)) * 255)) <= 1);
    assert.equal(Math.max(...mask), 255);
    assert.equal(Math.min(...mask), 0);
  });

  it("writes a PNG that really carries the mask as alpha, opaque pixels' colours untouched", async () => {
    const rgb = pattern(16);
    const source = await sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
    const png = await removeBackground(source, fixed, SPEC);
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, "png");
    assert.equal(meta.channels, 4);
    assert.equal(meta.hasAlpha, true);
    const { data } = await decodeRgba(png);
    const mask = await backgroundMask(rgb, 16, 16, fixed, SPEC);
    let translucent = 0;
    for (let i = 0; i < 256; i++) {
      assert.equal(data[i * 4 + 3], mask[i]);
      if (mask[i] === 255) assert.deepEqual([...data.subarray(i * 4, i * 4 + 3)], [...rgb.subarray(i * 3, i * 3 + 3)]);
      if (mask[i] > 0 && mask[i] < 255) translucent++;
    }
    assert.ok(translucent > 0, "the pattern has soft alpha");
  });

  it("cuts hard edges at the --matte threshold", async () => {
    const rgb = pattern(16);
    const source = await sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
    const { data } = await decodeRgba(await removeBackground(source, fixed, SPEC, { matte: 0.5 }));
    for (let i = 0; i < 256; i++) {
      const soft = sigmoidByte(logit(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]));
      if (Math.abs(soft - 127.5) < 2) continue; // at the cut, f32 rounding may go either way
      assert.equal(data[i * 4 + 3], soft >= 127.5 ? 255 : 0, `pixel ${i}`);
    }
    await assert.rejects(removeBackground(source, fixed, SPEC, { matte: 1.5 }), /--matte must be a number between 0 and 1/);
  });

  it("writes WebP with alpha too, and refuses JPEG with one line", async () => {
    const source = await sharp(pattern(16), { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
    const webp = await removeBackground(source, fixed, SPEC, { format: "webp" });
    const meta = await sharp(webp).metadata();
    assert.equal(meta.format, "webp");
    assert.equal(meta.hasAlpha, true);
    assert.equal(transparentFormatFor("a.PNG"), "png");
    assert.equal(transparentFormatFor("a.webp"), "webp");
    assert.throws(() => transparentFormatFor("a.jpg"), /JPEG has no alpha channel.*save it as PNG or WebP/);
    assert.throws(() => transparentFormatFor("a.jpeg"), /JPEG has no alpha channel/);
  });

  it("estimates the subject's colour at soft edges: no fringe of the old background", () => {
    // A red disc over a near-black background, composited with a soft alpha: I = αF + (1−α)B.
    const side = 64;
    const alpha = new Uint8Array(side * side);
    const rgb = new Uint8Array(side * side * 3);
    const F = [220, 40, 30];
    const B = [10, 12, 40];
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const d = Math.hypot(x + 0.5 - side / 2, y + 0.5 - side / 2);
        const a = Math.min(1, Math.max(0, (20 - d) / 4));
        const i = y * side + x;
        alpha[i] = Math.round(a * 255);
        for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(a * F[c] + (1 - a) * B[c]);
      }
    }
    const estimated = composeRgba(rgb, alpha, side, side).data;
    const kept = composeRgba(rgb, alpha, side, side, true).data;
    let soft = 0;
    for (let i = 0; i < side * side; i++) {
      const a = alpha[i];
      if (a === 255) assert.deepEqual([...estimated.subarray(i * 4, i * 4 + 3)], [...rgb.subarray(i * 3, i * 3 + 3)]);
      if (a < 26 || a === 255) continue;
      soft++;
      // Within 20 levels of the subject's colour (blur fusion is an estimate), where the blend is far darker.
      assert.ok(Math.abs(estimated[i * 4] - F[0]) <= 20, `alpha ${a}: red ${estimated[i * 4]} (blend ${kept[i * 4]})`);
      assert.ok(Math.abs(estimated[i * 4 + 2] - F[2]) <= 20, `alpha ${a}: blue ${estimated[i * 4 + 2]} (blend ${kept[i * 4 + 2]})`);
    }
    assert.ok(soft >= 100, `${soft} soft pixels`);
  });

  it("resizes to the model's side and back, and the soft rim is not darkened", async () => {
    // A red disc on black, 48×48, through a 16² graph whose logit follows the red channel: the mask
    // comes back bicubic-upscaled, so the disc's rim is half transparent.
    const side = 48;
    const rgb = new Uint8Array(side * side * 3);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const cover = Math.min(1, Math.max(0, 14 - Math.hypot(x + 0.5 - side / 2, y + 0.5 - side / 2)));
        rgb[(y * side + x) * 3] = Math.round(220 * cover);
        rgb[(y * side + x) * 3 + 1] = Math.round(40 * cover);
        rgb[(y * side + x) * 3 + 2] = Math.round(30 * cover);
      }
    }
    const redModel = await openRemover(await writeTinyMatte(path.join(tmp, "red"), { weights: [4, 0, 0], bias: 0, side: 16 }), "cpu");
    try {
      const source = await sharp(rgb, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
      const png = await removeBackground(source, redModel, SPEC);
      assert.deepEqual([(await sharp(png).metadata()).width, (await sharp(png).metadata()).height], [side, side]);
      const { data } = await decodeRgba(png);
      const { data: raw } = await decodeRgba(await removeBackground(source, redModel, SPEC, { keepColours: true }));
      let soft = 0;
      let estimatedRed = 0;
      let keptRed = 0;
      for (let i = 0; i < side * side; i++) {
        const a = data[i * 4 + 3];
        assert.equal(raw[i * 4 + 3], a);
        if (a <= 8 || a >= 247) continue;
        soft++;
        estimatedRed += data[i * 4];
        keptRed += raw[i * 4];
      }
      assert.ok(soft >= 20, `${soft} soft-edge pixels`);
      assert.ok(estimatedRed / soft > keptRed / soft + 40, `rim red ${estimatedRed / soft} vs blended ${keptRed / soft}`);
      assert.ok(data[3] < 8, "the corner is transparent");
      assert.ok(data[(24 * side + 24) * 4 + 3] > 247, "the disc's centre is opaque");
    } finally {
      await redModel.release();
    }
  });

  it("box blur matches cv2.blur (reflect-101 borders) computed naively", () => {
    const w = 7;
    const h = 5;
    const src = Float32Array.from({ length: w * h }, (_, i) => ((i * 37) % 11) / 10);
    const reflect = (i: number, n: number) => {
      while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
      return i;
    };
    for (const r of [1, 2, 3, 6, 9]) {
      const out = boxBlur(src, w, h, r);
      const before = Math.floor(r / 2);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let sum = 0;
          for (let dy = -before; dy < r - before; dy++) for (let dx = -before; dx < r - before; dx++) sum += src[reflect(y + dy, h) * w + reflect(x + dx, w)];
          assert.ok(Math.abs(out[y * w + x] - sum / (r * r)) < 1e-5, `r=${r} (${x},${y})`);
        }
      }
    }
  });
});
