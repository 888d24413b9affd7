// Every bad input named in the engine issue: one `error:` line on stderr, a non-zero exit, no stack
// trace and no file left behind.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { runCli } from "../helpers/runCli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-bad-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SD15 = path.join(MODELS, "tiny-sd15");
const LCM = path.join(MODELS, "tiny-lcm");
const INIT = path.join(CONFORMANCE, "cases", "sd15-img2img-euler.init.png");

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
  it("an SDXL pipeline", () => expectError(base(modelWithIndex({ _class_name: "ORTStableDiffusionXLPipeline", text_encoder_2: ["diffusers", "OnnxRuntimeModel"] })), /not supported yet: .*SDXL/));
  it("an inpainting pipeline", () => expectError(base(modelWithIndex({ _class_name: "OnnxStableDiffusionInpaintPipeline" })), /not supported yet: .*inpainting/));
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
  it("missing init image", () => expectError([...base(SD15), "--init-image", path.join(tmp, "missing.png")], /cannot read init image .*ENOENT/));
  it("init image that is not an image", async () => {
    const file = path.join(tmp, "not-an-image.png");
    fs.writeFileSync(file, "hello");
    await expectError([...base(SD15), "--init-image", file], /init image/);
  });
  it("seed out of range", () => expectError([...base(SD15), "--seed", "18446744073709551616"], /--seed/));
  it("negative seed", () => expectError(["generate", "--model", SD15, "--prompt", "x", "--seed=-1"], /--seed/));
  it("unwritable output path", () => expectError([...base(SD15), "--out", path.join(tmp, "no-such-dir", "x.png")], /cannot write .*does not exist or is not writable/));
  it("output path that is a folder", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "dir-"));
    fs.mkdirSync(path.join(dir, "x.png"));
    await expectError([...base(SD15), "--out", path.join(dir, "x.png")], /it is a folder/);
  });
  it("unknown flag", () => expectError([...base(SD15), "--colour", "red"], /Unknown option '--colour'/));
  it("unknown command", () => expectError(["paint"], /unknown command "paint"/));
  it("unknown provider", () => expectError([...base(SD15), "--provider", "tpu"], /unknown provider "tpu"/));
  it("an unavailable provider, forced", () => expectError([...base(SD15), "--provider", process.platform === "win32" ? "coreml" : "dml"], /not available here/));
  it("--mask is later work", () => expectError([...base(SD15), "--mask", INIT], /not supported yet: --mask/));
  it("unknown --prompt-syntax", () => expectError([...base(SD15), "--prompt-syntax", "comfy"], /unknown --prompt-syntax "comfy": use one of a1111, plain/));
  it("a prompt weight that is not a number", () => expectError([...base(SD15), "--prompt-syntax", "a1111", "--prompt", "a (cat:1.2.3)"], /the prompt weight "1\.2\.3" in ":1\.2\.3\)" is not a number/));
  it("missing --prompt", () => expectError(["generate", "--model", SD15], /missing --prompt/));
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
