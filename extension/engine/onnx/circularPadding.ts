// Seamless tiling (conformance rule 21): every 2-D convolution pads circularly, as PyTorch's
// `padding_mode="circular"` (what A1111's "Tiling" option sets on every Conv2d) does, instead of
// with zeros. The graph is rewritten at load: each Conv's own `pads` are moved into an explicit
// wrap-around pad in front of it and the Conv then pads nothing.
//
// The wrap-around pad is built from Slice + Concat (the last rows put above, the first rows below,
// then the same for columns), not Pad's mode "wrap": that mode exists only from opset 19, while SD
// exports declare 14–17 (and raising a graph's opset changes other operators' meaning), and
// Slice/Concat run on every execution provider. Both axes wrapped in turn equal torch's circular
// pad, corners included.
//
// Which convolutions: rule 21 says every 2-D convolution, but the public reference image
// (tile-sd15-ddim-8, made by diffusers with A1111's `type(layer) == torch.nn.Conv2d` switch) is
// reproduced exactly (mean 0.000) only when the graph's outer convolutions wrap, conv_in and
// conv_out: the diffusers version that made it builds every other convolution (ResNet blocks,
// up/downsamplers) as LoRACompatibleConv, a subclass that exact type test skips. Wrapping every
// convolution misses that image by 24 levels on average. `scope` chooses: "outer" (the reference's,
// the default the engine uses) or "every" (the rule's wording, A1111 on its own ldm models).
//
// Only a Conv's own padding wraps. Explicit Pad nodes stay as they are (diffusers' VAE encoder
// downsamples with `F.pad(x, (0, 1, 0, 1))` and a pads=0 Conv: zeros under A1111's tiling too), and
// so does a Conv with unequal begin/end pads: torch's Conv2d pads both sides alike, so such pads are
// a zero Pad fused into the Conv by an optimiser, not the convolution's own.
//
// The graph is walked with positioned reads (protobufWire.ts) and written as byte ranges of the
// original plus the new nodes: only the nodes are parsed, and an embedded-weight graph's weights are
// read once, straight into the rewritten buffer.

import { EaselError } from "../errors";
import { bufferSource, type ByteSource, collectLocation, concatBytes, encodeVarint, type Field, fieldsIn, fieldsOf, LEN, lenField, readVarint, utf8, VARINT, varintField, withFileSource } from "./protobufWire";

const INT64 = 7; // TensorProto.DataType
const ATTR_INT = 2; // AttributeProto.AttributeType
const INT64_MAX = 0x7fffffffffffffffn;
/** Slice takes starts/ends/axes as inputs from opset 10. */
const MIN_OPSET = 10;

/** Which convolutions pad circularly: the graph's conv_in and conv_out, or every one (see the file comment). */
export type CircularScope = "outer" | "every";

/** diffusers' module paths in exported node names: /conv_in/Conv, /unet/conv_out/Conv, /decoder/conv_in/Conv. */
const OUTER_NAME = /(^|\/)conv_(in|out)\/Conv(_\d+)?$/;

export interface CircularGraph {
  /** The rewritten ModelProto. */
  readonly bytes: Buffer;
  /** Convolutions whose padding now wraps. */
  readonly wrapped: number;
  /** Padded convolutions left as they were: outside the scope, unequal begin/end pads (a fused zero Pad) or auto_pad. */
  readonly kept: number;
  /** The external weight files the graph names, relative to its folder. */
  readonly externalFiles: readonly string[];
}

interface ConvNode {
  readonly input: string;
  readonly name: string;
  /** [top, left, bottom, right]: ONNX's x1_begin, x2_begin, x1_end, x2_end. */
  readonly pads: readonly number[];
  /** The node's fields: kept as they are, except the first input and the `pads` attribute. */
  readonly fields: readonly Field[];
  readonly inputField: Field;
  readonly padsField: Field;
}

type Segment = { readonly from: number; readonly to: number } | Uint8Array;

