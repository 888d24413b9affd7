// Which super-resolution model an upscale or a hires fix uses: a catalog upscaler in the model
// store, an ONNX file, or none (Lanczos). Shared by the CLI and the extension.
import fs from "node:fs";
import path from "node:path";
import { badArgument, EaselError } from "../errors";
import { type Catalog, type CatalogUpscaler, loadCatalog } from "../hub/catalog";
import { findStoreFile } from "../hub/singleFile";
import type { ModelStore } from "../hub/store";

/** What `--model`/`--hires-upscaler` named: a super-resolution ONNX file and the name the PNG records. */
export interface Upscaler {
  readonly file: string;
  readonly name: string;
}

/**
 * The upscaler a spec names: `lanczos` (none), an ONNX file, or a catalog upscaler's id or name (the
 * name is what a PNG's `Hires upscaler` records) that is in the store. Without a spec, the first
 * catalog upscaler in the store, else none (Lanczos).
 */
export async function resolveUpscaler(spec: string | undefined, store: ModelStore, scale?: number, catalog: Catalog = loadCatalog()): Promise<Upscaler | undefined> {
  const upscalers = catalog.upscalers ?? [];
  if (spec === undefined) {
    // A model of the wanted scale first, then any.
    const ordered = [...upscalers].sort((a, b) => Number(b.scale === scale) - Number(a.scale === scale));
    for (const u of ordered) {
      const file = await findStoreFile(store, u);
      if (file) return { file, name: u.name };
    }
    return undefined;
  }
  if (spec.toLowerCase() === "lanczos") return undefined;
  const entry: CatalogUpscaler | undefined = upscalers.find((u) => u.id === spec || u.name === spec);
  if (entry) {
    const file = await findStoreFile(store, entry);
    if (!file) throw new EaselError("model-missing", `${entry.name} is not downloaded: run 'easel models pull ${entry.id}' (${entry.license.name}), or use lanczos`);
    return { file, name: entry.name };
  }
  if (spec.toLowerCase().endsWith(".onnx")) {
    if (!fs.statSync(spec, { throwIfNoEntry: false })?.isFile()) throw badArgument(`upscaler ${spec} does not exist: give an ONNX super-resolution model file`);
    return { file: path.resolve(spec), name: path.basename(spec, path.extname(spec)) };
  }
  const ids = upscalers.map((u) => u.id).join(", ");
  throw badArgument(`unknown upscaler "${spec}": use lanczos, a catalog upscaler (${ids}) or an .onnx file`);
}

/** The catalog upscalers that are in the store (what the Studio offers the hires fix beside Lanczos), in catalog order. */
export async function downloadedUpscalers(store: ModelStore, catalog: Catalog = loadCatalog()): Promise<CatalogUpscaler[]> {
  const out: CatalogUpscaler[] = [];
  for (const u of catalog.upscalers ?? []) if (await findStoreFile(store, u)) out.push(u);
  return out;
}
