// "Easel: Generate Image…" from the command palette with a tiny conformance model: the prompt goes
// into the quick input, the engine process generates, and the PNG lands in assets/generated/ with
// its parameters, and opens in an editor. The same session (one code-server start and one model
// load for all) runs the draft (TAESD) and texture commands and the Markdown ones: "Easel:
// Illustrate Selection" puts an image link below the paragraph, and the CodeLens on an empty
// `![alt]()` fills its target in (links relative to the document).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { writeTinyTaesd } from "../helpers/tinyTaesd";
import { isCompletePng, pngTextChunks, modelCopy, Session } from "./harness";

const PROMPT = "a lighthouse at dawn, oil painting";
// The Markdown documents of the Illustrate Selection and alt-text tests.
const POST = ["# Trip notes", "", "A *lighthouse* on a cliff at dawn, waves below.", "", "More words later.", ""].join("\n");
const ALT = ["# Gallery", "", "![a red fox in the snow]()", "", "The end.", ""].join("\n");
const TEXTURE_PROMPT = "mossy cobblestones, top-down texture";

describe("Easel in VS Code: Generate Image, Draft and Texture from the palette; Markdown", { timeout: 420_000 }, () => {
  let s: Session;
  let modelDir: string;
  before(async () => {
    // A copy, so nothing the extension does can touch the conformance fixtures.
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelDir, "tiny-sd15");
    // A TAESD decoder shipped in the model folder, for the draft command.
    await writeTinyTaesd(path.join(model, "taesd_decoder"));
    s = await Session.start({
      name: "generate",
      settings: {
        "easel.model": model,
        "easel.defaults.width": 64,
        "easel.defaults.height": 64,
        "easel.defaults.steps": 4,
        "easel.provider": "cpu",
      },
      files: { "docs/post.md": POST, "docs/gallery.md": ALT },
    });
  });
  after(async () => {
    await s?.close();
    if (modelDir) fs.rmSync(modelDir, { recursive: true, force: true });
  });

  it("saves the PNG into assets/generated/ and opens it", { timeout: 60_000 }, async () => {
    await s.check("generate", async () => {
      assert.deepEqual(s.listFiles("assets"), [], "no images before");
      await s.runCommand("Easel: Generate Image…");
      const input = await s.waitForQuickInput("Easel: Generate Image");
      await input.fill(PROMPT);
      // The typed prompt is offered as the first choice.
      await s.page.locator(".quick-input-widget .monaco-list-row .label-name", { hasText: PROMPT }).first().waitFor();
      await s.shot("prompt");
      await s.page.keyboard.press("Enter");
      await s.quickInput.waitFor({ state: "hidden", timeout: 10_000 });

      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000);
      assert.match(rel, /^assets\/generated\/[^/]+\.png$/);
      assert.match(path.basename(rel), /lighthouse/, "the file name comes from the prompt");
      const params = pngTextChunks(bytes).get("parameters");
      assert.ok(params, "the PNG carries A1111 parameters");
      assert.ok(params.startsWith(PROMPT), `parameters start with the prompt: ${params}`);
      assert.match(params, /Steps: 4/);
      assert.match(params, /Size: 64x64/);
      assert.equal(bytes.readUInt32BE(16), 64, "width");
      assert.equal(bytes.readUInt32BE(20), 64, "height");
      assert.deepEqual(s.listFiles("assets"), [rel], "exactly one file written");

      // The image opens in an editor and a notification says where it went.
      await s.tab(path.basename(rel)).waitFor({ state: "visible", timeout: 20_000 });
      await s.notification(/saved .*\.png/).waitFor({ state: "visible", timeout: 20_000 });
      // VS Code's image preview (a webview) shows it at its size.
      const img = s.webview().locator("img");
      await img.waitFor({ state: "visible", timeout: 20_000 });
      assert.equal(await img.evaluate((el: { naturalWidth: number }) => el.naturalWidth), 64, "the preview shows the 64×64 image");
      await s.settleToasts();
      await s.shot("saved");
    });
  });

  it("Generate Draft Image decodes through TAESD and says so in the image's parameters", { timeout: 60_000 }, async () => {
    await s.check("draft", async () => {
      await s.closeAllEditors();
      const before = s.listFiles("assets/generated");
      await s.runCommand("Easel: Generate Draft Image (TAESD)…");
      await s.answerQuickInput("Easel: Generate Image", "a quick draft of a harbour");
      const { bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000, before);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.ok(params.startsWith("a quick draft of a harbour"), params);
      assert.match(params, /VAE Decoder: TAESD/, "recorded as a draft, so a recall decodes the same way");
      await s.settleToasts();
      await s.shot("draft");
    });
  });

  it("Generate Texture saves a tileable PNG and the Studio previews it as a 2×2 repeat", { timeout: 120_000 }, async () => {
    await s.check("texture", async () => {
      await s.closeAllEditors();
      const before = s.listFiles("assets/generated");
      await s.runCommand("Easel: Generate Texture…");
      await s.answerQuickInput("Easel: Generate Image", TEXTURE_PROMPT);
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 60_000, before);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.ok(params.startsWith(TEXTURE_PROMPT), params);
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

  it("Markdown: Illustrate Selection: the paragraph is the prompt, the link goes below it", { timeout: 60_000 }, async () => {
    await s.check("illustrate", async () => {
      await s.closeAllEditors();
      await s.openFile("docs/post.md");
      await s.goToLine(3); // the cursor in the paragraph, nothing selected
      await s.shot("post-open");
      const before = s.listFiles("assets/generated");
      await s.runCommand("Easel: Illustrate Selection");
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000, before);
      assert.ok(pngTextChunks(bytes).get("parameters")?.startsWith("A lighthouse on a cliff at dawn, waves below."), "prompt from the paragraph, Markdown stripped");
      await s.saveActiveEditor();
      const link = `![A lighthouse on a cliff at dawn, waves below.](../${rel.split(path.sep).join("/")})`;
      const expected = ["# Trip notes", "", "A *lighthouse* on a cliff at dawn, waves below.", "", link, "", "More words later.", ""].join("\n");
      assert.equal(s.readFile("docs/post.md"), expected);
      await s.settleToasts();
      await s.shot("post-illustrated");
    });
  });

  it("Markdown: Generate from Alt Text: the CodeLens on ![alt]() fills in the image", { timeout: 60_000 }, async () => {
    await s.check("alt-text", async () => {
      await s.closeAllEditors();
      await s.openFile("docs/gallery.md");
      const lens = s.page.locator(".part.editor .editor-group-container.active .codelens-decoration a", { hasText: "Generate image from alt text" });
      await lens.first().waitFor({ state: "visible", timeout: 20_000 });
      await s.shot("gallery-codelens");
      const before = s.listFiles("assets/generated");
      await lens.first().click();
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000, before);
      assert.ok(pngTextChunks(bytes).get("parameters")?.startsWith("a red fox in the snow"), "the alt text is the prompt");
      await s.saveActiveEditor();
      const expected = ["# Gallery", "", `![a red fox in the snow](../${rel.split(path.sep).join("/")})`, "", "The end.", ""].join("\n");
      assert.equal(s.readFile("docs/gallery.md"), expected);
      await lens.first().waitFor({ state: "detached", timeout: 10_000 }); // no empty link left
      await s.settleToasts();
      await s.shot("gallery-filled");
    });
  });
});

