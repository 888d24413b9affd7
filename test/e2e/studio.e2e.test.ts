// The packaged extension in a real VS Code (code-server) in Chromium: its commands are in the
// palette; "Easel: Open Studio" opens the Studio panel; the Studio's form generates an image with
// a live preview, the gallery shows it, and "Insert into Markdown" links it into the document.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "./env";
import { isCompletePng, pngTextChunks, poll, modelCopy, Session } from "./harness";

interface Manifest {
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    menus?: { commandPalette?: { command: string; when?: string }[] };
  };
}
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as Manifest;
const paletteTitle = (c: { title: string; category?: string }) => (c.category ? `${c.category}: ${c.title}` : c.title);
const whenOf = (id: string) => manifest.contributes.menus?.commandPalette?.find((m) => m.command === id)?.when;

const PROMPT = "a tiny red boat on a calm lake";
const POST = ["# Boats", "", "Intro paragraph.", "", "The end.", ""].join("\n");

describe("Easel in VS Code: palette and Studio", { timeout: 240_000 }, () => {
  let s: Session;
  let modelRoot: string;
  before(async () => {
    modelRoot = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelRoot, "tiny-sd15");
    s = await Session.start({ name: "studio", settings: { "easel.model": model, "easel.provider": "cpu" }, files: { "docs/post.md": POST } });
  });
  after(async () => {
    await s?.close();
    if (modelRoot) fs.rmSync(modelRoot, { recursive: true, force: true });
  });

  it("lists the Easel commands in the command palette", { timeout: 45_000 }, async () => {
    await s.check("palette", async () => {
      await s.shot("workbench");
      const listed = await s.paletteCommands("Easel:", "Easel: Open Studio");
      // Every command without a palette `when` clause is there; the context-bound ones are not
      // (no editor is open and nothing is generating).
      const always = manifest.contributes.commands.filter((c) => !whenOf(c.command)).map(paletteTitle);
      assert.ok(always.length >= 2, "the manifest contributes palette commands");
      for (const title of always) assert.ok(listed.includes(title), `"${title}" is in the palette (listed: ${listed.join(" | ")})`);
      for (const id of ["easel.cancelGeneration", "easel.illustrateSelection", "easel.variations"]) {
        const c = manifest.contributes.commands.find((x) => x.command === id);
        if (c && whenOf(id)) assert.ok(!listed.includes(paletteTitle(c)), `"${paletteTitle(c)}" is hidden here (when: ${whenOf(id)})`);
      }
      // The screenshot shows the palette with the Easel commands.
      await s.page.keyboard.press("F1");
      await s.quickInput.fill(">Easel:");
      await s.page.locator(".quick-input-widget .monaco-list-row").first().waitFor();
      await s.shot("palette");
      await s.page.keyboard.press("Escape");
    });
  });

  it('"Easel: Open Studio" opens the Easel Studio panel', { timeout: 45_000 }, async () => {
    await s.check("open-studio", async () => {
      // A Markdown editor first: the Studio inserts there later.
      await s.openFile("docs/post.md");
      await s.goToLine(4); // the blank line between the paragraphs
      await s.runCommand("Easel: Open Studio");
      await s.tab("Easel Studio").waitFor({ state: "visible", timeout: 20_000 });
      assert.equal(await s.tab("Easel Studio").count(), 1, "one Easel Studio tab");
      const wv = s.webview();
      await wv.locator("#prompt").waitFor({ state: "visible", timeout: 20_000 });
      await wv.locator("#generate").waitFor({ state: "visible" });
      // The model from the settings is chosen.
      const model = wv.locator("#model");
      await poll("the model picker to show easel.model", async () => ((await model.evaluate((el: { value: string }) => el.value)).endsWith("tiny-sd15") ? true : undefined), 20_000);
      await s.shot("studio-open");
    });
  });

  it("the form generates: preview, PNG in assets/generated/, gallery", { timeout: 60_000 }, async () => {
    await s.check("studio-generate", async () => {
      const wv = s.webview();
      await wv.locator("#prompt textarea").fill(PROMPT);
      await wv.locator("#prompt-tokens", { hasText: /\d+\/75/ }).waitFor({ state: "visible", timeout: 10_000 });
      await wv.locator("#steps input").fill("3");
      await s.chooseOption(wv.locator("#size"), "Custom…");
      await wv.locator("#custom-size").waitFor({ state: "visible" });
      await wv.locator("#width input").fill("64");
      await wv.locator("#height input").fill("64");
      await s.chooseOption(wv.locator("#seed-mode"), "Fixed");
      await wv.locator("#seed input").fill("1234");
      await s.shot("studio-form");

      const before = s.listFiles("assets/generated");
      await wv.locator("#generate").click();
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000, before);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.ok(params.startsWith(PROMPT), `parameters start with the prompt: ${params}`);
      assert.match(params, /Steps: 3/);
      assert.match(params, /Seed: 1234\b/);
      assert.match(params, /Size: 64x64/);

      // The preview shows the image; the gallery lists it, newest first.
      const preview = wv.locator("#preview-image");
      await preview.waitFor({ state: "visible", timeout: 20_000 });
      assert.ok(((await preview.getAttribute("src")) ?? "").length > 0, "the preview has an image");
      const item = wv.locator("#gallery li.gallery-item").first();
      await item.waitFor({ state: "visible", timeout: 20_000 });
      assert.match((await item.getAttribute("aria-label")) ?? "", new RegExp(PROMPT));
      assert.equal(await wv.locator("#gallery li.gallery-item").count(), s.listFiles("assets/generated").length, "one gallery item per image");
      assert.equal(await wv.locator("#error").isVisible(), false, "no error shown");
      await preview.scrollIntoViewIfNeeded();
      await s.shot("studio-generated");
      assert.ok(path.basename(rel).includes("1234"), `the file name has the seed: ${rel}`);
    });
  });

  it("Insert into Markdown puts the link at the cursor of the last Markdown editor", { timeout: 45_000 }, async () => {
    await s.check("studio-insert", async () => {
      const wv = s.webview();
      const [rel] = s.listFiles("assets/generated");
      assert.ok(rel, "an image to insert");
      const item = wv.locator("#gallery li.gallery-item").first();
      await item.hover();
      await item.locator('button[data-action="insert"]').click();
      await s.tab("post.md").waitFor({ state: "visible" });
      await s.page.locator(".part.editor .tab.dirty", { hasText: "post.md" }).waitFor({ state: "visible", timeout: 15_000 });
      await s.shot("studio-inserted");
      // Save the document, then read it back.
      await s.tab("post.md").click();
      await s.saveActiveEditor();
      const text = s.readFile("docs/post.md");
      const link = `![${PROMPT}](../${rel.split(path.sep).join("/")})`;
      assert.equal(text.split(link).length, 2, `the link ${link} is in the document once:\n${text}`);
      assert.ok(text.indexOf(link) > text.indexOf("Intro paragraph.") && text.indexOf(link) < text.indexOf("The end."), `at the cursor, between the paragraphs:\n${text}`);
      assert.equal(text.replace(link, "").replace(/\n+/g, "\n"), POST.replace(/\n+/g, "\n"), "the rest of the document is unchanged");
      await s.shot("studio-inserted-saved");
    });
  });
});
