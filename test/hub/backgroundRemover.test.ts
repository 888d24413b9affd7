// The background remover comes from the Hub like a TAESD decoder: one file of its repository,
// verified, asked for once in the editor (a no fetches nothing), then found in the store and run.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import type { CatalogBackgroundRemover } from "../../extension/engine/hub/catalog";
import { removeBackground } from "../../extension/engine/matte/backgroundRemoval";
import { backgroundRemoverEntry, ensureRemover, findStoreRemover, matteSpecOf, openRemover } from "../../extension/engine/matte/remover";
import { writeTinyMatte } from "../helpers/tinyMatte";
import { type FakeHub, hostFolder } from "./fakeHub";
import { fastOptions, modelFolders, startHub, tempStore } from "./helpers";

const REPO = "easel-test/BiRefNet_lite-ONNX";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-rembg-hub-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("background remover from the Hub", () => {
  let hub: FakeHub;
  let entry: CatalogBackgroundRemover;
  before(async () => {
    hub = await startHub();
    const dir = path.join(tmp, "repo");
    await writeTinyMatte(path.join(dir, "onnx"), { weights: [6, -1, -1], bias: 0, side: 16 });
    fs.copyFileSync(path.join(dir, "onnx", "model.onnx"), path.join(dir, "onnx", "model_fp16.onnx"));
    fs.writeFileSync(path.join(dir, "preprocessor_config.json"), "{}");
    hub.add(hostFolder(REPO, dir, { license: "mit" }));
    entry = { ...backgroundRemoverEntry(), repo: REPO };
  });
  after(() => hub.close());

  it("asks with the size; a no fetches nothing and says how to get it", async () => {
    const store = tempStore();
    const asked: number[] = [];
    await assert.rejects(
      ensureRemover(entry, { ...fastOptions(hub, store), confirm: async (bytes) => (asked.push(bytes), false) }),
      /background removal needs BiRefNet_lite background removal \(MIT\); get it with 'easel models pull birefnet-lite'/,
    );
    assert.deepEqual(asked, [fs.statSync(path.join(tmp, "repo", "onnx", "model.onnx")).size]);
    assert.deepEqual(modelFolders(store), []);
  });

  it("fetches only the graph, then finds it in the store and runs it", async () => {
    const store = tempStore();
    const got = await ensureRemover(entry, { ...fastOptions(hub, store), confirm: async () => true });
    assert.ok(got.downloaded && got.downloaded > 0);
    assert.equal(hub.requests.filter((r) => r.file === "onnx/model_fp16.onnx").length, 0, "only onnx/model.onnx is fetched");
    assert.equal(await findStoreRemover(entry, store), got.file);
    const again = await ensureRemover(entry, { ...fastOptions(hub, store), confirm: async () => assert.fail("not asked again") });
    assert.equal(again.file, got.file);
    assert.equal(again.downloaded, undefined);
    const remover = await openRemover(got.file, "cpu");
    try {
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#ff2020" } }).png().toBuffer();
      const { data, info } = await sharp(await removeBackground(png, remover, matteSpecOf(entry))).raw().toBuffer({ resolveWithObject: true });
      assert.equal(info.channels, 4);
      assert.ok(data[3] > 240, "red is kept opaque by this graph");
    } finally {
      await remover.release();
    }
  });
});
