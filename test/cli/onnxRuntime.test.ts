// What onnxruntime-node does to the user's machine around a generation: no telemetry files in the
// home folder, no crash from a long command line, no ONNX Runtime log lines before Easel's error.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { copyFixtureModel, DIFFUSERS_EXTERNAL_DATA, externalizeWeights } from "../helpers/onnxVariants";
import { MODELS } from "../helpers/paths";
import { runCli } from "../helpers/runCli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-ort-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SD15 = path.join(MODELS, "tiny-sd15");
const small = ["--steps", "1", "--width", "64", "--height", "64", "--seed", "1", "--provider", "cpu"];

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

describe("ONNX Runtime in the CLI", () => {
  it("writes no telemetry (device id, event database) into the home or cache folder", async () => {
    const home = fs.mkdtempSync(path.join(tmp, "home-"));
    const cwd = fs.mkdtempSync(path.join(tmp, "cwd-"));
    // The user's own ORT_DISABLE_TELEMETRY, if any, must not be what keeps the folder clean.
    const env = { HOME: home, USERPROFILE: home, XDG_CACHE_HOME: path.join(home, ".cache"), ORT_DISABLE_TELEMETRY: "" };
    const r = await runCli(["generate", "--model", SD15, "--prompt", "a cat", ...small, "--out", "cat.png"], { cwd, env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(filesUnder(home), [], "nothing written under HOME (onnxruntime writes .cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db)");
    assert.deepEqual(filesUnder(cwd), ["cat.png"]);
  });

  it("survives a command line over 28 KB (it used to die of SIGSEGV in session creation)", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "long-"));
    const words = (n: number) => "a quiet harbour at dawn, ".repeat(Math.ceil(n / 25)).slice(0, n);
    const r = await runCli(["generate", "--model", SD15, "--prompt", words(15_000), "--negative-prompt", words(15_000), ...small, "--out", "long.png"], { cwd });
    assert.equal(r.signal, null, `killed by ${r.signal}`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(cwd), ["long.png"]);
  });

  it("prints no ONNX Runtime log line before Easel's one-line error", async () => {
    // External weights cut short: ORT logs "[E:onnxruntime:…] Exception during initialization" itself.
    const dir = await copyFixtureModel("tiny-sd15", tmp);
    await externalizeWeights(dir, "unet", DIFFUSERS_EXTERNAL_DATA);
    fs.truncateSync(path.join(dir, "unet", "weights.pb"), 10);
    const cwd = fs.mkdtempSync(path.join(tmp, "broken-"));
    const r = await runCli(["generate", "--model", dir, "--prompt", "x", ...small, "--out", "x.png"], { cwd });
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /\[[EWIV]:onnxruntime:|\x1b\[/, "no ORT log line, no colour codes");
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^error: unet\/model\.onnx could not be loaded \(.*\): the file is corrupt, truncated or missing its external weights/);
    assert.deepEqual(fs.readdirSync(cwd), []);
  });
});
