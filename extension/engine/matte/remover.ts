// The background-removal graph as a MatteRunner: found in the model store (or a given .onnx file),
// loaded into an ONNX Runtime session, fed [1,3,S,S] and read back as the mask plane.
import { promises as fs } from "node:fs";
import { type CatalogBackgroundRemover, findCatalogBackgroundRemover } from "../hub/catalog";
import { findStoreFile, pullSingleFile } from "../hub/singleFile";
import type { PullOptions } from "../hub/pull";
import { ModelStore } from "../hub/store";
import { EaselError } from "../errors";
import { floatData, floatTensor, ModelSession } from "../onnx/session";
import type { ProviderName } from "../onnx/providers";
import type { MatteRunner, MatteSpec } from "./backgroundRemoval";

export function matteSpecOf(entry: CatalogBackgroundRemover): MatteSpec {
  return { inputSize: entry.input.size, mean: entry.input.mean, std: entry.input.std, output: entry.output };
}

/** The catalog's background remover (the first, unless `id` names another). */
export function backgroundRemoverEntry(id?: string): CatalogBackgroundRemover {
  const entry = findCatalogBackgroundRemover(id);
  if (!entry) throw new EaselError("bad-argument", id === undefined ? "this Easel has no background-removal model in its catalog: update Easel" : `unknown background-removal model "${id}": use birefnet-lite or a path to an .onnx file`);
  return entry;
}

/** Where the remover's graph is in the store, if downloaded and whole. */
export async function findStoreRemover(entry: CatalogBackgroundRemover, store: ModelStore = ModelStore.open()): Promise<string | undefined> {
  return findStoreFile(store, entry);
}

/** The remover's graph, downloaded first when missing (`confirm` asked with its size; a no is an error saying how to get it). */
export async function ensureRemover(entry: CatalogBackgroundRemover, options: PullOptions & { readonly confirm?: (bytes: number) => Promise<boolean> } = {}): Promise<{ readonly file: string; readonly downloaded?: number }> {
  const store = options.store ?? ModelStore.open();
  const have = await findStoreRemover(entry, store);
  if (have) return { file: have };
  const pulled = await pullSingleFile(entry, { ...options, store });
  if (pulled.status === "declined") throw new EaselError("model-missing", `background removal needs ${entry.name} (${entry.license.name}); get it with 'easel models pull ${entry.id}'`);
  return pulled.status === "downloaded" ? { file: pulled.file, downloaded: pulled.bytes } : { file: pulled.file };
}

export interface LoadedRemover extends MatteRunner {
  release(): Promise<void>;
}

/** A session on the graph at `file`: its first input takes the image, its first output is the mask. */
export async function openRemover(file: string, provider: ProviderName): Promise<LoadedRemover> {
  try {
    await fs.access(file);
  } catch {
    throw new EaselError("model-missing", `background-removal model ${file} not found: check the path, or leave --model out to use the catalog's`);
  }
  const session = await ModelSession.create("background-removal", file, provider);
  const input = session.inputs[0];
  const output = session.outputs[0];
  if (!input || !output || (input.shape.length !== 4 && input.shape.length !== 0)) {
    throw new EaselError("model-invalid", `${file} is not a background-removal graph (one image input [1,3,H,W] and a mask output): choose birefnet-lite from the catalog`);
  }
  const [, channels, h, w] = input.shape;
  if (typeof channels === "number" && channels !== 3) throw new EaselError("model-invalid", `${file} takes ${channels} channels, not an RGB image: choose a background-removal model`);
  const fixed = typeof h === "number" && typeof w === "number" && h > 0 ? h : undefined;
  if (fixed !== undefined && w !== h) throw new EaselError("model-unsupported", `not supported yet: a background-removal graph with a ${w}x${h} (not square) input`);
  return {
    fixedInputSize: fixed,
    async run(data, side) {
      const result = await session.run({ [input.name]: floatTensor(input, data, [1, 3, side, side]) }); // [1,3,S,S] f32
      return floatData(result[output.name], "the background-removal model"); // [1,1,S,S] f32
    },
    release: () => session.release(),
  };
}
