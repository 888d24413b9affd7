// What Easel does with an image it made, once it is in the workspace: "Variations of This Image"
// (img2img from the PNG's stored settings), the hover on its Markdown link (how it was made, with
// Regenerate / Variations links), "Export Asset Pack…" (the web pack with its tags put into an HTML
// page, the iOS icon set), "Remove Background" (a tiny matte graph in the store), "Upscale Image…"
// (in the engine process, Lanczos: no upscaler downloaded), and dragging a
// Studio gallery image into a Markdown editor (Shift+drop) to link it.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ModelStore } from "../../extension/engine/hub/store";
import { backgroundRemoverEntry } from "../../extension/engine/matte/remover";
import { placeStoreRemover } from "../helpers/tinyMatte";
import { isCompletePng, pngTextChunks, poll, modelCopy, Session } from "./harness";

const PROMPT = "a small green cactus in a clay pot";

/** Width and height from a PNG's IHDR. */
const pngSize = (bytes: Buffer) => ({ width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) });

describe("Easel in VS Code: variations, image hover, asset packs, background removal", { timeout: 300_000 }, () => {
  let s: Session;
  let modelRoot: string;
  /** The first image, made with "Generate Image…" (workspace-relative path). */
  let original = "";

  /** The explorer's row for a file, by its exact name. */
  const explorerRow = (name: string) =>
    s.page.locator(".explorer-folders-view .monaco-list-row", { has: s.page.locator(".label-name", { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) }) }).first();

  /** Makes `rel` (a PNG) the active editor by clicking it in the explorer, as a user would; waits for the image preview. */
  async function showImage(rel: string): Promise<void> {
    const name = path.basename(rel);
    const row = explorerRow(name);
    const tab = s.page.locator(".part.editor .tab.active", { hasText: name });
    // Rows move while the explorer adds files another test wrote: a click can land on the row that moved under the pointer, so try again.
    for (let attempt = 1; ; attempt++) {
      await row.waitFor({ state: "visible", timeout: 15_000 });
      await row.click();
      try {
        await tab.waitFor({ state: "visible", timeout: 5_000 });
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    await s.webview().locator("img").waitFor({ state: "visible", timeout: 20_000 });
  }

  before(async () => {
    modelRoot = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelRoot, "tiny-sd15");
    // The catalog's background remover, as a pull would have left it: a tiny graph of its ports.
    const storeRoot = path.join(modelRoot, "store");
    await placeStoreRemover(ModelStore.open(storeRoot), backgroundRemoverEntry(), "1".repeat(40), { weights: [6, -1, -1], bias: 0, side: 16 });
    s = await Session.start({
      name: "extras",
      settings: { "easel.model": model, "easel.cacheFolder": storeRoot, "easel.defaults.width": 64, "easel.defaults.height": 64, "easel.defaults.steps": 3, "easel.provider": "cpu" },
    });
  });
  after(async () => {
    await s?.close();
    if (modelRoot) fs.rmSync(modelRoot, { recursive: true, force: true });
  });

  it("Generate Image… makes the PNG the other tests start from", { timeout: 60_000 }, async () => {
    await s.check("generate", async () => {
      await s.runCommand("Easel: Generate Image…");
      const input = await s.waitForQuickInput("Easel: Generate Image");
      await input.fill(PROMPT);
      await s.page.locator(".quick-input-widget .monaco-list-row .label-name", { hasText: PROMPT }).first().waitFor();
      await s.page.keyboard.press("Enter");
      await s.quickInput.waitFor({ state: "hidden", timeout: 10_000 });
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000);
      assert.ok(pngTextChunks(bytes).get("parameters")?.startsWith(PROMPT), "parameters start with the prompt");
      original = rel.split(path.sep).join("/");
      await s.tab(path.basename(rel)).waitFor({ state: "visible", timeout: 20_000 });
      await s.webview().locator("img").waitFor({ state: "visible", timeout: 20_000 });
      await s.clearNotifications();
      await s.shot("generated");
    });
  });

  it('"Variations of This Image" on the open PNG writes an img2img variation (strength 0.6, same prompt)', { timeout: 75_000 }, async () => {
    await s.check("variations", async () => {
      assert.ok(original, "the first test made an image");
      await showImage(original);
      const before = s.listFiles("assets/generated");
      await s.runCommand("Easel: Variations of This Image");
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000, before);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.ok(params.startsWith(PROMPT), `the variation keeps the prompt: ${params}`);
      assert.match(params, /Denoising strength: 0\.6\b/, `img2img at strength 0.6: ${params}`);
      assert.match(params, /Steps: 3\b/, `the stored steps: ${params}`);
      assert.match(params, /Size: 64x64\b/, `the stored size: ${params}`);
      const originalParams = pngTextChunks(fs.readFileSync(s.path(original))).get("parameters") ?? "";
      assert.doesNotMatch(originalParams, /Denoising strength/, "the original is txt2img");
      const seedOf = (p: string) => /Seed: (\d+)/.exec(p)?.[1];
      assert.ok(seedOf(params), `the variation has a seed: ${params}`);
      assert.notEqual(seedOf(params), seedOf(originalParams), "a new seed");
      assert.deepEqual(pngSize(bytes), { width: 64, height: 64 });
      assert.equal(s.listFiles("assets/generated").length, before.length + 1, "exactly one new file");
      await s.tab(path.basename(rel)).waitFor({ state: "visible", timeout: 20_000 });
      await s.notification(/saved .*\.png/).waitFor({ state: "visible", timeout: 20_000 });
      await s.settleToasts();
      await s.shot("variation");
      await s.clearNotifications();
    });
  });

  it("hovering the image link in Markdown shows the prompt with Regenerate and Variations links", { timeout: 45_000 }, async () => {
    await s.check("hover", async () => {
      assert.ok(original, "the first test made an image");
      const link = `![x](../${original})`;
      s.writeFile("docs/h.md", `# Hover\n\n${link}\n`);
      await s.openFile("docs/h.md");
      const line = s.page.locator(".part.editor .editor-group-container.active .monaco-editor .view-line", { hasText: "![x]" }).first();
      await line.waitFor({ state: "visible", timeout: 15_000 });
      const hover = s.page.locator(".monaco-hover:visible", { hasText: "Regenerate" }).first();
      // The mouse over the link text, as a user would.
      const box = await line.boundingBox();
      assert.ok(box, "the link line is laid out");
      await s.page.mouse.move(box.x + 60, box.y + box.height / 2);
      await hover.waitFor({ state: "visible", timeout: 15_000 });
      const text = await hover.innerText();
      assert.ok(text.includes(PROMPT), `the hover shows the prompt: ${text}`);
      assert.match(text, /Regenerate/);
      assert.match(text, /Variations/);
      assert.match(text, /3 steps/, `the hover shows the steps: ${text}`);
      // The two are command links (trusted, so they run when clicked).
      for (const label of ["Regenerate", "Variations"]) {
        const a = hover.locator("a", { hasText: label }).first();
        await a.waitFor({ state: "visible", timeout: 5_000 });
        const href = (await a.getAttribute("data-href")) ?? (await a.getAttribute("href")) ?? "";
        assert.match(href, new RegExp(`^command:easel\\.${label === "Regenerate" ? "regenerate" : "variations"}\\?`), `${label} is a command link: ${href}`);
        assert.ok(decodeURIComponent(href).includes(path.basename(original)), `${label} names the image: ${href}`);
      }
      await s.shot("hover");
      await s.page.mouse.move(5, 5);
      await s.page.keyboard.press("Escape");
    });
  });

  it('"Export Asset Pack…" from the explorer: the web pack, its <link> tags inserted into the open HTML page\'s <head>', { timeout: 60_000 }, async () => {
    await s.check("asset-pack-web", async () => {
      assert.ok(original, "the first test made an image");
      const name = path.basename(original, ".png");
      const dir = `${path.dirname(original)}/${name}-web`;
      s.writeFile("site/index.html", "<!doctype html>\n<html>\n  <head>\n    <title>Site</title>\n  </head>\n  <body></body>\n</html>\n");
      await s.openFile("site/index.html");
      await showImage(original);
      await s.contextMenuItem(explorerRow(`${name}.png`), /^Export Asset Pack…$/, () => s.shot("explorer-context-menu"));
      const presets = await s.waitForQuickInput("Export Asset Pack");
      await presets.fill("favicons");
      await s.page.keyboard.press("Enter");
      const pages = await s.waitForQuickInput("Export Asset Pack: web");
      await pages.fill("Insert");
      await s.page.locator(".quick-input-widget .monaco-list-row .label-name", { hasText: "site/index.html" }).first().waitFor();
      await s.page.keyboard.press("Enter");
      const files = ["android-chrome-192x192.png", "android-chrome-512x512.png", "apple-touch-icon.png", "favicon-16x16.png", "favicon-32x32.png", "favicon.ico", "head-tags.html", "maskable-icon-512x512.png", "site.webmanifest"];
      await poll("the web pack", async () => (s.listFiles(dir).length === files.length ? true : undefined), 30_000);
      assert.deepEqual(s.listFiles(dir), files.map((f) => `${dir}/${f}`).sort());
      const touch = await s.waitForFile(`${dir}/apple-touch-icon.png`, isCompletePng);
      assert.deepEqual(pngSize(touch), { width: 180, height: 180 });
      assert.equal(touch[25], 2, "apple-touch-icon.png is RGB (colour type 2): no alpha");
      // The 64² image was upscaled, and the user is told.
      await s.notification(/upscaled/).first().waitFor({ state: "visible", timeout: 10_000 });
      // The tags went into the page's <head> in the same edit: save it and read it back.
      await s.tab("index.html").first().click();
      await s.page.keyboard.press("Control+S");
      const href = `../${dir}/`;
      const html = await poll("index.html saved with the tags", async () => {
        const text = s.readFile("site/index.html");
        return text.includes("site.webmanifest") ? text : undefined;
      }, 15_000);
      assert.ok(html.includes(`    <link rel="manifest" href="${href}site.webmanifest">\n  </head>`), `tags before </head>, relative to the page:\n${html}`);
      assert.ok(html.includes(`<link rel="apple-touch-icon" sizes="180x180" href="${href}apple-touch-icon.png">`));
      await s.settleToasts();
      await s.shot("asset-pack-web");
    });
  });

  it('"Remove Background" from the explorer writes <name>-nobg.png with an alpha channel and opens it', { timeout: 60_000 }, async () => {
    await s.check("remove-background", async () => {
      assert.ok(original, "the first test made an image");
      await s.clearNotifications();
      const name = path.basename(original, ".png");
      const rel = `${path.dirname(original)}/${name}-nobg.png`;
      await s.contextMenuItem(explorerRow(`${name}.png`), /^Remove Background$/);
      const bytes = await s.waitForFile(rel, isCompletePng, 40_000);
      assert.equal(bytes[25], 6, "colour type 6: RGBA");
      assert.deepEqual(pngSize(bytes), { width: 64, height: 64 });
      assert.ok(pngTextChunks(bytes).get("parameters")?.startsWith(PROMPT), "the generation parameters are kept");
      await s.page.locator(".part.editor .tab.active", { hasText: `${name}-nobg.png` }).waitFor({ state: "visible", timeout: 20_000 });
      await s.shot("remove-background");
    });
  });

  it('"Upscale Image…" from the explorer runs in the engine process: <name>-x2.png (Lanczos, no model downloaded), opened', { timeout: 60_000 }, async () => {
    await s.check("upscale-image", async () => {
      assert.ok(original, "the first test made an image");
      await s.clearNotifications();
      const name = path.basename(original, ".png");
      const rel = `${path.dirname(original)}/${name}-x2.png`;
      await s.contextMenuItem(explorerRow(`${name}.png`), /^Upscale Image…$/);
      const scales = await s.waitForQuickInput(`Easel: Upscale ${name}.png`);
      await scales.fill("2×");
      await s.page.keyboard.press("Enter");
      const bytes = await s.waitForFile(rel, isCompletePng, 40_000);
      assert.deepEqual(pngSize(bytes), { width: 128, height: 128 });
      assert.ok(pngTextChunks(bytes).get("parameters")?.startsWith(PROMPT), "the generation parameters are kept");
      await s.page.locator(".part.editor .tab.active", { hasText: `${name}-x2.png` }).waitFor({ state: "visible", timeout: 20_000 });
      await s.notification(/128×128, Lanczos/).first().waitFor({ state: "visible", timeout: 10_000 });
      await s.shot("upscale-image");
    });
  });

  it('"Export Asset Pack…" from the palette with the PNG open: the iOS app icon set', { timeout: 45_000 }, async () => {
    await s.check("asset-pack-ios", async () => {
      assert.ok(original, "the first test made an image");
      const name = path.basename(original, ".png");
      const dir = `${path.dirname(original)}/${name}-ios/AppIcon.appiconset`;
      await s.clearNotifications();
      await showImage(original);
      await s.runCommand("Easel: Export Asset Pack…");
      const presets = await s.waitForQuickInput("Export Asset Pack");
      await presets.fill("iOS");
      await s.page.keyboard.press("Enter");
      const icon = await s.waitForFile(`${dir}/AppIcon-1024.png`, isCompletePng, 30_000);
      assert.deepEqual(pngSize(icon), { width: 1024, height: 1024 });
      assert.equal(icon[25], 2, "the App Store icon has no alpha");
      const contents = JSON.parse(s.readFile(`${dir}/Contents.json`)) as { images: { size: string; filename: string }[] };
      assert.deepEqual(contents.images.map((i) => [i.size, i.filename]), [["1024x1024", "AppIcon-1024.png"]]);
    });
  });

  it("dragging a Studio gallery image into a Markdown editor (Shift held) inserts its link as its own paragraph", { timeout: 60_000 }, async () => {
    await s.check("gallery-drag", async () => {
      assert.ok(original, "the first test made an image");
      await s.clearNotifications();
      s.writeFile("docs/d.md", "# Drop\n\nFirst.\n\nLast.\n");
      await s.openFile("docs/d.md");
      await s.runCommand("Easel: Open Studio");
      await s.tab("Easel Studio").waitFor({ state: "visible", timeout: 20_000 });
      const item = s.webview().locator("#gallery li.gallery-item", { has: s.webview().locator(`.meta[title=${JSON.stringify(original)}]`) }).first();
      await item.waitFor({ state: "visible", timeout: 20_000 });
      await item.scrollIntoViewIfNeeded();
      // Records what the gallery puts on the drag (for the failure message): a listener after the Studio's own.
      interface DragSource {
        addEventListener(type: "dragstart", f: (e: { dataTransfer: { getData(format: string): string } | null }) => void): void;
        setAttribute(name: string, value: string): void;
      }
      await item.evaluate((el: DragSource) => el.addEventListener("dragstart", (e) => el.setAttribute("data-e2e-dragged", e.dataTransfer?.getData("text/uri-list") ?? "")));
      const from = await item.boundingBox();
      const line = s.page.locator(".part.editor .monaco-editor .view-line", { hasText: "Last." }).first();
      await line.waitFor({ state: "visible", timeout: 10_000 });
      const to = await line.boundingBox();
      assert.ok(from && to, "the gallery item and the target line are laid out");
      // No tooltip left from earlier tests (the mouse rests on the explorer) over the drop target.
      await s.page.mouse.move(to.x + 200, to.y + 300);
      await poll("tooltips to close", async () => ((await s.page.locator(".workbench-hover-container:visible, .monaco-hover:visible").count()) === 0 ? true : undefined), 10_000);
      await s.shot("drag-start");
      await s.page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
      await s.page.mouse.down();
      await s.page.mouse.move(from.x + from.width / 2 - 20, from.y + from.height / 2, { steps: 5 });
      await s.page.keyboard.down("Shift");
      await s.page.mouse.move(to.x + 2, to.y + to.height / 2, { steps: 20 });
      await s.shot("drag-over-editor");
      await s.page.mouse.up();
      await s.page.keyboard.up("Shift");
      await s.page.locator(".part.editor .tab.dirty", { hasText: "d.md" }).waitFor({ state: "visible", timeout: 10_000 });
      await s.shot("dropped");
      await s.tab("d.md").click();
      await s.saveActiveEditor();
      const text = s.readFile("docs/d.md");
      const link = `![${PROMPT}](../${original})`;
      const dragged = await item.getAttribute("data-e2e-dragged");
      assert.equal(text.split(link).length, 2, `the link ${link} is in the document once (the gallery dragged text/uri-list ${JSON.stringify(dragged)}):\n${text}`);
      // Dropped at the start of "Last.": the link stands as its own paragraph, never run into the word.
      assert.equal(text, `# Drop\n\nFirst.\n\n${link}\n\nLast.\n`, `only the link was added, as its own paragraph:\n${text}`);
    });
  });
});
