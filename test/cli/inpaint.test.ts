// The CLI's inpainting and outpainting: `generate --mask` and `easel outpaint`, what they write and record.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { runCli } from "../helpers/runCli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-inpaint-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SD15 = path.join(MODELS, "tiny-sd15");
const INPAINT = path.join(MODELS, "tiny-sd15-inpaint");
const INIT = path.join(CONFORMANCE, "cases", "inpaint-euler-8.init.png");
const MASK = path.join(CONFORMANCE, "cases", "inpaint-euler-8.mask.png");

async function infoOf(file: string): Promise<Record<string, string>> {
  const r = await runCli(["info", "--json", file]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { parameters: Record<string, string> }).parameters;
}

describe("easel generate --mask", () => {
  it("inpaints with an inpainting model and records the strength and mask blur", async () => {
    const out = path.join(tmp, "inpainted.png");
    const r = await runCli(["generate", "--model", INPAINT, "--prompt", "a cat", "--steps", "3", "--seed", "5", "--width", "64", "--height", "64", "--init-image", INIT, "--mask", MASK, "--strength", "0.7", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const params = await infoOf(out);
    assert.equal(params["Denoising strength"], "0.7");
    assert.equal(params["Mask blur"], "0");
    assert.equal(params.Model, "tiny-sd15-inpaint");
  });
});

describe("easel generate --mask --prompt-syntax a1111", () => {
  it("weights the prompt of an inpainting model: (cat:1) is cat's image, (cat:1.6) another; the syntax is recorded", async () => {
    const run = async (name: string, prompt: string) => {
      const out = path.join(tmp, `${name}.png`);
      const r = await runCli(["generate", "--model", INPAINT, "--prompt", prompt, "--prompt-syntax", "a1111", "--steps", "2", "--seed", "5", "--init-image", INIT, "--mask", MASK, "--out", out]);
      assert.equal(r.code, 0, r.stderr);
      return out;
    };
    const [plain, unit, weighted] = [await run("cat", "a cat"), await run("cat-1", "a (cat:1)"), await run("cat-16", "a (cat:1.6)")];
    assert.equal(pixelDiff(await readRgb(plain), await readRgb(unit)).max, 0);
    assert.ok(pixelDiff(await readRgb(plain), await readRgb(weighted)).max > 0, "the weight changes the inpainted area");
    const params = await infoOf(weighted);
    assert.equal(params["Prompt syntax"], "a1111");
    assert.equal(params["Mask blur"], "0");
  });
});

describe("easel generate --mask without a size", () => {
  it("takes the init image's size, not the model's default (which would stretch the image off its mask)", async () => {
    const out = path.join(tmp, "sized.png");
    const r = await runCli(["generate", "--model", SD15, "--prompt", "a cat", "--steps", "2", "--seed", "5", "--init-image", INIT, "--mask", MASK, "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const image = await readRgb(out);
    assert.deepEqual([image.width, image.height], [64, 64]);
  });
});

describe("easel outpaint", () => {
  it("extends the image on the sides given, with a 4-channel model; the infotext says how", async () => {
    const out = path.join(tmp, "wider.png");
    const r = await runCli(["outpaint", "--model", SD15, "--image", INIT, "--prompt", "a beach", "--left", "16", "--right", "16", "--top", "32", "--steps", "2", "--seed", "9", "--fill", "noise", "--overlap", "16", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), out);
    const image = await readRgb(out);
    assert.deepEqual([image.width, image.height], [96, 96]);
    const params = await infoOf(out);
    assert.equal(params.Size, "96x96");
    assert.equal(params.Outpaint, "left 16 right 16 top 32 bottom 0 overlap 16 fill noise");
    assert.equal(params["Denoising strength"], "1");
  });

  it("--help lists the sides", async () => {
    const r = await runCli(["outpaint", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--left\/--right\/--top\/--bottom N/);
  });
});
