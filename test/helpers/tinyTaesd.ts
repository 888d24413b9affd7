// A small random-weight TAESD decoder (the bench's taesd.py-shaped graph) written as ONE
// self-contained model.onnx, as the Hub's ONNX exports of TAESD are, and a store folder holding
// it the way a pull leaves it (manifest last), for tests that need the store's decoder.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { onnx } from "onnx-proto";
import type { CatalogDecoder } from "../../extension/engine/hub/catalog";
import { type Manifest, MANIFEST_NAME } from "../../extension/engine/hub/manifest";
import type { ModelStore } from "../../extension/engine/hub/store";
import { TINY } from "../bench/synth/configs";
import { buildTaesdDecoder } from "../bench/synth/taesd";
import { writeModel } from "../bench/synth/write";
import { readGraph, writeGraph } from "./onnxVariants";

/**
 * Writes `<dir>/model.onnx`. `diffusers`: the graph ends with x·2 − 1 like diffusers' DecoderTiny
 * (an image in [-1, 1]); the weights depend on `seed` only, so both forms decode the same picture.
 */
export async function writeTinyTaesd(dir: string, options: { readonly diffusers?: boolean; readonly seed?: number } = {}): Promise<string> {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "easel-tinytaesd-"));
  try {
    writeModel(buildTaesdDecoder(TINY.taesd, { batch: 1, height: 8, width: 8 }, { diffusers: options.diffusers }), scratch, options.seed ?? 7);
    const model = await readGraph(path.join(scratch, "model.onnx"));
    const weights = await fs.readFile(path.join(scratch, "weights.pb"));
    for (const tensor of model.graph?.initializer ?? []) {
      const entries = new Map((tensor.externalData ?? []).map((e) => [e.key ?? "", e.value ?? ""]));
      if (!entries.has("location")) continue;
      const offset = Number(entries.get("offset") ?? 0);
      const length = Number(entries.get("length"));
      tensor.rawData = weights.subarray(offset, offset + length);
      tensor.externalData = [];
      tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    }
    await fs.mkdir(dir, { recursive: true });
    const file = path.join(dir, "model.onnx");
    await writeGraph(file, model);
    return file;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** Puts a tiny decoder into `store` as the pull of `decoder` (at `commit`) would have left it. */
export async function placeStoreDecoder(store: ModelStore, decoder: CatalogDecoder, commit: string, options: { readonly diffusers?: boolean } = {}): Promise<string> {
  const dir = store.folderFor(decoder.repo, commit);
  const file = await writeTinyTaesd(path.join(dir, path.dirname(decoder.file)), options);
  const bytes = await fs.readFile(file);
  const manifest: Manifest = {
    format: 1,
    repo: decoder.repo,
    commit,
    revision: decoder.revision ?? decoder.ref,
    pulledAt: new Date().toISOString(),
    files: [{ path: decoder.file, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") }],
  };
  await fs.writeFile(path.join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  if (!decoder.revision) await store.recordRef(decoder.repo, decoder.ref, commit);
  return file;
}
