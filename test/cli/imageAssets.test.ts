// `easel rembg`, `generate --transparent` and `easel pack`, run as users run them: the files they
// write (alpha really there, decoded with sharp), and one error line with nothing written for bad input.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { MODELS } from "../helpers/paths";
import { runCli } from "../helpers/runCli";
import { writeTinyMatte } from "../helpers/tinyMatte";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-assets-cli-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
// An empty model store: nothing may be downloaded (no Hub here); a test needing one gets a clear error.
const env = { EASEL_HOME: path.join(tmp, "home"), HF_ENDPOINT: "http://127.0.0.1:9" };

let matteModel: string;
let picture: string;

/** One line on stderr starting "error:", a non-zero exit, and no new file in `dir`. */
async function expectError(args: readonly string[], pattern: RegExp, dir: string): Promise<void> {
  const before = fs.readdirSync(dir).sort();
  const r = await runCli(args, { cwd: dir, env });
  assert.notEqual(r.code, 0, `expected failure: ${r.stdout}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.deepEqual(fs.readdirSync(dir).sort(), before, "nothing written");
}

describe("easel rembg and generate --transparent", () => {
  before(async () => {
    matteModel = await writeTinyMatte(path.join(tmp, "matte"), { weights: [6, -1, -1], bias: 0, side: 16 });
    const side = 40;
    const data = Buffer.alloc(side * side * 3);
    for (let i = 0; i < side * side; i++) {
      const x = i % side;
      data[i * 3] = x < 20 ? 230 : 20; // red left half: foreground for this graph
      data[i * 3 + 1] = 30;
      data[i * 3 + 2] = 30;
    }
    picture = path.join(tmp, "picture.jpg");
    await sharp(data, { raw: { width: side, height: side, channels: 3 } }).jpeg({ quality: 95 }).toFile(picture);
  });

  it("writes FILE-nobg.png with a real alpha channel (a JPEG source in, PNG out)", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "rembg-"));
    const src = path.join(dir, "photo.jpg");
    fs.copyFileSync(picture, src);
    const r = await runCli(["rembg", src, "--model", matteModel, "--provider", "cpu"], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    const out = path.join(dir, "photo-nobg.png");
    assert.equal(r.stdout.trim(), out);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 4);
    assert.deepEqual([info.width, info.height], [40, 40]);
    assert.ok(data[(20 * 40 + 4) * 4 + 3] > 240, "the red half is opaque");
    assert.ok(data[(20 * 40 + 35) * 4 + 3] < 15, "the dark half is transparent");
    // Run again: the made-up name is never reused.
    const again = await runCli(["rembg", src, "--model", matteModel, "--provider", "cpu", "--matte", "0.5", "--json"], { cwd: dir, env });
    assert.equal(again.code, 0, again.stderr);
    const json = JSON.parse(again.stdout) as { path: string };
    assert.equal(json.path, path.join(dir, "photo-nobg-2.png"));
    const alphas = new Set((await sharp(json.path).extractChannel(3).raw().toBuffer()).values());
    assert.deepEqual([...alphas].sort((a, b) => a - b), [0, 255], "--matte leaves only hard edges");
  });

  it("writes WebP with alpha when asked", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "webp-"));
    const out = path.join(dir, "cut.webp");
    const r = await runCli(["rembg", picture, "--model", matteModel, "--provider", "cpu", "--out", out], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    const meta = await sharp(out).metadata();
    assert.equal(meta.format, "webp");
    assert.equal(meta.hasAlpha, true);
  });

  it("refuses bad input with one line and writes nothing", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "bad-"));
    const notImage = path.join(dir, "notes.txt");
    fs.writeFileSync(notImage, "hello");
    await expectError(["rembg", picture, "--model", matteModel, "--out", path.join(dir, "x.jpg")], /JPEG has no alpha channel, so a transparent image cannot be saved as JPEG: save it as PNG or WebP/, dir);
    await expectError(["rembg", notImage, "--model", matteModel, "--provider", "cpu", "--out", path.join(dir, "x.png")], /cannot read this image .*choose a PNG, WebP or JPEG image/, dir);
    await expectError(["rembg", picture, "--model", matteModel, "--matte", "2"], /--matte must be a number between 0 and 1/, dir);
    await expectError(["rembg", picture, "--model", path.join(dir, "missing.onnx"), "--provider", "cpu", "--out", path.join(dir, "x.png")], /background-removal model .*missing\.onnx not found/, dir);
    await expectError(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "a cat", "--transparent", "--out", path.join(dir, "x.jpg")], /JPEG has no alpha channel/, dir);
    await expectError(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "a cat", "--matte", "0.5", "--out", path.join(dir, "x.png")], /--matte and --rembg-model go with --transparent/, dir);
  });

  it("generate --transparent writes an RGBA PNG that keeps its parameters", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "gen-"));
    const out = path.join(dir, "cat.png");
    const r = await runCli(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "a cat", "--width", "64", "--height", "64", "--steps", "2", "--seed", "1", "--provider", "cpu", "--transparent", "--rembg-model", matteModel, "--out", out], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    const meta = await sharp(out).metadata();
    assert.equal(meta.channels, 4);
    assert.equal(meta.hasAlpha, true);
    const info = await runCli(["info", out], { env });
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^a cat\nSteps: 2, /);
  });
});

describe("easel pack", () => {
  let logo: string;
  before(async () => {
    logo = path.join(tmp, "logo.png");
    await sharp({ create: { width: 600, height: 600, channels: 4, background: { r: 200, g: 60, b: 20, alpha: 1 } } }).png().toFile(logo);
  });

  it("writes the web pack into a new folder and prints the link tags", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "web-"));
    const out = path.join(dir, "public");
    const r = await runCli(["pack", logo, "--preset", "web", "--out", out, "--name", "Demo"], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(out).sort(), [
      "android-chrome-192x192.png", "android-chrome-512x512.png", "apple-touch-icon.png", "favicon-16x16.png", "favicon-32x32.png",
      "favicon.ico", "head-tags.html", "maskable-icon-512x512.png", "site.webmanifest",
    ]);
    assert.match(r.stdout, /<link rel="manifest" href="\/site\.webmanifest">/);
    assert.equal(fs.readdirSync(dir).length, 1, "no staging folder left");
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, "site.webmanifest"), "utf8")).name, "Demo");
  });

  it("adds the android pack to an existing folder, and refuses to replace a pack's files", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "android-"));
    const res = path.join(dir, "res");
    fs.mkdirSync(path.join(res, "values"), { recursive: true });
    const r = await runCli(["pack", logo, "--preset", "android", "--out", res, "--json"], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).files.length, 10);
    assert.deepEqual(fs.readdirSync(res).sort(), ["mipmap-hdpi", "mipmap-mdpi", "mipmap-xhdpi", "mipmap-xxhdpi", "mipmap-xxxhdpi", "values"]);
    const meta = await sharp(path.join(res, "mipmap-xxxhdpi", "ic_launcher_round.png")).metadata();
    assert.deepEqual([meta.width, meta.height, meta.hasAlpha], [192, 192, true]);
    await expectError(["pack", logo, "--preset", "android", "--out", res], /already has mipmap-mdpi, mipmap-hdpi, mipmap-xhdpi…: choose an empty or new --out folder/, dir);
  });

  it("warns and upscales a small image; --no-upscale refuses with the reason", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "small-"));
    const small = path.join(dir, "small.png");
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#336699" } }).png().toFile(small);
    const r = await runCli(["pack", small, "--preset", "ios", "--out", path.join(dir, "ios")], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: the image is 64×64, smaller than the ios pack's largest file \(1024×1024\): upscaled 16\.00× with Lanczos first/);
    const icon = path.join(dir, "ios", "AppIcon.appiconset", "AppIcon-1024.png");
    const meta = await sharp(icon).metadata();
    assert.deepEqual([meta.width, meta.height, meta.hasAlpha], [1024, 1024, false]);
    const contents = JSON.parse(fs.readFileSync(path.join(dir, "ios", "AppIcon.appiconset", "Contents.json"), "utf8"));
    assert.equal(contents.images[0].size, "1024x1024");
    await expectError(["pack", small, "--preset", "web", "--out", path.join(dir, "web"), "--no-upscale"], /the image is 64×64, smaller than the web pack's largest file \(512×512\): use a larger image/, dir);
  });

  it("refuses a non-image, an unknown preset and a missing --out with one line, writing nothing", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "packbad-"));
    const text = path.join(dir, "readme.png");
    fs.writeFileSync(text, "not really a png");
    await expectError(["pack", text, "--preset", "web", "--out", path.join(dir, "out")], /cannot make an asset pack from this file .*choose a PNG, WebP or JPEG image/, dir);
    await expectError(["pack", logo, "--preset", "windows", "--out", path.join(dir, "out")], /unknown --preset "windows": use one of web, ios, android, vscode-extension, social/, dir);
    await expectError(["pack", logo, "--preset", "web"], /missing --out DIR/, dir);
    await expectError(["pack", path.join(dir, "nope.png"), "--preset", "web", "--out", path.join(dir, "out")], /nope\.png/, dir);
  });

  it("makes a social card from a prompt: generated at the model's nearest 1200:630 size, then cropped", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "prompt-"));
    const out = path.join(dir, "card");
    const r = await runCli(["pack", "--prompt", "a lighthouse", "--model", path.join(MODELS, "tiny-sd15"), "--preset", "social", "--out", out, "--width", "128", "--steps", "1", "--seed", "5", "--provider", "cpu"], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /generating 128×64 for the social pack, seed 5/);
    assert.deepEqual(fs.readdirSync(out).sort(), ["head-tags.html", "og-image.png", "source.png"]);
    const source = await sharp(path.join(out, "source.png")).metadata();
    assert.deepEqual([source.width, source.height], [128, 64]);
    const card = await sharp(path.join(out, "og-image.png")).metadata();
    assert.deepEqual([card.width, card.height, card.hasAlpha], [1200, 630, false]);
    const info = await runCli(["info", path.join(out, "source.png")], { env });
    assert.match(info.stdout, /^a lighthouse\n/);
    await expectError(["pack", logo, "--prompt", "x", "--preset", "web", "--out", path.join(dir, "o")], /give an image or --prompt, not both/, dir);
    await expectError(["pack", "--prompt", "x", "--preset", "web", "--out", path.join(dir, "o")], /--prompt needs --model MODEL/, dir);
  });

  it("makes the social card with a title", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "social-"));
    const r = await runCli(["pack", logo, "--preset", "social", "--out", path.join(dir, "card"), "--title", "Hello", "--base-url", "https://example.com/"], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: the image is 600×600, smaller than the social pack's largest file \(1200×630\)/);
    assert.match(r.stdout, /<meta property="og:image" content="https:\/\/example\.com\/og-image\.png">/);
    const meta = await sharp(path.join(dir, "card", "og-image.png")).metadata();
    assert.deepEqual([meta.width, meta.height, meta.hasAlpha], [1200, 630, false]);
  });
});
