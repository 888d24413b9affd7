// What Easel does with an image it made, once it is in the workspace: "Variations of This Image"
// (img2img from the PNG's stored settings), the hover on its Markdown link (how it was made, with
// Regenerate / Variations links), "Export as Icon Set" (square PNGs beside it), and dragging a
// Studio gallery image into a Markdown editor (Shift+drop) to link it.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { isCompletePng, pngTextChunks, poll, modelCopy, Session } from "./harness";

const PROMPT = "a small green cactus in a clay pot";
const ICON_SIZES = [16, 32, 48, 64, 128, 256];

/** Width and height from a PNG's IHDR. */
const pngSize = (bytes: Buffer) => ({ width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) });

describe("Easel in VS Code: variations, image hover, icon set", { timeout: 300_000 }, () => {
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
    await row.waitFor({ state: "visible", timeout: 15_000 });
    await row.click();
    await s.page.locator(".part.editor .tab.active", { hasText: name }).waitFor({ state: "visible", timeout: 15_000 });
    await s.webview().locator("img").waitFor({ state: "visible", timeout: 20_000 });
  }

  before(async () => {
    modelRoot = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelRoot, "tiny-sd15");
    s = await Session.start({
      name: "extras",
      settings: { "easel.model": model, "easel.defaults.width": 64, "easel.defaults.height": 64, "easel.defaults.steps": 3, "easel.provider": "cpu" },
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

  it('"Export as Icon Set" from the explorer writes <name>-icons/<name>-16…256.png', { timeout: 45_000 }, async () => {
    await s.check("icon-set-explorer", async () => {
      assert.ok(original, "the first test made an image");
      const name = path.basename(original, ".png");
      const dir = `${path.dirname(original)}/${name}-icons`;
      assert.deepEqual(s.listFiles(dir), [], "no icons before");
      await showImage(original);
      const row = explorerRow(`${name}.png`);
      await row.click({ button: "right" });
      const item = s.page.locator(".context-view .monaco-menu .action-item:not(.disabled) .action-label", { hasText: /^Export as Icon Set$/ }).first();
      await item.waitFor({ state: "visible", timeout: 10_000 });
      await s.shot("explorer-context-menu");
      await item.click();
      for (const size of ICON_SIZES) {
        const bytes = await s.waitForFile(`${dir}/${name}-${size}.png`, isCompletePng, 20_000);
        assert.deepEqual(pngSize(bytes), { width: size, height: size }, `${name}-${size}.png is ${size}×${size}`);
      }
      assert.deepEqual(s.listFiles(dir), ICON_SIZES.map((n) => `${dir}/${name}-${n}.png`).sort(), "exactly the six icons");
      // The explorer shows the 256 px one.
      await explorerRow(`${name}-256.png`).waitFor({ state: "visible", timeout: 15_000 });
      await s.shot("icon-set");
    });
  });

  it('"Export as Icon Set" from the palette with the PNG open in the editor', { timeout: 45_000 }, async () => {
    await s.check("icon-set-palette", async () => {
      assert.ok(original, "the first test made an image");
      const name = path.basename(original, ".png");
      const dir = `${path.dirname(original)}/${name}-icons`;
      fs.rmSync(s.path(dir), { recursive: true, force: true });
      await poll("the explorer to drop the icons folder", async () => ((await s.page.locator(".explorer-folders-view .monaco-list-row .label-name", { hasText: `${name}-icons` }).count()) === 0 ? true : undefined), 15_000);
      await s.clearNotifications();
      await showImage(original);
      await s.runCommand("Easel: Export as Icon Set");
      const bad = s.notification(/choose an image|cannot make icons/);
      const done = await poll("the icons or an error", async () => {
        if (await bad.count()) return `error: ${await bad.first().innerText()}`;
        return s.listFiles(dir).length === ICON_SIZES.length ? "written" : undefined;
      }, 20_000);
      await s.settleToasts();
      await s.shot("icon-set-palette");
      assert.equal(done, "written", "the palette command exports the image shown in the active editor");
      for (const size of ICON_SIZES) {
        const bytes = await s.waitForFile(`${dir}/${name}-${size}.png`, isCompletePng, 10_000);
        assert.deepEqual(pngSize(bytes), { width: size, height: size });
      }
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
