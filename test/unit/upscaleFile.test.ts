// "Easel: Upscale Image…" without VS Code: the controller runs the real `easel upscale` (dist/cli.js)
// on workspace-like files, and reports the CLI's one-line error for a non-image.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { pixelHash, readAssets } from "../../extension/engine/assets/lockfile";
import { ModelStore } from "../../extension/engine/hub/store";
import { type CliRun, upscaleFile } from "../../extension/generation/upscaleFile";
import { CLI, CONFORMANCE } from "../helpers/paths";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-upscale-cmd-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runCli(args: readonly string[], signal: AbortSignal): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], signal });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const deps = { runCli, store: new ModelStore(path.join(tmp, "store")), provider: "cpu" as const };

describe("Upscale Image (controller)", () => {
  it("writes FILE-x2.png beside the image with Lanczos when no upscaler is downloaded", async () => {
    const file = path.join(tmp, "boat.png");
    fs.copyFileSync(path.join(CONFORMANCE, "cases", "sd15-default-20.png"), file);
    const result = await upscaleFile(file, 2, deps, new AbortController().signal);
    assert.deepEqual(result, { file: path.join(tmp, "boat-x2.png"), width: 128, height: 128, upscaler: "Lanczos" });
    assert.equal((await sharp(result.file).metadata()).width, 128);
  });

  it("records the upscaled image in the workspace's easel-assets.json, so Regenerate/Check can make it again", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const file = path.join(ws, "boat.png");
    fs.copyFileSync(path.join(CONFORMANCE, "cases", "sd15-default-20.png"), file);
    const result = await upscaleFile(file, 2, { ...deps, recordIn: ws }, new AbortController().signal);
    const entry = (await readAssets(ws)).get("boat-x2.png");
    assert.deepEqual(entry?.source, { path: "boat.png", pixels: (await pixelHash(fs.readFileSync(file))).pixels });
    assert.deepEqual(entry?.post, [{ op: "upscale", scale: 2 }]);
    assert.equal(entry?.pixels, (await pixelHash(fs.readFileSync(result.file))).pixels);
  });

  it("refuses a file that is not an image, in the CLI's one line, and writes nothing", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "bad-"));
    const file = path.join(dir, "broken.png");
    fs.writeFileSync(file, "not an image");
    await assert.rejects(upscaleFile(file, 4, deps, new AbortController().signal), (e: Error) => /broken\.png.*not a readable image/.test(e.message) && !e.message.includes("\n"));
    await assert.rejects(upscaleFile(path.join(dir, "notes.txt"), 2, deps, new AbortController().signal), /notes\.txt is not an image Easel reads/);
    assert.deepEqual(fs.readdirSync(dir), ["broken.png"]);
  });
});
