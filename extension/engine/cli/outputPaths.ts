import fs from "node:fs/promises";
import path from "node:path";
import { EaselError } from "../errors";
import { promptSlug } from "./slug";

/**
 * Where each image of a batch goes: `--out` as given for one image; otherwise `<stem>-<seed+i>.png`,
 * the stem being --out's name without extension or the prompt's slug.
 */
export function outputPaths(out: string | undefined, prompt: string, seed: bigint, batch: number, cwd = process.cwd()): string[] {
  if (out !== undefined && batch === 1) return [path.resolve(cwd, out)];
  const base = out !== undefined ? path.resolve(cwd, out) : path.join(cwd, promptSlug(prompt));
  const ext = out !== undefined && path.extname(base) ? path.extname(base) : ".png";
  const stem = out !== undefined && path.extname(base) ? base.slice(0, -ext.length) : base;
  return Array.from({ length: batch }, (_, i) => `${stem}-${seed + BigInt(i)}${ext}`);
}

/** Fails before any work is done when an image could not be written where asked. */
export async function checkWritable(file: string): Promise<void> {
  if (path.extname(file).toLowerCase() !== ".png") {
    throw new EaselError("output-unwritable", `output ${file} must end in .png (Easel writes PNG with its parameters)`);
  }
  const dir = path.dirname(file);
  try {
    const stat = await fs.stat(dir);
    if (!stat.isDirectory()) throw new Error("not a directory");
    await fs.access(dir, fs.constants.W_OK);
  } catch {
    throw new EaselError("output-unwritable", `cannot write ${file}: folder ${dir} does not exist or is not writable; create it or choose another --out`);
  }
  try {
    if ((await fs.stat(file)).isDirectory()) {
      throw new EaselError("output-unwritable", `cannot write ${file}: it is a folder; give a file name ending in .png`);
    }
  } catch (error) {
    if (error instanceof EaselError) throw error;
  }
}
