// Reading a user's or a workspace's image file: regular files only, size-capped before reading.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { decodeImageToRgb } from "../../extension/engine/image/decode";
import { checkImageFileStat, ImageFileError, MAX_IMAGE_FILE_BYTES, readImageFile } from "../../extension/engine/image/readImageFile";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-readimage-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function problem(expected: ImageFileError["problem"], pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof ImageFileError, String(e));
    assert.equal(e.problem, expected);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"));
    return true;
  };
}

test("reads a regular file whole, up to the cap", async () => {
  const file = path.join(tmp, "small.png");
  fs.writeFileSync(file, Buffer.from("not really a png"));
  assert.equal((await readImageFile(file)).toString(), "not really a png");
  assert.equal((await readImageFile(file, 16)).length, 16);
  await assert.rejects(readImageFile(file, 15), problem("too-large", /small\.png is 16 bytes, over the 15 bytes Easel reads/));
});

test("a 7 GB file is refused from its size, without being read", async () => {
  const huge = path.join(tmp, "huge.png");
  fs.writeFileSync(huge, "");
  fs.truncateSync(huge, 7 * 1024 ** 3); // sparse
  const started = performance.now();
  await assert.rejects(readImageFile(huge), problem("too-large", /is 7168\.0 MiB, over the 64\.0 MiB/));
  assert.ok(performance.now() - started < 1000);
});

test("devices, FIFOs, folders and missing files are refused with what to do", { skip: process.platform === "win32" && "POSIX special files" }, async () => {
  await assert.rejects(readImageFile("/dev/zero"), problem("not-a-file", /\/dev\/zero is not a regular file/));
  await assert.rejects(readImageFile(tmp), problem("folder", /is a folder: choose an image file/));
  await assert.rejects(readImageFile(path.join(tmp, "nope.png")), problem("missing", /nope\.png does not exist/));
  const fifo = path.join(tmp, "fifo.png");
  const { spawnSync } = await import("node:child_process");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  // Opened without blocking: no writer is needed for the refusal.
  await assert.rejects(readImageFile(fifo), problem("not-a-file", /fifo\.png is not a regular file/));
  // The engine's init image reader goes through the same check.
  await assert.rejects(decodeImageToRgb("/dev/zero", 8, 8), /Init image \/dev\/zero is not a regular file/);
});

test("the stat check the extension's workspace reader shares", () => {
  checkImageFileStat("a.png", { isFile: true, isDirectory: false, size: MAX_IMAGE_FILE_BYTES });
  assert.throws(() => checkImageFileStat("a.png", { isFile: true, isDirectory: false, size: MAX_IMAGE_FILE_BYTES + 1 }), problem("too-large", /a\.png is 67108865 bytes, over the 64\.0 MiB/));
  assert.throws(() => checkImageFileStat("d", { isFile: false, isDirectory: true, size: 0 }), problem("folder", /d is a folder/));
  assert.throws(() => checkImageFileStat("link", { isFile: false, isDirectory: false, size: 0 }), problem("not-a-file", /link is not a regular file/));
});