/** An attribute's name and its ints / i / s, read from the node's bytes. */
function readAttribute(bytes: Uint8Array, f: Field): { name: string; ints: number[]; s: string } {
  let name = "";
  const ints: number[] = [];
  let s = "";
  for (const a of fieldsIn(bytes, f.start, f.end)) {
    if (a.number === 1 && a.wireType === LEN) name = utf8.decode(bytes.subarray(a.start, a.end));
    else if (a.number === 4 && a.wireType === LEN) s = utf8.decode(bytes.subarray(a.start, a.end));
    else if (a.number === 8 && a.wireType === VARINT) ints.push(a.value);
    else if (a.number === 8 && a.wireType === LEN) {
      // Packed ints.
      for (let pos = a.start; pos < a.end; ) {
        const v = readVarint(bytes, pos);
        ints.push(v.value);
        pos = v.next;
      }
    }
  }
  return { name, ints, s };
}

/** A Conv whose own padding should wrap, or why not (undefined: not a Conv, or nothing to pad). */
async function convToWrap(bytes: Uint8Array, locations: Set<string>): Promise<ConvNode | "kept" | undefined> {
  let opType = "";
  let domain = "";
  let name = "";
  let inputField: Field | undefined;
  let padsField: Field | undefined;
  let pads: number[] = [];
  let autoPad = "NOTSET";
  const fields: Field[] = [];
  for (const f of fieldsIn(bytes, 0, bytes.length)) {
    fields.push(f);
    if (f.wireType !== LEN) continue;
    const text = () => utf8.decode(bytes.subarray(f.start, f.end));
    // NodeProto: input 1, name 3, op_type 4, attribute 5, domain 7.
    if (f.number === 1) inputField ??= f;
    else if (f.number === 3) name = text();
    else if (f.number === 4) opType = text();
    else if (f.number === 7) domain = text();
    else if (f.number === 5) {
      const attr = readAttribute(bytes, f);
      if (attr.name === "pads") {
        padsField = f;
        pads = attr.ints;
      } else if (attr.name === "auto_pad" && attr.s !== "") autoPad = attr.s;
      // A Constant's tensor may live in an external file.
      for (const a of fieldsIn(bytes, f.start, f.end)) if ((a.number === 5 || a.number === 10) && a.wireType === LEN) await collectLocation(bufferSource(bytes), a, locations);
    }
  }
  if (opType !== "Conv" || (domain !== "" && domain !== "ai.onnx") || !inputField) return undefined;
  if (autoPad !== "NOTSET") return autoPad === "VALID" ? undefined : "kept";
  if (!padsField || pads.every((p) => p === 0)) return undefined;
  if (pads.length !== 4) return undefined; // 1-D or 3-D: not a 2-D convolution
  if (pads[0] !== pads[2] || pads[1] !== pads[3]) return "kept";
  return { input: utf8.decode(bytes.subarray(inputField.start, inputField.end)), name, pads, fields, inputField, padsField };
}

function int64Tensor(name: string, values: readonly bigint[]): Uint8Array {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  // TensorProto: dims 1, data_type 2, name 8, raw_data 9.
  return concatBytes([varintField(1, values.length), varintField(2, INT64), lenField(8, name), lenField(9, raw)]);
}

function node(opType: string, name: string, inputs: readonly string[], output: string, axis?: number): Uint8Array {
  const parts = [...inputs.map((i) => lenField(1, i)), lenField(2, output), lenField(3, name), lenField(4, opType)];
  // AttributeProto: name 1, i 3, type 20.
  if (axis !== undefined) parts.push(lenField(5, concatBytes([lenField(1, "axis"), varintField(3, axis), varintField(20, ATTR_INT)])));
  return concatBytes(parts);
}

/** Builds the Slice/Concat chains and the int64 constants they share. */
class WrapBuilder {
  readonly constants: Uint8Array[] = [];
  private readonly constantNames = new Map<string, string>();
  /** (input, pads) → the wrapped value, so two Convs reading one padded input share its pad. */
  private readonly padded = new Map<string, string>();
  private counter = 0;

