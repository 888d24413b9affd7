import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { encodePng, readPngParameters } from "../../extension/engine/image/encode";
import { decodeImageToRgb } from "../../extension/engine/image/decode";
import { writeFileAtomic } from "../../extension/engine/image/atomicWrite";
import { formatInfotext, infotextFields, parseInfotext } from "../../extension/engine/image/infotext";
import { readPngTextChunks } from "../../extension/engine/image/pngChunks";

function gradient(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = (x * 255) / Math.max(1, width - 1);
      rgb[i + 1] = (y * 255) / Math.max(1, height - 1);
      rgb[i + 2] = (x * 7 + y * 13) & 0xff;
    }
  }
  return rgb;
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "easel-png-"));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

function assertOneLine(err: unknown, pattern: RegExp): true {
  assert.ok(err instanceof Error);
  assert.match(err.message, pattern);
  assert.ok(!err.message.includes("\n"), err.message);
  return true;
}

test("encodePng writes an 8-bit RGB PNG with the infotext, pixels exact", async () => {
  const width = 64;
  const height = 48;
  const rgb = gradient(width, height);
  const infotext = formatInfotext({
    prompt: "富士山 at dawn — ukiyo-e, 🌅",
    negativePrompt: "blurry",
    steps: 25,
    sampler: "DPM++ 2M",
    karras: true,
    guidance: 7,
    seed: 18446744073709551615n,
    width,
    height,
    model: "sd-v1-5",
    version: "easel-0.1.0",
  });
  const png = await encodePng(rgb, width, height, infotext);

  // IHDR: bit depth 8, colour type 2 (truecolour, no palette, no alpha).
  assert.equal(png.toString("latin1", 12, 16), "IHDR");
  assert.equal(png.readUInt32BE(16), width);
  assert.equal(png.readUInt32BE(20), height);
  assert.equal(png[24], 8);
  assert.equal(png[25], 2);
  assert.ok(!png.includes(Buffer.from("PLTE", "latin1")));

  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [width, height, 3]);
  assert.deepEqual(new Uint8Array(data), rgb);

  assert.equal(readPngParameters(png), infotext);
  assert.equal(readPngTextChunks(png)[0].type, "iTXt");
  const fields = infotextFields(parseInfotext(readPngParameters(png) ?? ""));
  assert.equal(fields.seed, 18446744073709551615n);
  assert.equal(fields.karras, true);
});

test("encodePng uses tEXt for Latin-1 infotext; readPngParameters is undefined without one", async () => {
  const png = await encodePng(gradient(8, 8), 8, 8, "café\nSteps: 1, Sampler: Euler, CFG scale: 1");
  const chunks = readPngTextChunks(png);
  assert.deepEqual(chunks.map((c) => [c.type, c.keyword]), [["tEXt", "parameters"]]);
  assert.equal(readPngParameters(png), "café\nSteps: 1, Sampler: Euler, CFG scale: 1");

  const bare = await sharp(gradient(8, 8), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
  assert.equal(readPngParameters(bare), undefined);
  assert.throws(() => readPngParameters(Buffer.from("not a png")), (e: unknown) => assertOneLine(e, /Not a PNG file/));
});

test("encodePng rejects a buffer that does not match the size", async () => {
  await assert.rejects(encodePng(new Uint8Array(10), 2, 2, "x"), RangeError);
  await assert.rejects(encodePng(new Uint8Array(0), 0, 0, "x"), RangeError);
});

test("decodeImageToRgb returns exact pixels at the same size", async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, "init.png");
  const rgb = gradient(32, 16);
  await fs.writeFile(file, await encodePng(rgb, 32, 16, "x"));
  const out = await decodeImageToRgb(file, 32, 16);
  assert.ok(out instanceof Uint8Array);
  assert.deepEqual(new Uint8Array(out), rgb);
});

