// `easel models import --dtype`: a template graph rewritten to compute in the other float precision,
// so an fp32 template gives an fp16 model and an fp16 template an fp32 one. The rewrite works on the
// graph the importer has already decoded (onnxWeights.ts); the weights the checkpoint fills are only
// retyped here (writeWeights writes them in the new type), the template's own constants converted.
//
// fp16 -> fp32 is exact and uniform: every float16 value, constant, port and Cast becomes float32,
// and every ONNX operator that takes float16 takes float32 in the same places.
//
// fp32 -> fp16 follows what a PyTorch `.half()` export computes rather than retyping everything:
// - weights, float graph inputs and what is computed from them become float16;
// - a value cast to float32 from an integer (the timestep's `timesteps.float()`, shape arithmetic)
//   and what is computed from it and constants alone stay float32, and are cast to float16 where
//   they meet a float16 value: diffusers computes the sinusoidal timestep embedding in float32 even
//   in fp16 models, and float16 cannot carry 999.5·freq to a fraction of a radian;
// - the inputs the ONNX spec types float32 only stay float32 (Resize's scales and roi, Upsample's
//   scales), and the operators that have no float16 form (Range, CumSum before opset 14) compute
//   in float32 between casts: ONNX Runtime refuses such a graph at load otherwise;
// - a template constant is converted when every node reading it computes in float16, kept (with a
//   Cast for the float16 readers) when one computes in float32; its values are clamped to float16's
//   range (±65504; torch's finfo(float32).min in attention masks) and tiny non-zero ones (epsilons)
//   kept at the smallest subnormal instead of flushed to zero;
// - `keepInputs` (the UNet's timestep and SDXL's time_ids, sinusoid arguments) stay float32 ports.
// onnxruntime.transformers' float16 converter (the SD fp16 exports' tool) makes the same choices for
// Range and Resize; Easel's own rules here, no code of it.
//
// An operator outside the list below (a contrib op, control flow, a random generator with a dtype
// attribute) is refused: its types cannot be followed, and a wrong guess is a model that fails to
// load or draws noise.
import { onnx } from "onnx-proto";
import { EaselError } from "../errors";
import { bytesToFloat32, float32ToBytes, ONNX_FLOAT, ONNX_FLOAT16 } from "../onnx/graphWeights";
import type { ImportDtype } from "./importRecord";

const INT64 = onnx.TensorProto.DataType.INT64;
const BOOL = onnx.TensorProto.DataType.BOOL;
const STRING = onnx.TensorProto.DataType.STRING;
const FLOAT16_MAX = 65504;
const FLOAT16_MIN_SUBNORMAL = 2 ** -24;

/** A node's input: it shares the node's float type, takes any type, or must be float32. */
type InputRole = "tied" | "any" | "f32";

interface OpRule {
  readonly input: (index: number, opset: number) => InputRole;
  /** An output's type: the node's float type ("tied") or a fixed ONNX type. */
  readonly output: (index: number, node: onnx.INodeProto) => "tied" | number;
  /** No float16 form in ONNX: computes in float32 between casts in an fp16 graph. */
  readonly float32Only?: boolean;
}

const tied = (): InputRole => "tied";
const tiedOut = (): "tied" => "tied";
const same: OpRule = { input: tied, output: tiedOut };
const fixed = (type: number, input: (index: number) => InputRole): OpRule => ({ input, output: () => type });

