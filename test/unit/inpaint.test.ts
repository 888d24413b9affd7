// Inpainting and outpainting: the mask and masked-image preparation of diffusers' inpaint pipeline
// (conformance rules 14-16), the outpainting canvas, and, with the real tiny models, what each mode
// must keep: a 4-channel UNet's latents equal the original's outside the mask after the last step
// (every scheduler), a 9-channel UNet is detected from its graph and runs every scheduler.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { Engine } from "../../extension/engine/engine";
import { EaselError } from "../../extension/engine/errors";
import { readPngParameters } from "../../extension/engine/image/encode";
import { infotextFields, parseInfotext } from "../../extension/engine/image/infotext";
import { ModelSession } from "../../extension/engine/onnx/session";
import { denoise } from "../../extension/engine/pipeline/denoise";
import {
  binariseMask, keepUnmasked, latentMask, maskedPixels, pilLuma, readMask, withInpaintChannels,
} from "../../extension/engine/pipeline/inpaint";
import { checkOutpaint, outpaintMask, outpaintSize, padImage } from "../../extension/engine/pipeline/outpaint";
import { StageClock } from "../../extension/engine/pipeline/stageClock";
import { decodeLatents, encodeImage } from "../../extension/engine/pipeline/vae";
import { decodeImageToRgb } from "../../extension/engine/image/decode";
import { TorchGenerator } from "../../extension/engine/random/torchGenerator";
import { createScheduler } from "../../extension/engine/schedulers";
import { SCHEDULER_NAMES, type SchedulerName } from "../../extension/engine/schedulers/scheduler";
import { parseEngineRequest } from "../../extension/engine/host/engineMessageValidation";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";

const SD15 = path.join(MODELS, "tiny-sd15");
const INPAINT = path.join(MODELS, "tiny-sd15-inpaint");
const INIT = fs.readFileSync(path.join(CONFORMANCE, "cases", "inpaint-euler-8.init.png"));
const MASK = fs.readFileSync(path.join(CONFORMANCE, "cases", "inpaint-euler-8.mask.png"));