describe("Easel in VS Code: the first image, with no model chosen yet", { timeout: 180_000 }, () => {
  let s: Session;
  let modelDir: string;
  before(async () => {
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    // A folder of the user's own is on this machine, but `easel.model` is not set.
    const model = modelCopy(modelDir, "tiny-sd15");
    s = await Session.start({
      name: "first-run",
      settings: { "easel.localModels": [model], "easel.defaults.width": 64, "easel.defaults.height": 64, "easel.defaults.steps": 2, "easel.provider": "cpu" },
    });
  });
  after(async () => {
    await s?.close();
    if (modelDir) fs.rmSync(modelDir, { recursive: true, force: true });
  });

  it("offers the model picker right there and then makes the image from the prompt typed", { timeout: 90_000 }, async () => {
    await s.check("first-run", async () => {
      const prompt = "a first try, a red kite";
      await s.runCommand("Easel: Generate Image…");
      await (await s.waitForQuickInput("Easel: Generate Image")).fill(prompt);
      await s.page.keyboard.press("Enter");
      // No error: the picker opens in the same quick input at once (so it never hides in between),
      // what runs here first, the user's folder among the choices.
      const picker = await s.waitForQuickInput("Easel: Choose a model for this image");
      await s.page.locator(".quick-input-widget .monaco-list-row", { hasText: "Runs on this machine first" }).first().waitFor();
      await s.shot("picker");
      await picker.fill("tiny-sd15");
      await s.page.locator(".quick-input-widget .monaco-list-row .label-name", { hasText: "tiny-sd15" }).first().waitFor();
      await s.page.keyboard.press("Enter");
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 60_000);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.ok(params.startsWith(prompt), `the image is of the prompt typed before the picker: ${params}`);
      assert.match(params, /Model: tiny-sd15/);
      assert.deepEqual(s.listFiles("assets"), [rel], "exactly one file written");
      assert.equal(await s.page.locator(".notification-toast .codicon-error").count(), 0, "no error shown");
      await s.shot("first-image");
    });
  });
});
