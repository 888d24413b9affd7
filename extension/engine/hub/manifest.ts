// `.easel-manifest.json`, written into a pulled folder last: which repo and commit it is, and the
// size and hash of every file as the Hub reported them at download, so later checks need no network.
import { promises as fs } from "node:fs";
import path from "node:path";

export const MANIFEST_NAME = ".easel-manifest.json";

export interface ManifestFile {
  readonly path: string;
  readonly size: number;
  readonly sha256?: string;
  readonly blobId?: string;
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
  if (m.format !== 1 || typeof m.repo !== "string" || typeof m.commit !== "string" || !Array.isArray(m.files)) return undefined;
  return m as Manifest;
}

/** How much disk a pulled model's files take, as the Hub reported their sizes. */
export function manifestBytes(manifest: Manifest): number {
  return manifest.files.reduce((n, f) => n + f.size, 0);
}
