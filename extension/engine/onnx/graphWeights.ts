// An ONNX graph's weights, found and rewritten without loading the graph into a protobuf library:
// each initializer by name (with where its bytes are: inside model.onnx or in an external data file,
// by offset), the module each MatMul/Gemm/Conv weight belongs to (exporters often give a MatMul's
// weight an anonymous name such as `onnx::MatMul_2471`, but the node's name carries the module
// path, `/unet/down_blocks.0/…/attn1/to_q/MatMul`), and whether it is stored as PyTorch's
// [out, in…] or transposed [in, out] (a MatMul computes x @ W^T with W^T stored).
//
// Rewriting a graph with new values for some initializers is patchedGraph.ts's.

import fs from "node:fs/promises";
import path from "node:path";
import { EaselError } from "../errors";
import { float16BitsToFloat32, float32ToFloat16Bits } from "./float16";
import { bufferSource, concatBytes, type ByteSource, type Field, fieldsIn, fieldsOf, LEN, lenField, readVarint, stringEntry, utf8, VARINT, varintField, withFileSource } from "./protobufWire";
// ONNX TensorProto.DataType values.
export const ONNX_FLOAT = 1;
export const ONNX_FLOAT16 = 10;

/** Where an initializer's bytes are. */
export interface TensorData {
  /** Absolute path of the file holding the bytes (model.onnx itself for raw_data). */
  readonly file: string;
  readonly offset: number;
  readonly length: number;
  readonly external: boolean;
}

export interface TensorInfo {
  readonly name: string;
  readonly dims: readonly number[];
  /** TensorProto.DataType (1 float32, 10 float16, …). */
  readonly dataType: number;
  /** The initializer field in the graph file (tag included), for rewriting. */
  readonly fieldStart: number;
  /** Where the TensorProto message itself starts (after the field's tag and length). */
  readonly messageStart: number;
  readonly fieldEnd: number;
  /** Undefined when the values are in typed fields (float_data…) rather than raw bytes. */
  readonly data: TensorData | undefined;
}

export interface GraphNode {
  readonly name: string;
  readonly opType: string;
  /** The operator's domain ("" for ONNX's own, "com.microsoft" for ONNX Runtime's contrib ops). */
  readonly domain: string;
  readonly inputs: readonly string[];
  /** Gemm's transB attribute (0 when absent). */
  readonly transB: number;
}

export interface GraphWeights {
  readonly file: string;
  readonly initializers: ReadonlyMap<string, TensorInfo>;
  readonly nodes: readonly GraphNode[];
  /** ModelProto.graph's field in the file. */
  readonly graphField: { readonly tagStart: number; readonly start: number; readonly end: number };
}

/** A module's weight as the graph stores it: PyTorch's [out, in(, kh, kw)] or transposed [in, out]. */
export interface ModuleWeight {
  readonly initializer: string;
  readonly layout: "out-in" | "in-out";
}

async function readString(source: ByteSource, f: Field): Promise<string> {
  return utf8.decode(await source.read(f.start, f.value));
}

async function readTensorHeader(source: ByteSource, field: Field, graphFile: string): Promise<TensorInfo> {
  let name = "";
  const dims: number[] = [];
  let dataType = 0;
  let raw: Field | undefined;
  const external = new Map<string, string>();
  for await (const f of fieldsOf(source, field.start, field.end)) {
    // TensorProto: dims 1, data_type 2, name 8, raw_data 9, external_data 13.
    if (f.number === 1 && f.wireType === VARINT) dims.push(f.value);
    else if (f.number === 1 && f.wireType === LEN) {
      const packed = await source.read(f.start, f.value);
      for await (const d of fieldsOfPacked(packed)) dims.push(d);
    } else if (f.number === 2 && f.wireType === VARINT) dataType = f.value;
    else if (f.number === 8 && f.wireType === LEN) name = await readString(source, f);
    else if (f.number === 9 && f.wireType === LEN) raw = f;
    else if (f.number === 13 && f.wireType === LEN) {
      const [key, value] = stringEntry(await source.read(f.start, f.value));
      external.set(key, value);
    }
  }
  let data: TensorData | undefined;
  const location = external.get("location");
  if (location !== undefined) {
    const offset = Number(external.get("offset") ?? "0");
    const length = external.has("length") ? Number(external.get("length")) : tensorBytes({ dims, dataType });
    data = { file: externalDataPath(path.dirname(graphFile), location), offset, length, external: true };
  } else if (raw) {
    data = { file: graphFile, offset: raw.start, length: raw.value, external: false };
  }
  return { name, dims, dataType, fieldStart: field.tagStart, messageStart: field.start, fieldEnd: field.end, data };
}

