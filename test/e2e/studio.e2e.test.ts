// The packaged extension in a real VS Code (code-server) in Chromium: its commands are in the
// palette; "Easel: Open Studio" opens the Studio panel; the Studio's form generates an image with
// a live preview, the gallery shows it, and "Insert into Markdown" links it into the document.
// The same session (one code-server start and one model load) then sets easel.loraFolders and runs
// the Studio's LoRA picker: the folder's LoRAs are listed (a pickle shown as unusable, with why), `<lora:` in the
// prompt completes to `<lora:NAME:1>` and an unknown tag is warned about under the prompt; a LoRA
// picked with a typed weight is merged (the PNG's `Lora hashes` and `LoRAs`), and the gallery's
// Restore brings the LoRA and its weight back; a LoRA copied into the folder while the Studio is
// open appears on Refresh.
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
// The conformance suite's public LoRA: made for the tiny SD 1.5 model's UNet.
const LORA_FIXTURE = path.join(ROOT, "test", "fixtures", "conformance", "cases", "lora-public.safetensors");
const LORA_PROMPT = "a paper boat on a pond";
const POST = ["# Boats", "", "Intro paragraph.", "", "The end.", ""].join("\n");

describe("Easel in VS Code: palette and Studio, the Studio's LoRA picker", { timeout: 480_000 }, () => {
  let s: Session;
  let modelRoot: string;
  let loraDir: string;
  before(async () => {
    modelRoot = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelRoot, "tiny-sd15");
    loraDir = path.join(modelRoot, "loras");
    fs.mkdirSync(path.join(loraDir, "styles"), { recursive: true });
    fs.copyFileSync(LORA_FIXTURE, path.join(loraDir, "styles", "paper-cut.safetensors"));
    // A pickle: listed, never opened, not selectable.
    fs.writeFileSync(path.join(loraDir, "old-style.ckpt"), Buffer.from("PK\u0003\u0004 not unpickled"));
    s = await Session.start({
      name: "studio",
      settings: { "easel.model": model, "easel.provider": "cpu" },
      files: { "docs/post.md": POST },
    });
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

  it("the LoRA picker lists the LoRAs, completes <lora: in the prompt and warns about an unknown one", { timeout: 90_000 }, async () => {
    await s.check("lora-list", async () => {
      // The LoRA folder and AUTOMATIC1111's prompt syntax (for <lora:…> tags), set now: the open
      // Studio lists the folder's LoRAs once the settings change reaches it. No live previews.
      s.updateSettings({ "easel.loraFolders": [loraDir], "easel.promptSyntax": "a1111", "easel.previews": false });
      await s.runCommand("Easel: Open Studio");
      const wv = s.webview();
      const choice = wv.locator("#lora-choice");
      await choice.locator('vscode-option[value="paper-cut"]').waitFor({ state: "attached", timeout: 30_000 });
      assert.equal(await choice.locator('vscode-option[value="old-style"]').getAttribute("disabled"), "", "the pickle is listed but not selectable");
      assert.match((await choice.locator('vscode-option[value="old-style"]').getAttribute("description")) ?? "", /pickle.*never unpickles/);
      // Why, readable without opening the list.
      const unusable = wv.locator("#lora-unusable");
      await unusable.locator("summary").click();
      assert.match(await unusable.innerText(), /1 LoRA not usable with this model\s+old-style: .*pickle/);
      // Fast mode says what it would use for this SD 1.x-family model.
      assert.match(await wv.locator("#fast-info").innerText(), /Fast merges LCM-LoRA for SD 1\.5 .* 4 steps of LCM at guidance 1/);

      const prompt = wv.locator("#prompt textarea");
      await prompt.fill(""); // the earlier tests' prompt
      await prompt.click();
      await prompt.pressSequentially(`${LORA_PROMPT} <lora:pap`);
      const list = wv.locator("#lora-completions");
      await list.waitFor({ state: "visible", timeout: 10_000 });
      assert.deepEqual(await list.locator("li[role=option] span:first-child").allInnerTexts(), ["paper-cut"]);
      await s.shot("lora-completion");
      await s.page.keyboard.press("Enter");
      await list.waitFor({ state: "hidden", timeout: 5_000 });
      assert.equal(await prompt.inputValue(), `${LORA_PROMPT} <lora:paper-cut:1>`);
      assert.equal(await wv.locator("#prompt-loras").isVisible(), false, "a known LoRA is not warned about");

      await prompt.fill(`${LORA_PROMPT} <lora:no-such-lora:0.5>`);
      const warning = wv.locator("#prompt-loras");
      await warning.waitFor({ state: "visible", timeout: 10_000 });
      assert.match(await warning.innerText(), /no LoRA named no-such-lora in .*loras.* the generation would fail/);
      await s.shot("lora-unknown-tag");
      await prompt.fill(LORA_PROMPT);
      await warning.waitFor({ state: "hidden", timeout: 10_000 });
    });
  });

  it("a picked LoRA with a typed weight is merged and recorded; Restore brings it back", { timeout: 150_000 }, async () => {
    await s.check("lora-generate", async () => {
      const wv = s.webview();
      await s.chooseOption(wv.locator("#lora-choice"), "paper-cut ·");
      await wv.locator("#add-lora").click();
      const row = wv.locator('#lora-list li[data-lora="paper-cut"]');
      await row.waitFor({ state: "visible", timeout: 10_000 });
      await row.locator("vscode-textfield input").fill("0.5");
      assert.equal(await row.locator('input[type="range"]').inputValue(), "0.5", "the slider follows the typed weight");
      await wv.locator("#steps input").fill("2");
      await s.chooseOption(wv.locator("#size"), "Custom…");
      await wv.locator("#width input").fill("64");
      await wv.locator("#height input").fill("64");
      await s.chooseOption(wv.locator("#seed-mode"), "Fixed");
      await wv.locator("#seed input").fill("77");
      await s.shot("lora-picked");

      const before = s.listFiles("assets/generated");
      await wv.locator("#generate").click();
      const { bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 90_000, before);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.match(params, /Lora hashes: "paper-cut: [0-9a-f]{12}"/, params);
      assert.match(params, /LoRAs: "paper-cut: 0\.5"/, params);
      assert.ok(params.startsWith(`${LORA_PROMPT}\n`), "the picker's LoRA is not written into the prompt");

      // Removed from the picker, then restored from the image.
      await row.locator("vscode-button", { hasText: "Remove" }).click();
      await row.waitFor({ state: "detached", timeout: 5_000 });
      const item = wv.locator("#gallery li.gallery-item").first();
      await item.waitFor({ state: "visible", timeout: 20_000 });
      await item.hover();
      await item.locator('button[data-action="restore"]').click();
      await row.waitFor({ state: "visible", timeout: 15_000 });
      assert.equal(await row.locator("vscode-textfield input").inputValue(), "0.5");
      await s.shot("lora-restored");
    });
  });

  it("Refresh lists a LoRA added to the folder while the Studio is open", { timeout: 60_000 }, async () => {
    await s.check("lora-refresh", async () => {
      const wv = s.webview();
      fs.copyFileSync(LORA_FIXTURE, path.join(loraDir, "watercolor.safetensors"));
      await wv.locator("#refresh-loras").click();
      await wv.locator('#lora-choice vscode-option[value="watercolor"]').waitFor({ state: "attached", timeout: 15_000 });
      assert.deepEqual(await wv.locator("#lora-choice vscode-option").evaluateAll((els) => els.map((e) => e.getAttribute("value"))), ["", "old-style", "paper-cut", "watercolor"]);
    });
  });
});
