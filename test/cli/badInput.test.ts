// Every bad input named in the engine issue: one `error:` line on stderr, a non-zero exit, no stack
// trace and no file left behind.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { copyFixtureModel, multiplyOutput, patchSchedulerConfig, rewriteComponent, textEncoderFixedBatch, unetFixedBatch } from "../helpers/onnxVariants";
import { runCli } from "../helpers/runCli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-bad-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SD15 = path.join(MODELS, "tiny-sd15");
const LCM = path.join(MODELS, "tiny-lcm");
const INIT = path.join(CONFORMANCE, "cases", "sd15-img2img-euler.init.png");
const MASK = path.join(CONFORMANCE, "cases", "inpaint-euler-8.mask.png");

function copyModel(name: string): string {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  fs.cpSync(path.join(MODELS, name), dir, { recursive: true });
  return dir;
}

function modelWithIndex(index: Record<string, unknown>): string {
  const dir = copyModel("tiny-sd15");
  fs.writeFileSync(path.join(dir, "model_index.json"), JSON.stringify(index));
  return dir;
}

let outCounter = 0;
async function expectError(args: readonly string[], pattern: RegExp): Promise<void> {
  const outDir = fs.mkdtempSync(path.join(tmp, `out-${outCounter++}-`));
  const hasOut = args.includes("--out");
  const r = await runCli(hasOut ? args : [...args, "--out", path.join(outDir, "image.png")], { cwd: outDir });
  assert.notEqual(r.code, 0, `expected failure, got exit 0: ${r.stdout}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.deepEqual(fs.readdirSync(outDir), [], "no output file, no temp file");
}

const base = (model: string, ...extra: string[]) => ["generate", "--model", model, "--prompt", "a cat", "--width", "64", "--height", "64", "--steps", "2", "--seed", "1", ...extra];

describe("bad input", () => {
  it("missing model folder", () => expectError(base(path.join(tmp, "nope")), /does not exist/));
  it("empty model folder", () => expectError(base(fs.mkdtempSync(path.join(tmp, "empty-"))), /is empty/));
  it("a folder without model_index.json", async () => {
    const dir = copyModel("tiny-sd15");
    fs.rmSync(path.join(dir, "model_index.json"));
    await expectError(base(dir), /no model_index\.json/);
  });
  it("incomplete model folder", async () => {
    const dir = copyModel("tiny-sd15");
    fs.rmSync(path.join(dir, "unet", "model.onnx"));
    fs.rmSync(path.join(dir, "tokenizer", "merges.txt"));
    await expectError(base(dir), /incomplete: missing unet\/model\.onnx, tokenizer\/merges\.txt/);
  });
  it("truncated ONNX file", async () => {
    const dir = copyModel("tiny-sd15");
    const file = path.join(dir, "unet", "model.onnx");
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
    await expectError(base(dir), /unet\/model\.onnx could not be loaded/);
  });
  it("corrupt ONNX file", async () => {
    const dir = copyModel("tiny-sd15");
    fs.writeFileSync(path.join(dir, "text_encoder", "model.onnx"), "this is not a protobuf");
    await expectError(base(dir), /text_encoder\/model\.onnx could not be loaded/);
  });
  it("another kind of pipeline", () => expectError(base(modelWithIndex({ _class_name: "StableDiffusionControlNetPipeline" })), /^error: not supported yet: StableDiffusionControlNetPipeline/));
  it("a Flux pipeline", () => expectError(base(modelWithIndex({ _class_name: "FluxPipeline" })), /not supported yet: FluxPipeline/));
  it("an SDXL pipeline without its second encoder and tokenizer", () =>
    expectError(base(modelWithIndex({ _class_name: "ORTStableDiffusionXLPipeline", text_encoder_2: ["diffusers", "OnnxRuntimeModel"] })), /is incomplete: missing text_encoder_2\/model\.onnx, tokenizer_2\/vocab\.json, tokenizer_2\/merges\.txt; download or export the model again$/));
  it("the SDXL refiner", () =>
    expectError(base(modelWithIndex({ _class_name: "ORTStableDiffusionXLImg2ImgPipeline", text_encoder: [null, null], text_encoder_2: ["diffusers", "OnnxRuntimeModel"], requires_aesthetics_score: true })), /^error: not supported yet: ORTStableDiffusionXLImg2ImgPipeline without text_encoder \(the SDXL refiner\)/));
  it("an SDXL inpainting pipeline", () =>
    expectError(base(modelWithIndex({ _class_name: "ORTStableDiffusionXLInpaintPipeline", text_encoder_2: ["diffusers", "OnnxRuntimeModel"] })), /not supported yet: ORTStableDiffusionXLInpaintPipeline pipelines/));
  it("unknown scheduler", () => expectError(base(SD15, "--scheduler", "heun"), /unknown scheduler "heun"/));
  it("width not a multiple of the granularity", () => expectError([...base(SD15), "--width", "72"], /width 72 is not a multiple of 16/));
  it("side below 64", () => expectError([...base(SD15), "--height", "32"], /height must be .* from 64 to 2048/));
  it("side above 2048", () => expectError([...base(SD15), "--width", "4096"], /width must be .* from 64 to 2048/));
  it("steps 0", () => expectError([...base(SD15), "--steps", "0"], /steps must be a whole number from 1 to 150/));
  it("steps 151", () => expectError([...base(SD15), "--steps", "151"], /steps must be a whole number from 1 to 150/));
  it("steps not a number", () => expectError([...base(SD15), "--steps", "ten"], /--steps must be a whole number/));
  it("LCM steps above original_inference_steps", () => expectError([...base(LCM), "--steps", "51"], /at most 50 steps/));
  it("guidance not a number", () => expectError([...base(SD15), "--guidance", "abc"], /--guidance must be a finite number/));
  it("guidance infinite", () => expectError([...base(SD15), "--guidance", "Infinity"], /--guidance must be a finite number/));
  it("strength 0", () => expectError([...base(SD15), "--init-image", INIT, "--strength", "0"], /strength must be a number in \(0, 1\]/));
  it("strength above 1", () => expectError([...base(SD15), "--init-image", INIT, "--strength", "1.5"], /strength must be a number in \(0, 1\]/));
  it("strength without init image", () => expectError([...base(SD15), "--strength", "0.5"], /add an init image \(--init-image FILE\)/));
  it("img2img with no step to run", () => expectError([...base(SD15), "--steps", "3", "--init-image", INIT, "--strength", "0.2"], /no denoising step would run/));
  it("missing init image", () => expectError([...base(SD15), "--init-image", path.join(tmp, "missing.png")], /init image .*missing\.png does not exist: check the path/));
  it("init image that is a device", { skip: process.platform === "win32" && "no /dev/zero on Windows" }, () =>
    expectError([...base(SD15), "--init-image", "/dev/zero"], /init image \/dev\/zero is not a regular file/));
  it("init image that is not an image", async () => {
    const file = path.join(tmp, "not-an-image.png");
    fs.writeFileSync(file, "hello");
    await expectError([...base(SD15), "--init-image", file], /init image/);
  });
  it("seed out of range", () => expectError([...base(SD15), "--seed", "18446744073709551616"], /--seed/));
  it("negative seed", () => expectError(["generate", "--model", SD15, "--prompt", "x", "--seed=-1"], /--seed/));
  it("batch over 2^32 (was \"Invalid array length\")", () => expectError([...base(SD15), "--batch", "4294967296"], /batch must be a whole number from 1 to 64 \(got 4294967296\)/));
  it("batch of 10^8 (was an out-of-memory abort)", () => expectError([...base(SD15), "--batch", "100000000"], /batch must be a whole number from 1 to 64/));
  it("guidance above 100", () => expectError([...base(SD15), "--guidance", "101"], /guidance must be a number from 0 to 100/));
  it("negative guidance", () => expectError([...base(SD15), "--guidance=-1"], /guidance must be a number from 0 to 100/));
  it("a side far beyond 2048", () => expectError([...base(SD15), "--width", "99999999999999"], /width must be .* from 64 to 2048/));
  it("numbers are checked before the output or the model is looked at", async () => {
    await expectError(["generate", "--model", path.join(tmp, "nope"), "--prompt", "x", "--batch", "65", "--out", path.join(tmp, "no-such-dir", "x.png")], /batch must be a whole number from 1 to 64/);
    await expectError(["generate", "--model", path.join(tmp, "nope"), "--prompt", "x", "--strength", "2"], /strength must be a number in \(0, 1\]/);
    await expectError(["generate", "--model", path.join(tmp, "nope"), "--prompt", "x", "--seed", "18446744073709551615", "--batch", "2"], /seed \+ batch - 1 must stay within/);
  });
  it("a prompt over the limit", () => expectError([...base(SD15), "--prompt", "a".repeat(20_001)], /^error: the prompt is 20001 characters; the limit is 20000 — /));
  it("a negative prompt over the limit", () => expectError([...base(SD15), "--negative-prompt", "b".repeat(20_001)], /^error: the negative prompt is 20001 characters; the limit is 20000 — /));
  it("a prompt file over the limit", async () => {
    const file = path.join(tmp, "long-prompt.txt");
    fs.writeFileSync(file, `${"c".repeat(20_001)}\n`);
    await expectError(["generate", "--model", SD15, "--prompt-file", file], /^error: the prompt is 20001 characters; the limit is 20000 — /);
  });
  it("a prompt file far over the limit is not read whole", async () => {
    const file = path.join(tmp, "huge-prompt.txt");
    fs.writeFileSync(file, Buffer.alloc(8 * 1024 * 1024, 0x61));
    await expectError(["generate", "--model", SD15, "--prompt-file", file], /^error: the prompt in .*huge-prompt\.txt is over 20000 characters .*; the limit is 20000/);
  });
  it("a missing prompt file", () => expectError(["generate", "--model", SD15, "--prompt-file", path.join(tmp, "missing.txt")], /cannot read the prompt from .*missing\.txt \(ENOENT\)/));
  it("a prompt file that is not UTF-8", async () => {
    const file = path.join(tmp, "latin1.txt");
    fs.writeFileSync(file, Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    await expectError(["generate", "--model", SD15, "--prompt-file", file], /is not UTF-8 text/);
  });
  it("--prompt and --prompt-file together", () => expectError(["generate", "--model", SD15, "--prompt", "x", "--prompt-file", "-"], /give --prompt or --prompt-file, not both/));
  it("both prompt files from standard input", () => expectError(["generate", "--model", SD15, "--prompt-file", "-", "--negative-prompt-file", "-"], /only one of .* can read standard input/));
  it("a read-only --out file is not replaced", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "readonly-"));
    const file = path.join(dir, "keep.png");
    fs.writeFileSync(file, "precious");
    fs.chmodSync(file, 0o444);
    const r = await runCli([...base(SD15), "--out", file], { cwd: dir });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /^error: cannot write .*keep\.png: the file is read-only; choose another --out or make the file writable$/);
    assert.equal(fs.readFileSync(file, "utf8"), "precious");
    assert.deepEqual(fs.readdirSync(dir), ["keep.png"], "no temp file left");
  });
  it("unwritable output path", () => expectError([...base(SD15), "--out", path.join(tmp, "no-such-dir", "x.png")], /cannot write .*does not exist or is not writable/));
  it("output path that is a folder", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "dir-"));
    fs.mkdirSync(path.join(dir, "x.png"));
    await expectError([...base(SD15), "--out", path.join(dir, "x.png")], /it is a folder/);
  });
  it("unknown flag", () => expectError([...base(SD15), "--colour", "red"], /Unknown option '--colour'/));
  it("unknown command", () => expectError(["paint"], /unknown command "paint"/));
  it("unknown provider", () => expectError([...base(SD15), "--provider", "tpu"], /unknown provider "tpu"/));
  // The platform's own: dml on Linux, cuda on macOS, coreml on Windows (every platform is covered with injection in providerChoice.test.ts).
  it("a provider this platform does not have, forced", () => {
    const missing = process.platform === "linux" ? "dml" : process.platform === "darwin" ? "cuda" : "coreml";
    return expectError([...base(SD15), "--provider", missing], new RegExp(`^error: --provider ${missing}: \\S+ is not available on \\w+ \\w+ \\(.*\\); use --provider auto or one of [a-z, ]+cpu$`));
  });
  it("--mask without --init-image", () => expectError([...base(SD15), "--mask", MASK], /^error: --mask needs the image it masks: add --init-image FILE$/));
  it("missing mask", () => expectError([...base(SD15), "--init-image", INIT, "--mask", path.join(tmp, "missing.png")], /^error: mask .*missing\.png does not exist: check the path$/));
  it("mask that is not an image", async () => {
    const file = path.join(tmp, "mask.png");
    fs.writeFileSync(file, "not an image");
    await expectError([...base(SD15), "--init-image", INIT, "--mask", file], /The mask is not a readable image/);
  });
  it("mask of another size than the image", () => expectError([...base(SD15), "--width", "96", "--init-image", INIT, "--mask", MASK], /the mask is 64x64 but the image is 96x64: make the mask the same size/));
  it("mask on a model without a VAE encoder", async () => {
    const dir = copyModel("tiny-sd15");
    fs.rmSync(path.join(dir, "vae_encoder"), { recursive: true });
    await expectError([...base(dir), "--init-image", INIT, "--mask", MASK], /no vae_encoder\/model\.onnx, so it cannot inpaint/);
  });
  const outpaint = (...extra: string[]) => ["outpaint", "--model", SD15, "--prompt", "a cat", "--steps", "2", "--seed", "1", "--image", INIT, ...extra];
  it("outpaint breaking the model's granularity", () => expectError(outpaint("--left", "8"), /the width 64 \+ 8 = 72, not a multiple of 16 .*--left \+ --right add up to 16/));
  it("outpaint past the 2048 limit", () => expectError(outpaint("--bottom", "2000"), /the height 64 \+ 2000 = 2064, above the 2048 limit/));
  it("outpaint by a negative number", () => expectError(outpaint("--left=-16"), /--left must be 0 or more pixels \(got -16\)/));
  it("outpaint by nothing", () => expectError(outpaint(), /needs at least one side to extend/));
  it("outpaint without --image", () => expectError(["outpaint", "--model", SD15, "--prompt", "a cat", "--left", "16"], /missing --image FILE/));
  it("outpaint with --width", () => expectError(outpaint("--left", "16", "--width", "80"), /Unknown option '--width'/));
  it("outpaint with an unknown fill", () => expectError(outpaint("--left", "16", "--fill", "blur"), /unknown --fill "blur": use edge or noise/));
  it("a prompt over 20000 characters, refused before the model is looked for", () =>
    expectError(["generate", "--model", path.join(tmp, "no-such-model"), "--prompt", "a".repeat(20_001)], /^error: the prompt is 20001 characters; the limit is 20000 — /));
  it("missing --prompt", () => expectError(["generate", "--model", SD15], /missing --prompt TEXT or --prompt-file FILE/));
  it("unknown --prompt-syntax", () => expectError([...base(SD15), "--prompt-syntax", "comfy"], /unknown --prompt-syntax "comfy": use one of a1111, plain/));
  it("a prompt weight that is not a number", () => expectError([...base(SD15), "--prompt-syntax", "a1111", "--prompt", "a (cat:1.2.3)"], /the prompt weight "1\.2\.3" in ":1\.2\.3\)" is not a number/));
  it("info on a file without parameters", async () => {
    const r = await runCli(["info", path.join(CONFORMANCE, "cases", "sd15-default-20.png")]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /^error: .* has no generation parameters \(no "parameters" text chunk\)$/);
  });
  it("info on a non-PNG file", async () => {
    const r = await runCli(["info", path.join(MODELS, "tiny-sd15", "model_index.json")]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /^error: /);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  });
});

/** A copy of tiny-sd15 whose config `file` has `key` set to `raw`, JSON text as written (1e999 parses as Infinity). */
function modelWithConfigValue(file: string, key: string, raw: string): string {
  const dir = copyModel("tiny-sd15");
  const full = path.join(dir, file);
  const config = JSON.parse(fs.readFileSync(full, "utf8")) as Record<string, unknown>;
  fs.writeFileSync(full, JSON.stringify({ ...config, [key]: "__RAW__" }).replace('"__RAW__"', raw));
  return dir;
}

describe("hostile model configs: one error naming the file and the field, no image", () => {
  const scheduler = "scheduler/scheduler_config.json";
  it("num_train_timesteps 2e9 (would allocate gigabytes)", () =>
    expectError(base(modelWithConfigValue(scheduler, "num_train_timesteps", "2e9")), /scheduler\/scheduler_config\.json: num_train_timesteps must be a whole number from 2 to 10000 \(got 2000000000\)/));
  it("a negative beta (an all-black image before)", () =>
    expectError(base(modelWithConfigValue(scheduler, "beta_start", "-0.5")), /scheduler\/scheduler_config\.json: beta_start must be a number above 0 and below 1 \(got -0.5\)/));
  it("an infinite beta", () =>
    expectError(base(modelWithConfigValue(scheduler, "beta_end", "1e999")), /scheduler\/scheduler_config\.json: beta_end must be .* \(got Infinity\)/));
  it("trained_betas above 1", () =>
    expectError(base(modelWithConfigValue(scheduler, "trained_betas", `[${new Array(1000).fill(1.5).join(",")}]`)), /trained_betas\[0\] must be a number above 0 and below 1 \(got 1.5\)/));
  it("an infinite VAE scaling_factor", () =>
    expectError(base(modelWithConfigValue("vae_decoder/config.json", "scaling_factor", "1e999")), /vae_decoder\/config\.json: scaling_factor must be a number from 0\.001 to 1000 \(got Infinity\)/));
  it("a VAE with 2000 blocks (a scale factor of 2^1999)", () =>
    expectError(base(modelWithConfigValue("vae_decoder/config.json", "block_out_channels", `[${new Array(2000).fill(8).join(",")}]`)), /vae_decoder\/config\.json: block_out_channels \(its length\) must be a whole number from 1 to 8 \(got 2000\)/));
  it("a UNet sample_size of 1e9", () =>
    expectError(base(modelWithConfigValue("unet/config.json", "sample_size", "1e9")), /unet\/config\.json: sample_size must be a whole number from 1 to 256 \(got 1000000000\)/));
  it("NaN as Python's json.dumps writes it", () =>
    expectError(base(modelWithConfigValue(scheduler, "beta_end", "NaN")), /scheduler\/scheduler_config\.json: beta_end must be a number above 0 and below 1 \(got "NaN"\)/));
  it("Python's -Infinity, as diffusers saves lambda_min_clipped, still loads and generates", async () => {
    const dir = modelWithConfigValue(scheduler, "lambda_min_clipped", "-Infinity");
    const config = fs.readFileSync(path.join(dir, scheduler), "utf8").replace('"PNDMScheduler"', '"DPMSolverMultistepScheduler"');
    fs.writeFileSync(path.join(dir, scheduler), config);
    const out = path.join(fs.mkdtempSync(path.join(tmp, "ok-")), "image.png");
    const r = await runCli([...base(dir), "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.statSync(out).size > 0);
  });
  it("a UNet graph declaring a fixed batch of 4096 (its rows would be repeated up to it)", async () => {
    const dir = await copyFixtureModel("tiny-sd15", tmp);
    await rewriteComponent(dir, "unet", (model) => unetFixedBatch(model, 4096));
    await expectError(base(dir), /unet\/model\.onnx: sample's fixed batch must be a whole number from 1 to 16 \(got 4096\)/);
  });
  it("a text encoder graph declaring a fixed batch of 4096", async () => {
    const dir = await copyFixtureModel("tiny-sd15", tmp);
    await rewriteComponent(dir, "text_encoder", (model) => textEncoderFixedBatch(model, 4096));
    await expectError(base(dir), /text_encoder\/model\.onnx: input_ids's fixed batch must be a whole number from 1 to 16 \(got 4096\)/);
  });
  it("a tokenizer model_max_length of 50000", () =>
    expectError(base(modelWithConfigValue("tokenizer/tokenizer_config.json", "model_max_length", "50000")), /tokenizer_config\.json: model_max_length must be a whole number from 3 to 2048 \(got 50000\)/));
});

describe("a model whose numbers blow up fails the generation, naming the step, and writes no file", () => {
  it("a UNet whose output is infinite: NaN/Inf at step 1, not an all-black PNG", async () => {
    const dir = await copyFixtureModel("tiny-sd15", tmp);
    await rewriteComponent(dir, "unet", (model) => multiplyOutput(model, "out_sample", Infinity));
    await expectError(base(dir, "--scheduler", "euler"), /^error: the model produced NaN\/Inf at step 1 of 2: .*try another scheduler or provider/);
  });
  it("a VAE decoder whose output is infinite, from finite latents", async () => {
    const dir = await copyFixtureModel("tiny-sd15", tmp);
    await rewriteComponent(dir, "vae_decoder", (model) => multiplyOutput(model, "sample", Infinity));
    await expectError(base(dir), /^error: the VAE decoder produced NaN\/Inf pixels/);
  });
  it("a scheduler config within every bound whose noise schedule still overflows float32", async () => {
    const dir = await copyFixtureModel("tiny-sd15", tmp);
    // Betas near 0.9: alpha-bar underflows to 0 in float32, so sigmas and 1/sqrt(alpha-bar) are infinite.
    await patchSchedulerConfig(dir, { beta_start: 0.8, beta_end: 0.9, beta_schedule: "linear" });
    for (const scheduler of ["euler", "pndm", "ddim"]) {
      await expectError(base(dir, "--scheduler", scheduler), /^error: the model produced NaN\/Inf (in the starting latents|at step \d+ of \d+)/);
    }
  });
  it("guidance 1e30 (every latent Inf) is refused before any model work", () =>
    expectError([...base(SD15), "--guidance", "1e30"], /guidance must be a number from 0 to 100 .*\(got 1e\+30\)/));
});
