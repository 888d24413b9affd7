// Background removal in the real engine process (dist/engineHost.js), behind a generation on the
// same client: the cut-out is an RGBA PNG that keeps the generated image's parameters.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { EngineClient } from "../../extension/engineClient";
import { parseEngineRequest } from "../../extension/engine/host/engineMessageValidation";
import type { EngineSettings } from "../../extension/engine/host/engineRequests";
import { readPngParameters } from "../../extension/engine/image/encode";
import { backgroundRemoverEntry, matteSpecOf } from "../../extension/engine/matte/remover";
import { MODELS, ROOT } from "../helpers/paths";
import { writeTinyMatte } from "../helpers/tinyMatte";

const ENGINE = path.join(ROOT, "dist", "engineHost.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-engine-rembg-"));
const settings: EngineSettings = { provider: "cpu", previews: false, fastDecode: false, lowMemory: false, idleUnloadMs: 0 };
const client = new EngineClient({ enginePath: ENGINE, settings: () => settings });
after(async () => {
  await client.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const spec = matteSpecOf(backgroundRemoverEntry());

describe("engine process: removeBackground", () => {
  it("cuts out a generated image: RGBA PNG, parameters kept with the removal added, WebP on request", async () => {
    const file = await writeTinyMatte(path.join(tmp, "matte"), { weights: [1, -1, 0.5], bias: 0.1, side: 16 });
    const result = await client.generate(path.join(MODELS, "tiny-sd15"), { prompt: "a fox", steps: 2, seed: 3n, width: 64, height: 64 });
    const source = result.images[0].png;
    const cut = await client.removeBackground({ image: source, remover: { file, spec, name: "tiny-matte" }, matte: 0.4, format: "png" });
    const meta = await sharp(cut.image).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ["png", 64, 64, 4]);
    // The removal (its remover's name, the matte threshold) joins the parameters, so a recall cuts it out again.
    assert.equal(readPngParameters(cut.image), `${result.images[0].infotext}, Background removal: tiny-matte, Matte threshold: 0.4`);
    const webp = await client.removeBackground({ image: source, remover: { file, spec }, format: "webp", matte: 0.5 });
    const webpMeta = await sharp(webp.image).metadata();
    assert.deepEqual([webpMeta.format, webpMeta.hasAlpha], ["webp", true]);
  });

  it("reports a missing model or a non-image as one error, and the process goes on", async () => {
    await assert.rejects(client.removeBackground({ image: new Uint8Array([1, 2, 3]), remover: { file: path.join(tmp, "none.onnx"), spec }, format: "png" }), /background-removal model .*none\.onnx not found/);
    const file = path.join(tmp, "matte", "model.onnx");
    await assert.rejects(client.removeBackground({ image: new Uint8Array([1, 2, 3]), remover: { file, spec }, format: "png" }), /cannot read this image/);
    const png = await sharp({ create: { width: 20, height: 10, channels: 3, background: "#ff0000" } }).png().toBuffer();
    const ok = await client.removeBackground({ image: png, remover: { file, spec }, format: "png" });
    assert.equal((await sharp(ok.image).metadata()).width, 20);
  });

  it("the protocol refuses a malformed request", () => {
    const good = { type: "removeBackground", id: 1, settings, image: new Uint8Array(1), remover: { file: "x.onnx", spec: { ...spec, mean: [...spec.mean] } }, format: "png" };
    assert.equal(parseEngineRequest(good).type, "removeBackground");
    assert.throws(() => parseEngineRequest({ ...good, format: "jpeg" }), /format must be one of png, webp/);
    assert.throws(() => parseEngineRequest({ ...good, remover: { file: "x", spec: { ...spec, mean: [0.5, 0.5] } } }), /mean must be three finite numbers/);
  });
});