/** Every operator the SD 1.x / 2.x / SDXL exports of torch, optimum and diffusers use, and their kin. */
const RULES = new Map<string, OpRule>();
for (const op of [
  "Abs", "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Sqrt", "Reciprocal", "Exp", "Log", "Erf", "Sin", "Cos", "Tan", "Tanh",
  "Sigmoid", "Relu", "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign", "HardSigmoid", "HardSwish", "Mish", "Gelu",
  "Floor", "Ceil", "Round", "Sign", "Mod", "Max", "Min", "Sum", "Mean", "Clip", "Softmax", "LogSoftmax",
  "MatMul", "Gemm", "Conv", "ConvTranspose", "InstanceNormalization", "BatchNormalization", "GroupNormalization",
  "Identity", "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Flatten", "Expand", "Tile", "Slice",
  "Gather", "GatherElements", "GatherND", "ScatterND", "ScatterElements", "Concat", "Split", "Pad",
  "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp",
  "Einsum", "Trilu", "DepthToSpace", "SpaceToDepth", "AveragePool", "GlobalAveragePool", "PRelu",
]) RULES.set(op, same);
RULES.set("Where", { input: (i) => (i === 0 ? "any" : "tied"), output: tiedOut });
// Resize-11+: X, roi, scales (float32 only), sizes; Resize-10 and Upsample: X, scales.
RULES.set("Resize", { input: (i, opset) => (i === 0 ? "tied" : (opset >= 11 ? i === 1 || i === 2 : i === 1) ? "f32" : "any"), output: tiedOut });
RULES.set("Upsample", { input: (i) => (i === 1 ? "f32" : "tied"), output: tiedOut });
RULES.set("LayerNormalization", { input: tied, output: (i, node) => (i === 0 ? "tied" : Number(attribute(node, "stash_type")?.i ?? ONNX_FLOAT)) });
RULES.set("Dropout", { input: (i) => (i === 2 ? "any" : "tied"), output: (i) => (i === 0 ? "tied" : BOOL) });
RULES.set("TopK", { input: (i) => (i === 0 ? "tied" : "any"), output: (i) => (i === 0 ? "tied" : INT64) });
RULES.set("MaxPool", { input: tied, output: (i) => (i === 0 ? "tied" : INT64) });
for (const op of ["Shape", "Size", "NonZero", "ArgMax", "ArgMin"]) RULES.set(op, fixed(INT64, () => "any"));
for (const op of ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]) RULES.set(op, fixed(BOOL, tied));
for (const op of ["IsNaN", "IsInf", "Not", "And", "Or", "Xor"]) RULES.set(op, fixed(BOOL, () => "any"));
for (const op of ["Range", "CumSum"]) RULES.set(op, { input: (i) => (op === "CumSum" && i === 1 ? "any" : "tied"), output: tiedOut, float32Only: true });
// Sources and Cast: their types come from attributes (handled by name below).
for (const op of ["Constant", "ConstantOfShape", "Cast"]) RULES.set(op, { input: () => "any", output: tiedOut });

function attribute(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

/** The type of a Constant node's value. */
function constantType(node: onnx.INodeProto): number | undefined {
  for (const a of node.attribute ?? []) {
    if (a.name === "value") return a.t?.dataType ?? undefined;
    if (a.name === "value_float" || a.name === "value_floats") return ONNX_FLOAT;
    if (a.name === "value_int" || a.name === "value_ints") return INT64;
    if (a.name === "value_string" || a.name === "value_strings") return STRING;
  }
  return undefined;
}

/** f32 values as float16 can hold them: clamped to ±65504, tiny non-zero values kept at the smallest subnormal. */
function clampForFloat16(values: Float32Array): Float32Array {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v > FLOAT16_MAX) values[i] = FLOAT16_MAX;
    else if (v < -FLOAT16_MAX) values[i] = -FLOAT16_MAX;
    else if (v !== 0 && Math.abs(v) < FLOAT16_MIN_SUBNORMAL) values[i] = Math.sign(v) * FLOAT16_MIN_SUBNORMAL;
  }
  return values;
}

/** A template constant's raw bytes in `from` as bytes in `to` (float32 <-> float16, little-endian). */
export function convertFloatBytes(bytes: Uint8Array, from: number, to: number): Uint8Array {
  const values = bytesToFloat32(bytes, from); // [n] f32
  return float32ToBytes(to === ONNX_FLOAT16 ? clampForFloat16(values) : values, to);
}

/** An inline tensor's values, read from whichever field holds them, as raw bytes of its type. */
function inlineBytes(tensor: onnx.ITensorProto): Uint8Array {
  if (tensor.rawData && tensor.rawData.length > 0) return tensor.rawData;
  if (tensor.dataType === ONNX_FLOAT) return float32ToBytes(Float32Array.from(tensor.floatData ?? []), ONNX_FLOAT);
  // float16 keeps its bit patterns in int32_data.
  const bits = Uint16Array.from(tensor.int32Data ?? []); // [n] f16 bits
  return new Uint8Array(bits.buffer);
}

/** Converts an inline tensor's values and type in place. */
function convertInline(tensor: onnx.ITensorProto, to: number): void {
  const from = tensor.dataType ?? 0;
  tensor.rawData = convertFloatBytes(inlineBytes(tensor), from, to);
  tensor.floatData = [];
  tensor.int32Data = [];
  tensor.dataType = to;
}

export interface PrecisionOptions {
  /** The component, for messages ("unet"). */
  readonly component: string;
  /** Initializers the checkpoint's weights replace: retyped only, their values are written later. */
  readonly replaced: ReadonlySet<onnx.ITensorProto>;
  /** Float graph inputs that stay float32 in an fp16 graph (sinusoid arguments). */
  readonly keepInputs?: readonly string[];
}

