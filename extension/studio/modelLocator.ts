// Where a model spec already is on this machine, without downloading or asking the network: the
// Studio needs a model's folder for its tokenizer and sizes before anything is generated. The
// order matches resolveModel (a folder, a catalog id, an added model, a Hub repository).
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { findCatalogEntry, type ModelStore, parseRepoRef } from "../engine/hub";

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** The model's folder when it is present, else undefined (not downloaded yet, or nothing by that name). */
export async function locateModel(spec: string, store: ModelStore, cwd?: string): Promise<string | undefined> {
  if (spec.trim() === "") return undefined;
  const expanded = spec.startsWith("~/") ? path.join(os.homedir(), spec.slice(2)) : spec;
  const asPath = path.resolve(cwd ?? process.cwd(), expanded);
  if (await isDirectory(asPath)) return asPath;
  const entry = findCatalogEntry(spec);
  if (entry) return (await store.findPulled(entry.repo, entry.revision ?? entry.ref).catch(() => undefined))?.dir;
  const local = (await store.listLocal().catch(() => [])).find((l) => l.name === spec);
  if (local) return (await isDirectory(local.dir)) ? local.dir : undefined;
  const ref = parseRepoRef(spec);
  if (ref) return (await store.findPulled(ref.repo, ref.revision).catch(() => undefined))?.dir;
  return undefined;
}
