// `easel upscale` and the hires fix from the command line: outputs, metadata, and the bad inputs
// (one `error:` line, nothing written).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { Engine } from "../../extension/engine/engine";
import { readPngParameters } from "../../extension/engine/image/encode";
import { infotextFields, parseInfotext } from "../../extension/engine/image/infotext";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { runCli } from "../helpers/runCli";
import { writeConvNet } from "../helpers/tinyConvNets";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-upscale-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SD15 = path.join(MODELS, "tiny-sd15");
const IMAGE = path.join(CONFORMANCE, "cases", "sd15-default-20.png");
// An empty store: no catalog upscaler is downloaded, so Lanczos is the default.
const env = { EASEL_HOME: path.join(tmp, "home") };

function expectOneError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}

describe("easel upscale", () => {
  it("refuses a non-image in one line and writes nothing", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "bad-"));
    const file = path.join(dir, "notes.png");
    fs.writeFileSync(file, "this is text, not a picture\n");
    const r = await runCli(["upscale", file, "--scale", "2"], { env });
    expectOneError(r, /notes\.png.*not a readable image/);
    assert.deepEqual(fs.readdirSync(dir), ["notes.png"]);
    expectOneError(await runCli(["upscale", IMAGE, "--scale", "3"], { env }), /--scale must be 2 or 4/);
  });

  it("upscales with Lanczos when no model is there, keeping the image's parameters", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "lanczos-"));
    const src = path.join(dir, "cat.png");
    fs.copyFileSync(IMAGE, src);
    const r = await runCli(["upscale", src, "--scale", "2"], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = path.join(dir, "cat-x2.png");
    assert.equal(r.stdout.trim(), out);
    assert.match(r.stderr, /Lanczos/);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.width, meta.height], [128, 128]);
    const want = await sharp(IMAGE).removeAlpha().resize({ width: 128, height: 128, fit: "fill", kernel: "lanczos3" }).raw().toBuffer();
    assert.deepEqual(await sharp(out).removeAlpha().raw().toBuffer(), want);
    assert.equal(readPngParameters(fs.readFileSync(out)), readPngParameters(fs.readFileSync(IMAGE)));
    // A second run never replaces the first: it gets -2.
    assert.equal((await runCli(["upscale", src, "--scale", "2"], { env })).stdout.trim(), path.join(dir, "cat-x2-2.png"));
  });

  it("upscales with a super-resolution ONNX model given as a file", async () => {
    const model = await writeConvNet(path.join(tmp, "sr-x2.onnx"), { convs: [{ name: "a", pad: 1 }, { name: "b", pad: 1 }], scale: 2 });
    const out = path.join(tmp, "sr.png");
    const r = await runCli(["upscale", IMAGE, "--scale", "4", "--model", model, "--out", out, "--tile", "24", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { width: number; height: number; upscaler: string };
    assert.deepEqual([json.width, json.height, json.upscaler], [256, 256, "sr-x2"]);
    assert.deepEqual([(await sharp(out).metadata()).width, (await sharp(out).metadata()).height], [256, 256]);
  });
});

describe("hires fix", () => {
  const base = ["generate", "--model", SD15, "--prompt", "a lighthouse", "--scheduler", "euler", "--steps", "4", "--seed", "9", "--width", "64", "--height", "64"];

  it("generates at the base size, upscales with Lanczos and runs img2img at the target size, as A1111 records it", async () => {
    const out = path.join(tmp, "hires.png");
    const r = await runCli([...base, "--hires-scale", "2", "--hires-strength", "0.6", "--hires-steps", "5", "--out", out], { env });
    assert.equal(r.code, 0, r.stderr);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.width, meta.height], [128, 128]);
    const infotext = readPngParameters(fs.readFileSync(out)) ?? "";
    assert.match(infotext, /Size: 64x64/);
    assert.match(infotext, /Denoising strength: 0\.6, Hires upscale: 2, Hires steps: 5, Hires upscaler: Lanczos/);
    const f = infotextFields(parseInfotext(infotext));
    assert.deepEqual(f.hires, { scale: 2, steps: 5, upscaler: "Lanczos" });

    // The same, computed from its parts: the 64x64 image, Lanczos to 128x128 (sharp), img2img.
    const engine = await Engine.load(SD15, { provider: "cpu" });
    try {
      const first = await engine.generate({ prompt: "a lighthouse", scheduler: "euler", steps: 4, seed: 9n, width: 64, height: 64 });
      const up = await sharp(first.images[0].png).removeAlpha().resize({ width: 128, height: 128, fit: "fill", kernel: "lanczos3" }).png().toBuffer();
      const second = await engine.generate({ prompt: "a lighthouse", scheduler: "euler", steps: 5, seed: 9n, width: 128, height: 128, initImage: up, strength: 0.6 });
      const { max } = pixelDiff(await readRgb(out), await readRgb(second.images[0].png));
      assert.equal(max, 0);
    } finally {
      await engine.dispose();
    }
  });

  it("refuses a hires scale past the size limit in one line, before anything is written", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "over-"));
    const out = path.join(dir, "x.png");
    const r = await runCli(["generate", "--model", SD15, "--prompt", "x", "--width", "1024", "--height", "768", "--hires-scale", "2.5", "--hires-strength", "0.5", "--out", out], { env });
    expectOneError(r, /hires scale 2\.5 makes 2560x1920 from 1024x768, over the 2048-pixel limit: use a hires scale of at most 2/);
    assert.deepEqual(fs.readdirSync(dir), []);
    expectOneError(await runCli([...base, "--hires-scale", "2", "--out", out], { env }), /--hires-scale needs --hires-strength/);
    expectOneError(await runCli([...base, "--hires-scale", "9", "--hires-strength", "0.5", "--out", out], { env }), /hires scale must be a number above 1 and at most 4/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
