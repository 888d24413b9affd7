// Reading named files out of a .nupkg (a zip), with Node's zlib and no dependency: the package's
// SHA-512 is checked against the feed before anything here runs, only two entries are read, and
// the format needed is the plain one NuGet writes (stored or deflated entries, one disk). Each
// entry is streamed (the CUDA library is hundreds of MB), bounded by the sizes the central
// directory states, and checked against its CRC-32 before it counts as extracted.
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { EaselError } from "../errors";

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64_MARK = 0xffffffff;

function bad(file: string, why: string): EaselError {
  return new EaselError("provider-unavailable", `${file} is not a package Easel can read (${why}): delete it and install again`);
}

async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/** The central directory's entries. */
export async function readZipEntries(file: string): Promise<ZipEntry[]> {
  const handle = await fs.open(file, "r");
  try {
    const size = (await handle.stat()).size;
    // The end record is 22 bytes plus a comment of at most 65535.
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = await readAt(handle, size - tailLength, tailLength);
    let end = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        end = i;
        break;
      }
    }
    if (end < 0) throw bad(file, "no end of central directory");
    const count = tail.readUInt16LE(end + 10);
    const directorySize = tail.readUInt32LE(end + 12);
    const directoryOffset = tail.readUInt32LE(end + 16);
    if (directoryOffset === ZIP64_MARK || directorySize === ZIP64_MARK) throw bad(file, "ZIP64");
    if (directoryOffset + directorySize > size) throw bad(file, "central directory past the end");
    const dir = await readAt(handle, directoryOffset, directorySize);
    const entries: ZipEntry[] = [];
    let at = 0;
    for (let n = 0; n < count; n++) {
      if (at + 46 > dir.length || dir.readUInt32LE(at) !== CENTRAL) throw bad(file, "damaged central directory");
      const nameLength = dir.readUInt16LE(at + 28);
      const extraLength = dir.readUInt16LE(at + 30);
      const commentLength = dir.readUInt16LE(at + 32);
      if (at + 46 + nameLength > dir.length) throw bad(file, "damaged central directory");
      entries.push({
        name: dir.toString("utf8", at + 46, at + 46 + nameLength),
        method: dir.readUInt16LE(at + 10),
        crc32: dir.readUInt32LE(at + 16),
        compressedSize: dir.readUInt32LE(at + 20),
        size: dir.readUInt32LE(at + 24),
        localHeaderOffset: dir.readUInt32LE(at + 42),
      });
      at += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    await handle.close();
  }
}

/** Counts bytes and their CRC-32, and stops a stream that runs past the size the directory states. */
class Checked extends Transform {
  bytes = 0;
  crc = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return callback(new Error(`more than ${this.limit} bytes`));
    this.crc = zlib.crc32(chunk, this.crc);
    callback(null, chunk);
  }
}

/** Writes `entry` of the zip `file` to `dest` (created anew) and checks its size and CRC-32. */
export async function extractZipEntry(file: string, entry: ZipEntry, dest: string, signal?: AbortSignal): Promise<void> {
  if (entry.method !== 0 && entry.method !== 8) throw bad(file, `${entry.name} uses compression method ${entry.method}`);
  const handle = await fs.open(file, "r");
  let dataStart: number;
  try {
    const local = await readAt(handle, entry.localHeaderOffset, 30);
    if (local.length < 30 || local.readUInt32LE(0) !== LOCAL) throw bad(file, `no local header for ${entry.name}`);
    dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  } finally {
    await handle.close();
  }
  // `end` is inclusive, and must not come before `start`.
  const source = entry.compressedSize > 0 ? createReadStream(file, { start: dataStart, end: dataStart + entry.compressedSize - 1 }) : Readable.from([]);
  const check = new Checked(entry.size);
  const stages = entry.method === 8 ? [source, zlib.createInflateRaw(), check] : [source, check];
  try {
    await pipeline([...stages, createWriteStream(dest)], { signal });
    // Flushed before it counts: the install's manifest is written only after this.
    const written = await fs.open(dest, "r+");
    try {
      await written.sync();
    } finally {
      await written.close();
    }
  } catch (error) {
    if (signal?.aborted) throw new EaselError("cancelled", "cancelled while unpacking the package");
    throw error instanceof EaselError ? error : bad(file, `${entry.name}: ${(error as Error).message}`);
  }
  if (check.bytes !== entry.size || (check.crc >>> 0) !== entry.crc32) throw bad(file, `${entry.name} does not match its CRC-32 and size`);
}
