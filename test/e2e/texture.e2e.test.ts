// "Easel: Generate Texture…" in code-server with a tiny conformance model: the PNG is tileable
// (Tiling: True) and the Studio opens showing it repeated 2×2.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { isCompletePng, modelCopy, pngTextChunks, Session } from "./harness";

const PROMPT = "mossy cobblestones, top-down texture";

describe("Easel in VS Code: Generate Texture", { timeout: 180_000 }, () => {
  let s: Session;
  let modelDir: string;
  before(async () => {
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelDir, "tiny-sd15");
    s = await Session.start({
      name: "texture",
      settings: { "easel.model": model, "easel.defaults.width": 64, "easel.defaults.height": 64, "easel.defaults.steps": 4, "easel.provider": "cpu" },
    });
  });
  after(async () => {
    await s?.close();
    if (modelDir) fs.rmSync(modelDir, { recursive: true, force: true });
  });

  it("saves a tileable PNG and the Studio previews it as a 2×2 repeat", { timeout: 120_000 }, async () => {
    await s.check("texture", async () => {
      await s.runCommand("Easel: Generate Texture…");
      await s.answerQuickInput("Easel: Generate Image", PROMPT);
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 60_000);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.ok(params.startsWith(PROMPT), params);
      assert.match(params, /Tiling: True/);

      await s.tab("Easel Studio").waitFor({ state: "visible", timeout: 30_000 });
      const wv = s.webview();
      const tiles = wv.locator("#preview-tiles");
      await tiles.waitFor({ state: "visible", timeout: 30_000 });
      assert.equal(await wv.locator("#preview-tiles img").count(), 4, "four copies");
      const srcs = await wv.locator("#preview-tiles img").evaluateAll((els) => els.map((e) => e.getAttribute("src") ?? ""));
      assert.ok(srcs.every((src) => src !== "" && src === srcs[0]), "the same image four times");
      assert.match(decodeURIComponent(srcs[0]), new RegExp(path.basename(rel).replace(/[.]/g, "\\.")));
      // Laid out 2×2: the second copy sits right of the first, the third below it.
      const boxes = await wv.locator("#preview-tiles img").evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, y: r.y, w: r.width })));
      assert.ok(boxes[0].w > 0);
      assert.ok(Math.abs(boxes[1].x - (boxes[0].x + boxes[0].w)) < 2 && Math.abs(boxes[1].y - boxes[0].y) < 2, JSON.stringify(boxes));
      assert.ok(Math.abs(boxes[2].x - boxes[0].x) < 2 && boxes[2].y > boxes[0].y, JSON.stringify(boxes));
      assert.equal(await wv.locator("#preview-image").isVisible(), false, "the single preview is hidden");
      assert.match((await wv.locator("#status").textContent()) ?? "", /seamless texture/);
      await s.shot("texture-2x2");
    });
  });
});
