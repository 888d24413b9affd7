// The Studio's SDXL, inpainting and outpainting in a real VS Code: an SDXL-layout tiny model is
// offered SDXL's sizes and generates 1344×768 from the form; a weighted prompt over 75 tokens shows
// its chunks; "Easel: Inpaint Image…" on an open image shows the mask editor, a mask painted with
// the mouse and the keyboard inpaints it, and the PNG keeps the starting image and the mask so the
// gallery's Restore makes the same image again; "Easel: Extend Image…" from the explorer's context
// menu refuses sides off the model's granularity with a clear line, then extends the image.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { writeTinyTaesd } from "../helpers/tinyTaesd";
import { ROOT } from "./env";
import { isCompletePng, pngTextChunks, poll, Session, sleep } from "./harness";

const PHOTO = "photos/photo.png";
const SIDE = 128;

/** A copy of a tiny conformance model (nothing the extension does can touch the fixtures). */
function fixtureCopy(root: string, name: string): string {
  const dir = path.join(root, name);
  fs.cpSync(path.join(ROOT, "test", "fixtures", "conformance", "models", name), dir, { recursive: true });
  return dir;
}

/** The data of every chunk of a PNG of type `type`. */
function chunks(png: Buffer, type: string): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 8; pos + 8 <= png.length; ) {
    const length = png.readUInt32BE(pos);
    if (png.toString("latin1", pos + 4, pos + 8) === type) out.push(png.subarray(pos + 8, pos + 8 + length));
    pos += 12 + length;
  }
  return out;
}

const pngSize = (bytes: Buffer) => ({ width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) });

