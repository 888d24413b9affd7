// The Studio's LoRA picker in a real VS Code: the LoRAs of easel.loraFolders are listed (a pickle
// shown as unusable, with why), `<lora:` in the prompt completes to `<lora:NAME:1>` and an unknown
// tag is warned about under the prompt; a LoRA picked with a typed weight is merged (the PNG's
// `Lora hashes` and `LoRAs`), and the gallery's Restore brings the LoRA and its weight back; a LoRA
// copied into the folder while the Studio is open appears on Refresh.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "./env";
import { isCompletePng, modelCopy, pngTextChunks, Session } from "./harness";

// The conformance suite's public LoRA: made for the tiny SD 1.5 model's UNet.
const LORA_FIXTURE = path.join(ROOT, "test", "fixtures", "conformance", "cases", "lora-public.safetensors");
const PROMPT = "a paper boat on a pond";

describe("Easel in VS Code: the Studio's LoRA picker", { timeout: 300_000 }, () => {
  let s: Session;
  let root: string;
  let loraDir: string;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-lora-"));
    const model = modelCopy(root, "tiny-sd15");
    loraDir = path.join(root, "loras");
    fs.mkdirSync(path.join(loraDir, "styles"), { recursive: true });
    fs.copyFileSync(LORA_FIXTURE, path.join(loraDir, "styles", "paper-cut.safetensors"));
    // A pickle: listed, never opened, not selectable.
    fs.writeFileSync(path.join(loraDir, "old-style.ckpt"), Buffer.from("PK\u0003\u0004 not unpickled"));
    s = await Session.start({
      name: "studio-lora",
      settings: { "easel.model": model, "easel.provider": "cpu", "easel.loraFolders": [loraDir], "easel.promptSyntax": "a1111", "easel.previews": false },
    });
  });
  after(async () => {
    await s?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("lists the LoRAs, completes <lora: in the prompt and warns about an unknown one", { timeout: 90_000 }, async () => {
    await s.check("lora-list", async () => {
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
      await prompt.click();
      await prompt.pressSequentially(`${PROMPT} <lora:pap`);
      const list = wv.locator("#lora-completions");
      await list.waitFor({ state: "visible", timeout: 10_000 });
      assert.deepEqual(await list.locator("li[role=option] span:first-child").allInnerTexts(), ["paper-cut"]);
      await s.shot("lora-completion");
      await s.page.keyboard.press("Enter");
      await list.waitFor({ state: "hidden", timeout: 5_000 });
      assert.equal(await prompt.inputValue(), `${PROMPT} <lora:paper-cut:1>`);
      assert.equal(await wv.locator("#prompt-loras").isVisible(), false, "a known LoRA is not warned about");

      await prompt.fill(`${PROMPT} <lora:no-such-lora:0.5>`);
      const warning = wv.locator("#prompt-loras");
      await warning.waitFor({ state: "visible", timeout: 10_000 });
      assert.match(await warning.innerText(), /no LoRA named no-such-lora in .*loras.* the generation would fail/);
      await s.shot("lora-unknown-tag");
      await prompt.fill(PROMPT);
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
      assert.ok(params.startsWith(`${PROMPT}\n`), "the picker's LoRA is not written into the prompt");

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
