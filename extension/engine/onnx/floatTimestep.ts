// UNets exported with an integer `timestep` input (SD 2.x and LCM exports declare int64) cannot take
// the fractional timesteps of Euler-family schedules with linspace spacing (e.g. 908.18 for 12
// steps), yet diffusers' PyTorch UNet embeds exactly that fraction: `timesteps[:, None].float()`.
// Rounding to the nearest integer changes the sinusoidal embedding and so every step's output
// (0.26 RGB levels on a 12-step img2img, far more on a txt2img). Inside such graphs the integer is
// only carried (Expand, Unsqueeze…) to a Cast to float, so re-declaring the input as float32 gives
// the graph precisely diffusers' input, and integer timesteps still give bit-identical results.
//
// The change is one byte (the input's elem_type varint, 7 or 6 -> 1), found by walking the protobuf
// wire format with positioned reads: a UNet's initializers (gigabytes) are skipped by their length,
// never read, until we know the graph qualifies.

import fs from "node:fs/promises";
import path from "node:path";
import { bufferSource, type ByteSource, collectLocation, type Field, fieldsOf, LEN, utf8, VARINT, withFileSource } from "./protobufWire";

// ONNX TensorProto.DataType values.
const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;
const FLOAT16 = 10;
const DOUBLE = 11;
const BFLOAT16 = 16;
const FLOAT_TYPES = new Set([FLOAT, FLOAT16, DOUBLE, BFLOAT16]);

/** Ops that only move or reshape their first input: the value reaching the Cast is the timestep itself. */
const CARRIERS = new Set(["Expand", "Unsqueeze", "Reshape", "Squeeze", "Identity", "Flatten"]);
/** Ops whose subgraphs could use the timestep out of sight of a top-level walk. */
const CONTROL_FLOW = new Set(["If", "Loop", "Scan"]);

interface NodeSummary {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Cast's `to`. */
  readonly castTo: number | undefined;
}

async function nodeSummary(bytes: Uint8Array, locations: Set<string>): Promise<NodeSummary> {
  const source = bufferSource(bytes);
  let opType = "";
  const inputs: string[] = [];
  const outputs: string[] = [];
  let castTo: number | undefined;
  for await (const f of fieldsOf(source, 0, bytes.length)) {
    if (f.wireType !== LEN) continue;
    const text = () => utf8.decode(bytes.subarray(f.start, f.end));
    // NodeProto: input 1, output 2, op_type 4, attribute 5.
    if (f.number === 1) inputs.push(text());
    else if (f.number === 2) outputs.push(text());
    else if (f.number === 4) opType = text();
    else if (f.number === 5) {
      // AttributeProto: name 1, i 3, t 5 and tensors 10 (a Constant's value may live in an external file).
      let name = "";
      let i: number | undefined;
      for await (const a of fieldsOf(source, f.start, f.end)) {
        if (a.number === 1 && a.wireType === LEN) name = utf8.decode(bytes.subarray(a.start, a.end));
        else if (a.number === 3 && a.wireType === VARINT) i = a.value;
        else if ((a.number === 5 || a.number === 10) && a.wireType === LEN) await collectLocation(source, a, locations);
      }
      if (name === "to") castTo = i;
    }
  }
  return { opType, inputs, outputs, castTo };
}

/** Where the elem_type varint of graph input `name` sits, and its value (ValueInfoProto → TypeProto → Tensor). */
async function inputElemType(source: ByteSource, field: Field, name: string): Promise<{ offset: number; elemType: number } | undefined> {
  let found = false;
  let typeField: Field | undefined;
  for await (const f of fieldsOf(source, field.start, field.end)) {
    if (f.number === 1 && f.wireType === LEN) found = utf8.decode(await source.read(f.start, f.value)) === name;
    else if (f.number === 2 && f.wireType === LEN) typeField = f;
  }
  if (!found || !typeField) return undefined;
  for await (const t of fieldsOf(source, typeField.start, typeField.end)) {
    if (t.number !== 1 || t.wireType !== LEN) continue; // tensor_type
    for await (const e of fieldsOf(source, t.start, t.end)) {
      if (e.number === 1 && e.wireType === VARINT) return { offset: e.start, elemType: e.value };
    }
  }
  return undefined;
}

/**
 * Whether every use of `input` carries it unchanged (as the data operand of a carrier op) to a Cast to
 * a float type, and nowhere else: then feeding a float instead of an integer changes nothing but
 * the fraction the integer could not hold.
 */