  constructor(private readonly prefix: string) {}

  private constant(values: readonly bigint[]): string {
    const key = values.join(",");
    let name = this.constantNames.get(key);
    if (!name) {
      name = `${this.prefix}const_${this.constantNames.size}`;
      this.constantNames.set(key, name);
      this.constants.push(lenField(5, int64Tensor(name, values))); // GraphProto.initializer
    }
    return name;
  }

  /** The node fields that wrap `input` by `pads` ([top, left, bottom, right]) and the value they make. */
  wrap(input: string, pads: readonly number[], label: string): { nodes: Uint8Array[]; output: string } {
    const key = `${input}\u0000${pads.join(",")}`;
    const known = this.padded.get(key);
    if (known) return { nodes: [], output: known };
    const nodes: Uint8Array[] = [];
    let current = input;
    const id = this.counter++;
    // Rows (axis 2) first, then columns (axis 3) of the row-padded tensor: the corners wrap both ways.
    for (const [axis, before, after] of [[2, pads[0], pads[2]], [3, pads[1], pads[3]]] as const) {
      if (before === 0 && after === 0) continue;
      const base = `${this.prefix}${id}_axis${axis}`;
      const axes = this.constant([BigInt(axis)]);
      const parts: string[] = [];
      if (before > 0) {
        // The last `before` rows/columns: x[..., -before:].
        const out = `${base}_tail`;
        nodes.push(lenField(1, node("Slice", `${label}/circular_pad/${out}`, [current, this.constant([BigInt(-before)]), this.constant([INT64_MAX]), axes], out)));
        parts.push(out);
      }
      parts.push(current);
      if (after > 0) {
        // The first `after` rows/columns: x[..., :after].
        const out = `${base}_head`;
        nodes.push(lenField(1, node("Slice", `${label}/circular_pad/${out}`, [current, this.constant([0n]), this.constant([BigInt(after)]), axes], out)));
        parts.push(out);
      }
      const out = `${base}_wrapped`;
      nodes.push(lenField(1, node("Concat", `${label}/circular_pad/${out}`, parts, out, axis)));
      current = out;
    }
    this.padded.set(key, current);
    return { nodes, output: current };
  }
}

/** The Conv's bytes with its first input renamed and its `pads` dropped (absent pads are zeros). */
function rewiredConv(bytes: Uint8Array, conv: ConvNode, input: string): Uint8Array {
  return concatBytes(
    conv.fields
      .filter((f) => f !== conv.padsField)
      .map((f) => (f === conv.inputField ? lenField(1, input) : bytes.subarray(f.tagStart, f.end))),
  );
}

/** The default domain's opset the model imports (OperatorSetIdProto: domain 1, version 2). */
async function defaultOpset(source: ByteSource, field: Field): Promise<number | undefined> {
  let domain = "";
  let version: number | undefined;
  for await (const f of fieldsOf(source, field.start, field.end)) {
    if (f.number === 1 && f.wireType === LEN) domain = utf8.decode(await source.read(f.start, f.value));
    else if (f.number === 2 && f.wireType === VARINT) version = f.value;
  }
  return domain === "" || domain === "ai.onnx" ? version : undefined;
}

/**
 * Where the outer convolutions' node fields start: those named conv_in/conv_out by diffusers' module
 * paths, else (an export without node names) the first and the last Conv with padding in the
 * graph's (topological) order, which are conv_in and conv_out in every SD UNet and VAE.
 */
async function outerConvs(source: ByteSource, graph: Field): Promise<Set<number>> {
  const padded: { at: number; name: string }[] = [];
  for await (const f of fieldsOf(source, graph.start, graph.end)) {
    if (f.number !== 1 || f.wireType !== LEN) continue;
    const bytes = Uint8Array.from(await source.read(f.start, f.value));
    const conv = await convToWrap(bytes, new Set());
    if (conv !== undefined && conv !== "kept") padded.push({ at: f.tagStart, name: conv.name });
  }
  const named = padded.filter((c) => OUTER_NAME.test(c.name));
  if (named.length > 0) return new Set(named.map((c) => c.at));
  return new Set(padded.length === 0 ? [] : [padded[0].at, padded[padded.length - 1].at]);
}

