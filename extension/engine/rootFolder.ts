// A folder that an outside caller (an agent through `easel mcp`) may read images from and write
// images into, and nothing outside it: every path it names is checked here, after symbolic links
// are resolved, before anything is read, created or written.
import { promises as fs } from "node:fs";
import path from "node:path";
import { EaselError } from "./errors";
import { isInside, quoteValue, relativePathProblem } from "./safePath";

export class RootFolder {
  private constructor(
    /** The folder's real path (symbolic links resolved). */
    readonly dir: string,
    /** What the caller can do to use another folder (said when a path is outside this one). */
    private readonly elsewhere: string,
  ) {}

  /** `elsewhere`: how the caller gets another root (easel mcp: --root; the extension: another workspace folder). */
  static async open(dir: string, elsewhere = "start easel mcp with another --root to use another folder"): Promise<RootFolder> {
    let real: string;
    try {
      real = await fs.realpath(path.resolve(dir));
    } catch {
      throw new EaselError("bad-argument", `the root folder ${path.resolve(dir)} does not exist: create it or pass another --root`);
    }
    if (!(await fs.stat(real)).isDirectory()) throw new EaselError("bad-argument", `the root ${real} is not a folder: pass a folder with --root`);
    return new RootFolder(real, elsewhere);
  }

  /** `file` (absolute, inside the root) as a `/`-separated path relative to the root. */
  relative(file: string): string {
    return path.relative(this.dir, file).split(path.sep).join("/");
  }

  /**
   * The absolute path a caller's path names: relative to the root (`/`-separated; a leading `./`
   * is dropped), or absolute but inside it. Anything else — `..`, another drive, a backslash, a
   * control character — is refused in one line naming `what`.
   */
  resolve(text: string, what: string): string {
    const trimmed = text.trim().replace(/^(\.\/)+/, "").replace(/\/+$/, "");
    if (trimmed === "" || trimmed === ".") return this.dir;
    if (path.isAbsolute(trimmed)) {
      if (!isInside(this.dir, trimmed)) throw this.outside(what, text);
      return path.resolve(trimmed);
    }
    const problem = relativePathProblem(trimmed);
    if (problem !== undefined) {
      throw new EaselError("bad-argument", `the ${what} ${quoteValue(text)} ${problem}: give a path relative to the root folder ${this.dir}, without ".."`);
    }
    return path.join(this.dir, ...trimmed.split("/"));
  }

  /** A regular file inside the root (after links are resolved) to read. */
  async readableFile(text: string, what: string): Promise<string> {
    const file = this.resolve(text, what);
    let real: string;
    try {
      real = await fs.realpath(file);
    } catch {
      throw new EaselError("bad-argument", `the ${what} ${this.relative(file)} does not exist in ${this.dir}: give the path of an existing image, relative to the root folder`);
    }
    if (!isInside(this.dir, real)) throw this.outside(what, text);
    if (!(await fs.stat(real)).isFile()) throw new EaselError("bad-argument", `the ${what} ${this.relative(file)} is not a file: give an image file`);
    return real;
  }

  /**
   * Checks that `dir` is, or would be created as, a folder inside the root: the deepest part that
   * exists is resolved, so a link inside the root that leads out of it is refused. Nothing is created.
   */
  async checkFolder(dir: string, what: string): Promise<void> {
    await this.existingPart(dir, what);
  }

  /** A folder inside the root to write into (checked as checkFolder does), created with its parents when missing. */
  async writableFolder(dir: string, what: string): Promise<string> {
    const { real, missing } = await this.existingPart(dir, what);
    let made = real;
    for (const name of missing) {
      made = path.join(made, name);
      await fs.mkdir(made).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw new EaselError("output-unwritable", `cannot create ${this.relative(made)} (${error.code ?? error.message}): check the root folder's permissions`);
      });
      // Made by someone else meanwhile: it must still be a plain folder inside the root.
      if (!isInside(this.dir, await fs.realpath(made))) throw this.outside(what, this.relative(dir));
    }
    return made;
  }

  /** The deepest existing ancestor of `dir` (real path, a folder inside the root) and the names below it still to create. */
  private async existingPart(dir: string, what: string): Promise<{ readonly real: string; readonly missing: readonly string[] }> {
    if (!isInside(this.dir, dir)) throw this.outside(what, dir);
    const missing: string[] = [];
    for (let existing = dir; ; existing = path.dirname(existing)) {
      let real: string;
      try {
        real = await fs.realpath(existing);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        missing.unshift(path.basename(existing));
        continue;
      }
      if (!isInside(this.dir, real)) throw this.outside(what, this.relative(dir));
      if (!(await fs.stat(real)).isDirectory()) throw new EaselError("bad-argument", `the ${what} ${this.relative(existing)} is a file, not a folder: choose another destination`);
      return { real, missing };
    }
  }

  private outside(what: string, text: string): EaselError {
    return new EaselError("bad-argument", `the ${what} ${quoteValue(text)} is outside the root folder ${this.dir}: nothing is read or written outside it (${this.elsewhere})`);
  }
}
