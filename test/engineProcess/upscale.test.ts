// Upscaling in the real engine process (dist/engineHost.js), as "Easel: Upscale Image…" runs it
// (extension/generation/upscaleFile.ts): Lanczos without a model, a tiny synthetic super-resolution
// graph tile by tile with progress, cancel between tiles, a tileable original wrapped around, and the
// bad inputs as one line each while the process goes on.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { EngineClient } from "../../extension/engineClient";
import type { UpscaleProgressEvent } from "../../extension/engine/host/engineEvents";
import { ENGINE_EVENT_TYPES, ENGINE_REQUEST_TYPES, parseEngineEvent, parseEngineRequest } from "../../extension/engine/host/engineMessageValidation";
import type { EngineSettings } from "../../extension/engine/host/engineRequests";
import { ModelStore } from "../../extension/engine/hub/store";
import { readPngParameters } from "../../extension/engine/image/encode";
import { insertPngText } from "../../extension/engine/image/pngChunks";
import { SuperResolution } from "../../extension/engine/upscale/superResolution";
import { upscaleTo, upscaleWraps } from "../../extension/engine/upscale/upscaleImage";
import { remakeUpscale, upscaleFile, upscaleProgressLine } from "../../extension/generation/upscaleFile";
import { compareAsset, derivedEntry, inputImage, Regenerator, upscaleStep } from "../../extension/engine/assets/assetRecord";
import { LocalRegeneration } from "../../extension/engine/assets/localRegeneration";
import { CONFORMANCE, ROOT } from "../helpers/paths";
import { writeConvNet } from "../helpers/tinyConvNets";

