// Writes a built graph as model.onnx plus weights.pb (ONNX external data): protobuf cannot hold
// more than 2 GB, and the UNet's weights alone are 3.5 GB. Each weight starts on a 4 KiB boundary
// so ONNX Runtime may map it straight from the file.
import fs from "node:fs";
import path from "node:path";
import { onnx } from "onnx-proto";
import { product, type GraphBuilder, type Weight } from "./graph";
import { Xoshiro128 } from "./prng";

export const OPSET = 17;
export const WEIGHTS_FILE = "weights.pb";
const ALIGN = 4096;
const CHUNK = 1 << 22; // floats generated per write

export interface Written {
  readonly modelFile: string;
  readonly weightsFile: string;
  /** Sum of the weights' sizes (without alignment padding). */
  readonly weightBytes: number;
  readonly parameters: number;
}

function writeWeight(fd: number, w: Weight, stream: Xoshiro128, position: number): void {
  const init = w.init;
  const chunk = new Float32Array(Math.min(CHUNK, product(w.dims)));
  for (let left = product(w.dims); left > 0; ) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    stream.fillUniform(part, init.std, init.mean);
    fs.writeSync(fd, new Uint8Array(part.buffer, 0, part.byteLength), 0, part.byteLength, position);
    position += part.byteLength;
    left -= part.length;
  }
}

/** Generates the weights into `dir`/weights.pb and writes `dir`/model.onnx referring to them. */
export function writeModel(g: GraphBuilder, dir: string, seed: number): Written {
  fs.mkdirSync(dir, { recursive: true });
  const weightsFile = path.join(dir, WEIGHTS_FILE);
  const offsets = offsetsOf(g);
  let parameters = 0;
  const fd = fs.openSync(weightsFile, "w");
  try {
    for (const w of g.weights) {
      // One stream per tensor, named by graph and weight: bytes independent of order and chunking.
      writeWeight(fd, w, new Xoshiro128(seed, `${g.name}/${w.name}`), offsets.get(w.name) ?? 0);
      parameters += product(w.dims);
    }
  } finally {
    fs.closeSync(fd);
  }
  const modelFile = path.join(dir, "model.onnx");
  fs.writeFileSync(modelFile, encodeModel(g, offsets));
  return { modelFile, weightsFile, weightBytes: parameters * 4, parameters };
}

export function offsetsOf(g: GraphBuilder): Map<string, number> {
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const w of g.weights) {
    offset = Math.ceil(offset / ALIGN) * ALIGN;
    offsets.set(w.name, offset);
    offset += product(w.dims) * 4;
  }
  return offsets;
}

/** The serialised ModelProto; `exposeAll` adds every float activation as an output (see check.ts). */
export function encodeModel(g: GraphBuilder, offsets: ReadonlyMap<string, number> = offsetsOf(g), exposeAll = false): Uint8Array {
  return onnx.ModelProto.encode(g.toModel(WEIGHTS_FILE, offsets, OPSET, exposeAll)).finish();
}