test("decodeImageToRgb drops alpha without compositing (PIL convert('RGB')) and expands grey", async (t) => {
  const dir = await tempDir(t);
  const rgba = Buffer.from([200, 10, 50, 0, 1, 2, 3, 128, 250, 251, 252, 255, 0, 0, 0, 0]);
  const rgbaFile = path.join(dir, "alpha.png");
  await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toFile(rgbaFile);
  assert.deepEqual(
    Array.from(await decodeImageToRgb(rgbaFile, 2, 2)),
    [200, 10, 50, 1, 2, 3, 250, 251, 252, 0, 0, 0],
  );

  const greyFile = path.join(dir, "grey.png");
  await sharp(Buffer.from([0, 90, 180, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toFile(greyFile);
  assert.deepEqual(Array.from(await decodeImageToRgb(greyFile, 2, 2)), [0, 0, 0, 90, 90, 90, 180, 180, 180, 255, 255, 255]);
});

test("decodeImageToRgb resizes (stretching) only when the size differs", async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, "flat.png");
  const flat = new Uint8Array(40 * 20 * 3);
  for (let i = 0; i < flat.length; i += 3) flat.set([30, 144, 255], i);
  await fs.writeFile(file, await encodePng(flat, 40, 20, "x"));
  const out = await decodeImageToRgb(file, 24, 32);
  assert.equal(out.length, 24 * 32 * 3);
  for (let i = 0; i < out.length; i += 3) assert.deepEqual(Array.from(out.subarray(i, i + 3)), [30, 144, 255]);

  // A left/right split survives a non-uniform stretch on the correct sides.
  const split = new Uint8Array(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) split.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
  const splitFile = path.join(dir, "split.png");
  await fs.writeFile(splitFile, await encodePng(split, 40, 20, "x"));
  const resized = await decodeImageToRgb(splitFile, 16, 16);
  assert.deepEqual(Array.from(resized.subarray(0, 3)), [255, 0, 0]);
  assert.deepEqual(Array.from(resized.subarray((16 * 8 - 1) * 3, 16 * 8 * 3)), [0, 0, 255]);
});

test("decodeImageToRgb applies the EXIF orientation, as diffusers' load_image does", async (t) => {
  const dir = await tempDir(t);
  // Stored 16x8: left half red, right half blue; orientation 6 means "rotate 90° clockwise to display".
  const stored = new Uint8Array(16 * 8 * 3);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) stored.set(x < 8 ? [255, 0, 0] : [0, 0, 255], (y * 16 + x) * 3);
  const file = path.join(dir, "rotated.jpg");
  await sharp(stored, { raw: { width: 16, height: 8, channels: 3 } })
    .jpeg({ quality: 100 })
    .withMetadata({ orientation: 6 })
    .toFile(file);
  assert.equal((await sharp(file).metadata()).orientation, 6);
  const out = await decodeImageToRgb(file, 8, 16);
  // Displayed 8 wide x 16 tall: the red (left) half is now on top.
  const top = out.subarray((2 * 8 + 4) * 3, (2 * 8 + 4) * 3 + 3);
  const bottom = out.subarray((13 * 8 + 4) * 3, (13 * 8 + 4) * 3 + 3);
  assert.ok(top[0] > 200 && top[2] < 60, `top ${Array.from(top)}`);
  assert.ok(bottom[2] > 200 && bottom[0] < 60, `bottom ${Array.from(bottom)}`);
});

test("decodeImageToRgb: missing file, folder, non-image give one-line errors saying what to do", async (t) => {
  const dir = await tempDir(t);
  const missing = path.join(dir, "nope.png");
  await assert.rejects(decodeImageToRgb(missing, 8, 8), (e: unknown) => assertOneLine(e, /Init image not found: .*nope\.png\. Check the path/));
  await assert.rejects(decodeImageToRgb(dir, 8, 8), (e: unknown) => assertOneLine(e, /is a folder\. Choose an image file/));
  const text = path.join(dir, "notes.png");
  await fs.writeFile(text, "just some text\nwith lines\n");
  await assert.rejects(decodeImageToRgb(text, 8, 8), (e: unknown) => assertOneLine(e, /notes\.png is not a readable image .*Use a PNG, JPEG or WebP file/));
  await assert.rejects(decodeImageToRgb(text, 0, 8), RangeError);
  await assert.rejects(decodeImageToRgb(Buffer.from("text"), 8, 8), (e: unknown) => assertOneLine(e, /^The init image is not a readable image/));
  await assert.rejects(decodeImageToRgb(new Uint8Array(0), 8, 8), (e: unknown) => assertOneLine(e, /^The init image is empty/));
});

test("decodeImageToRgb also takes the encoded file's bytes", async () => {
  const rgb = gradient(12, 10);
  const png = await encodePng(rgb, 12, 10, "x");
  assert.deepEqual(new Uint8Array(await decodeImageToRgb(new Uint8Array(png), 12, 10)), rgb);
  assert.equal((await decodeImageToRgb(png, 6, 5)).length, 6 * 5 * 3);
});

test("writeFileAtomic: success leaves only the target file, replacing an old one", async (t) => {
  const dir = await tempDir(t);
  const target = path.join(dir, "image.png");
  await writeFileAtomic(target, Buffer.from("first version"));
  assert.deepEqual(await fs.readdir(dir), ["image.png"]);
  await writeFileAtomic(target, Buffer.from("second"));
  assert.deepEqual(await fs.readdir(dir), ["image.png"]);
  assert.equal(await fs.readFile(target, "utf8"), "second");
});

test("writeFileAtomic: a failed rename (target is a folder) leaves no temp file", async (t) => {
  const dir = await tempDir(t);
  const target = path.join(dir, "taken");
  await fs.mkdir(target);
  await fs.writeFile(path.join(target, "inside.txt"), "keep");
  await assert.rejects(writeFileAtomic(target, Buffer.from("data")), (e: unknown) => {
    assert.ok(e instanceof Error && "code" in e);
    return true;
  });
  assert.deepEqual(await fs.readdir(dir), ["taken"]);
  assert.deepEqual(await fs.readdir(target), ["inside.txt"]);
});

test("writeFileAtomic: a missing folder fails without creating anything", async (t) => {
  const dir = await tempDir(t);
  const target = path.join(dir, "no-such-dir", "image.png");
  await assert.rejects(writeFileAtomic(target, Buffer.from("data")), { code: "ENOENT" });
  assert.deepEqual(await fs.readdir(dir), []);
});
