// The file a download is written into. An interface so tests can inject a full disk.
import { promises as fs } from "node:fs";

export interface PartWriter {
  write(chunk: Buffer): Promise<void>;
  /** Flushes to disk: a resumed download must not trust bytes the OS had not written yet. */
  close(): Promise<void>;
}

export type OpenPart = (file: string, append: boolean) => Promise<PartWriter>;

export const openPartFile: OpenPart = async (file, append) => {
  const handle = await fs.open(file, append ? "a" : "w");
  let closed = false;
  return {
    async write(chunk) {
      let done = 0;
      while (done < chunk.length) done += (await handle.write(chunk, done, chunk.length - done)).bytesWritten;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
  };
};

export async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}
