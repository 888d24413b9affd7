// The Regenerator's inputs as the editor records them: a starting image stored in a chunk of an
// Easel PNG (an inpainted image regenerated from the palette), a mask painted in the Studio kept in
// the entry itself; a changed or missing one is one line naming it. Real tiny inpainting model.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { generatedEntry, generationOf, inlineInputImage, inputImage, modelRecord } from "../../extension/engine/assets/assetRecord";
import { LocalRegeneration } from "../../extension/engine/assets/localRegeneration";
import { type AssetEntry, pixelHash } from "../../extension/engine/assets/lockfile";
import { Engine } from "../../extension/engine/engine";
import { ModelStore } from "../../extension/engine/hub/store";
import { replacePngChunks } from "../../extension/engine/image/pngChunks";
import { CONFORMANCE, MODELS } from "../helpers/paths";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-regenerator-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const INPAINT = path.join(MODELS, "tiny-sd15-inpaint");
const INIT = fs.readFileSync(path.join(CONFORMANCE, "cases", "inpaint-euler-8.init.png"));
const MASK = fs.readFileSync(path.join(CONFORMANCE, "cases", "inpaint-euler-8.mask.png"));

describe("Regenerator inputs: a stored chunk and an inline mask", () => {
  it("makes an inpainted image again from its entry, and names the input that changed or went missing", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    // An earlier inpainted image that carries its starting image in its esIn chunk.
    const holder = path.join(ws, "earlier.png");
    fs.writeFileSync(holder, replacePngChunks(INIT, ["esIn"], [{ type: "esIn", data: INIT }]));
    const engine = await Engine.load(INPAINT, { provider: "cpu" });
    let entry: AssetEntry;
    try {
      const result = await engine.generate({ prompt: "a cat", steps: 2, seed: 5n, strength: 0.7, initImage: INIT, mask: MASK, batch: 1 });
      const model = await modelRecord(INPAINT, INPAINT, ws, engine.folder.files.unet);
      const initImage = await inputImage(ws, holder, INIT, "esIn");
      const mask = await inlineInputImage(MASK);
      assert.deepEqual([initImage.path, initImage.chunk, mask.path], ["earlier.png", "esIn", undefined]);
      entry = await generatedEntry(generationOf(result, 0, model, { initImage, mask }), result.images[0].png, [{ op: "encode", format: "png" }], result.provider);
    } finally {
      await engine.dispose();
    }
    const local = new LocalRegeneration({ workspace: ws, store: new ModelStore(path.join(tmp, "store")), provider: "cpu", download: false });
    try {
      const regenerate = (e: AssetEntry) => local.regenerator(new Map([["out.png", e]])).regenerate(e);
      assert.equal((await pixelHash(await regenerate(entry))).pixels, entry.pixels, "bit-identical from the chunk and the inline mask");

      // The mask kept in the entry edited by hand: its pixels no longer match.
      const otherMask = { ...entry.generation!.mask!, data: INIT.toString("base64") };
      await assert.rejects(regenerate({ ...entry, generation: { ...entry.generation!, mask: otherMask } }), /^EaselError: its mask kept in the entry has changed since the asset was made/);
      // The holder lost its chunk (re-saved by another tool).
      fs.writeFileSync(holder, INIT);
      await assert.rejects(regenerate(entry), /its init image was stored in earlier\.png, which no longer carries it: restore that file/);
      fs.rmSync(holder);
      await assert.rejects(regenerate(entry), /its init image earlier\.png cannot be read \(.*\): restore it/);
    } finally {
      await local.dispose();
    }
  });
});