/**
 * `file`'s graph with its 2-D Convs' padding made circular (`scope`). Throws an EaselError naming the
 * component when the file is not an ONNX graph this can rewrite.
 */
export async function circularPaddingGraph(file: string, component: string, scope: CircularScope = "outer"): Promise<CircularGraph> {
  return withFileSource(file, async (source, size, handle) => {
    let modelFields: Field[];
    let graph: Field | undefined;
    let opset: number | undefined;
    try {
      modelFields = [];
      for await (const f of fieldsOf(source, 0, size)) {
        modelFields.push(f);
        if (f.number === 7 && f.wireType === LEN) graph = f; // ModelProto.graph
        else if (f.number === 8 && f.wireType === LEN) opset ??= await defaultOpset(source, f); // opset_import
      }
    } catch {
      throw new EaselError("model-invalid", `${component}/model.onnx is not an ONNX graph that can be read: download or export the model again`);
    }
    if (!graph) throw new EaselError("model-invalid", `${component}/model.onnx holds no graph: download or export the model again`);
    if (opset === undefined || opset < MIN_OPSET) {
      throw new EaselError("model-unsupported", `seamless tiling needs ${component}/model.onnx exported at opset ${MIN_OPSET} or later (it declares ${opset ?? "none"}): export the model again`);
    }
    const locations = new Set<string>();
    const chosen = scope === "every" ? undefined : await outerConvs(source, graph);
    const builder = new WrapBuilder("easel_circular_pad/");
    const graphSegments: Segment[] = [];
    let wrapped = 0;
    let kept = 0;
    for await (const f of fieldsOf(source, graph.start, graph.end)) {
      if (f.number === 1 && f.wireType === LEN) {
        const bytes = Uint8Array.from(await source.read(f.start, f.value)); // a copy: the window moves on
        const found = await convToWrap(bytes, locations);
        const conv = found !== undefined && found !== "kept" && chosen !== undefined && !chosen.has(f.tagStart) ? "kept" : found;
        if (conv === "kept") kept++;
        if (conv !== undefined && conv !== "kept") {
          const { nodes, output } = builder.wrap(conv.input, conv.pads, conv.name);
          graphSegments.push(...nodes, lenField(1, rewiredConv(bytes, conv, output)));
          wrapped++;
          continue;
        }
      } else if (f.number === 5 && f.wireType === LEN) {
        await collectLocation(source, f, locations);
      }
      graphSegments.push({ from: f.tagStart, to: f.end });
    }
    graphSegments.push(...builder.constants);
    const length = (segments: readonly Segment[]) => segments.reduce((n, s) => n + (s instanceof Uint8Array ? s.length : s.to - s.from), 0);
    const graphLength = length(graphSegments);
    const segments: Segment[] = [];
    for (const f of modelFields) {
      if (f === graph) segments.push(Uint8Array.from([...encodeVarint(7 * 8 + LEN), ...encodeVarint(graphLength)]), ...graphSegments);
      else segments.push({ from: f.tagStart, to: f.end });
    }
    // One buffer the size of the result; the original's ranges are read from the file straight into it.
    const out = Buffer.allocUnsafe(length(segments));
    let at = 0;
    for (const s of segments) {
      if (s instanceof Uint8Array) {
        out.set(s, at);
        at += s.length;
        continue;
      }
      for (let pos = s.from; pos < s.to; ) {
        const n = Math.min(s.to - pos, 1 << 28);
        const { bytesRead } = await handle.read(out, at, n, pos);
        if (bytesRead !== n) throw new EaselError("model-invalid", `${component}/model.onnx changed while it was read: load the model again`);
        pos += n;
        at += n;
      }
    }
    return { bytes: out, wrapped, kept, externalFiles: [...locations] };
  });
}
