// Where LoRAs are found by name (`<lora:NAME>`, a recalled image): the folders the user names
// (`easel.loraFolders`, CLI `--lora-folder`) and the model store's `loras/` folder, searched a few
// levels deep for NAME.safetensors, as A1111 lists its models/Lora folder with subfolders.

import type { Dirent } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { EaselError } from "../errors";
import { type LoraBase, loraName, openLora } from "./apply";

const MAX_DEPTH = 4;
const LORA_EXTENSIONS = [".safetensors"];
const PICKLE_EXTENSIONS = [".ckpt", ".pt", ".pth"];

/** The store's own LoRA folder (beside its models). */
export function storeLoraFolder(storeRoot: string): string {
  return path.join(storeRoot, "loras");
}

async function* filesUnder(dir: string, depth: number): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isFile() || e.isSymbolicLink()) yield full;
    else if (e.isDirectory() && depth < MAX_DEPTH && !e.name.startsWith(".")) yield* filesUnder(full, depth + 1);
  }
}

/** The LoRA file called `name` in the folders (first folder first), or why there is none. */
export async function findLora(name: string, folders: readonly string[]): Promise<string> {
  const pickles: string[] = [];
  for (const folder of folders) {
    for await (const file of filesUnder(folder, 0)) {
      const ext = path.extname(file).toLowerCase();
      const stem = path.basename(file, path.extname(file));
      if (stem !== name) continue;
      if (LORA_EXTENSIONS.includes(ext)) return file;
      if (PICKLE_EXTENSIONS.includes(ext)) pickles.push(file);
    }
  }
  if (pickles.length > 0) return pickles[0]; // openLora refuses it with the pickle message
  const where = folders.length > 0 ? folders.join(", ") : "no LoRA folder";
  throw new EaselError("bad-argument", `no LoRA named ${name} (${name}.safetensors) in ${where}: put it there or add its folder to easel.loraFolders (CLI: --lora FILE)`);
}

export interface LoraListing {
  readonly name: string;
  readonly file: string;
  readonly base: LoraBase | undefined;
  /** Why it cannot be used, when it cannot (a pickle, a LyCORIS type we do not apply…). */
  readonly problem?: string;
}

/**
 * What each file was found to be, while its size and modification time stay the same: the Studio
 * lists the folders again on every focus and file change, and reading each header (JSON that can be
 * hundreds of KB) again would repeat that work on the extension host's thread.
 */
const described = new Map<string, { readonly size: number; readonly mtimeMs: number; readonly listing: LoraListing }>();

async function describeLora(name: string, file: string): Promise<LoraListing> {
  const stat = await fs.stat(file).catch(() => undefined);
  const known = described.get(file);
  if (stat && known && known.size === stat.size && known.mtimeMs === stat.mtimeMs && known.listing.name === name) return known.listing;
  let listing: LoraListing;
  try {
    listing = { name, file, base: (await openLora(file)).base };
  } catch (error) {
    listing = { name, file, base: undefined, problem: error instanceof Error ? error.message : String(error) };
  }
  if (stat) described.set(file, { size: stat.size, mtimeMs: stat.mtimeMs, listing });
  return listing;
}

/** Every LoRA in the folders, with the base model its keys suggest. */
export async function listLoras(folders: readonly string[]): Promise<LoraListing[]> {
  const out: LoraListing[] = [];
  const seen = new Set<string>();
  for (const folder of folders) {
    for await (const file of filesUnder(folder, 0)) {
      const ext = path.extname(file).toLowerCase();
      if (!LORA_EXTENSIONS.includes(ext) && !PICKLE_EXTENSIONS.includes(ext)) continue;
      const name = loraName(file).replace(/\.(ckpt|pt|pth)$/i, "");
      if (seen.has(name)) continue;
      seen.add(name);
      out.push(await describeLora(name, file));
    }
  }
  return out;
}
