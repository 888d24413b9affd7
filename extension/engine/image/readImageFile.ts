// Reading an image file named by a user (the CLI's `info FILE` and `--init-image FILE`, an init
// image path): only a regular file, and only up to a size cap, checked before anything is read.
// A path can name /dev/zero, a FIFO or a 7 GB file; reading it whole would hang or exhaust memory.

import fs from "node:fs";

/**
 * The largest image file Easel reads: 64 MiB. An 8-bit RGBA PNG of 4096x4096 (four times the
 * largest side a generation takes) is at most about 64 MiB uncompressed, and a real one far less.
 */
export const MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

export type ImageFileProblem = "missing" | "folder" | "not-a-file" | "too-large" | "unreadable";

/** Why an image file was not read; `message` is one line saying what to do. */
export class ImageFileError extends Error {
  constructor(
    readonly problem: ImageFileProblem,
    message: string,
  ) {
    super(message);
    this.name = "ImageFileError";
  }
}

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${bytes} bytes`;
}

/** The message for a file over `maxBytes` (shared with the extension's reader of workspace files). */
export function tooLargeMessage(name: string, size: number, maxBytes: number): string {
  const shown = sizeText(size) === sizeText(maxBytes) ? `${size} bytes` : sizeText(size);
  return `${name} is ${shown}, over the ${sizeText(maxBytes)} Easel reads from an image file: use a smaller image`;
}

/** What is known of a file before reading it. */
export interface ImageFileStat {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly size: number;
}

/**
 * Throws an ImageFileError unless `stat` is a regular file of at most `maxBytes`: the one check
 * every reader of a user's or workspace's image makes before reading (this module's readImageFile,
 * and the extension's reader of workspace files, whose file system is VS Code's).
 */
export function checkImageFileStat(name: string, stat: ImageFileStat, maxBytes = MAX_IMAGE_FILE_BYTES): void {
  if (stat.isDirectory) throw new ImageFileError("folder", `${name} is a folder: choose an image file (PNG, JPEG or WebP)`);
  if (!stat.isFile) throw new ImageFileError("not-a-file", `${name} is not a regular file (a device, pipe or socket): choose an image file`);
  if (stat.size > maxBytes) throw new ImageFileError("too-large", tooLargeMessage(name, stat.size, maxBytes));
}

/**
 * The bytes of `filePath`, refusing (with an ImageFileError) anything that is not a regular file or
 * is larger than `maxBytes`, before reading it. The file is opened without blocking (a FIFO would
 * otherwise wait for a writer) and read through the same handle that was checked, so a path swapped
 * between the check and the read cannot slip past it; at most the size fstat reported is read.
 * `name` is how messages refer to the file.
 */
export async function readImageFile(filePath: string, maxBytes = MAX_IMAGE_FILE_BYTES, name = filePath): Promise<Buffer> {
  let handle: fs.promises.FileHandle;
  try {
    // O_NONBLOCK is not available on Windows, where FIFOs do not live in the file system anyway.
    const flags = fs.constants.O_RDONLY | (process.platform === "win32" ? 0 : fs.constants.O_NONBLOCK);
    handle = await fs.promises.open(filePath, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ImageFileError("missing", `${name} does not exist: check the path`);
    if (code === "EISDIR") throw new ImageFileError("folder", `${name} is a folder: choose an image file (PNG, JPEG or WebP)`);
    throw new ImageFileError("unreadable", `${name} cannot be read (${code ?? "error"}): check the file's permissions`);
  }
  try {
    const stat = await handle.stat();
    checkImageFileStat(name, { isFile: stat.isFile(), isDirectory: stat.isDirectory(), size: stat.size }, maxBytes);
    const out = Buffer.alloc(stat.size);
    let filled = 0;
    while (filled < out.length) {
      const { bytesRead } = await handle.read(out, filled, out.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === out.length ? out : out.subarray(0, filled);
  } catch (error) {
    if (error instanceof ImageFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImageFileError("unreadable", `${name} cannot be read (${code ?? "error"}): check the file's permissions`);
  } finally {
    await handle.close();
  }
}
