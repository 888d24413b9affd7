// The CLI's happy paths: file naming, batches, --json, tokenize and info.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { runCli } from "../helpers/runCli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-cli-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SD15 = path.join(MODELS, "tiny-sd15");
const SD21V = path.join(MODELS, "tiny-sd21v");

describe("easel generate", () => {
  it("names the file after the prompt and seed, and stores the parameters", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "default-"));
    const r = await runCli(["generate", "--model", SD15, "--prompt", "A Café, at Night!", "--negative-prompt", "blurry", "--seed", "7", "--steps", "3", "--width", "64", "--height", "64", "--provider", "cpu"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(cwd), ["a-cafe-at-night-7.png"]);
    const info = await runCli(["info", "--json", path.join(cwd, "a-cafe-at-night-7.png")]);
    assert.equal(info.code, 0, info.stderr);
    const parsed = JSON.parse(info.stdout) as { prompt: string; negativePrompt: string; parameters: Record<string, string>; infotext: string };
    assert.equal(parsed.prompt, "A Café, at Night!");
    assert.equal(parsed.negativePrompt, "blurry");
    assert.equal(parsed.parameters.Steps, "3");
    assert.equal(parsed.parameters.Sampler, "PLMS");
    assert.equal(parsed.parameters.Seed, "7");
    assert.equal(parsed.parameters.Size, "64x64");
    assert.equal(parsed.parameters.Model, "tiny-sd15");
    assert.equal(parsed.parameters.RNG, "CPU");
    assert.match(parsed.parameters.Version, /^easel-\d+\.\d+\.\d+/);
    assert.equal(parsed.parameters["Schedule type"], undefined);
    const plain = await runCli(["info", path.join(cwd, "a-cafe-at-night-7.png")]);
    assert.equal(plain.stdout.trim(), parsed.infotext);
  });

  it("writes a batch as <stem>-<seed+i>.png, each image the same as its seed alone, with --json", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "batch-"));
    const common = ["generate", "--model", SD21V, "--prompt", "a red boat", "--steps", "3", "--width", "64", "--height", "64", "--scheduler", "euler-a"];
    const r = await runCli([...common, "--seed", "100", "--batch", "2", "--out", "boat.png", "--json"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const json = JSON.parse(lines[0]) as { images: { path: string; seed: string }[]; provider: string; seconds: number };
    // Seeds are decimal strings: they go up to 2^64-1, past what a JSON number keeps exactly.
    assert.deepEqual(json.images, [
      { path: path.join(cwd, "boat-100.png"), seed: "100" },
      { path: path.join(cwd, "boat-101.png"), seed: "101" },
    ]);
    assert.ok(["cpu", "cuda", "webgpu", "dml", "coreml"].includes(json.provider));
    assert.ok(json.seconds > 0);
    const alone = await runCli([...common, "--seed", "101", "--out", "alone.png"], { cwd });
    assert.equal(alone.code, 0, alone.stderr);
    const d = pixelDiff(await readRgb(path.join(cwd, "boat-101.png")), await readRgb(path.join(cwd, "alone.png")));
    assert.equal(d.max, 0);
    const first = pixelDiff(await readRgb(path.join(cwd, "boat-100.png")), await readRgb(path.join(cwd, "alone.png")));
    assert.ok(first.max > 0, "different seeds give different images");
  });

  it("picks a random seed when none is given, prints it and stores it", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "random-"));
    const r = await runCli(["generate", "--model", SD15, "--prompt", "", "--steps", "2", "--width", "64", "--height", "64"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const seed = /seed (\d+)/.exec(r.stderr)?.[1];
    assert.ok(seed, r.stderr);
    assert.deepEqual(fs.readdirSync(cwd), [`image-${seed}.png`]);
    const info = await runCli(["info", "--json", path.join(cwd, `image-${seed}.png`)]);
    assert.equal((JSON.parse(info.stdout) as { parameters: Record<string, string> }).parameters.Seed, seed);
  });

  it("accepts seeds up to 2^64-1 and writes them exactly", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "bigseed-"));
    const r = await runCli(["generate", "--model", SD15, "--prompt", "x", "--steps", "1", "--width", "64", "--height", "64", "--seed", "18446744073709551615", "--json"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    // A JSON number would read back as 18446744073709552000 in JavaScript (and most JSON readers).
    const json = JSON.parse(r.stdout) as { images: { seed: unknown }[] };
    assert.equal(json.images[0].seed, "18446744073709551615");
    assert.deepEqual(fs.readdirSync(cwd), ["x-18446744073709551615.png"]);
  });

  it("uses the model family's defaults (Turbo: 1 step, guidance 0)", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "turbo-"));
    const r = await runCli(["generate", "--model", path.join(MODELS, "tiny-turbo"), "--prompt", "x", "--seed", "3", "--width", "64", "--height", "64", "--out", "t.png"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse((await runCli(["info", "--json", path.join(cwd, "t.png")])).stdout) as { parameters: Record<string, string> };
    assert.equal(info.parameters.Steps, "1");
    assert.equal(info.parameters["CFG scale"], "0");
    assert.equal(info.parameters.Sampler, "Euler");
  });

  it("runs SDXL with its family's defaults (the UNet config's size, 25 steps, CFG 5) and the usual metadata", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "sdxl-"));
    const r = await runCli(["generate", "--model", path.join(MODELS, "tiny-sdxl"), "--prompt", "a castle", "--negative-prompt", "fog", "--seed", "4", "--out", "x.png", "--json"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { vaeDecoder: string }).vaeDecoder, "vae_decoder/model.onnx");
    const info = JSON.parse((await runCli(["info", "--json", path.join(cwd, "x.png")])).stdout) as { negativePrompt: string; parameters: Record<string, string> };
    assert.equal(info.negativePrompt, "fog");
    assert.equal(info.parameters.Steps, "25");
    assert.equal(info.parameters["CFG scale"], "5");
    assert.equal(info.parameters.Size, "128x128", "tiny-sdxl's UNet config: 16 latents × 8");
    assert.equal(info.parameters.Sampler, "Euler");
    assert.equal(info.parameters.Model, "tiny-sdxl");
  });

  it("runs SDXL-Turbo with its defaults: 512², 1 step, guidance 0", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "sdxl-turbo-"));
    const r = await runCli(["generate", "--model", path.join(MODELS, "tiny-sdxl-turbo"), "--prompt", "a castle", "--seed", "4", "--out", "t.png"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse((await runCli(["info", "--json", path.join(cwd, "t.png")])).stdout) as { parameters: Record<string, string> };
    assert.deepEqual([info.parameters.Steps, info.parameters["CFG scale"], info.parameters.Size], ["1", "0", "512x512"]);
  });

  it("writes Karras and denoising strength into the infotext", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "karras-"));
    const init = path.join(MODELS, "..", "cases", "sd15-img2img-euler.init.png");
    const r = await runCli(["generate", "--model", SD15, "--prompt", "x", "--seed", "3", "--steps", "4", "--width", "64", "--height", "64", "--scheduler", "dpmpp-2m-karras", "--init-image", init, "--strength", "0.5", "--out", "k.png"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse((await runCli(["info", "--json", path.join(cwd, "k.png")])).stdout) as { parameters: Record<string, string> };
    assert.equal(info.parameters.Sampler, "DPM++ 2M");
    assert.equal(info.parameters["Schedule type"], "Karras");
    assert.equal(info.parameters["Denoising strength"], "0.5");
  });
  it("reads the prompts from files and from standard input (--prompt-file, --negative-prompt-file)", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "promptfile-"));
    const prompt = `${"a lighthouse on a cliff, ".repeat(600)}at dusk\nseen from the sea`; // 15,024 characters, two lines
    fs.writeFileSync(path.join(cwd, "prompt.txt"), `\ufeff${prompt}\r\n`);
    fs.writeFileSync(path.join(cwd, "negative.txt"), "blurry\n");
    const small = ["--model", SD15, "--steps", "1", "--width", "64", "--height", "64", "--seed", "3"];
    const fromFiles = await runCli(["generate", ...small, "--prompt-file", "prompt.txt", "--negative-prompt-file", "negative.txt", "--out", "files.png"], { cwd });
    assert.equal(fromFiles.code, 0, fromFiles.stderr);
    const fromStdin = await runCli(["generate", ...small, "--prompt-file", "-", "--negative-prompt", "blurry", "--out", "stdin.png"], { cwd, stdin: `${prompt}\n` });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    for (const name of ["files.png", "stdin.png"]) {
      const info = await runCli(["info", "--json", path.join(cwd, name)]);
      const parsed = JSON.parse(info.stdout) as { prompt: string; negativePrompt: string };
      assert.ok(parsed.prompt === prompt, `${name}: the file's text without BOM and final line ending (got ${parsed.prompt.length} characters, ending ${JSON.stringify(parsed.prompt.slice(-30))})`);
      assert.equal(parsed.negativePrompt, "blurry");
    }
    const d = pixelDiff(await readRgb(path.join(cwd, "files.png")), await readRgb(path.join(cwd, "stdin.png")));
    assert.equal(d.max, 0);
  });

  it("never replaces a file under a name it made up; --out replaces a writable file whole", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "noclobber-"));
    const common = ["generate", "--model", SD15, "--prompt", "a red boat", "--steps", "1", "--width", "64", "--height", "64", "--seed", "9"];
    fs.writeFileSync(path.join(cwd, "a-red-boat-9.png"), "mine");
    fs.writeFileSync(path.join(cwd, "boat-10.png"), "mine too");
    const one = await runCli(common, { cwd });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout.trim(), path.join(cwd, "a-red-boat-9-2.png"));
    const batch = await runCli([...common, "--batch", "2", "--out", "boat.png", "--json"], { cwd });
    assert.equal(batch.code, 0, batch.stderr);
    const json = JSON.parse(batch.stdout) as { images: { path: string; seed: number }[] };
    assert.deepEqual(json.images, [
      { path: path.join(cwd, "boat-9.png"), seed: "9" },
      { path: path.join(cwd, "boat-10-2.png"), seed: "10" },
    ]);
    assert.equal(fs.readFileSync(path.join(cwd, "a-red-boat-9.png"), "utf8"), "mine");
    assert.equal(fs.readFileSync(path.join(cwd, "boat-10.png"), "utf8"), "mine too");
    fs.writeFileSync(path.join(cwd, "out.png"), "old");
    const out = await runCli([...common, "--out", "out.png"], { cwd });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(fs.readFileSync(path.join(cwd, "out.png")), fs.readFileSync(path.join(cwd, "a-red-boat-9-2.png")));
    assert.deepEqual(fs.readdirSync(cwd).sort(), ["a-red-boat-9-2.png", "a-red-boat-9.png", "boat-10-2.png", "boat-10.png", "boat-9.png", "out.png"], "no temp file left");
  });
});

