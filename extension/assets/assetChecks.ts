// "Check Workspace Assets" without VS Code: each recorded image made again (by whatever the caller
// injects: the engine process in the extension, a fake in tests) and compared with its file.
import { type AssetComparison, compareAsset, type Regenerator } from "../engine/assets/assetRecord";
import { type AssetEntry, type Assets, readAssets } from "../engine/assets/lockfile";
import { EaselError, firstLine } from "../engine/errors";

export interface AssetCheckDeps {
  /** What makes a root's entries again (its lockfile `assets`, so inputs that are recorded files chain through their entries). */
  readonly regenerator: (root: string, assets: Assets, signal: AbortSignal) => Pick<Regenerator, "regenerate">;
  /** The file as it is now; undefined when it is gone. */
  readonly readFile: (root: string, rel: string) => Promise<Uint8Array | undefined>;
}

export interface AssetCheckResult {
  readonly root: string;
  readonly rel: string;
  /** ok / differs / missing with its line, or "failed" with why it could not be made again. */
  readonly status: AssetComparison["status"] | "failed";
  readonly line: string;
}

/** Checks every entry of every root's lockfile, in path order; `onEntry` reports progress. */
export async function checkAssets(
  roots: readonly string[],
  deps: AssetCheckDeps,
  signal: AbortSignal,
  onEntry: (done: number, total: number, rel: string) => void = () => undefined,
): Promise<AssetCheckResult[]> {
  const all: { root: string; rel: string; entry: AssetEntry }[] = [];
  const regenerators = new Map<string, Pick<Regenerator, "regenerate">>();
  for (const root of roots) {
    const assets = await readAssets(root);
    regenerators.set(root, deps.regenerator(root, assets, signal));
    for (const [rel, entry] of [...assets].sort(([a], [b]) => (a < b ? -1 : 1))) all.push({ root, rel, entry });
  }
  const results: AssetCheckResult[] = [];
  for (const [i, { root, rel, entry }] of all.entries()) {
    if (signal.aborted) throw new EaselError("cancelled", "the check was cancelled");
    onEntry(i, all.length, rel);
    try {
      const made = await regenerators.get(root)!.regenerate(entry);
      results.push({ root, rel, ...(await compareAsset(rel, await deps.readFile(root, rel), made)) });
    } catch (error) {
      if (error instanceof EaselError && error.code === "cancelled") throw error;
      results.push({ root, rel, status: "failed", line: `cannot check ${rel}: ${error instanceof EaselError ? error.message : firstLine(error)}` });
    }
  }
  return results;
}
