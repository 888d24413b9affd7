// easel-assets.json in VS Code: an image made with "Generate Image…" gets its entry at the
// workspace root, renaming the file in the explorer moves the entry with it, "Check Workspace
// Assets" makes it again and lists it as matching, "Regenerate Asset" restores changed pixels,
// "Upscale Image…" records the upscale, which Check makes again through the engine process's upscale request.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { type AssetEntry, pixelHash } from "../../extension/engine/assets/lockfile";
import { isCompletePng, modelCopy, poll, Session } from "./harness";

const PROMPT = "a paper boat on a pond";

function readLockfile(workspace: string): Record<string, AssetEntry> | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(workspace, "easel-assets.json"), "utf8")) as { assets: Record<string, AssetEntry> }).assets;
  } catch {
    return undefined;
  }
}

describe("Easel in VS Code: the asset lockfile", { timeout: 300_000 }, () => {
  let s: Session;
  let modelRoot: string;
  let rel = "";

  before(async () => {
    modelRoot = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelRoot, "tiny-sd15");
    s = await Session.start({
      name: "assets",
      // A single click only selects in the explorer: an opened image preview would take the focus (and F2) from it.
      settings: { "easel.model": model, "easel.defaults.width": 64, "easel.defaults.height": 64, "easel.defaults.steps": 2, "easel.provider": "cpu", "workbench.list.openMode": "doubleClick" },
    });
  });
  after(async () => {
    await s?.close();
    if (modelRoot) fs.rmSync(modelRoot, { recursive: true, force: true });
  });

  it("Generate Image… records the image in easel-assets.json", { timeout: 90_000 }, async () => {
    await s.check("record", async () => {
      await s.runCommand("Easel: Generate Image…");
      const input = await s.waitForQuickInput("Easel: Generate Image");
      await input.fill(PROMPT);
      await s.page.locator(".quick-input-widget .monaco-list-row .label-name", { hasText: PROMPT }).first().waitFor();
      await s.page.keyboard.press("Enter");
      const made = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000);
      rel = made.rel.split(path.sep).join("/");
      const entry = await poll("the lockfile entry", () => readLockfile(s.workspace)?.[rel], 20_000);
      assert.equal(entry.generation?.prompt, PROMPT);
      assert.equal(entry.generation?.steps, 2);
      assert.deepEqual([entry.width, entry.height], [64, 64]);
      assert.equal(entry.pixels, (await pixelHash(made.bytes)).pixels);
      assert.deepEqual(entry.post, [{ op: "encode", format: "png" }]);
      await s.tab(path.basename(rel)).waitFor({ state: "visible", timeout: 20_000 });
    });
  });

  it("renaming the image in the explorer moves its entry", { timeout: 60_000 }, async () => {
    await s.check("rename", async () => {
      assert.ok(rel, "the first test made an image");
      const name = path.basename(rel);
      const row = s.page.locator(".explorer-folders-view .monaco-list-row", { has: s.page.locator(".label-name", { hasText: name }) }).first();
      await row.waitFor({ state: "visible", timeout: 15_000 });
      await s.runCommand("View: Close All Editors");
      await s.contextMenuItem(row, /^Rename/);
      const box = s.page.locator(".explorer-folders-view .monaco-inputbox input, .explorer-folders-view input.input");
      await box.waitFor({ state: "visible", timeout: 10_000 });
      await box.fill("renamed-boat.png");
      await s.page.keyboard.press("Enter");
      const moved = "assets/generated/renamed-boat.png";
      await poll("the entry under the new name", () => (readLockfile(s.workspace)?.[moved] ? true : undefined), 20_000);
      const assets = readLockfile(s.workspace)!;
      assert.equal(assets[rel], undefined, "nothing left under the old name");
      assert.equal(assets[moved].generation?.prompt, PROMPT);
      assert.ok(fs.existsSync(path.join(s.workspace, moved)));
    });
  });

  it("Check Workspace Assets makes the image again through the engine and lists it as matching", { timeout: 90_000 }, async () => {
    await s.check("check", async () => {
      await s.runCommand("Easel: Check Workspace Assets");
      await s.page.locator(".quick-input-widget", { hasText: "All 1 recorded images match" }).waitFor({ state: "visible", timeout: 60_000 });
      await s.page.locator(".quick-input-widget .monaco-list-row", { hasText: "renamed-boat.png" }).first().waitFor({ state: "visible" });
      await s.page.keyboard.press("Escape");
    });
  });

  it("Regenerate Asset writes back an image whose pixels were changed", { timeout: 90_000 }, async () => {
    await s.check("regenerate", async () => {
      const moved = "assets/generated/renamed-boat.png";
      const file = path.join(s.workspace, moved);
      const expected = readLockfile(s.workspace)![moved].pixels;
      const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      data[0] ^= 0xff;
      fs.writeFileSync(file, await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer());
      assert.notEqual((await pixelHash(fs.readFileSync(file))).pixels, expected);
      // The command acts on the active image (its palette entry shows only then).
      const row = s.page.locator(".explorer-folders-view .monaco-list-row", { has: s.page.locator(".label-name", { hasText: "renamed-boat.png" }) }).first();
      await row.dblclick();
      await s.page.locator(".part.editor .tab.active", { hasText: "renamed-boat.png" }).waitFor({ state: "visible", timeout: 15_000 });
      await s.runCommand("Easel: Regenerate Asset");
      await poll("the restored pixels", async () => ((await pixelHash(fs.readFileSync(file))).pixels === expected ? true : undefined), 60_000, 250);
    });
  });

  it("Upscale Image… records the upscale with its source, and Check Workspace Assets makes it again", { timeout: 120_000 }, async () => {
    await s.check("upscale", async () => {
      const moved = "assets/generated/renamed-boat.png";
      const up = "assets/generated/renamed-boat-x2.png";
      // The restored image is the active editor (the previous test opened it).
      await s.page.locator(".part.editor .tab.active", { hasText: "renamed-boat.png" }).waitFor({ state: "visible", timeout: 15_000 });
      await s.runCommand("Easel: Upscale Image…");
      await s.waitForQuickInput("Easel: Upscale renamed-boat.png");
      await s.page.locator(".quick-input-widget .monaco-list-row", { hasText: "2×" }).first().click();
      const entry = await poll("the upscale's lockfile entry", () => readLockfile(s.workspace)?.[up], 60_000);
      const assets = readLockfile(s.workspace)!;
      assert.deepEqual(entry.source, { path: moved, pixels: assets[moved].pixels });
      assert.deepEqual(entry.post, [{ op: "upscale", scale: 2 }]);
      assert.deepEqual([entry.width, entry.height], [128, 128]);
      assert.equal(entry.pixels, (await pixelHash(fs.readFileSync(path.join(s.workspace, up)))).pixels);
      await s.runCommand("Easel: Check Workspace Assets");
      await s.page.locator(".quick-input-widget", { hasText: "All 2 recorded images match" }).waitFor({ state: "visible", timeout: 60_000 });
      await s.page.keyboard.press("Escape");
    });
  });
});
