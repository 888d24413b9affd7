import fs from "node:fs/promises";
import path from "node:path";
import { EaselError } from "../errors";
import { writeFileAtomic } from "../image/atomicWrite";
import { promptSlug, uniqueFileName } from "./slug";

/** Where one image of a run goes. */
export interface OutputTarget {
  readonly file: string;
  /**
   * True only for the name the user typed (--out, one image): it replaces a writable file of that
   * name, as `--out x.png` promises. Names Easel makes up never replace a file: they get -2, -3…
   */
  readonly replace: boolean;
  /** The made-up name without extension or -2 suffix, for picking another free name at write time. */
  readonly stem: string;
}

/**
 * Where each image of a batch goes: `--out` as given for one image; otherwise `<stem>-<seed+i>.png`,
 * the stem being --out's name without extension or the prompt's slug, made free of the names in
 * `taken` (the folder's files) with uniqueFileName.
 */
export function outputTargets(out: string | undefined, prompt: string, seed: bigint, batch: number, cwd = process.cwd(), taken: ReadonlySet<string> = new Set()): OutputTarget[] {
  if (out !== undefined && batch === 1) {
    const file = path.resolve(cwd, out);
    return [{ file, replace: true, stem: file.slice(0, file.length - path.extname(file).length) }];
  }
  const base = out !== undefined ? path.resolve(cwd, out) : path.join(cwd, promptSlug(prompt));
  const ext = out !== undefined && path.extname(base) ? path.extname(base) : ".png";
  const stem = out !== undefined && path.extname(base) ? base.slice(0, -ext.length) : base;
  const used = new Set(taken);
  return Array.from({ length: batch }, (_, i) => {
    const seedStem = `${stem}-${seed + BigInt(i)}`;
    const name = uniqueFileName(path.basename(seedStem), ext.slice(1), used);
    used.add(name);
    return { file: path.join(path.dirname(seedStem), name), replace: false, stem: seedStem };
  });
}

/** The file names in `dir`; none when it cannot be read (checkWritable then says why). */
async function namesIn(dir: string): Promise<Set<string>> {
  try {
    return new Set(await fs.readdir(dir));
  } catch {
    return new Set();
  }
}

/** outputTargets against the output folder's current files, each checked with checkWritable. */
export async function planOutputs(out: string | undefined, prompt: string, seed: bigint, batch: number, cwd = process.cwd()): Promise<OutputTarget[]> {
  const dir = path.dirname(out !== undefined ? path.resolve(cwd, out) : path.join(cwd, "x"));
  const targets = outputTargets(out, prompt, seed, batch, cwd, await namesIn(dir));
  for (const target of targets) await checkWritable(target.file);
  return targets;
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
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    return; // absent: it will be created
  }
  if (stat.isDirectory()) {
    throw new EaselError("output-unwritable", `cannot write ${file}: it is a folder; give a file name ending in .png`);
  }
  // Replacing goes through a rename, which the folder's permission allows even over a read-only
  // file; the file's own permission is what the user set to keep it, so it is asked here. The mode
  // bits count too: root passes access(W_OK) on any file.
  const readOnly = (stat.mode & 0o222) === 0 || !(await fs.access(file, fs.constants.W_OK).then(() => true, () => false));
  if (readOnly) {
    throw new EaselError("output-unwritable", `cannot write ${file}: the file is read-only; choose another --out or make the file writable`);
  }
}

/**
 * Writes one image where its target says, atomically (a failed write leaves no partial file). A
 * made-up name taken since it was planned (another run finished first) moves on to the next free
 * one rather than replacing that file. Returns the file written.
 */
export async function writeOutput(target: OutputTarget, png: Buffer): Promise<string> {
  let file = target.file;
  try {
    if (target.replace) {
      await checkWritable(file);
      await writeFileAtomic(file, png);
      return file;
    }
    for (;;) {
      try {
        await writeFileAtomic(file, png, { replace: false });
        return file;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const dir = path.dirname(target.stem);
        file = path.join(dir, uniqueFileName(path.basename(target.stem), path.extname(file).slice(1), await namesIn(dir)));
      }
    }
  } catch (error) {
    if (error instanceof EaselError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new EaselError("output-unwritable", `cannot write ${file} (${code ?? (error instanceof Error ? error.message : String(error))}): check the folder's space and permissions`);
  }
}
