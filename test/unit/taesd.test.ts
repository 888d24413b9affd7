// A TAESD decoder beside a model: full-size previews each step, and "fast decode" of the final
// image. The decoder is a small random-weight TAESD graph from the bench's builder.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine } from "../../extension/engine/engine";
import { checkRequestRanges } from "../../extension/engine/pipeline/resolveRequest";
import { buildTaesdDecoder } from "../bench/synth/taesd";
import { TINY } from "../bench/synth/configs";
import { writeModel } from "../bench/synth/write";
import { MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { writeTinyTaesd } from "../helpers/tinyTaesd";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-taesd-"));
const model = path.join(tmp, "tiny-sd15");
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("TAESD previews and fast decode", () => {
  let plain: Engine;
  let withTaesd: Engine;
  before(async () => {
    fs.cpSync(path.join(MODELS, "tiny-sd15"), model, { recursive: true });
    writeModel(buildTaesdDecoder(TINY.taesd, { batch: 1, height: 8, width: 8 }), path.join(model, "taesd_decoder"), 7);
    plain = await Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu" });
    withTaesd = await Engine.load(model, { provider: "cpu" });
  });
  after(async () => {
    await plain.dispose();
    await withTaesd.dispose();
  });
  const request = { prompt: "a lighthouse", steps: 3, width: 64, height: 64, seed: 4n, scheduler: "euler" as const };

  it("finds the model folder's taesd_decoder/ and previews at full size within the time budget", async () => {
    assert.equal(withTaesd.hasTaesd, true);
    assert.equal(plain.hasTaesd, false);
    const sizes: string[] = [];
    const r = await withTaesd.generate({ ...request, steps: 12 }, { onPreview: (f) => sizes.push(`${f.width}x${f.height}:${f.rgb.length}`) });
    assert.equal(sizes.length, 12);
    assert.equal(sizes[0], "64x64:12288", "the first preview is TAESD's, full size");
    assert.ok(sizes.every((s) => s === "64x64:12288" || s === "8x8:192"), sizes.join(" "));
    // Every TAESD frame was allowed only while previews stayed within 3% of UNet time, so the
    // total is the budget plus at most one TAESD frame and the cheap linear frames.
    const taesdFrames = sizes.filter((s) => s.startsWith("64x64")).length;
    const { preview, unet } = r.timings.stages;
    assert.ok(taesdFrames === 12 || preview <= 0.03 * unet + preview / Math.max(1, taesdFrames) + 5, `preview ${preview} ms vs UNet ${unet} ms`);
    const small: string[] = [];
    await plain.generate(request, { onPreview: (f) => small.push(`${f.width}x${f.height}`) });
    assert.deepEqual(small, ["8x8", "8x8", "8x8"], "without TAESD: the 1/8-size linear approximation");
  });

  it("decodes the final image with TAESD only when fast decode is asked for", async () => {
    const full = await withTaesd.generate(request);
    const reference = await plain.generate(request);
    assert.equal(pixelDiff(await readRgb(full.images[0].png), await readRgb(reference.images[0].png)).max, 0, "the full VAE by default");
    const fast = await withTaesd.generate(request, { fastDecode: true });
    assert.equal(fast.images[0].width, 64);
    // The result names the graph that decoded, whichever way TAESD was chosen; so does the PNG.
    assert.equal(full.vaeDecoder, "vae_decoder/model.onnx");
    assert.equal(fast.vaeDecoder, "taesd");
    assert.equal(fast.request.decoder, "taesd");
    assert.match(fast.images[0].infotext, /VAE Decoder: TAESD/);
    const draft = await withTaesd.generate({ ...request, decoder: "taesd" }, { fastDecode: false });
    assert.equal(draft.vaeDecoder, "taesd");
    const vae = await withTaesd.generate({ ...request, decoder: "vae" }, { fastDecode: true });
    assert.equal(vae.vaeDecoder, "vae_decoder/model.onnx", "a request's vae wins over fast decode");
    assert.doesNotMatch(vae.images[0].infotext, /VAE Decoder/);
    assert.ok(pixelDiff(await readRgb(fast.images[0].png), await readRgb(reference.images[0].png)).max > 0, "a different decoder ran");
  });

  it("reads a configured diffusers export (config.json: AutoencoderTiny) in [-1, 1], and taesd.py's graph in [0, 1]", async () => {
    // The same weights in both forms: diffusers' graph ends with x·2 − 1.
    const exported = path.join(tmp, "export", "vae_decoder");
    await writeTinyTaesd(exported, { diffusers: true });
    const asTaesdPy = await Engine.load(model, { provider: "cpu" });
    const withoutConfig = await Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu", taesdDecoder: path.join(exported, "model.onnx") });
    fs.writeFileSync(path.join(exported, "config.json"), JSON.stringify({ _class_name: "AutoencoderTiny", _diffusers_version: "0.20.0" }));
    const withConfig = await Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu", taesdDecoder: path.join(exported, "model.onnx") });
    try {
      const draft = { ...request, decoder: "taesd" as const };
      const rgb = async (e: Engine) => readRgb(Buffer.from((await e.generate(draft)).images[0].png));
      const reference = await rgb(asTaesdPy);
      assert.ok(pixelDiff(reference, await rgb(withConfig)).max <= 1, "the export read in [-1, 1] is the same picture");
      assert.ok(pixelDiff(reference, await rgb(withoutConfig)).max > 8, "without its config.json it is read as taesd.py's [0, 1]");
    } finally {
      await Promise.all([asTaesdPy.dispose(), withoutConfig.dispose(), withConfig.dispose()]);
    }
  });

  it("refuses an unknown decoder with the other range checks, before a model is needed", () => {
    // checkRequestRanges is what the CLI runs before planning outputs and the engine before loading anything.
    assert.throws(() => checkRequestRanges({ prompt: "x", decoder: "fast" as never }), /^EaselError: unknown decoder "fast": use vae \(the full VAE\) or taesd \(a fast draft\)$/);
    assert.doesNotThrow(() => checkRequestRanges({ prompt: "x", decoder: "taesd" }));
    assert.doesNotThrow(() => checkRequestRanges({ prompt: "x" }));
  });

  it("rejects a configured TAESD file that does not exist", async () => {
    await assert.rejects(Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu", taesdDecoder: path.join(tmp, "nope.onnx") }), /TAESD decoder .* does not exist/);
  });
});