describe("easel tokenize", () => {
  it("prints the 77 ids, the count and truncation as JSON", async () => {
    const r = await runCli(["tokenize", "--model", SD15, "--json", "a photograph of an astronaut riding a horse"]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { ids: number[]; count: number; truncated: boolean };
    assert.equal(json.ids.length, 77);
    assert.deepEqual(json.ids.slice(0, 10), [49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407]);
    assert.equal(json.count, 8);
    assert.equal(json.truncated, false);
  });
  it("prints both tokenizers' ids for SDXL, each with its own padding", async () => {
    const sdxl = path.join(MODELS, "tiny-sdxl");
    const r = await runCli(["tokenize", "--model", sdxl, "--json", "a photograph of an astronaut riding a horse"]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { ids: number[]; count: number; tokenizer_2: { ids: number[]; count: number; truncated: boolean } };
    assert.deepEqual(json.ids.slice(0, 11), [49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407, 49407]);
    assert.deepEqual(json.tokenizer_2.ids.slice(0, 11), [49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407, 0], "tokenizer_2 pads with !");
    assert.equal(json.tokenizer_2.count, 8);
    const plain = await runCli(["tokenize", "--model", sdxl, "a horse"]);
    assert.match(plain.stdout, /^ids: 49406 320 4558 49407 49407 .*\nids \(tokenizer_2\): 49406 320 4558 49407 0 0 .*\ntokens: 2\/75\n$/);
  });
  it("--prompt-syntax a1111 on SDXL: both tokenizers' chunks, the same weights, each with its own padding", async () => {
    const sdxl = path.join(MODELS, "tiny-sdxl");
    const prompt = `a (horse:1.5), ${"word ".repeat(99)}`;
    const r = await runCli(["tokenize", "--model", sdxl, "--prompt-syntax", "a1111", "--json", prompt]);
    assert.equal(r.code, 0, r.stderr);
    type Tokens = { chunks: { ids: number[]; weights: number[] }[]; ids: number[]; count: number; truncated: boolean };
    const json = JSON.parse(r.stdout) as Tokens & { tokenizer_2: Tokens };
    assert.equal(json.count, 102);
    assert.deepEqual([json.chunks.length, json.tokenizer_2.chunks.length], [2, 2]);
    assert.deepEqual([json.truncated, json.tokenizer_2.truncated], [false, false]);
    assert.deepEqual(json.chunks[0].weights.slice(0, 4), [1, 1, 1.5, 1]);
    for (const i of [0, 1]) {
      assert.deepEqual(json.tokenizer_2.chunks[i].weights, json.chunks[i].weights, `chunk ${i + 1}: the same weights`);
      const [one, two] = [json.chunks[i].ids, json.tokenizer_2.chunks[i].ids];
      const eos = one.indexOf(49407, 1);
      assert.deepEqual(two.slice(0, eos + 1), one.slice(0, eos + 1), `chunk ${i + 1}: the same tokens`);
      if (eos < 76) assert.deepEqual([one[76], two[76]], [49407, 0], `chunk ${i + 1}: tokenizer pads with EOS, tokenizer_2 with !`);
    }
    const text = await runCli(["tokenize", "--model", sdxl, "--prompt-syntax", "a1111", prompt]);
    assert.match(text.stdout, /^chunk 1\/2\nids: 49406 .*\nids \(tokenizer_2\): 49406 .*\nweights: 1 1 1\.5 1 .*\nchunk 2\/2\n/);
    assert.match(text.stdout, /tokens: 102 in 2 chunks of 75\n$/);
  });
  it("reports truncation past 75 tokens", async () => {
    const r = await runCli(["tokenize", "--model", SD21V, "--json", "word ".repeat(100)]);
    const json = JSON.parse(r.stdout) as { ids: number[]; count: number; truncated: boolean };
    assert.equal(json.count, 100);
    assert.equal(json.truncated, true);
    assert.equal(json.ids[76], 49407);
  });
  it("--prompt-syntax a1111: every chunk's ids and weights, nothing truncated; the first chunk's ids at top level", async () => {
    const prompt = `(word:1.5) ${"word ".repeat(99)}`;
    const r = await runCli(["tokenize", "--model", SD21V, "--prompt-syntax", "a1111", "--json", prompt]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { chunks: { ids: number[]; weights: number[] }[]; ids: number[]; count: number; truncated: boolean };
    assert.equal(json.chunks.length, 2);
    assert.equal(json.count, 100);
    assert.equal(json.truncated, false);
    assert.deepEqual(json.ids, json.chunks[0].ids);
    for (const c of json.chunks) assert.deepEqual([c.ids.length, c.weights.length], [77, 77]);
    assert.deepEqual(json.chunks[0].weights.slice(0, 3), [1, 1.5, 1]);
    // SD 2.x: after the second chunk's 25 tokens, EOS, then the "!" pad (id 0).
    assert.deepEqual(json.chunks[1].ids.slice(25, 29), [json.chunks[1].ids[25], 49407, 0, 0]);
    const text = await runCli(["tokenize", "--model", SD21V, "--prompt-syntax", "a1111", prompt]);
    assert.match(text.stdout, /^chunk 1\/2\nids: 49406 /);
    assert.match(text.stdout, /tokens: 100 in 2 chunks of 75\n$/);
  });
  it("the plain syntax keeps the old fields and adds one chunk of unit weights", async () => {
    const r = await runCli(["tokenize", "--model", SD15, "--json", "(word:1.5)"]);
    const json = JSON.parse(r.stdout) as { chunks: { ids: number[]; weights: number[] }[]; ids: number[] };
    assert.equal(json.chunks.length, 1);
    assert.deepEqual(json.chunks[0].ids, json.ids);
    assert.ok(json.chunks[0].weights.every((w) => w === 1));
  });
});