export interface PrecisionChange {
  /** Template tensors retyped whose bytes live outside the graph, with the type those bytes are in. */
  readonly externalFrom: ReadonlyMap<onnx.ITensorProto, number>;
}

type Precision = "converted" | "kept";

/** Sites only a weight feeds (a Linear's or convolution's weight and bias, an embedding table). */
export function isWeightSite(opType: string, input: number): boolean {
  return ((opType === "MatMul" || opType === "Gemm" || opType === "Conv" || opType === "ConvTranspose") && input >= 1) || (opType === "Gather" && input === 0);
}

function unsupported(component: string, dtype: ImportDtype, what: string): EaselError {
  return new EaselError("model-unsupported", `the template's ${component} graph uses ${what}, which Easel's --dtype ${dtype} conversion cannot follow: give an ${dtype} template (--template DIR) or leave --dtype out`);
}

/**
 * Refuses, before anything is written, a graph with an operator the conversion does not know
 * (read from the graph's node headers, weights unread: see graphWeights.readGraphWeights).
 */
export function checkConvertible(nodes: Iterable<{ readonly opType?: string | null; readonly domain?: string | null }>, component: string, dtype: ImportDtype): void {
  for (const node of nodes) {
    const domain = node.domain ?? "";
    if ((domain !== "" && domain !== "ai.onnx") || !RULES.has(node.opType ?? "")) throw unsupported(component, dtype, `the operator ${domain && domain !== "ai.onnx" ? `${domain}.` : ""}${node.opType}`);
  }
}

