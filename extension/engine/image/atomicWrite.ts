// Writing output files so that a reader (or a crash) never sees a half-written one: the data goes
// to a hidden temporary file beside the target, is flushed to disk, then renamed over the target
// (or, when an existing file must not be replaced, linked to the target's name).

import { randomBytes } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";

export interface AtomicWriteOptions {
  /** False: fail with EEXIST instead of replacing a file already at `filePath` (default true). */
  readonly replace?: boolean;
}

/**
 * Writes `data` to `<dir>/.<name>.<random>.tmp`, fsyncs it and renames it to `filePath`. On any
 * failure the temporary file is removed and the original error rethrown; `filePath` is then either
 * untouched or absent, never partial.
 */
export async function writeFileAtomic(filePath: string, data: Buffer, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(filePath);
  const tmpPath = path.join(dir, `.${path.basename(filePath)}.${randomBytes(6).toString("hex")}.tmp`);
  let created = false;
  try {
    // "wx": fail rather than reuse a file that happens to have the same random name.
    const handle = await fs.open(tmpPath, "wx");
    created = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.replace === false) await publishNew(tmpPath, filePath);
    else await fs.rename(tmpPath, filePath);
  } catch (err) {
    if (created) await fs.rm(tmpPath, { force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Gives the finished temporary file its final name only if that name is free: a hard link fails
 * with EEXIST where rename would replace, and appears whole. File systems without hard links
 * (FAT, exFAT, some network shares) get an exclusive copy instead: still never a replaced file,
 * and a partial copy is removed.
 */
async function publishNew(tmpPath: string, filePath: string): Promise<void> {
  try {
    await fs.link(tmpPath, filePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOENT" || code === "EACCES") throw error;
    try {
      await fs.copyFile(tmpPath, filePath, constants.COPYFILE_EXCL);
    } catch (copyError) {
      // EEXIST: someone else's file, left alone; anything else: our partial copy, if any, removed.
      if ((copyError as NodeJS.ErrnoException).code !== "EEXIST") await fs.rm(filePath, { force: true }).catch(() => undefined);
      throw copyError;
    }
  }
  await fs.rm(tmpPath, { force: true });
}