const ENGINE = path.join(ROOT, "dist", "engineHost.js");
const IMAGE = path.join(CONFORMANCE, "cases", "sd15-default-20.png");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-engine-upscale-"));
const settings: EngineSettings = { provider: "cpu", previews: false, fastDecode: false, lowMemory: false, idleUnloadMs: 0 };
const client = new EngineClient({ enginePath: ENGINE, settings: () => settings });
after(async () => {
  await client.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// An empty store: no catalog upscaler is downloaded, so the controller picks Lanczos.
const store = new ModelStore(path.join(tmp, "store"));
const CONVS = [{ name: "/conv_first/Conv", pad: 1 }, { name: "/body/Conv", pad: 1 }, { name: "/conv_last/Conv", pad: 1 }];

async function rgbOf(png: Uint8Array): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

describe("engine process: upscale (Easel: Upscale Image…)", () => {
  it("enlarges an image with Lanczos when no upscaler is downloaded, names it beside the original and keeps its parameters", async () => {
    const bytes = fs.readFileSync(IMAGE);
    const read: string[] = [];
    const result = await upscaleFile("boat.png", 2, {
      engine: client,
      store,
      read: async () => (read.push("boat.png"), bytes),
      taken: async () => new Set(["boat.png", "boat-x2.png"]),
    });
    assert.deepEqual([result.name, result.width, result.height, result.upscaler], ["boat-x2-2.png", 128, 128, "Lanczos"]);
    const want = await sharp(IMAGE).removeAlpha().resize({ width: 128, height: 128, fit: "fill", kernel: "lanczos3" }).raw().toBuffer();
    assert.deepEqual(await rgbOf(result.png), want);
    assert.equal(readPngParameters(result.png), readPngParameters(bytes));
    assert.deepEqual(read, ["boat.png"]);
  });

  it("runs a super-resolution graph tile by tile with progress, as the engine does in-process", async () => {
    const file = await writeConvNet(path.join(tmp, "x2.onnx"), { convs: CONVS, scale: 2 });
    const png = await sharp({ create: { width: 200, height: 100, channels: 3, background: "#000" } })
      .composite([{ input: Buffer.from('<svg width="200" height="100"><circle cx="60" cy="50" r="40" fill="#e33"/><rect x="110" y="10" width="80" height="60" fill="#3c6"/></svg>') }])
      .png()
      .toBuffer();
    const events: UpscaleProgressEvent[] = [];
    const done = await client.upscale({ image: png, name: "shapes.png", scale: 4, upscaler: { file, name: "tiny-x2" } }, { onUpscaleProgress: (e) => events.push(e) });
    assert.deepEqual([done.width, done.height, done.upscaler], [800, 400, "tiny-x2"]);
    // x2 twice: 200x100 is 2 tiles of 192, 400x200 is 3 x 2.
    assert.deepEqual(events.map((e) => `${e.pass}/${e.passes}:${e.tile}/${e.tiles}`), ["1/2:1/2", "1/2:2/2", ...[1, 2, 3, 4, 5, 6].map((t) => `2/2:${t}/6`)]);
    assert.equal(upscaleProgressLine(events[3]), "tile 2 of 6, pass 2 of 2");
    const sr = await SuperResolution.load(file, "cpu");
    try {
      const raw = await sharp(png).removeAlpha().raw().toBuffer();
      const want = await upscaleTo({ rgb: raw, width: 200, height: 100 }, 800, 400, sr);
      assert.deepEqual(await rgbOf(done.png), Buffer.from(want.rgb));
    } finally {
      await sr.release();
    }
  });

  it("stops between tiles when cancelled, and the next request runs", async () => {
    const file = await writeConvNet(path.join(tmp, "x2c.onnx"), { convs: CONVS, scale: 2 });
    const png = await sharp({ create: { width: 600, height: 400, channels: 3, background: "#468" } }).png().toBuffer();
    const controller = new AbortController();
    let seen = 0;
    await assert.rejects(
      client.upscale({ image: png, name: "big.png", scale: 2, upscaler: { file, name: "tiny" } }, { signal: controller.signal, onUpscaleProgress: () => (seen++, controller.abort()) }),
      /cancelled/,
    );
    assert.ok(seen >= 1 && seen < 6, `${seen} tiles before the cancel took (of 6)`);
    const again = await client.upscale({ image: png, name: "big.png", scale: 2 });
    assert.deepEqual([again.width, again.height], [1200, 800]);
  });

  it("upscales a tileable original (Tiling: True) wrapped around, so the result still tiles", async () => {
    const raw = Buffer.alloc(32 * 32 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.round(128 + 120 * Math.sin((2 * Math.PI * 3 * (Math.floor(i / 3) % 32)) / 32 + (i % 3)));
    const plainPng = await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    const tiledPng = insertPngText(plainPng, "parameters", "stripes\nSteps: 4, Sampler: DDIM, CFG scale: 7, Seed: 1, Size: 32x32, Tiling: True");
    const wrapped = await client.upscale({ image: tiledPng, name: "stripes.png", scale: 2 });
    const clamped = await client.upscale({ image: plainPng, name: "stripes.png", scale: 2 });
    const image = { rgb: raw, width: 32, height: 32 };
    assert.deepEqual(await rgbOf(wrapped.png), Buffer.from((await upscaleTo(image, 64, 64, undefined, { wrap: true })).rgb));
    assert.deepEqual(await rgbOf(clamped.png), Buffer.from((await upscaleTo(image, 64, 64, undefined)).rgb));
    assert.match(readPngParameters(wrapped.png) ?? "", /Tiling: True/);
  });

  it("refuses a non-image, a missing model and a result over the size limit in one line each, and goes on", async () => {
    const oneLine = (pattern: RegExp) => (e: Error) => pattern.test(e.message) && !e.message.includes("\n");
    await assert.rejects(upscaleFile("notes.txt", 2, { engine: client, store, read: async () => assert.fail("a non-image name is refused before reading"), taken: async () => new Set() }), oneLine(/notes\.txt is not an image Easel reads/));
    await assert.rejects(client.upscale({ image: Buffer.from("not an image"), name: "broken.png", scale: 2 }), oneLine(/broken\.png.*not a readable image/));
    const wide = await sharp({ create: { width: 4100, height: 4, channels: 3, background: "#000" } }).png().toBuffer();
    await assert.rejects(client.upscale({ image: wide, name: "wide.png", scale: 2 }), oneLine(/wide\.png is 4100x4; 2x makes 8200x8, over the 8192-pixel limit/));
    await assert.rejects(client.upscale({ image: fs.readFileSync(IMAGE), name: "a.png", scale: 2, upscaler: { file: path.join(tmp, "none.onnx"), name: "none" } }), oneLine(/none\.onnx/));
    assert.equal((await client.upscale({ image: fs.readFileSync(IMAGE), name: "a.png", scale: 4 })).width, 256);
  });

  it("the protocol lists every message type and refuses a malformed upscale", () => {
    const good = { type: "upscale", id: 1, settings, image: new Uint8Array(1), name: "a.png", scale: 2 };
    assert.equal(parseEngineRequest(good).type, "upscale");
    assert.throws(() => parseEngineRequest({ ...good, scale: 3 }), /upscale\.scale must be one of 2, 4/);
    assert.throws(() => parseEngineRequest({ ...good, upscaler: { file: "x.onnx" } }), /upscaler\.name must be a string/);
    assert.deepEqual([parseEngineRequest({ ...good, tile: 64, overlap: 0, wrap: true })].map((r) => r.type === "upscale" && [r.tile, r.overlap, r.wrap]), [[64, 0, true]]);
    assert.throws(() => parseEngineRequest({ ...good, tile: 8 }), /upscale\.tile must be from 16 to 2048/);
    assert.throws(() => parseEngineRequest({ ...good, overlap: 300 }), /upscale\.overlap must be from 0 to 256/);
    assert.throws(() => parseEngineRequest({ ...good, type: "enhance" }), /unknown request type "enhance": one of load, .*upscale/);
    assert.ok(ENGINE_REQUEST_TYPES.includes("upscale") && ENGINE_EVENT_TYPES.includes("upscaled") && ENGINE_EVENT_TYPES.includes("upscaleProgress"));
    assert.equal(parseEngineEvent({ type: "upscaleProgress", id: 1, pass: 1, passes: 1, tile: 1, tiles: 4 }).type, "upscaleProgress");
    assert.throws(() => parseEngineEvent({ type: "upscaled", id: 1, png: new Uint8Array(1), width: 2, height: 2, seconds: 0 }), /upscaled\.upscaler must be a string/);
  });

  it("Upscale Image's record (a tileable image: wrapped) is made again through the engine process, bit-identical, and as `easel assets check` makes it", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const raw = Buffer.alloc(32 * 32 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.round(128 + 120 * Math.sin((2 * Math.PI * 3 * (Math.floor(i / 3) % 32)) / 32 + (i % 3)));
    const tiled = insertPngText(await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer(), "parameters", "stripes\nSteps: 4, Sampler: DDIM, CFG scale: 7, Seed: 1, Size: 32x32, Tiling: True");
    fs.writeFileSync(path.join(ws, "stripes.png"), tiled);
    const made = await upscaleFile("stripes.png", 2, { engine: client, store, read: async () => tiled, taken: async () => new Set(["stripes.png"]) });
    const step = await made.step(ws);
    assert.deepEqual(step, { op: "upscale", scale: 2, wrap: true });
    assert.deepEqual(step, await upscaleStep(2, undefined, ws, { wrap: upscaleWraps(tiled) }), "the record function `easel upscale --record` uses");
    const entry = await derivedEntry(await inputImage(ws, path.join(ws, "stripes.png"), made.source), made.png, [step]);
    // The editor's Regenerate/Check: the engine process's upscale request, as recorded.
    const editor = new Regenerator({ workspace: ws, assets: new Map(), generate: async () => assert.fail("nothing is generated"), runners: { upscale: (image, s, signal) => remakeUpscale(client, image, s, undefined, signal), removeBackground: async () => assert.fail("no cut-out") } });
    assert.equal((await compareAsset("stripes-x2.png", made.png, await editor.regenerate(entry))).status, "ok");
    // The CLI's `easel assets` in-process: the same upscaleToPng, the same pixels.
    const local = new LocalRegeneration({ workspace: ws, store, provider: "cpu", download: false });
    try {
      assert.equal((await compareAsset("stripes-x2.png", made.png, await local.regenerator(new Map()).regenerate(entry))).status, "ok");
    } finally {
      await local.dispose();
    }
    // Not wrapped (an entry without `wrap`) is a different image: the flag is what makes it again.
    const { wrap: _wrap, ...flat } = step;
    assert.equal((await compareAsset("stripes-x2.png", made.png, await editor.regenerate({ ...entry, post: [flat] }))).status, "differs");
  });

  it("a recorded model upscale with its tile and overlap is made again through the engine process as the CLI makes it", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const file = await writeConvNet(path.join(ws, "x2.onnx"), { convs: CONVS, scale: 2 });
    const png = await sharp({ create: { width: 60, height: 40, channels: 3, background: "#000" } })
      .composite([{ input: Buffer.from('<svg width="60" height="40"><circle cx="20" cy="20" r="14" fill="#e33"/><rect x="36" y="6" width="20" height="26" fill="#3c6"/></svg>') }])
      .png()
      .toBuffer();
    const step = await upscaleStep(2, { file, name: "tiny-x2" }, ws, { tile: 32, overlap: 8 });
    assert.deepEqual([step.model?.file, step.tile, step.overlap, step.wrap], ["x2.onnx", 32, 8, undefined]);
    const viaEngine = await remakeUpscale(client, png, step, file);
    const local = new LocalRegeneration({ workspace: ws, store, provider: "cpu", download: false });
    try {
      assert.deepEqual(await rgbOf(viaEngine), await rgbOf(await local.upscale(png, step)));
    } finally {
      await local.dispose();
    }
    // The tiling is honoured: the default tiles would make other pixels at the seams.
    assert.notDeepEqual(await rgbOf(viaEngine), await rgbOf(await remakeUpscale(client, png, { ...step, tile: 16, overlap: 0 }, file)));
  });
});
