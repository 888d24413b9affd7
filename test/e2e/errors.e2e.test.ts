// When generation does not end in an image: a cancelled generation leaves no file behind, and a
// broken model folder is reported as one line with the action that fixes it. One session: the
// broken folder is set as easel.model once the cancel test is done (neither is about a first run).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { modelCopy, poll, Session } from "./harness";

describe("Easel in VS Code: cancelling a generation, a broken model folder", { timeout: 240_000 }, () => {
  let s: Session;
  let root: string;
  let broken: string;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    broken = modelCopy(root, "broken-model", (dir) => fs.rmSync(path.join(dir, "unet"), { recursive: true }));
    // 256×256 with 150 steps: the first step within a second or two, and about 40 s in all on the
    // tiny model (more on a loaded machine), long enough to cancel mid-way. (At 512² the first
    // step could take most of the test's wait on a loaded machine.)
    s = await Session.start({
      name: "errors",
      settings: { "easel.model": modelCopy(root, "tiny-sd15"), "easel.defaults.width": 256, "easel.defaults.height": 256, "easel.defaults.steps": 150, "easel.provider": "cpu" },
    });
  });
  after(async () => {
    await s?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** Easel's status bar item: the model's name, then " · step n/N" or " · loading" while busy. */
  const statusText = async () => ((await s.page.locator(".part.statusbar .statusbar-item", { hasText: /tiny-sd15|broken-model/ }).first().innerText().catch(() => "")) || "").trim();

  it("Easel: Cancel Generation stops it and no file is written", { timeout: 60_000 }, async () => {
    await s.check("cancel", async () => {
      await s.runCommand("Easel: Generate Image…");
      await (await s.waitForQuickInput("Easel: Generate Image")).fill("a slow painting of a harbour");
      await s.page.keyboard.press("Enter");
      const progress = s.notification(/step \d+\/\d+/);
      await progress.waitFor({ state: "visible", timeout: 30_000 });
      await s.settleToasts();
      await s.shot("generating");
      // The command is offered only while something generates.
      await s.runCommand("Easel: Cancel Generation");
      await progress.waitFor({ state: "detached", timeout: 15_000 });
      // The engine says it is idle again (the status bar drops " · step n/N"): a write would have come before.
      await poll("the status bar to show the engine idle", async () => {
        const text = await statusText();
        return /tiny-sd15/.test(text) && !/step|loading/.test(text) ? true : undefined;
      }, 15_000);
      assert.deepEqual(s.listFiles("assets"), [], "no image saved");
      assert.equal(await s.notification(/^(?!.*step).*Easel/).locator(".codicon-error").count(), 0, "no error shown for a cancel");
      await s.shot("cancelled");
      // And it is no longer offered.
      const listed = await s.paletteCommands("Easel:", "Easel: Open Studio");
      assert.ok(!listed.includes("Easel: Cancel Generation"), `Cancel Generation hidden again (listed: ${listed.join(" | ")})`);
    });
  });

  it("a broken model folder: Generate Image reports it in one line with Choose Model, and writes nothing", { timeout: 60_000 }, async () => {
    await s.check("broken-model", async () => {
      await s.clearNotifications();
      s.updateSettings({ "easel.model": broken, "easel.defaults.width": 64, "easel.defaults.height": 64 });
      await poll("the status bar to name the broken model", async () => (/broken-model/.test(await statusText()) ? true : undefined), 15_000);
      await s.runCommand("Easel: Generate Image…");
      await (await s.waitForQuickInput("Easel: Generate Image")).fill("a cat");
      await s.page.keyboard.press("Enter");
      const error = s.notification(/Easel: .*unet/i);
      await error.waitFor({ state: "visible", timeout: 30_000 });
      assert.equal(await error.locator(".codicon-error").count(), 1, "an error notification");
      await error.locator(".monaco-button", { hasText: "Choose Model" }).waitFor({ state: "visible" });
      const message = (await error.locator(".notification-list-item-message").innerText()).trim();
      assert.ok(!message.includes("\n") && !/\bat \S+:\d+/.test(message), `one line, no stack trace: ${message}`);
      assert.deepEqual(s.listFiles("assets"), [], "no image saved");
      // The progress notification ends with the failure.
      await s.notification(/starting|loading|step \d+/).waitFor({ state: "detached", timeout: 10_000 });
      await s.settleToasts();
      await s.shot("broken-model-error");
    });
  });

  it("a broken model folder: the Studio shows the error in place, with Choose Model", { timeout: 60_000 }, async () => {
    await s.check("broken-model-studio", async () => {
      await s.clearNotifications();
      await s.runCommand("Easel: Open Studio");
      const wv = s.webview();
      await wv.locator("#prompt textarea").fill("a cat");
      await wv.locator("#generate").click();
      const error = wv.locator("#error");
      await error.waitFor({ state: "visible", timeout: 30_000 });
      const message = (await wv.locator("#error-message").innerText()).trim();
      assert.match(message, /incomplete|missing/i, `says what is wrong: ${message}`);
      assert.match(message, /unet/i, `names the missing part: ${message}`);
      assert.ok(!/\bat \S+:\d+/.test(message), `no stack trace: ${message}`);
      await wv.locator("#error-actions").getByText("Choose Model").waitFor({ state: "visible" });
      assert.deepEqual(s.listFiles("assets"), [], "no image saved");
      await s.shot("broken-model-studio");
    });
  });
});
