// What an inpainted or outpainted image keeps inside its PNG (the starting image and the mask, in
// private chunks after the image data) and the request recalled from it: Regenerate's and the
// Studio's way to make the same image again.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import sharp from "sharp";
import { EaselError } from "../../extension/engine/errors";
import { encodePng, readPngParameters } from "../../extension/engine/image/encode";
import { readPngChunk, readPngTextChunks, replacePngChunks } from "../../extension/engine/image/pngChunks";
import { IMAGE_WHEN } from "../../extension/assets/imageFiles";
import { imageDataUrl, readStoredInputs, recallRequest, withStoredInputs } from "../../extension/generation/storedInputs";
import { MODELS, ROOT } from "../helpers/paths";
import { Engine } from "../../extension/engine/engine";

const PARAMS = "a red door\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, Model: tiny, Denoising strength: 0.9, Prompt syntax: a1111";

async function image(parameters: string, side = 64): Promise<Buffer> {
  return encodePng(new Uint8Array(side * side * 3).fill(90), side, side, parameters);
}

describe("private PNG chunks", () => {
  it("are added before IEND, read back, replaced, and leave the text and pixels alone", async () => {
    const png = await image(PARAMS);
    const data = Buffer.from("mask bytes");
    const withChunk = replacePngChunks(png, [], [{ type: "esMk", data }]);
    assert.deepEqual(readPngChunk(withChunk, "esMk", 1024), data);
    assert.equal(readPngParameters(withChunk), PARAMS);
    assert.deepEqual(await sharp(withChunk).raw().toBuffer(), await sharp(png).raw().toBuffer(), "same pixels");
    assert.equal(withChunk.subarray(-12, -8).toString("latin1") === "\0\0\0\0", true, "IEND stays last (zero length)");
    const replaced = replacePngChunks(withChunk, ["esMk"], [{ type: "esMk", data: Buffer.from("other") }]);
    assert.deepEqual(readPngChunk(replaced, "esMk", 1024), Buffer.from("other"));
    assert.equal(readPngChunk(replacePngChunks(replaced, ["esMk"], []), "esMk", 1024), undefined);
    assert.throws(() => readPngChunk(withChunk, "esMk", 4), /esMk chunk is 10 bytes, over the 4/);
    assert.throws(() => replacePngChunks(png, ["IDAT"], []), /not an ancillary private type/);
    const corrupt = Buffer.from(withChunk);
    corrupt[corrupt.length - 14] ^= 0xff; // inside esMk's CRC
    assert.throws(() => readPngChunk(corrupt, "esMk", 1024), /CRC mismatch in the esMk chunk/);
    assert.equal(readPngTextChunks(withChunk).length, 1, "other readers see the same text chunks");
  });
});

