// The lockfile for post-processed images: `generate --transparent --record`, `rembg`, `upscale` and
// `pack` with --record, outpainting; `assets check` makes each again bit for bit (chaining through
// recorded inputs), fails with a line for a changed file or a changed/missing input, and
// `assets regenerate` restores them. Tiny real models: tiny-sd15, a 1×1-conv matte graph, a conv
// super-resolution graph.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { LOCKFILE_NAME, parseAssets, pixelHash, readAssets, type AssetEntry } from "../../extension/engine/assets/lockfile";
import { readPngParameters } from "../../extension/engine/image/encode";
import { infotextFields, parseInfotext } from "../../extension/engine/image/infotext";
import { MODELS } from "../helpers/paths";
import { runCli } from "../helpers/runCli";
import { writeConvNet } from "../helpers/tinyConvNets";
import { writeTinyMatte } from "../helpers/tinyMatte";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-assets-post-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
// An empty model store and no Hub: nothing may be downloaded.
const env = { EASEL_HOME: path.join(tmp, "home"), HF_ENDPOINT: "http://127.0.0.1:9" };
const SD15 = path.join(MODELS, "tiny-sd15");
const GEN = ["generate", "--model", SD15, "--steps", "2", "--width", "64", "--height", "64", "--provider", "cpu"];

let matte: string;
let sr: string;

const cli = (args: readonly string[], cwd: string) => runCli(args, { cwd, env });
const hash = async (file: string) => (await pixelHash(fs.readFileSync(file))).pixels;

/** Changes one pixel of an image file by 40 levels (keeping its alpha). */
async function touchPixel(file: string): Promise<void> {
  const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  data[0] = data[0] > 127 ? data[0] - 40 : data[0] + 40;
  data[3] = 255;
  fs.writeFileSync(file, await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toBuffer());
}