describe("Easel in VS Code: the Studio's SDXL sizes, token chunks, inpainting and outpainting", { timeout: 2_400_000 }, () => {
  let s: Session;
  let modelRoot: string;
  let inpaintModel: string;
  /** The inpainted image (workspace-relative), for the restore test. */
  let inpainted = "";

  /** The photo's row in the explorer (its folder expanded first). */
  function photoRow() {
    return s.page.locator(".explorer-folders-view .monaco-list-row", { has: s.page.locator(".label-name", { hasText: /^photo\.png$/ }) }).first();
  }
  /**
   * The next image the Studio saves into assets/generated; a generation that fails fails the test
   * at once with the Studio's error line, instead of waiting out the timeout.
   */
  async function nextImage(before: readonly string[], timeoutMs: number): Promise<{ rel: string; bytes: Buffer }> {
    const error = s.webview().locator("#error-message");
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const rel of s.listFiles("assets/generated")) {
        if (before.includes(rel) || !rel.endsWith(".png")) continue;
        const bytes = fs.readFileSync(s.path(rel));
        if (isCompletePng(bytes)) return { rel, bytes };
      }
      if (await error.isVisible().catch(() => false)) throw new Error(`the generation failed: ${await error.innerText()}`);
      if (Date.now() > end) throw new Error(`no new image in assets/generated after ${timeoutMs} ms`);
      await sleep(500);
    }
  }

  async function revealPhoto(): Promise<void> {
    if (await photoRow().isVisible()) return;
    const folder = s.page.locator(".explorer-folders-view .monaco-list-row", { has: s.page.locator(".label-name", { hasText: /^photos$/ }) }).first();
    await folder.waitFor({ state: "visible", timeout: 15_000 });
    await folder.click();
    await photoRow().waitFor({ state: "visible", timeout: 15_000 });
  }

  before(async () => {
    modelRoot = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const xl = fixtureCopy(modelRoot, "tiny-sdxl");
    // A TAESD decoder in the folder: the tiny VAE's attention at 1344×768 costs minutes on a CPU, TAESD none.
    await writeTinyTaesd(path.join(xl, "taesd_decoder"), { diffusers: true });
    inpaintModel = fixtureCopy(modelRoot, "tiny-sd15-inpaint");
    s = await Session.start({
      name: "studio-edit",
      // No live previews: each would be a full-size TAESD decode of the SDXL latent.
      settings: { "easel.model": xl, "easel.localModels": [inpaintModel], "easel.provider": "cpu", "easel.previews": false },
    });
    // A starting image with some structure: a horizontal gradient with a dark square.
    const rgb = Buffer.alloc(SIDE * SIDE * 3);
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const o = (y * SIDE + x) * 3;
        const dark = x > 40 && x < 88 && y > 40 && y < 88;
        rgb[o] = dark ? 20 : x * 2;
        rgb[o + 1] = dark ? 20 : 120;
        rgb[o + 2] = dark ? 60 : 255 - x * 2;
      }
    }
    s.writeFile(PHOTO, await sharp(rgb, { raw: { width: SIDE, height: SIDE, channels: 3 } }).png().toBuffer());
  });
  after(async () => {
    await s?.close();
    if (modelRoot) fs.rmSync(modelRoot, { recursive: true, force: true });
  });

  it("an SDXL-layout model is offered SDXL's sizes and generates 1344×768 from the Studio", { timeout: 1_260_000 }, async () => {
    await s.check("sdxl", async () => {
      await s.runCommand("Easel: Open Studio");
      await s.tab("Easel Studio").waitFor({ state: "visible", timeout: 60_000 });
      const wv = s.webview();
      // The first webview of a new workbench can take a while on a loaded machine.
      await wv.locator("#prompt").waitFor({ state: "visible", timeout: 90_000 });
      // The size picker lists SDXL's 1024² and its aspect buckets, not the SD aspects.
      await poll("the SDXL sizes in the size picker", async () => ((await wv.locator("#size vscode-option", { hasText: "SDXL wide 7:4 · 1344×768" }).count()) === 1 ? true : undefined), 20_000);
      const labels = await wv.locator("#size vscode-option").allInnerTexts();
      for (const size of ["1024×1024", "1152×896", "896×1152", "1216×832", "832×1216", "1344×768", "768×1344"]) {
        assert.ok(labels.some((l) => l.includes(size)), `${size} is offered: ${labels.join(" | ")}`);
      }
      assert.ok(!labels.some((l) => l.startsWith("Wide 16:9")), `no SD aspect preset: ${labels.join(" | ")}`);
      assert.ok(labels[0].includes("1024×1024"), `the model default is SDXL's 1024²: ${labels[0]}`);

      await wv.locator("#prompt textarea").fill("a lighthouse on a cliff at dusk");
      await s.chooseOption(wv.locator("#size"), "SDXL wide 7:4 · 1344×768");
      await wv.locator("#steps input").fill("1");
      // Guidance 0: no CFG, one UNet row a step (1344×768 is a big latent for a CPU, even tiny).
      await wv.locator("#guidance input").fill("0");
      await s.chooseOption(wv.locator("#decoder"), /Draft: TAESD/);
      await s.chooseOption(wv.locator("#seed-mode"), "Fixed");
      await wv.locator("#seed input").fill("7");
      await s.shot("sdxl-form");
      await wv.locator("#generate").click();
      const { bytes } = await nextImage([], 1_200_000);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.match(params, /Size: 1344x768\b/, params);
      assert.match(params, /Model: tiny-sdxl\b/, params);
      assert.deepEqual(pngSize(bytes), { width: 1344, height: 768 });
      await wv.locator("#gallery li.gallery-item").first().waitFor({ state: "visible", timeout: 20_000 });
      await s.shot("sdxl-generated");
    });
  });

  it("a weighted prompt over 75 tokens shows its chunks instead of a truncation warning", { timeout: 60_000 }, async () => {
    await s.check("chunks", async () => {
      const wv = s.webview();
      await wv.locator("#prompt textarea").fill("(a red lighthouse:1.3) on a rocky [stormy] coast");
      await wv.locator("#prompt-tokens", { hasText: /^\d+\/75 · 1 chunk$/ }).waitFor({ state: "visible", timeout: 15_000 });
      const long = Array.from({ length: 12 }, (_, i) => `((lighthouse ${i})), (rocky coast:1.2), [fog]`).join(", ");
      await wv.locator("#prompt textarea").fill(long);
      const counter = wv.locator("#prompt-tokens", { hasText: /^\d+\/75 · [2-9] chunks$/ });
      await counter.waitFor({ state: "visible", timeout: 15_000 });
      const text = await counter.innerText();
      const [inChunk, chunkCount] = /^(\d+)\/75 · (\d+) chunks$/.exec(text)?.slice(1).map(Number) ?? [];
      assert.ok(inChunk >= 1 && inChunk <= 75 && chunkCount >= 2, `the last chunk's tokens of 75 and the chunks: ${text}`);
      assert.equal(await wv.locator("#prompt-cut").isVisible(), false, "no truncation warning in AUTOMATIC1111's syntax");
      await s.shot("chunks");
    });
  });

  it('"Easel: Inpaint Image…" shows the mask editor; a mask painted with the mouse and keys inpaints the image', { timeout: 480_000 }, async () => {
    await s.check("inpaint", async () => {
      const wv = s.webview();
      // The inpainting model, picked in the Studio.
      await s.chooseOption(wv.locator("#model"), "tiny-sd15-inpaint");
      await poll("the inpainting model to be chosen", async () => ((await wv.locator("#model").evaluate((el: { value: string }) => el.value)) === inpaintModel ? true : undefined), 20_000);
      // The photo in VS Code's image preview (clicked in the explorer), then the command on it.
      await revealPhoto();
      await photoRow().click();
      await s.page.locator(".part.editor .tab.active", { hasText: "photo.png" }).waitFor({ state: "visible", timeout: 15_000 });
      await s.runCommandShowing("Easel: Inpaint Image…", wv.locator("#mask-editor"));
      const editor = wv.locator("#mask-editor");
      await editor.waitFor({ state: "visible", timeout: 20_000 });
      assert.equal(await wv.locator("#init-name").innerText(), PHOTO);
      const canvas = wv.locator("#mask-canvas");
      await poll("the canvas to take the image's size", async () => ((await canvas.evaluate((c: { width: number }) => c.width)) === SIDE ? true : undefined), 15_000);

      // The mouse: a stroke across the top left quarter.
      await canvas.scrollIntoViewIfNeeded();
      const box = await canvas.boundingBox();
      assert.ok(box, "the canvas is laid out");
      const at = (x: number, y: number) => [box.x + (x / SIDE) * box.width, box.y + (y / SIDE) * box.height] as const;
      await s.page.mouse.move(...at(20, 24));
      await s.page.mouse.down();
      await s.page.mouse.move(...at(44, 24), { steps: 8 });
      await s.page.mouse.up();
      // The keyboard: a smaller brush, moved right from the centre while Space paints.
      await canvas.focus();
      for (let i = 0; i < 6; i++) await canvas.press("[");
      const size = Number(await wv.locator("#mask-size").inputValue());
      assert.ok(size < 48, `[ made the brush smaller: ${size}`);
      await canvas.press("ArrowDown");
      await s.page.keyboard.down(" ");
      for (let i = 0; i < 5; i++) await s.page.keyboard.press("ArrowRight");
      await s.page.keyboard.up(" ");
      await s.shot("mask-painted");

      await wv.locator("#prompt textarea").fill("a glowing window");
      // The SDXL test's TAESD draft is still chosen: this model has no TAESD decoder, so the full VAE.
      await s.chooseOption(wv.locator("#decoder"), "Full VAE");
      await wv.locator("#steps input").fill("2");
      await s.chooseOption(wv.locator("#seed-mode"), "Fixed");
      await wv.locator("#seed input").fill("11");
      const before = s.listFiles("assets/generated");
      await wv.locator("#generate").click();
      const { rel, bytes } = await nextImage(before, 400_000);
      inpainted = rel;
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.match(params, /Mask blur: 0\b/, params);
      assert.match(params, /Size: 128x128\b/, `the image's own size: ${params}`);
      assert.match(params, /Denoising strength: 1\b/, `the editor starts inpainting at strength 1: ${params}`);
      // The PNG keeps the starting image and the mask (white where painted, black elsewhere).
      const [init] = chunks(bytes, "esIn");
      const [mask] = chunks(bytes, "esMk");
      assert.ok(init && mask, "the starting image and the mask are stored in the PNG");
      assert.deepEqual(await sharp(init).raw().toBuffer(), await sharp(fs.readFileSync(s.path(PHOTO))).raw().toBuffer(), "the stored starting image is the photo");
      const m = await sharp(mask).greyscale().raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([m.info.width, m.info.height], [SIDE, SIDE]);
      const grey = (x: number, y: number) => m.data[y * SIDE + x];
      assert.equal(grey(32, 24), 255, "the mouse stroke is white");
      assert.equal(grey(64, 64 + Math.round(size / 4)) > 128, true, "the keyboard dab below the centre is white");
      assert.equal(grey(2, 120), 0, "unpainted corner is black");
      assert.equal(grey(120, 2), 0, "unpainted corner is black");
      await s.shot("inpainted");
    });
  });

  it("Restore from the gallery brings back the starting image and the mask, and makes the same image again", { timeout: 480_000 }, async () => {
    await s.check("restore", async () => {
      assert.ok(inpainted, "the inpaint test made an image");
      const wv = s.webview();
      // Another mode and no mask first, so the restore has everything to bring back.
      await wv.locator("#clear-init").click();
      const item = wv.locator("#gallery li.gallery-item", { has: wv.locator(`.meta[title=${JSON.stringify(inpainted)}]`) }).first();
      await item.waitFor({ state: "visible", timeout: 20_000 });
      await item.hover();
      await item.locator('button[data-action="restore"]').click();
      await wv.locator("#mask-editor").waitFor({ state: "visible", timeout: 15_000 });
      assert.match(await wv.locator("#init-name").innerText(), /its starting image/);
      await s.shot("restored");
      const before = s.listFiles("assets/generated");
      await wv.locator("#generate").click();
      const { bytes } = await nextImage(before, 400_000);
      const original = fs.readFileSync(s.path(inpainted));
      assert.deepEqual(await sharp(bytes).raw().toBuffer(), await sharp(original).raw().toBuffer(), "the same pixels");
      assert.equal(pngTextChunks(bytes).get("parameters"), pngTextChunks(original).get("parameters"), "the same parameters");
    });
  });

  it('"Easel: Extend Image…" from the explorer: sides off the granularity are refused in one line, then the image is extended', { timeout: 480_000 }, async () => {
    await s.check("extend", async () => {
      await revealPhoto();
      const row = photoRow();
      await s.contextMenuItem(row, /^Extend Image…$/, () => s.shot("explorer-menu"));
      const wv = s.webview();
      await wv.locator("#outpaint-field").waitFor({ state: "visible", timeout: 20_000 });
      assert.equal(await wv.locator("#mask-editor").isVisible(), false);
      await wv.locator("#outpaint-left input").fill("7");
      await wv.locator("#outpaint-size", { hasText: /not a multiple of \d+ as this model needs/ }).waitFor({ state: "visible", timeout: 10_000 });
      await wv.locator("#generate").click();
      const problem = wv.locator("#form-problem");
      await problem.waitFor({ state: "visible", timeout: 10_000 });
      assert.match(await problem.innerText(), /^Left \+ right makes the width 128 \+ 7 = 135, not a multiple of \d+ as this model needs: make left \+ right add up to \d+/);
      await s.shot("extend-refused");
      await wv.locator("#outpaint-left input").fill("64");
      await wv.locator("#outpaint-size", { hasText: "128×128 → 192×128" }).waitFor({ state: "visible", timeout: 10_000 });
      const before = s.listFiles("assets/generated");
      await wv.locator("#generate").click();
      const { bytes } = await nextImage(before, 400_000);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.match(params, /Outpaint: left 64 right 0 top 0 bottom 0 overlap 8 fill edge/, params);
      assert.deepEqual(pngSize(bytes), { width: 192, height: 128 });
      assert.equal(chunks(bytes, "esIn").length, 1, "the starting image is stored");
      await s.shot("extended");
    });
  });
});
