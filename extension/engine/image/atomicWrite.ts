// Writing output files so that a reader (or a crash) never sees a half-written one: the data goes
// to a hidden temporary file beside the target, is flushed to disk, then renamed over the target.

import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";

/**
 * Writes `data` to `<dir>/.<name>.<random>.tmp`, fsyncs it and renames it to `filePath`. On any
 * failure the temporary file is removed and the original error rethrown; `filePath` is then either
 * untouched or absent, never partial.
 */
export async function writeFileAtomic(filePath: string, data: Buffer): Promise<void> {
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
    await fs.rename(tmpPath, filePath);
  } catch (err) {
    if (created) await fs.rm(tmpPath, { force: true }).catch(() => undefined);
    throw err;
  }
}
