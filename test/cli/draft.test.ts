// `easel generate --decoder taesd`: a draft decoded by the store's TAESD decoder for the model's
// family (found with no path configured), recorded in the PNG; a clear error without one.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { findCatalogDecoder } from "../../extension/engine/hub/catalog";
import { ModelStore } from "../../extension/engine/hub/store";
import { MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { runCli } from "../helpers/runCli";
import { placeStoreDecoder, writeTinyTaesd } from "../helpers/tinyTaesd";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-draft-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SD15 = path.join(MODELS, "tiny-sd15");
const common = ["generate", "--model", SD15, "--prompt", "a lighthouse", "--seed", "5", "--steps", "3", "--width", "64", "--height", "64", "--provider", "cpu"];

describe("easel generate --decoder", () => {
  const withDecoder = path.join(tmp, "home");
  const empty = path.join(tmp, "empty-home");
  before(async () => {
    const shipped = findCatalogDecoder("taesd");
    assert.ok(shipped?.revision);
    // The store's decoder is a diffusers export (image in [-1, 1]), as the catalog's is.
    await placeStoreDecoder(ModelStore.open(path.join(withDecoder, "models")), shipped, shipped.revision, { diffusers: true });
    fs.mkdirSync(empty);
  });

  it("draws a draft through the store's TAESD decoder, differing from the VAE's, and records it", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "run-"));
    const env = { EASEL_HOME: withDecoder };
    const vae = await runCli([...common, "--out", "vae.png"], { cwd, env });
    assert.equal(vae.code, 0, vae.stderr);
    const draft = await runCli([...common, "--decoder", "taesd", "--out", "draft.png"], { cwd, env });
    assert.equal(draft.code, 0, draft.stderr);
    const a = await readRgb(path.join(cwd, "vae.png"));
    const b = await readRgb(path.join(cwd, "draft.png"));
    assert.ok(pixelDiff(a, b).max > 8, "the draft is TAESD's picture, not the VAE's");

    const info = (file: string) => runCli(["info", "--json", path.join(cwd, file)]).then((r) => JSON.parse(r.stdout) as { parameters: Record<string, string> });
    assert.equal((await info("draft.png")).parameters["VAE Decoder"], "TAESD");
    assert.equal((await info("vae.png")).parameters["VAE Decoder"], undefined);
  });

  it("reads a diffusers export's [-1, 1] image: the same picture as taesd.py's graph with the same weights", async () => {
    // The same weights as taesd.py's graph (image in [0, 1]) beside the model.
    const model = path.join(tmp, "bundled", "tiny-sd15");
    fs.cpSync(SD15, model, { recursive: true });
    await writeTinyTaesd(path.join(model, "taesd_decoder"));
    const cwd = fs.mkdtempSync(path.join(tmp, "run-"));
    const bundled = await runCli([...common.map((a) => (a === SD15 ? model : a)), "--decoder", "taesd", "--out", "bundled.png"], { cwd, env: { EASEL_HOME: empty } });
    assert.equal(bundled.code, 0, bundled.stderr);
    const store = await runCli([...common, "--decoder", "taesd", "--out", "store.png"], { cwd, env: { EASEL_HOME: withDecoder } });
    assert.equal(store.code, 0, store.stderr);
    const diff = pixelDiff(await readRgb(path.join(cwd, "bundled.png")), await readRgb(path.join(cwd, "store.png")));
    assert.ok(diff.max <= 1, `max difference ${diff.max}`);
  });

  it("without a decoder: one line saying how to get one, and no file", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "run-"));
    const r = await runCli([...common, "--decoder", "taesd", "--out", "x.png"], { cwd, env: { EASEL_HOME: empty } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^error: a draft \(decoder taesd\) needs a TAESD decoder and tiny-sd15 has none: download .* with 'easel models pull taesd'.*\n$/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.deepEqual(fs.readdirSync(cwd), []);
  });

  it("refuses an unknown decoder before loading anything", async () => {
    const r = await runCli([...common, "--decoder", "fast"], { cwd: tmp });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^error: unknown decoder "fast": use vae \(the full VAE\) or taesd \(a fast draft\)\n$/);
  });
});