function greyPng(width: number, height: number, value: (x: number, y: number) => number): Promise<Buffer> {
  const data = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = value(x, y);
  return sharp(data, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

describe("mask preparation (rule 14)", () => {
  it("grey is PIL's convert('L'); binarised at 0.5 (>= 128 repaints)", () => {
    assert.equal(pilLuma(255, 255, 255), 255);
    assert.equal(pilLuma(0, 0, 0), 0);
    assert.equal(pilLuma(255, 0, 0), 76); // PIL: 299/1000 of 255, rounded
    assert.equal(pilLuma(0, 255, 0), 150);
    assert.equal(pilLuma(0, 0, 255), 29);
    assert.deepEqual(Array.from(binariseMask(new Uint8Array([127, 127, 127, 128, 128, 128, 255, 0, 0, 0, 255, 0]), 4, 1)), [0, 1, 0, 1]);
  });

  it("the masked image is 0 (grey in [-1, 1]) where the mask repaints, the image elsewhere", () => {
    const pixels = Float32Array.from([0.5, -1, 0.25, 1, 0.1, 0.2]); // [1,3,1,2]
    assert.deepEqual(Array.from(maskedPixels(pixels, new Uint8Array([1, 0]))), [0, -1, 0, 1, 0, 0.2].map((v) => Math.fround(v)));
  });

  it("latent mask: PyTorch nearest, source index floor(i · in / out)", () => {
    // 16x8 image, 2x1 latents: cells take x = 0 and x = 8, y = 0.
    const mask = new Uint8Array(16 * 8);
    mask[8] = 1;
    assert.deepEqual(Array.from(latentMask(mask, 16, 8, 2, 1)), [0, 1]);
    mask[1] = 1; // not a sampled pixel
    assert.deepEqual(Array.from(latentMask(mask, 16, 8, 2, 1)), [0, 1]);
  });

  it("readMask: the output's size or one clear error; unreadable bytes are one line", async () => {
    const png = await greyPng(16, 8, (x) => (x >= 8 ? 255 : 0));
    const mask = await readMask(png, 16, 8);
    assert.equal(mask[7], 0);
    assert.equal(mask[8], 1);
    await assert.rejects(readMask(png, 16, 16), (e: unknown) => {
      assert.ok(e instanceof EaselError);
      assert.equal(e.code, "image-invalid");
      assert.match(e.message, /the mask is 16x8 but the image is 16x16: make the mask the same size/);
      return true;
    });
    await assert.rejects(readMask(Buffer.from("not a png"), 16, 8), /The mask is not a readable image/);
  });

  it("the 9-channel UNet input: each row is [latents, mask, masked-image latents]", () => {
    const plane = 2;
    const scaled = Float32Array.from({ length: 2 * 4 * plane }, (_, i) => i); // [2,4,1,2]
    const mask = Float32Array.from([1, 0]); // [1,1,1,2]
    const maskedImageLatents = Float32Array.from({ length: 4 * plane }, (_, i) => 100 + i); // [1,4,1,2]
    const out = withInpaintChannels(scaled, 2, { mask, maskedImageLatents });
    assert.equal(out.length, 2 * 9 * plane);
    const row = (b: number) => Array.from(out.subarray(b * 9 * plane, (b + 1) * 9 * plane));
    assert.deepEqual(row(0), [0, 1, 2, 3, 4, 5, 6, 7, 1, 0, 100, 101, 102, 103, 104, 105, 106, 107]);
    assert.deepEqual(row(1), [8, 9, 10, 11, 12, 13, 14, 15, 1, 0, 100, 101, 102, 103, 104, 105, 106, 107]);
  });

  it("a 4-channel UNet's blend keeps the known latents where the mask is 0, on every channel", () => {
    const latents = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // [1,4,1,2]
    const known = Float32Array.from([-1, -2, -3, -4, -5, -6, -7, -8]);
    assert.deepEqual(Array.from(keepUnmasked(latents, known, Float32Array.from([0, 1]))), [-1, 2, -3, 4, -5, 6, -7, 8]);
  });
});

describe("outpainting geometry", () => {
  const sides = (o: Parameters<typeof checkOutpaint>[0]) => checkOutpaint(o);

  it("defaults: 0 on each side, overlap 8, edge fill; negative, fractional and all-zero sides refused", () => {
    assert.deepEqual(sides({ left: 16 }), { left: 16, right: 0, top: 0, bottom: 0, overlap: 8, fill: "edge" });
    assert.throws(() => sides({ left: -8 }), /outpaint left must be a whole number of pixels from 0/);
    assert.throws(() => sides({ top: 1.5 }), /outpaint top must be a whole number/);
    assert.throws(() => sides({}), /needs at least one side to extend/);
    assert.throws(() => sides({ left: 8, overlap: -1 }), /outpaint overlap must be/);
  });

  it("the result size: image + sides, a multiple of the granularity, within the 2048 limit", () => {
    assert.deepEqual(outpaintSize(64, 48, sides({ left: 16, top: 8, bottom: 8 }), 16), { width: 80, height: 64 });
    assert.throws(() => outpaintSize(64, 64, sides({ left: 8 }), 16), /the width 64 \+ 8 = 72, not a multiple of 16 .*--left \+ --right add up to 16/);
    assert.throws(() => outpaintSize(64, 64, sides({ bottom: 24 }), 16), /the height 64 \+ 24 = 88, not a multiple of 16 .*--top \+ --bottom add up to 32/);
    assert.throws(() => outpaintSize(2000, 64, sides({ right: 64 }), 16), /the width 2000 \+ 64 = 2064, above the 2048 limit/);
  });

  it("padding places the image at (left, top) and repeats the nearest edge pixel outward", () => {
    // 2x1 image: red, blue; extended 1 left, 2 right, 1 top.
    const rgb = new Uint8Array([255, 0, 0, 0, 0, 255]);
    const s = sides({ left: 1, right: 2, top: 1, overlap: 0 });
    const out = padImage(rgb, 2, 1, s, 0n);
    const px = (x: number, y: number) => Array.from(out.subarray((y * 5 + x) * 3, (y * 5 + x) * 3 + 3));
    assert.equal(out.length, 5 * 2 * 3);
    assert.deepEqual([px(0, 1), px(1, 1), px(2, 1), px(3, 1), px(4, 1)], [[255, 0, 0], [255, 0, 0], [0, 0, 255], [0, 0, 255], [0, 0, 255]]);
    assert.deepEqual(px(0, 0), [255, 0, 0], "corner: the nearest corner pixel");
    assert.deepEqual(px(4, 0), [0, 0, 255]);
  });

  it("noise fill: random colours in the new area only, the same for the same seed", () => {
    const rgb = new Uint8Array(4 * 4 * 3).fill(100);
    const s = sides({ right: 4, fill: "noise" });
    const a = padImage(rgb, 4, 4, s, 5n);
    assert.deepEqual(a, padImage(rgb, 4, 4, s, 5n));
    assert.notDeepEqual(a, padImage(rgb, 4, 4, s, 6n));
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) assert.equal(a[(y * 8 + x) * 3], 100);
    const added = new Set<number>();
    for (let y = 0; y < 4; y++) for (let x = 4; x < 8; x++) added.add(a[(y * 8 + x) * 3]);
    assert.ok(added.size > 8, "varied colours");
  });

  it("the mask: the new area plus the overlap band along extended sides only", () => {
    const s = sides({ left: 2, bottom: 1, overlap: 1 });
    const mask = outpaintMask(4, 3, s); // 6x4
    const rows = Array.from({ length: 4 }, (_, y) => Array.from(mask.subarray(y * 6, y * 6 + 6)).join(""));
    assert.deepEqual(rows, ["111000", "111000", "111111", "111111"]);
  });
});

describe("the engine protocol", () => {
  it("carries a mask and outpaint sides to the engine process, checked on arrival", () => {
    const message = { type: "generate", id: 1, modelDir: "/m", settings: { provider: "cpu", previews: false, fastDecode: false, lowMemory: false, idleUnloadMs: 0 } };
    const mask = new Uint8Array([1, 2, 3]);
    const parsed = parseEngineRequest({ ...message, request: { prompt: "p", initImage: mask, mask, outpaint: { left: 16, fill: "noise" } } });
    assert.equal(parsed.type, "generate");
    if (parsed.type !== "generate") return;
    assert.deepEqual(parsed.request.mask, mask);
    assert.deepEqual(parsed.request.outpaint, { left: 16, right: undefined, top: undefined, bottom: undefined, overlap: undefined, fill: "noise" });
    assert.throws(() => parseEngineRequest({ ...message, request: { prompt: "p", outpaint: { left: "16" } } }), /request\.outpaint/);
    assert.throws(() => parseEngineRequest({ ...message, request: { prompt: "p", outpaint: { left: 16, fill: "blur" } } }), /request\.outpaint/);
  });
});

describe("inpainting with the tiny models", () => {
  let sd15: Engine;
  let inpaint: Engine;
  before(async () => {
    sd15 = await Engine.load(SD15, { provider: "cpu" });
    inpaint = await Engine.load(INPAINT, { provider: "cpu" });
  });
  after(async () => {
    await sd15.dispose();
    await inpaint.dispose();
  });

  it("a 9-channel UNet is an inpainting model, read from its graph; a text-to-image one is not", () => {
    assert.equal(inpaint.info.inpainting, true);
    assert.equal(inpaint.info.latentChannels, 4);
    assert.equal(inpaint.info.family, "sd1");
    assert.equal(sd15.info.inpainting, false);
  });

  it("4-channel UNet, every scheduler, strength 1 and 0.6: after the last step the latents outside the mask are the original's, exactly; inside they changed", async () => {
    const info = sd15.info;
    const width = 64;
    const height = 64;
    const unet = await ModelSession.create("unet", path.join(SD15, "unet", "model.onnx"), "cpu");
    const encoder = await ModelSession.create("vae_encoder", path.join(SD15, "vae_encoder", "model.onnx"), "cpu");
    try {
      const rgb = await decodeImageToRgb(INIT, width, height);
      const imageLatents = await encodeImage(encoder, rgb, width, height, info.scalingFactor, new TorchGenerator(0n)); // [1,4,8,8] f32
      const pixelMask = binariseMask((await decodeImageToRgb(MASK, width, height)), width, height);
      const mask = latentMask(pixelMask, width, height, 8, 8); // [1,1,8,8] f32
      const kept = mask.reduce((n, v) => n + (v ? 0 : 1), 0);
      assert.ok(kept > 0 && kept < 64, "the case's mask keeps some cells and repaints others");
      const hiddenStates = Float32Array.from({ length: 2 * 77 * info.textWidth }, (_, i) => Math.sin(i)); // [2,77,32] f32
      const schedulers: readonly SchedulerName[] = SCHEDULER_NAMES.filter((n) => n !== "lcm");
      for (const name of schedulers) {
        for (const strength of [1, 0.6]) {
          const generator = new TorchGenerator(11n);
          const latents = await denoise({
            model: info,
            unet,
            scheduler: createScheduler(name, sd15.folder.schedulerConfig),
            lcmStrengthSchedule: false,
            generator,
            steps: 6,
            guidance: 7.5,
            cfg: true,
            hiddenStates,
            textLength: 77,
            timestepCond: undefined,
            decodeDenoised: false,
            added: undefined,
            width,
            height,
            init: undefined,
            inpaint: { strength, noise: generator.randn([1, 4, 8, 8]), imageLatents, mask, maskedImageLatents: undefined },
            signal: undefined,
            clock: new StageClock(),
            onStep: () => undefined,
          });
          let changed = 0;
          for (let c = 0; c < 4; c++) {
            for (let i = 0; i < 64; i++) {
              const j = c * 64 + i;
              if (mask[i] === 0) assert.equal(latents[j], imageLatents[j], `${name} ${strength}: kept cell ${i}, channel ${c}`);
              else if (Math.abs(latents[j] - imageLatents[j]) > 1e-3) changed++;
            }
          }
          assert.ok(changed > (64 - kept) * 2, `${name} ${strength}: the masked cells changed (${changed})`);
        }
      }
    } finally {
      await unet.release();
      await encoder.release();
    }
  });

  it("4-channel UNet through the engine: a mask that keeps everything gives the VAE round trip of the original, exactly; one that repaints half changes that half", async () => {
    const width = 64;
    const height = 64;
    const rgb = await decodeImageToRgb(INIT, width, height);
    const encoder = await ModelSession.create("vae_encoder", path.join(SD15, "vae_encoder", "model.onnx"), "cpu");
    const decoder = await ModelSession.create("vae_decoder", path.join(SD15, "vae_decoder", "model.onnx"), "cpu");
    let roundTrip: Uint8Array;
    try {
      const latents = await encodeImage(encoder, rgb, width, height, sd15.info.scalingFactor, new TorchGenerator(0n)); // [1,4,8,8] f32
      roundTrip = (await decodeLatents(decoder, latents, 8, 8, sd15.info.scalingFactor)).rgb;
    } finally {
      await encoder.release();
      await decoder.release();
    }
    const request = { prompt: "a cat", scheduler: "euler-a" as const, steps: 4, guidance: 7.5, seed: 3n, width, height, initImage: INIT };
    const keepAll = await sd15.generate({ ...request, mask: await greyPng(width, height, () => 0) });
    const kept = await readRgb(keepAll.images[0].png);
    assert.equal(pixelDiff(kept, { width, height, data: Buffer.from(roundTrip) }).max, 0);

    const leftHalf = await sd15.generate({ ...request, mask: await greyPng(width, height, (x) => (x < 32 ? 255 : 0)) });
    const out = await readRgb(leftHalf.images[0].png);
    // The tiny VAE decoder's mid-block attention lets every latent reach every pixel, so the kept
    // half is compared in latent space (the test above); here the repainted half must differ.
    let sum = 0;
    for (let y = 0; y < height; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) sum += Math.abs(out.data[(y * width + x) * 3 + c] - roundTrip[(y * width + x) * 3 + c]);
    assert.ok(sum / (32 * 64 * 3) > 10, "the repainted half changed");
    const params = infotextFields(parseInfotext(readPngParameters(leftHalf.images[0].png) ?? ""));
    assert.equal(params.denoisingStrength, 1, "inpainting's default strength is diffusers' 1");
    assert.equal(params.maskBlur, 0);
  });

  it("9-channel UNet: every scheduler at strength 1 and 0.5 runs, deterministic per seed", async () => {
    for (const scheduler of SCHEDULER_NAMES) {
      for (const strength of [1, 0.5]) {
        const request = { prompt: "a cat", scheduler, steps: 4, guidance: 7.5, seed: 21n, width: 64, height: 64, initImage: INIT, mask: MASK, strength };
        const a = await inpaint.generate(request);
        const b = await inpaint.generate(request);
        assert.deepEqual(a.images[0].png, b.images[0].png, `${scheduler} ${strength}`);
      }
    }
  });

  it("LCM (4-channel, decoded from the last step's x_0 estimate): a mask that keeps everything gives the original's VAE round trip", async () => {
    const lcmDir = path.join(MODELS, "tiny-lcm");
    const lcm = await Engine.load(lcmDir, { provider: "cpu" });
    const encoder = await ModelSession.create("vae_encoder", path.join(lcmDir, "vae_encoder", "model.onnx"), "cpu");
    const decoder = await ModelSession.create("vae_decoder", path.join(lcmDir, "vae_decoder", "model.onnx"), "cpu");
    try {
      const rgb = await decodeImageToRgb(INIT, 64, 64);
      const latents = await encodeImage(encoder, rgb, 64, 64, lcm.info.scalingFactor, new TorchGenerator(0n)); // [1,4,8,8] f32
      const roundTrip = (await decodeLatents(decoder, latents, 8, 8, lcm.info.scalingFactor)).rgb;
      for (const strength of [1, 0.5]) {
        const r = await lcm.generate({ prompt: "a cat", steps: 4, seed: 2n, width: 64, height: 64, initImage: INIT, mask: await greyPng(64, 64, () => 0), strength });
        assert.equal(pixelDiff(await readRgb(r.images[0].png), { width: 64, height: 64, data: Buffer.from(roundTrip) }).max, 0, `strength ${strength}`);
      }
    } finally {
      await Promise.all([lcm.dispose(), encoder.release(), decoder.release()]);
    }
  });

  it("9-channel UNet without a mask repaints everything (A1111's txt2img conditioning): the init image does not matter at strength 1", async () => {
    const plain = await inpaint.generate({ prompt: "a cat", steps: 3, seed: 4n, width: 64, height: 64 });
    const withImage = await inpaint.generate({ prompt: "a cat", steps: 3, seed: 4n, width: 64, height: 64, initImage: INIT, strength: 1 });
    const white = await inpaint.generate({ prompt: "a cat", steps: 3, seed: 4n, width: 64, height: 64, initImage: INIT, mask: await greyPng(64, 64, () => 255) });
    assert.deepEqual(plain.images[0].png.length > 0, true);
    assert.equal(pixelDiff(await readRgb(plain.images[0].png), await readRgb(withImage.images[0].png)).max, 0);
    assert.equal(pixelDiff(await readRgb(plain.images[0].png), await readRgb(white.images[0].png)).max, 0);
  });

  it("outpainting through the engine: the size grows, the infotext records the sides, width/height and a mask are refused", async () => {
    const r = await sd15.generate({ prompt: "a cat", steps: 2, seed: 1n, initImage: INIT, outpaint: { left: 16, bottom: 32 } });
    assert.deepEqual([r.images[0].width, r.images[0].height], [80, 96]);
    const params = infotextFields(parseInfotext(r.images[0].infotext));
    assert.deepEqual(params.outpaint, { left: 16, right: 0, top: 0, bottom: 32, overlap: 8, fill: "edge" });
    assert.equal(params.width, 80);
    await assert.rejects(sd15.generate({ prompt: "a cat", steps: 2, initImage: INIT, width: 64, outpaint: { left: 16 } }), /leave out width and height/);
    await assert.rejects(sd15.generate({ prompt: "a cat", steps: 2, initImage: INIT, mask: MASK, outpaint: { left: 16 } }), /makes its own mask/);
    await assert.rejects(sd15.generate({ prompt: "a cat", steps: 2, outpaint: { left: 16 } }), /outpainting extends an image/);
  });
});
