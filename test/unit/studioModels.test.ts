// The Studio's model facts that need no VS Code: where a model already is (never downloading),
// its sizes from the folder's configs, live token counts with its tokenizer, and how errors are
// shown with the action that fixes them.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { EaselError } from "../../extension/engine/errors";
import { ModelStore } from "../../extension/engine/hub/store";
import { ProtocolError } from "../../extension/engine/host/validate";
import { nativeSide, readModelGeometry } from "../../extension/studio/modelGeometry";
import { modelGeometry, sdxlPresets } from "../../extension/engine/model/imageSizes";
import { SDXL_SIZE_IDS } from "../../extension/protocol/studioMessages";
import { locateModel } from "../../extension/studio/modelLocator";
import { describeError } from "../../extension/errorActions";
import { TokenCounter } from "../../extension/studio/tokenCounter";
import { copyFixtureModel } from "../helpers/onnxVariants";
import { MODELS } from "../helpers/paths";

const tmpStore = () => new ModelStore(fs.mkdtempSync(path.join(os.tmpdir(), "easel-studio-store-")));
const tiny = path.join(MODELS, "tiny-sd15");

describe("locating a model without downloading", () => {
  it("finds folders, added models, and nothing for what is not here", async () => {
    const store = tmpStore();
    assert.equal(await locateModel(tiny, store), tiny);
    assert.equal(await locateModel("tiny-sd15", store, MODELS), tiny);
    await store.addLocal(tiny, "my-tiny");
    assert.equal(await locateModel("my-tiny", store), tiny);
    assert.equal(await locateModel("sd15", store), undefined, "a catalog model not pulled yet");
    assert.equal(await locateModel("someone/some-model", store), undefined, "a Hub repo not pulled yet");
    assert.equal(await locateModel("", store), undefined);
    assert.equal(await locateModel("./no/such/folder", store), undefined);
  });
});

describe("model geometry", () => {
  it("reads the granularity from the configs and keeps SD 1.x's 512² as the native size", async () => {
    const g = await readModelGeometry(tiny, tiny);
    assert.equal(g.granularity, 16);
    assert.deepEqual([g.defaultWidth, g.defaultHeight], [512, 512]);
    assert.deepEqual(g.presets.find((p) => p.id === "16:9"), { id: "16:9", width: 688, height: 384 });
  });
  it("uses the catalog's size for a catalog model, downloaded or not", async () => {
    const g = await readModelGeometry("sd15", undefined);
    assert.deepEqual([g.granularity, g.defaultWidth, g.defaultHeight], [64, 512, 512]);
  });
  it("falls back to 512² / 64 for a folder it cannot read", async () => {
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), "easel-broken-"));
    const g = await readModelGeometry(broken, broken);
    assert.deepEqual([g.granularity, g.defaultWidth], [64, 512]);
  });
  it("sizes SDXL at its UNet's native 1024² and SDXL-Turbo at 512², though both UNet configs say 1024²", async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "easel-xl-geometry-"));
    try {
      for (const [fixture, side] of [["tiny-sdxl", 1024], ["tiny-sdxl-turbo", 512]] as const) {
        const dir = await copyFixtureModel(fixture, parent);
        const config = path.join(dir, "unet", "config.json");
        // The real SDXL UNet config's sample_size (128 latents = 1024 pixels); the tiny one says 16.
        fs.writeFileSync(config, JSON.stringify({ ...JSON.parse(fs.readFileSync(config, "utf8")), sample_size: 128 }));
        const g = await readModelGeometry(dir, dir);
        assert.deepEqual([g.defaultWidth, g.defaultHeight], [side, side], fixture);
      }
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
  it("offers SDXL models A1111's SDXL sizes (1024² and the aspect buckets), and SD 1.x its aspects", async () => {
    const xl = await readModelGeometry(path.join(MODELS, "tiny-sdxl"), path.join(MODELS, "tiny-sdxl"));
    assert.equal(xl.family, "sdxl");
    // The tiny export's config says 128²; an SDXL model is never offered less than SDXL's 1024².
    assert.deepEqual([xl.defaultWidth, xl.defaultHeight], [1024, 1024]);
    assert.deepEqual(
      xl.presets.map((p) => [p.id, p.width, p.height]),
      [["1024x1024", 1024, 1024], ["1152x896", 1152, 896], ["896x1152", 896, 1152], ["1216x832", 1216, 832], ["832x1216", 832, 1216], ["1344x768", 1344, 768], ["768x1344", 768, 1344]],
    );
    const sd = await readModelGeometry(tiny, tiny);
    assert.equal(sd.family, "sd1");
    assert.deepEqual(sd.presets.map((p) => p.id), ["1:1", "4:3", "3:4", "16:9", "9:16"]);
    // SDXL-Turbo keeps the aspects of its 512² (distilled there).
    const turbo = await readModelGeometry(path.join(MODELS, "tiny-sdxl-turbo"), path.join(MODELS, "tiny-sdxl-turbo"));
    assert.deepEqual([turbo.family, turbo.defaultWidth, turbo.presets[0].id], ["sdxl-turbo", 512, "1:1"]);
    // A catalog SDXL model not downloaded yet: its catalog family decides.
    const sizes = modelGeometry(1024, 1024, 64, "sdxl");
    assert.deepEqual(sizes.presets.map((p) => p.id), [...SDXL_SIZE_IDS]);
    assert.deepEqual(sdxlPresets(128).map((p) => p.id), ["1024x1024", "1152x896", "896x1152"], "a size the granularity does not allow is left out");
  });
  it("takes an SD 2.x sample_size as the native side", () => {
    assert.equal(nativeSide(96, 8), 768);
    assert.equal(nativeSide(64, 8), 512);
    assert.equal(nativeSide(16, 8), 512);
    assert.equal(nativeSide(undefined, 8), 512);
  });
});