describe("easel assets: post-processed and derived images", () => {
  before(async () => {
    // Red is foreground for this graph: tiny-sd15's images get a mask that varies.
    matte = await writeTinyMatte(path.join(tmp, "matte"), { weights: [3, -1, -1], bias: 0.2, side: 16 });
    sr = await writeConvNet(path.join(tmp, "sr-x2.onnx"), { convs: [{ name: "a", pad: 1 }, { name: "b", pad: 1 }], scale: 2 });
  });

  it("generate --transparent --record: the removal and its matte are recorded (entry and PNG metadata); check, a changed pixel, regenerate", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const r = await cli([...GEN, "--prompt", "a red kite", "--seed", "21", "--transparent", "--rembg-model", matte, "--matte", "0.5", "--out", "kite.png", "--record"], ws);
    assert.equal(r.code, 0, r.stderr);
    const kite = (await readAssets(ws)).get("kite.png")!;
    assert.equal(kite.pixels, await hash(path.join(ws, "kite.png")));
    assert.equal(kite.post.length, 1);
    const step = kite.post[0];
    assert.equal(step.op, "removeBackground");
    assert.ok(step.op === "removeBackground");
    assert.deepEqual([step.matte, step.format, step.model.file, step.model.name], [0.5, "png", matte, "model"]);
    assert.match(step.model.sha256 ?? "", /^[0-9a-f]{64}$/);
    // The PNG really carries alpha, and its parameters say how it was made transparent.
    assert.equal((await sharp(path.join(ws, "kite.png")).metadata()).hasAlpha, true);
    const fields = infotextFields(parseInfotext(readPngParameters(fs.readFileSync(path.join(ws, "kite.png")))!));
    assert.deepEqual(fields.backgroundRemoval, { remover: "model", matte: 0.5 });

    const ok = await cli(["assets", "check"], ws);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, "ok kite.png\n");
    const original = fs.readFileSync(path.join(ws, "kite.png"));
    await touchPixel(path.join(ws, "kite.png"));
    const bad = await cli(["assets", "check"], ws);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^differs kite\.png: mean difference 0\.\d+, max \d+ \(of 255\)\n$/);
    const regen = await cli(["assets", "regenerate"], ws);
    assert.equal(regen.code, 0, regen.stderr);
    assert.equal(regen.stdout, "rewrote kite.png\n");
    assert.equal(await hash(path.join(ws, "kite.png")), kite.pixels);
    assert.deepEqual(await sharp(fs.readFileSync(path.join(ws, "kite.png"))).raw().toBuffer(), await sharp(original).raw().toBuffer());
    // Its parameters too: the rewritten file recalls as the original does.
    assert.equal(readPngParameters(fs.readFileSync(path.join(ws, "kite.png"))), readPngParameters(original));
  });

  it("pack --prompt --record: the generated source.png and the icon made from it, checked through the chain", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const r = await cli(["pack", "--prompt", "a fox mascot", "--model", SD15, "--steps", "2", "--width", "64", "--seed", "4", "--provider", "cpu", "--preset", "vscode-extension", "--out", "icons", "--record"], ws);
    assert.equal(r.code, 0, r.stderr);
    const assets = await readAssets(ws);
    assert.deepEqual([...assets.keys()].sort(), ["icons/icon.png", "icons/source.png"]);
    assert.equal(assets.get("icons/source.png")?.generation?.seed, "4");
    assert.deepEqual(assets.get("icons/icon.png")?.source, { path: "icons/source.png", pixels: assets.get("icons/source.png")!.pixels });
    fs.rmSync(path.join(ws, "icons/source.png"));
    const check = await cli(["assets", "check"], ws);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^ok icons\/icon\.png\nmissing icons\/source\.png/);
  });

  it("rembg, upscale and pack --record chain through a recorded source: check with both files gone, then regenerate", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    fs.mkdirSync(path.join(ws, "art"));
    assert.equal((await cli([...GEN, "--prompt", "a lighthouse", "--seed", "7", "--out", "art/house.png", "--record"], ws)).code, 0);
    const rembg = await cli(["rembg", "art/house.png", "--model", matte, "--provider", "cpu", "--out", "art/house-cut.webp", "--record"], ws);
    assert.equal(rembg.code, 0, rembg.stderr);
    const up = await cli(["upscale", "art/house.png", "--scale", "2", "--model", sr, "--tile", "24", "--provider", "cpu", "--record"], ws);
    assert.equal(up.code, 0, up.stderr);
    const lanczos = await cli(["upscale", "art/house-cut.webp", "--scale", "2", "--model", "lanczos", "--out", "art/cut-x2.png", "--record"], ws);
    assert.equal(lanczos.code, 0, lanczos.stderr);
    const pack = await cli(["pack", "art/house.png", "--preset", "web", "--out", "art/web", "--background", "#102030", "--record"], ws);
    assert.equal(pack.code, 0, pack.stderr);

    const text = fs.readFileSync(path.join(ws, LOCKFILE_NAME), "utf8");
    const assets = parseAssets(text, LOCKFILE_NAME);
    assert.equal(JSON.parse(text).format, 2);
    const source = { path: "art/house.png", pixels: assets.get("art/house.png")!.pixels };
    const cut = assets.get("art/house-cut.webp")!;
    assert.deepEqual(cut.source, source);
    assert.deepEqual(cut.post.map((p) => p.op === "removeBackground" && [p.format, p.matte]), [["webp", undefined]]);
    const x2 = assets.get("art/house-x2.png")!;
    assert.deepEqual(x2.source, source);
    assert.deepEqual(x2.post.map((p) => p.op === "upscale" && [p.scale, p.tile, p.model?.file]), [[2, 24, sr]]);
    assert.deepEqual([x2.width, x2.height], [128, 128]);
    assert.deepEqual(assets.get("art/cut-x2.png")!.source?.path, "art/house-cut.webp");
    const cutX2 = assets.get("art/cut-x2.png")!.post[0];
    assert.ok(cutX2.op === "upscale" && cutX2.model === undefined, "Lanczos: no model");
    // Every PNG of the web pack, none of its ICO, manifest or tags.
    const packed = [...assets.keys()].filter((k) => k.startsWith("art/web/")).sort();
    assert.deepEqual(packed, ["art/web/android-chrome-192x192.png", "art/web/android-chrome-512x512.png", "art/web/apple-touch-icon.png", "art/web/favicon-16x16.png", "art/web/favicon-32x32.png", "art/web/maskable-icon-512x512.png"]);
    const maskable = assets.get("art/web/maskable-icon-512x512.png")!;
    assert.deepEqual(maskable.source, source);
    assert.deepEqual(maskable.post, [{ op: "pack", preset: "web", file: "maskable-icon-512x512.png", background: "#102030" }]);
    assert.equal(maskable.pixels, await hash(path.join(ws, "art/web/maskable-icon-512x512.png")));

    const all = await cli(["assets", "check"], ws);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.equal(all.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, 10);
    const list = await cli(["assets", "list"], ws);
    assert.match(list.stdout, /art\/house-x2\.png {2}from art\/house\.png, upscaled 2x \(sr-x2\)/);
    assert.match(list.stdout, /art\/web\/favicon-16x16\.png {2}from art\/house\.png, web pack's favicon-16x16\.png/);

    // The source and the cut-out gone: every derived file is made again through their entries.
    const before = new Map([...assets.keys()].map((k) => [k, fs.readFileSync(path.join(ws, k))]));
    fs.rmSync(path.join(ws, "art/house.png"));
    fs.rmSync(path.join(ws, "art/house-cut.webp"));
    fs.rmSync(path.join(ws, "art/web/favicon-32x32.png"));
    const check = await cli(["assets", "check"], ws);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^ok art\/cut-x2\.png\nmissing art\/house-cut\.webp: .*\nok art\/house-x2\.png\nmissing art\/house\.png: .*\nok art\/web\/android-chrome-192x192\.png\n/);
    assert.match(check.stdout, /missing art\/web\/favicon-32x32\.png/);
    const regen = await cli(["assets", "regenerate"], ws);
    assert.equal(regen.code, 0, regen.stdout + regen.stderr);
    assert.match(regen.stdout, /restored art\/house-cut\.webp\n/);
    assert.match(regen.stdout, /restored art\/house\.png\n/);
    assert.match(regen.stdout, /restored art\/web\/favicon-32x32\.png\n/);
    for (const [rel, bytes] of before) assert.equal(await hash(path.join(ws, rel)), await pixelHash(bytes).then((h) => h.pixels), rel);
    assert.equal((await cli(["assets", "check"], ws)).code, 0);
  });

  it("an input that is not recorded, changed or missing, is one line naming it; outpainting is recorded and checked", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    assert.equal((await cli([...GEN, "--prompt", "a cat", "--seed", "1", "--out", "cat.png"], ws)).code, 0);
    assert.equal((await cli([...GEN, "--prompt", "a dog", "--seed", "2", "--init-image", "cat.png", "--strength", "0.5", "--out", "dog.png", "--record"], ws)).code, 0);
    const wide = await cli(["outpaint", "--model", SD15, "--steps", "2", "--provider", "cpu", "--image", "cat.png", "--right", "32", "--prompt", "more cat", "--seed", "3", "--out", "wide.png", "--record"], ws);
    assert.equal(wide.code, 0, wide.stderr);
    const entry = (await readAssets(ws)).get("wide.png")!;
    assert.deepEqual([entry.generation?.outpaint?.right, entry.width, entry.height], [32, 96, 64]);
    assert.equal((await cli(["assets", "check"], ws)).code, 0);

    await touchPixel(path.join(ws, "cat.png"));
    const changed = await cli(["assets", "check"], ws);
    assert.equal(changed.code, 1);
    assert.match(changed.stdout, /^failed dog\.png: its init image cat\.png has changed since the asset was made \(its pixels differ from the recorded sha256:[0-9a-f]{12}…\): restore it\nfailed wide\.png: its init image cat\.png has changed/);
    assert.match(changed.stderr, /2 of 2 image\(s\) do not match/);
    fs.rmSync(path.join(ws, "cat.png"));
    const missing = await cli(["assets", "regenerate", "dog.png"], ws);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^failed dog\.png: its init image cat\.png cannot be read \(.*\): restore it\n$/);
    assert.match(missing.stderr, /1 of 1 image\(s\) could not be made again/);
  });

  it("--record refuses a remover or upscaler output outside the workspace, before any work", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const image = path.join(ws, "in.png");
    await sharp({ create: { width: 16, height: 16, channels: 3, background: "#c02020" } }).png().toFile(image);
    const outside = path.join(tmp, "outside-x2.png");
    const r = await cli(["upscale", image, "--scale", "2", "--out", outside, "--record"], ws);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: --record: .*outside-x2\.png is outside the workspace/);
    assert.equal(fs.existsSync(outside), false);
    const w = await cli(["rembg", image, "--model", matte, "--workspace", ws], ws);
    assert.match(w.stderr, /^error: --workspace DIR goes with --record/);
  });
});

describe("easel-assets.json format", () => {
  it("reads format 1 files, refuses a newer format and an unknown step with a clear line", () => {
    const entry: AssetEntry = { pixels: `sha256:${"1".repeat(64)}`, width: 1, height: 1, source: { path: "a.png", pixels: `sha256:${"0".repeat(64)}` }, post: [{ op: "icon", size: 16 }], easelVersion: "easel-0" };
    assert.equal(parseAssets(JSON.stringify({ format: 1, assets: { "i.png": entry } }), "f").get("i.png")?.pixels, entry.pixels);
    assert.throws(() => parseAssets('{"format":3,"assets":{}}', "f"), /format 3, expected 1 or 2: written by a newer Easel, update Easel/);
    assert.throws(() => parseAssets(JSON.stringify({ format: 2, assets: { "i.png": { ...entry, post: [{ op: "sharpen" }] } } }), "f"), /unknown post-processing step "sharpen"/);
    assert.throws(() => parseAssets(JSON.stringify({ format: 2, assets: { "i.png": { ...entry, source: { pixels: entry.pixels } } } }), "f"), /input image with no workspace-relative path or data/);
  });
});