function onlyCastToFloat(nodes: readonly NodeSummary[], input: string, graphOutputs: ReadonlySet<string>): boolean {
  if (nodes.some((n) => CONTROL_FLOW.has(n.opType))) return false;
  let frontier = [input];
  let casts = 0;
  for (let depth = 0; frontier.length > 0; depth++) {
    if (depth > 16) return false;
    const next: string[] = [];
    for (const value of frontier) {
      if (graphOutputs.has(value)) return false;
      for (const node of nodes) {
        const at = node.inputs.indexOf(value);
        if (at < 0) continue;
        if (node.inputs.lastIndexOf(value) !== at || at !== 0) return false;
        if (node.opType === "Cast") {
          if (node.castTo === undefined || !FLOAT_TYPES.has(node.castTo)) return false;
          casts++;
        } else if (CARRIERS.has(node.opType)) {
          next.push(...node.outputs);
        } else {
          return false;
        }
      }
    }
    frontier = next;
  }
  return casts > 0;
}

export interface TimestepPatch {
  /** Byte offset of the timestep input's elem_type varint in model.onnx. */
  readonly offset: number;
  /** What the graph declared (int64 or int32). */
  readonly declared: number;
  /** The external weight files the graph names, relative to its folder. */
  readonly externalFiles: readonly string[];
}

/**
 * Finds the one-byte change that makes `model.onnx`'s integer `timestep` input a float32 one, when
 * the graph only casts that integer to float; undefined when the input is already a float, when the
 * graph uses the integer otherwise, or when the file is not a protobuf we can walk (ONNX Runtime
 * then loads it as it is, and reports what is wrong with it).
 */
export async function findTimestepPatch(file: string): Promise<TimestepPatch | undefined> {
  return withFileSource(file, (source, size) => findIn(source, size));
}

/** findTimestepPatch for a graph already in memory (one rewritten at load, such as a tiling graph). */
export async function findTimestepPatchInBytes(model: Uint8Array): Promise<TimestepPatch | undefined> {
  return findIn(bufferSource(model), model.length);
}

async function findIn(source: ByteSource, size: number): Promise<TimestepPatch | undefined> {
  try {
    let graph: Field | undefined;
    for await (const f of fieldsOf(source, 0, size)) if (f.number === 7 && f.wireType === LEN) graph = f; // ModelProto.graph
    if (!graph) return undefined;
    // GraphProto: node 1, initializer 5, input 11, output 12. A first pass reads only the inputs, so a
    // float-timestep UNet (most) costs a walk over field headers; the nodes are read only when needed.
    let timestep: { offset: number; elemType: number } | undefined;
    for await (const f of fieldsOf(source, graph.start, graph.end)) {
      if (f.number === 11 && f.wireType === LEN) timestep ??= await inputElemType(source, f, "timestep");
    }
    if (!timestep || (timestep.elemType !== INT64 && timestep.elemType !== INT32)) return undefined;
    const nodes: NodeSummary[] = [];
    const outputs = new Set<string>();
    const locations = new Set<string>();
    for await (const f of fieldsOf(source, graph.start, graph.end)) {
      if (f.wireType !== LEN) continue;
      if (f.number === 1) nodes.push(await nodeSummary(await source.read(f.start, f.value), locations));
      else if (f.number === 5) await collectLocation(source, f, locations);
      else if (f.number === 12) {
        for await (const o of fieldsOf(source, f.start, f.end)) {
          if (o.number === 1 && o.wireType === LEN) outputs.add(utf8.decode(await source.read(o.start, o.value)));
        }
      }
    }
    if (!onlyCastToFloat(nodes, "timestep", outputs)) return undefined;
    return { offset: timestep.offset, declared: timestep.elemType, externalFiles: [...locations] };
  } catch {
    return undefined;
  }
}

/**
 * Applies the patch to the graph's bytes, in place (the caller read them for this session alone; the
 * elem_type varint is one byte either way). False when the file changed since it was scanned.
 */
export function applyTimestepPatch(model: Uint8Array, patch: TimestepPatch): boolean {
  if (model[patch.offset] !== patch.declared) return false;
  model[patch.offset] = FLOAT;
  return true;
}

/**
 * Whether ONNX Runtime can read these external weight files when the graph is loaded from bytes.
 * It then checks that each one resolves (symlinks followed) inside the graph's folder, which the
 * Hugging Face cache layout breaks: its files are symlinks into a sibling blobs/ folder. Such a graph
 * is loaded by path, as it is (an integer timestep then gets the nearest integer).
 */
export async function weightsResolveInFolder(file: string, externalFiles: readonly string[]): Promise<boolean> {
  const realDir = await fs.realpath(path.dirname(file));
  for (const location of externalFiles) {
    const target = await fs.realpath(path.join(path.dirname(file), location)).catch(() => undefined);
    if (target === undefined) return false;
    const relative = path.relative(realDir, target);
    if (relative.startsWith("..") || path.isAbsolute(relative)) return false;
  }
  return true;
}