describe("token counts", () => {
  it("counts with the model's CLIP tokenizer and says when the text will be cut", async () => {
    const counter = new TokenCounter();
    const short = await counter.count(tiny, "a lighthouse at dawn");
    assert.equal(short.max, 75);
    assert.equal(short.truncated, false);
    assert.ok(short.count >= 4 && short.count < 75, `count ${short.count}`);
    const long = await counter.count(tiny, "lighthouse ".repeat(80));
    assert.equal(long.count, 80);
    assert.equal(long.truncated, true);
    assert.deepEqual(await counter.count(tiny, ""), { count: 0, max: 75, truncated: false, chunks: 1, chunkCount: 0, syntax: "plain" });
  });
  it("in AUTOMATIC1111's syntax: counts every chunk's tokens and cuts nothing", async () => {
    const counter = new TokenCounter();
    const long = await counter.count(tiny, "(lighthouse:1.2) ".repeat(80), "a1111");
    // 80 tokens: 75 in the first chunk, the 5 of the chunk being typed into shown as "5/75 · 2 chunks".
    assert.deepEqual(long, { count: 80, max: 75, truncated: false, chunks: 2, chunkCount: 5, syntax: "a1111" });
    assert.deepEqual(await counter.count(tiny, "a BREAK b", "a1111"), { count: 2, max: 75, truncated: false, chunks: 2, chunkCount: 1, syntax: "a1111" });
    assert.deepEqual(await counter.count(tiny, "", "a1111"), { count: 0, max: 75, truncated: false, chunks: 1, chunkCount: 0, syntax: "a1111" });
    // Exactly 75 tokens fill one chunk.
    assert.deepEqual(await counter.count(tiny, "lighthouse ".repeat(75), "a1111"), { count: 75, max: 75, truncated: false, chunks: 1, chunkCount: 75, syntax: "a1111" });
    // A weight that is not a number: counted as written (the generation reports the mistake).
    assert.equal((await counter.count(tiny, "(cat:1.2.3)", "a1111")).chunks, 1);
    // `<lora:…>` tags never reach the encoder: they count for nothing (a bad one is counted as written).
    assert.deepEqual(await counter.count(tiny, "a BREAK b <lora:paper-cut:0.8> <lora:x>", "a1111"), await counter.count(tiny, "a BREAK b", "a1111"));
    assert.ok((await counter.count(tiny, "a <lora:x:heavy>", "a1111")).count > 1);
    assert.ok((await counter.count(tiny, "a <lora:paper-cut:1>", "plain")).count > 1, "the plain syntax reads them as words");
  });
  it("rejects a folder without a tokenizer, and recovers once it exists", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-notok-"));
    const counter = new TokenCounter();
    await assert.rejects(counter.count(dir, "x"));
    fs.cpSync(path.join(tiny, "tokenizer"), path.join(dir, "tokenizer"), { recursive: true });
    assert.equal((await counter.count(dir, "a cat")).truncated, false);
  });
});

describe("Studio errors", () => {
  const ids = (e: unknown) => describeError(e).actions.map((a) => a.id);
  it("offers the fix for each kind of error", () => {
    assert.deepEqual(ids(new EaselError("model-missing", "no model")), ["chooseModel", "downloadModel"]);
    assert.deepEqual(ids(new EaselError("model-invalid", "broken")), ["chooseModel", "showLog"]);
    assert.deepEqual(ids(new EaselError("provider-unavailable", "no cuda")), ["providerSettings", "showLog"]);
    assert.deepEqual(ids(new EaselError("output-unwritable", "read-only")), ["outputSettings"]);
    assert.deepEqual(ids(new EaselError("image-invalid", "not an image")), ["pickInitImage"]);
    assert.deepEqual(ids(new EaselError("internal", "engine died", true)), ["retry", "showLog"]);
    assert.deepEqual(ids(new EaselError("bad-argument", "width 100 is not a multiple of 64")), []);
  });
  it("keeps the message to one line and says what a bad form field is", () => {
    const e = describeError(new Error("first line\nstack"));
    assert.deepEqual([e.code, e.message], ["internal", "first line"]);
    const p = describeError(new ProtocolError("form.steps must be from 1 to 150"));
    assert.deepEqual([p.code, p.message], ["bad-argument", "the form is not valid: form.steps must be from 1 to 150"]);
  });
});