/** The precision a graph keeps its weights in: its largest float initializer's (undefined when it has none). */
export function weightsDtype(tensors: Iterable<{ readonly dims?: readonly (number | { toNumber(): number })[] | null; readonly dataType?: number | null }>): ImportDtype | undefined {
  let largest = -1;
  let dtype: ImportDtype | undefined;
  for (const t of tensors) {
    if (t.dataType !== ONNX_FLOAT && t.dataType !== ONNX_FLOAT16) continue;
    const size = (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
    if (size > largest) {
      largest = size;
      dtype = t.dataType === ONNX_FLOAT16 ? "fp16" : "fp32";
    }
  }
  return dtype;
}

/** The ONNX float type of an import dtype. */
export function onnxFloatType(dtype: ImportDtype): number {
  return dtype === "fp16" ? ONNX_FLOAT16 : ONNX_FLOAT;
}

/**
 * Rewrites `model` in place to compute in `dtype` (see the file's comment). Throws a one-line
 * EaselError naming the first operator it cannot follow.
 */
export function convertGraphPrecision(model: onnx.ModelProto, dtype: ImportDtype, options: PrecisionOptions): PrecisionChange {
  const graph = model.graph;
  if (!graph) throw new EaselError("model-invalid", `the template's ${options.component} graph has no graph`);
  const to = onnxFloatType(dtype);
  const from = to === ONNX_FLOAT16 ? ONNX_FLOAT : ONNX_FLOAT16;
  // fp16 -> fp32 retypes every float16 value; only fp32 -> fp16 keeps some in float32.
  const mixed = to === ONNX_FLOAT16;
  const refuse = (what: string): EaselError => unsupported(options.component, dtype, what);
  const opset = Number((model.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx")?.version ?? 1);
  if ((graph.sparseInitializer ?? []).length > 0) throw refuse("sparse initializers");
  checkConvertible(graph.node ?? [], options.component, dtype);
  for (const node of graph.node ?? []) {
    if ((node.attribute ?? []).some((a) => a.g || (a.graphs?.length ?? 0) > 0 || a.sparseTensor)) throw refuse(`a subgraph in ${node.opType}`);
    if (node.opType === "Constant" && attribute(node, "sparse_value")) throw refuse("a sparse Constant");
  }

  // Each value's type in the template, inferred forward (nodes are in topological order).
  const types = new Map<string, number>();
  for (const port of graph.input ?? []) if (port.name) types.set(port.name, port.type?.tensorType?.elemType ?? 0);
  for (const t of graph.initializer ?? []) if (t.name) types.set(t.name, t.dataType ?? 0);
  const ruleOf = (node: onnx.INodeProto): OpRule => RULES.get(node.opType ?? "") as OpRule;
  for (const node of graph.node ?? []) {
    const inputs = node.input ?? [];
    let tiedType: number | undefined;
    if (node.opType === "Cast") tiedType = Number(attribute(node, "to")?.i ?? 0);
    else if (node.opType === "Constant") tiedType = constantType(node);
    else if (node.opType === "ConstantOfShape") tiedType = attribute(node, "value")?.t?.dataType ?? ONNX_FLOAT;
    else tiedType = inputs.map((v, i) => (v && ruleOf(node).input(i, opset) === "tied" ? types.get(v) : undefined)).find((t) => t !== undefined);
    (node.output ?? []).forEach((out, i) => {
      if (!out) return;
      const kind = ruleOf(node).output(i, node);
      const type = kind === "tied" ? tiedType : kind;
      if (type === undefined) throw refuse(`${node.opType} ${node.name ?? ""} on a value of unknown type`);
      types.set(out, type);
    });
  }
  const isFrom = (value: string | null | undefined): value is string => !!value && types.get(value) === from;

  // Which values end up in `to` (converted) and which stay float32 (kept); template constants wait
  // for their readers.
  const precision = new Map<string, Precision>();
  const constants = new Set<string>();
  const keepInputs = new Set(mixed ? (options.keepInputs ?? []) : []);
  for (const port of graph.input ?? []) if (isFrom(port.name)) precision.set(port.name, keepInputs.has(port.name) ? "kept" : "converted");
  // Weights go to `to` (the checkpoint's, and the template's own when it keeps them); the other
  // initializers are constants.
  const weightNames = new Set<string>();
  for (const node of graph.node ?? []) (node.input ?? []).forEach((v, i) => isWeightSite(node.opType ?? "", i) && weightNames.add(v));
  const initializers = new Map<string, onnx.ITensorProto>();
  for (const t of graph.initializer ?? []) {
    if (!t.name) continue;
    initializers.set(t.name, t);
    if (isFrom(t.name) && !precision.has(t.name)) {
      if (options.replaced.has(t) || weightNames.has(t.name) || !mixed) precision.set(t.name, "converted");
      else constants.add(t.name);
    }
  }
  // Readers of each constant, with the precision they compute in.
  const constantReaders = new Map<string, { node: onnx.INodeProto; input: number; precision: Precision }[]>();
  // Inputs to rewrite through a Cast to float32 or to `to`.
  const castSites: { node: onnx.INodeProto; input: number; to: number }[] = [];
  const read = (node: onnx.INodeProto, input: number, value: string, wanted: Precision): void => {
    if (constants.has(value)) {
      const list = constantReaders.get(value) ?? [];
      list.push({ node, input, precision: wanted });
      constantReaders.set(value, list);
      return;
    }
    const has = precision.get(value);
    if (has !== wanted) castSites.push({ node, input, to: wanted === "kept" ? from : to });
  };
  for (const node of graph.node ?? []) {
    const rule = ruleOf(node);
    const inputs = node.input ?? [];
    // Outputs of a fixed type (LayerNormalization's float32 statistics) keep it.
    const outputs = (node.output ?? []).filter((out, i) => isFrom(out) && rule.output(i, node) === "tied");
    for (const out of node.output ?? []) if (isFrom(out) && !outputs.includes(out)) precision.set(out, mixed ? "kept" : "converted");
    if (!mixed) {
      for (const out of outputs) precision.set(out, "converted");
      continue;
    }
    if (node.opType === "Constant" || node.opType === "ConstantOfShape") {
      for (const out of outputs) constants.add(out);
      continue;
    }
    // A node computes in float32 when it must (Range), or when it reads float32 values the
    // exporter made on purpose (kept) and nothing in `to`; a node reading only constants (a
    // mask's Where, an embedding's Gather) computes in `to`. Anything but a float32 value cast to
    // float32 (an integer, a shape) is such float32 arithmetic.
    let nodePrecision: Precision;
    const castToFrom = node.opType === "Cast" && outputs.length > 0;
    if (node.opType === "Cast" && !castToFrom) {
      // A cast to another type (an integer) takes either precision; a constant it reads keeps its float32 values.
      if (isFrom(inputs[0]) && constants.has(inputs[0])) read(node, 0, inputs[0], "kept");
      continue;
    }
    const tiedInputs = inputs.map((v, i) => ({ v, i })).filter(({ v, i }) => isFrom(v) && (castToFrom || rule.input(i, opset) === "tied"));
    if (castToFrom && tiedInputs.length === 0) nodePrecision = "kept";
    else {
      const classes = tiedInputs.map(({ v }) => (constants.has(v) ? undefined : precision.get(v)));
      nodePrecision = rule.float32Only || (classes.includes("kept") && !classes.includes("converted")) ? "kept" : "converted";
    }
    for (const { v, i } of tiedInputs) read(node, i, v, nodePrecision);
    inputs.forEach((v, i) => {
      if (isFrom(v) && !castToFrom && rule.input(i, opset) === "f32") read(node, i, v, "kept");
    });
    for (const out of outputs) precision.set(out, nodePrecision);
  }
  // A constant goes to `to` when every reader computes there; else it stays float32 and the
  // readers in `to` read it through a Cast.
  for (const name of constants) {
    const readers = constantReaders.get(name) ?? [];
    const convert = readers.every((r) => r.precision === "converted");
    precision.set(name, convert ? "converted" : "kept");
    if (!convert) for (const r of readers) if (r.precision === "converted") castSites.push({ node: r.node, input: r.input, to });
  }

  // Rewrite: casts inserted before their first reader, sources and ports retyped.
  const taken = new Set<string>([...types.keys(), ...(graph.node ?? []).map((n) => n.name ?? "")]);
  const externalFrom = new Map<onnx.ITensorProto, number>();
  const castFor = new Map<string, string>();
  const sitesByNode = new Map<onnx.INodeProto, { input: number; to: number }[]>();
  for (const s of castSites) sitesByNode.set(s.node, [...(sitesByNode.get(s.node) ?? []), { input: s.input, to: s.to }]);
  const nodes: onnx.INodeProto[] = [];
  for (const node of graph.node ?? []) {
    for (const site of sitesByNode.get(node) ?? []) {
      const value = (node.input ?? [])[site.input];
      const key = `${value}\u0000${site.to}`;
      let name = castFor.get(key);
      if (name === undefined) {
        const base = `${value}/easel_as_${site.to === ONNX_FLOAT16 ? "fp16" : "fp32"}`;
        name = base;
        for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
        taken.add(name);
        castFor.set(key, name);
        nodes.push({ name, opType: "Cast", input: [value], output: [name], attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: site.to }] });
      }
      if (node.input) node.input[site.input] = name;
    }
    const out = (node.output ?? [])[0];
    const converted = isFrom(out) && precision.get(out) === "converted";
    if (converted && node.opType === "Cast") {
      const a = attribute(node, "to");
      if (a) a.i = to;
    } else if (converted && node.opType === "Constant") {
      convertConstantNode(node, from, to, externalFrom);
    } else if (converted && node.opType === "ConstantOfShape") {
      const a = attribute(node, "value");
      if (a?.t) convertInline(a.t, to);
      else node.attribute = [...(node.attribute ?? []), { name: "value", type: onnx.AttributeProto.AttributeType.TENSOR, t: { dims: [1], dataType: to, rawData: float32ToBytes(new Float32Array(1), to) } }];
    }
    nodes.push(node);
  }
  graph.node = nodes;

  for (const [name, tensor] of initializers) {
    if (!isFrom(name) || precision.get(name) !== "converted") continue;
    if (options.replaced.has(tensor)) tensor.dataType = to;
    else if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      externalFrom.set(tensor, from);
      tensor.dataType = to;
    } else convertInline(tensor, to);
  }
  for (const port of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const tensorType = port.type?.tensorType;
    if (tensorType && isFrom(port.name) && precision.get(port.name as string) === "converted") tensorType.elemType = to;
  }
  return { externalFrom };
}

/** A Constant node's value in `to`: `value` converted; `value_float(s)` become a `value` tensor. */
function convertConstantNode(node: onnx.INodeProto, from: number, to: number, externalFrom: Map<onnx.ITensorProto, number>): void {
  const attrs = node.attribute ?? [];
  const value = attrs.find((a) => a.name === "value");
  if (value?.t) {
    if (value.t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) convertInline(value.t, to);
    else {
      // optimum moves large Constant values out too: writeWeights converts their bytes as it copies them.
      externalFrom.set(value.t, from);
      value.t.dataType = to;
    }
    return;
  }
  const scalar = attrs.find((a) => a.name === "value_float");
  const list = attrs.find((a) => a.name === "value_floats");
  const values = scalar ? new Float32Array([scalar.f ?? 0]) : Float32Array.from(list?.floats ?? []); // [n] f32
  const bytes = float32ToBytes(to === ONNX_FLOAT16 ? clampForFloat16(values) : values, to);
  node.attribute = [{ name: "value", type: onnx.AttributeProto.AttributeType.TENSOR, t: { dims: scalar ? [] : [values.length], dataType: to, rawData: bytes } }];
}