/** A packed repeated varint field's values (TensorProto.dims written packed). */
function* fieldsOfPacked(bytes: Uint8Array): Generator<number> {
  for (let pos = 0; pos < bytes.length; ) {
    const v = readVarint(bytes, pos);
    yield v.value;
    pos = v.next;
  }
}

async function readNode(bytes: Uint8Array): Promise<GraphNode> {
  const source = bufferSource(bytes);
  let name = "";
  let opType = "";
  let domain = "";
  let transB = 0;
  const inputs: string[] = [];
  for await (const f of fieldsOf(source, 0, bytes.length)) {
    if (f.wireType !== LEN) continue;
    const text = () => utf8.decode(bytes.subarray(f.start, f.end));
    // NodeProto: input 1, name 3, op_type 4, attribute 5 (AttributeProto: name 1, i 3), domain 7.
    if (f.number === 1) inputs.push(text());
    else if (f.number === 3) name = text();
    else if (f.number === 4) opType = text();
    else if (f.number === 7) domain = text();
    else if (f.number === 5) {
      let attr = "";
      let i = 0;
      for await (const a of fieldsOf(source, f.start, f.end)) {
        if (a.number === 1 && a.wireType === LEN) attr = utf8.decode(bytes.subarray(a.start, a.end));
        else if (a.number === 3 && a.wireType === VARINT) i = a.value;
      }
      if (attr === "transB") transB = i;
    }
  }
  return { name, opType, domain, inputs, transB };
}

/** The bytes an initializer's values take. */
export function tensorBytes(t: Pick<TensorInfo, "dims" | "dataType">): number {
  return t.dims.reduce((a, b) => a * b, 1) * elementSize(t.dataType);
}

/** Bytes per element of the float types weights come in. */
export function elementSize(dataType: number): number {
  if (dataType === ONNX_FLOAT16) return 2;
  if (dataType === ONNX_FLOAT) return 4;
  return 0;
}

/** Reads a graph file's initializer headers and nodes; weight bytes are skipped, not read. */
export async function readGraphWeights(file: string): Promise<GraphWeights> {
  return withFileSource(file, (source, size) => graphWeightsFrom(source, size, file));
}

/**
 * readGraphWeights for a graph already in memory (one rewritten at load, such as a tiling graph);
 * `file` is where it came from, whose folder holds its external weights.
 */
export async function graphWeightsOfBytes(model: Uint8Array, file: string): Promise<GraphWeights> {
  return graphWeightsFrom(bufferSource(model), model.length, file);
}

async function graphWeightsFrom(source: ByteSource, size: number, file: string): Promise<GraphWeights> {
  let graph: Field | undefined;
  for await (const f of fieldsOf(source, 0, size)) if (f.number === 7 && f.wireType === LEN) graph = f; // ModelProto.graph
  if (!graph) throw new Error(`${file} holds no graph`);
  const initializers = new Map<string, TensorInfo>();
  const nodes: GraphNode[] = [];
  // GraphProto: node 1, initializer 5.
  for await (const f of fieldsOf(source, graph.start, graph.end)) {
    if (f.wireType !== LEN) continue;
    if (f.number === 1) nodes.push(await readNode(Buffer.from(await source.read(f.start, f.value))));
    else if (f.number === 5) {
      const t = await readTensorHeader(source, f, file);
      initializers.set(t.name, t);
    }
  }
  return { file, initializers, nodes, graphField: { tagStart: graph.tagStart, start: graph.start, end: graph.end } };
}

/**
 * The module scope a node's name carries, as torch's exporter names nodes:
 * `/unet/down_blocks.0/resnets.0/norm1/Mul` -> `unet.down_blocks.0.resnets.0.norm1`; a ModuleList's
 * doubled level (`resblocks/resblocks.0`) counts once. Undefined for a name without a scope.
 */
export function scopeOfNode(name: string | null | undefined): string | undefined {
  if (!name || !name.startsWith("/")) return undefined;
  const parts = name.slice(1).split("/").slice(0, -1);
  const kept = parts.filter((p, i) => !(i + 1 < parts.length && parts[i + 1].startsWith(`${p}.`)));
  return kept.length > 0 ? kept.join(".") : undefined;
}

/**
 * Where a tensor's external data lives: `location` (from the graph's external_data) resolved in the
 * graph's folder. A location that leaves the folder (absolute, or through "..") is refused: a graph
 * must not make Easel read arbitrary files.
 */
export function externalDataPath(graphDir: string, location: string): string {
  if (!location || path.isAbsolute(location) || location.split(/[\\/]/).includes("..")) {
    throw new EaselError("model-invalid", `${path.basename(graphDir)}/model.onnx names external data outside its folder (${location}): export or download the model again`);
  }
  return path.join(graphDir, location);
}

/**
 * Each module whose weight a MatMul, Gemm or Conv reads straight from an initializer, keyed by its
 * path with dots (as the node's name and, when the initializer is named `<module>.weight`, as that
 * name gives it). Export wrappers add a leading `unet.` or similar: callers match on suffixes.
 */
