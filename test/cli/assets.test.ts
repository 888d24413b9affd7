// The asset lockfile: `generate --record` writes easel-assets.json, `assets check` remakes the
// images in memory and compares, `assets regenerate` restores them; concurrent writers lose no
// entry; a corrupt lockfile is an error and is left as it was.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { LOCKFILE_NAME, parseAssets, pixelHash, readAssets, updateAssets, type AssetEntry } from "../../extension/engine/assets/lockfile";
import { a1111LoraHash } from "../../extension/engine/lora/hash";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { runCli } from "../helpers/runCli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-assets-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SD15 = path.join(MODELS, "tiny-sd15");
const GEN = ["generate", "--model", SD15, "--steps", "2", "--width", "64", "--height", "64", "--provider", "cpu"];

describe("easel generate --record and easel assets", () => {
  it("records the LoRAs (prompt tag and --lora) with their hashes; check finds them by name and makes the same images; a changed LoRA file is one clear line", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    fs.mkdirSync(path.join(ws, "loras"));
    const lora = path.join(ws, "loras", "pub.safetensors");
    fs.copyFileSync(path.join(CONFORMANCE, "cases", "lora-public.safetensors"), lora);
    const tagged = await runCli([...GEN, "--prompt-syntax", "a1111", "--prompt", "a cat <lora:pub:0.8>", "--seed", "3", "--lora-folder", "loras", "--out", "tag.png", "--record"], { cwd: ws });
    assert.equal(tagged.code, 0, tagged.stderr);
    const given = await runCli([...GEN, "--prompt", "a cat", "--seed", "3", "--lora", `${lora}:0.6`, "--out", "given.png", "--record"], { cwd: ws });
    assert.equal(given.code, 0, given.stderr);
    const plain = await runCli([...GEN, "--prompt", "a cat", "--seed", "3", "--out", "plain.png"], { cwd: ws });
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(pixelDiff(await readRgb(path.join(ws, "given.png")), await readRgb(path.join(ws, "plain.png"))).max > 0, "the LoRA changes the image");
    const hash = await a1111LoraHash(lora);
    const assets = await readAssets(ws);
    assert.deepEqual(assets.get("tag.png")?.generation?.loras, [{ name: "pub", hash, unetWeight: 0.8, textWeight: 0.8, fromPrompt: true }]);
    assert.deepEqual(assets.get("given.png")?.generation?.loras, [{ name: "pub", hash, unetWeight: 0.6, textWeight: 0.6 }]);
    assert.equal(assets.get("given.png")?.generation?.fast, undefined);
    const ok = await runCli(["assets", "check", "--lora-folder", "loras", "--provider", "cpu"], { cwd: ws });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, "ok given.png\nok tag.png\n");
    // Same name, other weights: a different LoRA file.
    const bytes = fs.readFileSync(lora);
    bytes[bytes.length - 3] ^= 0x40;
    fs.writeFileSync(lora, bytes);
    const changed = await runCli(["assets", "check", "--lora-folder", "loras", "--provider", "cpu"], { cwd: ws });
    assert.equal(changed.code, 1, changed.stdout + changed.stderr);
    const lines = changed.stdout.trim().split("\n");
    assert.equal(lines.length, 2, changed.stdout);
    for (const [line, rel] of lines.map((l, i) => [l, ["given.png", "tag.png"][i]] as const)) {
      assert.match(line, new RegExp(`^failed ${rel.replace(".", "\\.")}: the LoRA pub found at .*pub\\.safetensors is not the one it was made with \\(hash [0-9a-f]{12}, recorded ${hash.slice(0, 12)}\\): put that LoRA's file back under its name$`));
    }
    // Not in the folders at all: the finder's own line.
    fs.rmSync(lora);
    const gone = await runCli(["assets", "check", "--lora-folder", "loras", "--provider", "cpu"], { cwd: ws });
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /^failed given\.png: no LoRA named pub \(pub\.safetensors\) in .*loras/m);
  });

  it("records seamless tiling and the hires fix, so check makes the same tileable and hires images again", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const tiled = await runCli([...GEN, "--prompt", "moss", "--seed", "5", "--tileable", "--out", "moss.png", "--record"], { cwd: ws });
    assert.equal(tiled.code, 0, tiled.stderr);
    const hires = await runCli([...GEN, "--prompt", "a harbour", "--seed", "6", "--hires-scale", "2", "--hires-strength", "0.5", "--hires-steps", "2", "--hires-upscaler", "lanczos", "--out", "harbour.png", "--record"], { cwd: ws });
    assert.equal(hires.code, 0, hires.stderr);
    const assets = parseAssets(fs.readFileSync(path.join(ws, LOCKFILE_NAME), "utf8"), LOCKFILE_NAME);
    assert.equal(assets.get("moss.png")?.generation?.tileable, true);
    assert.equal(assets.get("harbour.png")?.generation?.tileable, undefined);
    assert.deepEqual(assets.get("harbour.png")?.generation?.hires, { scale: 2, strength: 0.5, steps: 2, upscaler: "lanczos" });
    assert.deepEqual([assets.get("harbour.png")?.width, assets.get("harbour.png")?.generation?.width], [128, 64]);
    const ok = await runCli(["assets", "check"], { cwd: ws });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, "ok harbour.png\nok moss.png\n");
  });

  it("records two images; regenerate restores a deleted one bit for bit; check passes, then fails on a changed pixel", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    fs.mkdirSync(path.join(ws, "img"));
    const a = await runCli([...GEN, "--prompt", "a red boat", "--seed", "11", "--out", "img/boat.png", "--record"], { cwd: ws });
    assert.equal(a.code, 0, a.stderr);
    const b = await runCli([...GEN, "--prompt", "a green hill", "--negative-prompt", "fog", "--seed", "12", "--scheduler", "euler-a", "--out", "img/hill.png", "--record"], { cwd: ws });
    assert.equal(b.code, 0, b.stderr);

    const text = fs.readFileSync(path.join(ws, LOCKFILE_NAME), "utf8");
    const json = JSON.parse(text) as { format: number; assets: Record<string, AssetEntry> };
    assert.deepEqual(Object.keys(json.assets), ["img/boat.png", "img/hill.png"]);
    const hill = json.assets["img/hill.png"];
    assert.equal(hill.pixels, (await pixelHash(fs.readFileSync(path.join(ws, "img/hill.png")))).pixels);
    assert.equal(hill.generation?.prompt, "a green hill");
    assert.equal(hill.generation?.negativePrompt, "fog");
    assert.equal(hill.generation?.seed, "12");
    assert.equal(hill.generation?.scheduler, "euler-a");
    assert.equal(hill.generation?.steps, 2);
    assert.deepEqual([hill.generation?.width, hill.generation?.height], [64, 64]);
    assert.equal(hill.generation?.promptSyntax, "plain");
    assert.equal(hill.generation?.model.name, SD15);
    assert.equal(hill.generation?.model.folder, SD15);
    assert.deepEqual(hill.post, [{ op: "encode", format: "png" }]);
    assert.match(hill.easelVersion, /^easel-/);
    assert.equal(hill.provider, "cpu");
    // Sorted keys at every level, two-space indents: it diffs well.
    assert.match(text, /^\{\n {2}"assets": \{\n {4}"img\/boat\.png": \{\n {6}"easelVersion"/);

    const listed = await runCli(["assets", "list"], { cwd: ws });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^img\/boat\.png {2}seed 11, .*"a red boat"\nimg\/hill\.png {2}seed 12/);

    const original = fs.readFileSync(path.join(ws, "img/hill.png"));
    fs.rmSync(path.join(ws, "img/hill.png"));
    const missing = await runCli(["assets", "check"], { cwd: ws });
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^ok img\/boat\.png\nmissing img\/hill\.png/);
    const regen = await runCli(["assets", "regenerate"], { cwd: ws });
    assert.equal(regen.code, 0, regen.stderr);
    assert.equal(regen.stdout, "unchanged img/boat.png\nrestored img/hill.png\n");
    const restored = fs.readFileSync(path.join(ws, "img/hill.png"));
    assert.equal(pixelDiff(await readRgb(restored), await readRgb(original)).max, 0);
    assert.equal((await pixelHash(restored)).pixels, hill.pixels);

    const ok = await runCli(["assets", "check"], { cwd: ws });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, "ok img/boat.png\nok img/hill.png\n");

    // One pixel changed by 40 levels.
    const { data, info } = await sharp(restored).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    data[0] = data[0] > 127 ? data[0] - 40 : data[0] + 40;
    await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toFile(path.join(ws, "img/hill.png"));
    const bad = await runCli(["assets", "check", "img/hill.png"], { cwd: ws });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^differs img\/hill\.png: mean difference 0\.\d+, max 40 \(of 255\)\n$/);
    assert.match(bad.stderr, /1 of 1 image\(s\) do not match .*easel assets regenerate/);
    const tolerant = await runCli(["assets", "check", "img/hill.png", "--tolerance", "40"], { cwd: ws });
    assert.equal(tolerant.code, 0, tolerant.stdout);
    const unknown = await runCli(["assets", "check", "nope.png"], { cwd: ws });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: nope\.png is not recorded in .*easel-assets\.json: see 'easel assets list'\n$/);
  });

  it("records img2img with its input's path and pixel hash, and refuses outputs outside the workspace", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const first = await runCli([...GEN, "--prompt", "a cat", "--seed", "1", "--out", "cat.png"], { cwd: ws });
    assert.equal(first.code, 0, first.stderr);
    const r = await runCli([...GEN, "--prompt", "a dog", "--seed", "2", "--init-image", "cat.png", "--strength", "0.5", "--out", "dog.png", "--record"], { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    const dog = (await readAssets(ws)).get("dog.png");
    assert.deepEqual(dog?.generation?.initImage, { path: "cat.png", pixels: (await pixelHash(fs.readFileSync(path.join(ws, "cat.png")))).pixels });
    assert.equal(dog?.generation?.strength, 0.5);
    fs.rmSync(path.join(ws, "dog.png"));
    const regen = await runCli(["assets", "regenerate", "dog.png"], { cwd: ws });
    assert.equal(regen.code, 0, regen.stderr);
    assert.equal((await pixelHash(fs.readFileSync(path.join(ws, "dog.png")))).pixels, dog?.pixels);

    const outside = await runCli([...GEN, "--prompt", "x", "--out", path.join(tmp, "outside.png"), "--record"], { cwd: ws });
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /^error: --record: .*outside\.png is outside the workspace/);
    assert.equal(fs.existsSync(path.join(tmp, "outside.png")), false);
  });

  it("two generations finishing together both get their entry", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const runs = await Promise.all([1, 2, 3].map((seed) => runCli([...GEN, "--prompt", "together", "--seed", String(seed), "--record"], { cwd: ws })));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...(await readAssets(ws)).keys()].sort(), ["together-1.png", "together-2.png", "together-3.png"]);
    assert.equal(fs.existsSync(path.join(ws, `${LOCKFILE_NAME}.lock`)), false);
  });

  it("many writers at once lose no entry", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const entry = (n: number): AssetEntry => ({ pixels: `sha256:${n.toString(16).padStart(64, "0")}`, width: 1, height: 1, source: { path: "src.png", pixels: `sha256:${"0".repeat(64)}` }, post: [{ op: "icon", size: 16 }], easelVersion: "easel-test" });
    await Promise.all(Array.from({ length: 40 }, (_, i) => updateAssets(ws, (assets) => void assets.set(`icons/i${i}.png`, entry(i)))));
    const assets = await readAssets(ws);
    assert.equal(assets.size, 40);
    assert.equal(assets.get("icons/i7.png")?.pixels, entry(7).pixels);
  });

  it("a corrupt easel-assets.json is one clear error and is never overwritten", async () => {
    const ws = fs.mkdtempSync(path.join(tmp, "ws-"));
    const corrupt = '{"format": 1, "assets": {"a.png": {"pixels": "sha256:00"';
    fs.writeFileSync(path.join(ws, LOCKFILE_NAME), corrupt);
    const r = await runCli([...GEN, "--prompt", "x", "--seed", "3", "--record"], { cwd: ws });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*easel-assets\.json is not a valid Easel asset lockfile \(.*\); Easel leaves it as it is: repair it \(e\.g\. git checkout easel-assets\.json\) or move it away\n$/);
    assert.equal(fs.readFileSync(path.join(ws, LOCKFILE_NAME), "utf8"), corrupt);
    assert.deepEqual(fs.readdirSync(ws), [LOCKFILE_NAME], "refused before any image was made");
    const check = await runCli(["assets", "check"], { cwd: ws });
    assert.equal(check.code, 1);
    assert.match(check.stderr, /not a valid Easel asset lockfile/);
    await assert.rejects(updateAssets(ws, () => undefined), /not a valid Easel asset lockfile/);
    assert.equal(fs.readFileSync(path.join(ws, LOCKFILE_NAME), "utf8"), corrupt);
    assert.throws(() => parseAssets('{"format":1,"assets":{"../x.png":{}}}', "f"), /not a workspace-relative path/);
    assert.throws(() => parseAssets('{"format":3,"assets":{}}', "f"), /format 3, expected 1 or 2/);
  });
});
