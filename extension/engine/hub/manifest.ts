// `.easel-manifest.json`, written into a pulled folder last: which repo and commit it is, and the
// size and hash of every file as the Hub reported them at download, so later checks need no network.
import { promises as fs } from "node:fs";
import path from "node:path";
import { isSafeRelativePath } from "../safePath";
import { isCommitHash, isRepoId } from "./repoId";
import { isByteCount } from "./repoInfo";

export const MANIFEST_NAME = ".easel-manifest.json";

export interface ManifestFile {
  readonly path: string;
  readonly size: number;
  readonly sha256?: string;
  readonly blobId?: string;
  /**
   * False when the Hub published no hash: the file was accepted on its size, and `sha256` (if any)
   * is what Easel computed at download. Absent: the hash was published and matched.
   */
  readonly hashPublished?: false;
}

export interface Manifest {
  readonly format: 1;
  readonly repo: string;
  readonly commit: string;
  /** What the user asked for (`main`, a tag, the commit itself). */
  readonly revision: string;
  readonly subfolder?: string;
  readonly pulledAt: string;
  readonly files: readonly ManifestFile[];
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_NAME), "utf8"));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const m = value as Partial<Manifest>;
  if (m.format !== 1 || typeof m.repo !== "string" || !isRepoId(m.repo) || typeof m.commit !== "string" || !isCommitHash(m.commit) || !Array.isArray(m.files)) return undefined;
  // Its file paths are joined to the folder when it is checked: one that could leave it makes the
  // manifest one Easel did not write, like any other malformed one.
  if (!m.files.every(isManifestFile)) return undefined;
  return m as Manifest;
}

function isManifestFile(f: unknown): f is ManifestFile {
  if (typeof f !== "object" || f === null) return false;
  const e = f as Partial<Record<keyof ManifestFile, unknown>>;
  return (
    isSafeRelativePath(e.path) &&
    isByteCount(e.size) &&
    (e.sha256 === undefined || (typeof e.sha256 === "string" && /^[0-9a-f]{64}$/.test(e.sha256))) &&
    (e.blobId === undefined || (typeof e.blobId === "string" && /^[0-9a-f]{40}$/.test(e.blobId))) &&
    (e.hashPublished === undefined || e.hashPublished === false)
  );
}

/** Files accepted on their size alone: the Hub published no hash to check them against. */
export function sizeOnlyFiles(manifest: Manifest): string[] {
  return manifest.files.filter((f) => f.hashPublished === false).map((f) => f.path);
}

/**
 * What a message says about files accepted on size alone, or undefined when every file matched a
 * published hash: "verified" must not be said of a file nothing could be checked against.
 */
export function sizeOnlyNote(manifest: Manifest): string | undefined {
  const only = sizeOnlyFiles(manifest);
  if (only.length === 0) return undefined;
  if (only.length === manifest.files.length) return `all ${only.length} files size checked, no hash published`;
  const names = only.length <= 3 ? only.join(", ") : `${only.slice(0, 3).join(", ")} and ${only.length - 3} more`;
  return `${only.length} file${only.length === 1 ? "" : "s"} size checked, no hash published: ${names}; the rest verified by hash`;
}

/** "downloaded and verified", or "downloaded (…size checked, no hash published…)": one wording for the CLI and the extension. */
export function downloadedLine(note: string | undefined): string {
  return note === undefined ? "downloaded and verified" : `downloaded (${note})`;
}

/** How much disk a pulled model's files take, as the Hub reported their sizes. */
export function manifestBytes(manifest: Manifest): number {
  return manifest.files.reduce((n, f) => n + f.size, 0);
}