export function moduleWeights(graph: GraphWeights): Map<string, ModuleWeight> {
  const out = new Map<string, ModuleWeight>();
  for (const node of graph.nodes) {
    if (node.opType !== "MatMul" && node.opType !== "Gemm" && node.opType !== "Conv") continue;
    const weight = node.inputs[1];
    const tensor = weight === undefined ? undefined : graph.initializers.get(weight);
    if (!tensor || elementSize(tensor.dataType) === 0) continue;
    const layout = node.opType === "Conv" || (node.opType === "Gemm" && node.transB === 1) ? "out-in" : "in-out";
    const entry: ModuleWeight = { initializer: tensor.name, layout };
    const fromName = weight.endsWith(".weight") ? weight.slice(0, -".weight".length) : undefined;
    if (fromName) out.set(fromName, entry);
    const fromNode = scopeOfNode(node.name);
    if (fromNode && !out.has(fromNode)) out.set(fromNode, entry);
  }
  return out;
}

/**
 * Hands each tensor's raw bytes to `use`, one tensor at a time (each file opened once, read in
 * file order), so no more than one tensor is held for it.
 */
export async function forEachTensorBytes<T extends Pick<TensorInfo, "name" | "data">>(tensors: readonly T[], use: (tensor: T, bytes: Uint8Array) => Promise<void> | void): Promise<void> {
  const byFile = new Map<string, T[]>();
  for (const t of tensors) {
    if (!t.data) throw new Error(`initializer ${t.name} keeps its values in typed fields, not raw bytes`);
    byFile.set(t.data.file, [...(byFile.get(t.data.file) ?? []), t]);
  }
  for (const [file, list] of byFile) {
    const handle = await fs.open(file, "r");
    try {
      for (const t of [...list].sort((a, b) => a.data!.offset - b.data!.offset)) {
        const buffer = Buffer.alloc(t.data!.length);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, t.data!.offset);
        if (bytesRead !== buffer.length) throw new Error(`${path.basename(file)} ends inside initializer ${t.name}`);
        await use(t, buffer);
      }
    } finally {
      await handle.close();
    }
  }
}

/** Reads the raw bytes of several tensors (all kept: for a few small ones). */
export async function readTensorBytes(tensors: ReadonlyArray<Pick<TensorInfo, "name" | "data">>): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  await forEachTensorBytes(tensors, (t, bytes) => void out.set(t.name, bytes));
  return out;
}

/** A float32 or float16 tensor's raw bytes (little-endian) as f32 values. */
export function bytesToFloat32(bytes: Uint8Array, dataType: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dataType === ONNX_FLOAT) {
    const out = new Float32Array(bytes.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (dataType === ONNX_FLOAT16) {
    const out = new Float32Array(bytes.byteLength / 2);
    for (let i = 0; i < out.length; i++) out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
    return out;
  }
  throw new Error(`tensor data type ${dataType} is not a float type weights come in`);
}

/** f32 values as a float32 or float16 tensor's raw bytes (fp16 rounded to nearest-even, as torch casts). */
export function float32ToBytes(values: Float32Array, dataType: number): Uint8Array {
  const bytes = Buffer.alloc(values.length * elementSize(dataType));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dataType === ONNX_FLOAT) for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  else if (dataType === ONNX_FLOAT16) for (let i = 0; i < values.length; i++) view.setUint16(i * 2, float32ToFloat16Bits(values[i]), true);
  else throw new Error(`tensor data type ${dataType} is not a float type weights come in`);
  return bytes;
}

/** The TensorProto `t` without its values, pointing at `location` [offset, offset + length). */
export function externalTensor(model: Uint8Array, t: TensorInfo, location: string, offset: number, length: number): Uint8Array {
  const entry = (key: string, value: string) => lenField(13, concatBytes([lenField(1, key), lenField(2, value)]));
  return concatBytes([
    ...tensorWithoutValues(model, t),
    entry("location", location),
    entry("offset", String(offset)),
    entry("length", String(length)),
    varintField(14, 1), // DataLocation.EXTERNAL
  ]);
}

/** The fields of TensorProto `t` (name, dims, data type…) without its values and their location. */
export function tensorWithoutValues(model: Uint8Array, t: TensorInfo): Uint8Array[] {
  const message = model.subarray(t.messageStart, t.fieldEnd);
  // Synchronous walk (the message is in memory): keep every field but the values and their location.
  // float_data 4, int32_data 5, raw_data 9, double_data 10, external_data 13, data_location 14.
  const dropped = new Set([4, 5, 9, 10, 13, 14]);
  return [...fieldsIn(message, 0, message.length)].filter((f) => !dropped.has(f.number)).map((f) => message.subarray(f.tagStart, f.end));
}
