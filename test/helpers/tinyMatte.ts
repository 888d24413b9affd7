// A tiny background-removal graph with BiRefNet_lite's ports: `input_image` [1,3,S,S] f32 in,
// `output_image` [1,1,S,S] f32 logits out. The arithmetic is one 1×1 convolution (a weighted sum
// of the normalised channels plus a bias), so a test can compute the expected mask on its own.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { onnx } from "onnx-proto";
import type { CatalogBackgroundRemover } from "../../extension/engine/hub/catalog";
import { type Manifest, MANIFEST_NAME } from "../../extension/engine/hub/manifest";
import type { ModelStore } from "../../extension/engine/hub/store";

export interface TinyMatte {
  /** Per-channel weights of the 1×1 convolution and its bias. */
  readonly weights: readonly [number, number, number];
  readonly bias: number;
  /** The fixed side the graph declares; undefined: dynamic H and W. */
  readonly side?: number;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function valueInfo(name: string, dims: readonly (number | string)[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } } };
}

/** Writes the graph to `<dir>/model.onnx` and returns its path. */
export async function writeTinyMatte(dir: string, m: TinyMatte): Promise<string> {
  const h = m.side ?? "height";
  const w = m.side ?? "width";
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "easel-test",
    graph: {
      name: "tiny-matte",
      input: [valueInfo("input_image", [1, 3, h, w])],
      output: [valueInfo("output_image", [1, 1, h, w])],
      initializer: [
        { name: "w", dims: [1, 3, 1, 1], dataType: FLOAT, floatData: [...m.weights] },
        { name: "b", dims: [1], dataType: FLOAT, floatData: [m.bias] },
      ],
      node: [{ opType: "Conv", input: ["input_image", "w", "b"], output: ["output_image"], name: "conv" }],
    },
  };
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, "model.onnx");
  await fs.writeFile(file, onnx.ModelProto.encode(model).finish());
  return file;
}

/**
 * Puts a tiny matte graph into `store` as the pull of the catalog's background remover would have
 * left it (at `commit`, its branch pointing there), for tests of the editor's Remove Background.
 */
export async function placeStoreRemover(store: ModelStore, entry: CatalogBackgroundRemover, commit: string, m: TinyMatte): Promise<string> {
  const dir = store.folderFor(entry.repo, commit);
  const file = await writeTinyMatte(path.join(dir, path.dirname(entry.file)), m);
  const target = path.join(dir, ...entry.file.split("/"));
  if (target !== file) await fs.rename(file, target);
  const bytes = await fs.readFile(target);
  const manifest: Manifest = {
    format: 1,
    repo: entry.repo,
    commit,
    revision: entry.revision ?? entry.ref,
    pulledAt: new Date().toISOString(),
    files: [{ path: entry.file, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") }],
  };
  await fs.writeFile(path.join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  if (!entry.revision) await store.recordRef(entry.repo, entry.ref, commit);
  return target;
}
