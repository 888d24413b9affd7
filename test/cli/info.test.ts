// `easel info` on hostile input: escape sequences in the infotext, special and huge files, a
// closed pipe. Runs the built CLI (npm run build) as users do.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { insertPngText } from "../../extension/engine/image/pngChunks";
import { CLI } from "../helpers/paths";
import { runCli } from "../helpers/runCli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-info-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function pngWithParameters(name: string, parameters: string): Promise<string> {
  const plain = await sharp(new Uint8Array(4 * 4 * 3), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer();
  const file = path.join(tmp, name);
  fs.writeFileSync(file, insertPngText(plain, "parameters", parameters));
  return file;
}

function assertOneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}

const POSIX = process.platform !== "win32";

describe("easel info", () => {
  it("shows the file's control characters instead of sending them to the terminal", async () => {
    const hostile = "a \x1b[2J\x1b]0;owned\x07 cat\r\u009b31m\x7f\tend\nSteps: 1, Sampler: Euler, CFG scale: 7";
    const file = await pngWithParameters("escapes.png", hostile);
    const r = await runCli(["info", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "a \\x1b[2J\\x1b]0;owned\\x07 cat\\x0d\\x9b31m\\x7f\tend\nSteps: 1, Sampler: Euler, CFG scale: 7\n");
    assert.doesNotMatch(r.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    // --json carries the exact text, JSON-escaped.
    const json = await runCli(["info", "--json", file]);
    assert.equal(json.code, 0, json.stderr);
    // JSON escapes C0 controls; DEL and C1 (U+009B is a CSI on some terminals) are escaped as well.
    assert.doesNotMatch(json.stdout.trimEnd(), /[\x00-\x1f\x7f-\x9f]/);
    const parsed = JSON.parse(json.stdout) as { infotext: string; prompt: string };
    assert.equal(parsed.infotext, hostile);
  });

  it("error lines show control characters escaped too", async () => {
    const r = await runCli(["info", path.join(tmp, "no\x1b[2Jsuch.png")]);
    assert.notEqual(r.code, 0);
    assertOneErrorLine(r.stderr, /no\\x1b\[2Jsuch\.png does not exist/);
  });

  it("refuses a device without reading it", { skip: !POSIX && "no /dev/zero on Windows" }, async () => {
    const started = performance.now();
    const r = await runCli(["info", "/dev/zero"]);
    assert.notEqual(r.code, 0);
    assertOneErrorLine(r.stderr, /\/dev\/zero is not a regular file/);
    assert.ok(performance.now() - started < 10_000);
  });

  it("refuses a FIFO without waiting for a writer", { skip: !POSIX && "no FIFOs on Windows" }, async () => {
    const fifo = path.join(tmp, "fifo.png");
    const made = await new Promise<number | null>((resolve) => spawn("mkfifo", [fifo]).on("close", resolve).on("error", () => resolve(null)));
    assert.equal(made, 0, "mkfifo");
    const r = await runCli(["info", fifo]);
    assert.notEqual(r.code, 0);
    assertOneErrorLine(r.stderr, /fifo\.png is not a regular file/);
  });

  it("refuses a file over 64 MiB before reading it", async () => {
    const huge = path.join(tmp, "huge.png");
    fs.writeFileSync(huge, "");
    fs.truncateSync(huge, 7 * 1024 ** 3); // sparse: nothing is written to disk
    const started = performance.now();
    const r = await runCli(["info", huge]);
    assert.notEqual(r.code, 0);
    assertOneErrorLine(r.stderr, /huge\.png is 7168\.0 MiB, over the 64\.0 MiB Easel reads/);
    assert.ok(performance.now() - started < 10_000);
    fs.rmSync(huge);
  });

  it("exits quietly when the reader of its output goes away (| head)", async () => {
    // Larger than a pipe's buffer, so the write is still going when the pipe closes.
    const file = await pngWithParameters("long.png", `${"a long prompt ".repeat(15_000)}\nSteps: 1, Sampler: Euler, CFG scale: 7`);
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, "info", file], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
      child.stdout.once("data", () => child.stdout.destroy());
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stderr }));
    });
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
  });

  it("reports parameters over the length cap as unreadable, with the reason", async () => {
    const file = await pngWithParameters("too-long.png", `${"x".repeat(300_000)}\nSteps: 1, Sampler: Euler, CFG scale: 7`);
    const r = await runCli(["info", file]);
    assert.notEqual(r.code, 0);
    assertOneErrorLine(r.stderr, /too-long\.png: .*"parameters" text is 300\d+ characters, over the 262144 Easel reads/);
  });
});
