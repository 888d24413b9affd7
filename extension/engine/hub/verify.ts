// Checking a folder before use and on `easel models verify`: every file the manifest lists is
// present with its size (and, in a full check, its hash), and the folder loads as a model.
import { promises as fs } from "node:fs";
import path from "node:path";
import { firstLine } from "../errors";
import { readModelFolder } from "../model/modelFolder";
import { hashFile } from "./contentHash";
import { type Manifest, sizeOnlyFiles } from "./manifest";

export interface VerifyReport {
  readonly dir: string;
  readonly filesChecked: number;
  readonly hashed: boolean;
  /** Files whose hash the Hub never published: checked (when hashed) against what Easel computed at download. */
  readonly sizeOnly: number;
  /** One line each; empty when the folder is fine. */
  readonly problems: readonly string[];
}

/** `layout: false` for a folder that is not a model (a TAESD decoder): its files only. */
export async function verifyFolder(dir: string, manifest: Manifest | undefined, options: { readonly hashes: boolean; readonly layout?: boolean }): Promise<VerifyReport> {
  const problems: string[] = [];
  for (const f of manifest?.files ?? []) {
    const file = path.join(dir, f.path);
    let size: number;
    try {
      size = (await fs.stat(file)).size;
    } catch {
      problems.push(`${f.path} is missing`);
      continue;
    }
    if (size !== f.size) {
      problems.push(`${f.path} has ${size} bytes, not ${f.size}`);
      continue;
    }
    if (!options.hashes) continue;
    if (f.sha256 !== undefined) {
      if ((await hashFile("sha256", file, size)) !== f.sha256) problems.push(`${f.path} does not match its sha256`);
    } else if (f.blobId !== undefined) {
      if ((await hashFile("git-sha1", file, size)) !== f.blobId) problems.push(`${f.path} does not match its git blob id`);
    }
  }
  if (options.layout !== false) {
    try {
      await readModelFolder(dir);
    } catch (error) {
      problems.push(firstLine(error));
    }
  }
  return { dir, filesChecked: manifest?.files.length ?? 0, hashed: options.hashes && manifest !== undefined, sizeOnly: manifest ? sizeOnlyFiles(manifest).length : 0, problems };
}