describe("an inpainted image's stored inputs", () => {
  it("keeps the starting image and mask for a masked or outpainted request only", async () => {
    const init = await image("an older image");
    const mask = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#fff" } }).png().toBuffer();
    const out = await image(`${PARAMS}, Mask blur: 0`);
    assert.equal(withStoredInputs(out, { prompt: "x", initImage: init }), out, "img2img stores nothing");
    assert.equal(withStoredInputs(out, { prompt: "x" }), out);
    const stored = withStoredInputs(out, { prompt: "x", initImage: init, mask });
    assert.deepEqual(readStoredInputs(stored), { initImage: init, mask });
    // Inpainting an inpainted image stores its pixels, not its own stored inputs again.
    const twice = withStoredInputs(out, { prompt: "x", initImage: stored, mask });
    assert.deepEqual(readStoredInputs(readStoredInputs(twice).initImage ?? assert.fail("no init")), {});
    assert.deepEqual(readStoredInputs(Buffer.from("not a png")), {});
  });

  it("recalls the request that made the image: inpainting with its mask, outpainting with its sides, others without an image", async () => {
    const init = await image("the original");
    const mask = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#fff" } }).png().toBuffer();
    const inpainted = withStoredInputs(await image(`${PARAMS}, Mask blur: 0`), { prompt: "x", initImage: init, mask });
    const r = recallRequest(inpainted, "in.png");
    assert.deepEqual([r.prompt, r.seed, r.strength, r.promptSyntax, r.width, r.height], ["a red door", 5n, 0.9, "a1111", 64, 64]);
    assert.deepEqual([r.initImage, r.mask, r.outpaint], [init, mask, undefined]);

    const outParams = `${PARAMS}, Mask blur: 0, Outpaint: left 64 right 0 top 0 bottom 0 overlap 8 fill noise`;
    const outpainted = withStoredInputs(await image(outParams), { prompt: "x", initImage: init, outpaint: { left: 64 } });
    const o = recallRequest(outpainted, "out.png");
    assert.deepEqual([o.initImage, o.mask, o.outpaint], [init, undefined, { left: 64, right: 0, top: 0, bottom: 0, overlap: 8, fill: "noise" }]);
    assert.deepEqual([o.width, o.height], [undefined, undefined], "the size follows from the image and the sides");

    const plain = recallRequest(await image(PARAMS.replace(", Denoising strength: 0.9", "")), "plain.png");
    assert.deepEqual([plain.initImage, plain.strength, plain.promptSyntax], [undefined, undefined, "a1111"]);

    const error = (name: string) => (e: unknown) => e instanceof EaselError && e.code === "image-invalid" && e.message.startsWith(name);
    const cliInpainted = await image(`${PARAMS}, Mask blur: 0`);
    const cliOutpainted = await image(outParams);
    const bare = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } }).png().toBuffer();
    assert.throws(() => recallRequest(cliInpainted, "cli.png"), error("cli.png was inpainted from an image it does not carry"));
    assert.throws(() => recallRequest(cliOutpainted, "cli.png"), error("cli.png was outpainted"));
    assert.throws(() => recallRequest(bare, "bare.png"), error("bare.png has no generation parameters"));
  });

  it("shows a stored image as a data: URL of its own type", async () => {
    assert.match(imageDataUrl(await image("x")), /^data:image\/png;base64,/);
    assert.match(imageDataUrl(await sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } }).jpeg().toBuffer()), /^data:image\/jpeg;base64,/);
    assert.match(imageDataUrl(await sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } }).webp().toBuffer()), /^data:image\/webp;base64,/);
  });
});

describe("Regenerate through the engine", () => {
  it("an inpainted and an outpainted image, recalled from their PNGs, come out pixel for pixel the same", { timeout: 240_000 }, async () => {
    const engine = await Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu" });
    try {
      const init = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#3a6" } }).png().toBuffer();
      const mask = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#000" } })
        .composite([{ input: { create: { width: 32, height: 32, channels: 3, background: "#fff" } }, left: 16, top: 16 }])
        .png()
        .toBuffer();
      const made = [
        { prompt: "(a red door:1.3)", promptSyntax: "a1111" as const, steps: 2, seed: 3n, initImage: init, mask },
        { prompt: "a wide field", steps: 2, seed: 4n, initImage: init, outpaint: { left: 16, bottom: 16 } },
      ];
      for (const request of made) {
        const [first] = (await engine.generate(request)).images;
        const png = withStoredInputs(first.png, request);
        const again = recallRequest(png, "made.png");
        const [second] = (await engine.generate(again)).images;
        assert.deepEqual(second.png, first.png, `${request.prompt}: the same PNG (pixels and parameters)`);
      }
    } finally {
      await engine.dispose();
    }
  });
});

describe("the image commands in the manifest", () => {
  it("every image command is on every image kind Easel reads, in the explorer, the image's tab and title bar, and the palette", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { contributes: { menus: Record<string, { command: string; when?: string }[]> } };
    const commands = ["easel.inpaintImage", "easel.extendImage", "easel.upscaleImage", "easel.removeBackground", "easel.regenerateAsset", "easel.exportAssetPack"];
    for (const command of commands) {
      // An asset pack is exported from the explorer or the palette, not from the image's tab.
      for (const menu of ["commandPalette", "explorer/context", ...(command === "easel.exportAssetPack" ? [] : ["editor/title/context"])]) {
        const entry = manifest.contributes.menus[menu].find((m) => m.command === command);
        assert.equal(entry?.when, IMAGE_WHEN, `${command} in ${menu}`);
      }
    }
    // The image preview's own title bar: the edits that open the Studio, and Remove Background.
    for (const command of ["easel.inpaintImage", "easel.extendImage", "easel.removeBackground"]) {
      const entry = manifest.contributes.menus["editor/title"].find((m) => m.command === command);
      assert.equal(entry?.when, `activeCustomEditorId == imagePreview.previewEditor && ${IMAGE_WHEN}`, `${command} in editor/title`);
    }
  });
});
