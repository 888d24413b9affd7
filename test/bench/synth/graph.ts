// A small ONNX graph builder: values carry a concrete "reference" shape (the size the FLOP count is
// taken at) while the graph itself keeps batch and spatial dims dynamic. Float weights are only
// described here (shape + how to initialise them); write.ts generates them into weights.pb.
import { onnx } from "onnx-proto";

export type Dim = number | string;
export type ElemType = "float32" | "int64" | "int32";

/** A tensor in the graph, with its shape at the reference size. */
export interface Value {
  readonly name: string;
  readonly shape: readonly number[];
  readonly elem: ElemType;
}

/** Uniform with this mean and standard deviation (He/Xavier-like scaling chosen by the layer). */
export interface WeightInit {
  readonly kind: "uniform";
  readonly std: number;
  readonly mean: number;
}

export interface Weight {
  readonly name: string;
  readonly dims: readonly number[];
  readonly init: WeightInit;
}

/** FLOPs at the reference size: multiply-adds count 2. */
export interface FlopTally {
  /** Convolutions (weights × activations). */
  conv: number;
  /** MatMul against a weight matrix (linear layers). */
  linear: number;
  /** Activation × activation MatMul (QKᵀ and attention × V). */
  attention: number;
  /** Element-wise ops, normalisations, softmax: an estimate (a few FLOPs per element). */
  other: number;
}

export const denseFlops = (t: FlopTally): number => t.conv + t.linear + t.attention;

type Attr = number | readonly number[] | string | { readonly float: number };

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
};

export const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out.push(Math.max(x, y));
  }
  return out;
}

/** ONNX Reshape semantics (0 copies the input dim, -1 is inferred). */
function reshapeDims(input: readonly number[], spec: readonly number[]): number[] {
  const out = spec.map((d, i) => (d === 0 ? input[i] : d));
  const known = product(out.filter((d) => d !== -1));
  const inferred = out.indexOf(-1);
  if (inferred >= 0) out[inferred] = product(input) / known;
  if (product(out) !== product(input)) throw new Error(`cannot reshape [${input}] to [${spec}]`);
  return out;
}

function valueInfo(name: string, elem: ElemType, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "number") return { name, type: T.INT, i: value };
  if (typeof value === "string") return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if ("float" in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.INTS, ints: [...value] };
}

export class GraphBuilder {
  readonly weights: Weight[] = [];
  readonly flops: FlopTally = { conv: 0, linear: 0, attention: 0, other: 0 };
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly constants: onnx.ITensorProto[] = [];
  private readonly constantNames = new Map<string, Value>();
  private readonly weightNames = new Set<string>();
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly prefix: string[] = [];
  /** Every node output, for the activation check (toModel's `exposeAll`). */
  private readonly activations: Value[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  /** Names weights and nodes created inside `body` like diffusers' module paths. */
  scope<T>(name: string, body: () => T): T {
    this.prefix.push(name);
    try {
      return body();
    } finally {
      this.prefix.pop();
    }
  }

  private scoped(local: string): string {
    return [...this.prefix, local].join(".");
  }

  input(name: string, elem: ElemType, dims: readonly Dim[], reference: readonly number[]): Value {
    this.inputs.push(valueInfo(name, elem, dims));
    return { name, shape: reference, elem };
  }

  output(value: Value, name: string, elem: ElemType, dims: readonly Dim[]): void {
    this.nodes.push({ opType: "Identity", name: `/output/${name}`, input: [value.name], output: [name] });
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** A float32 weight stored in weights.pb. */
  weight(local: string, dims: readonly number[], init: WeightInit): Value {
    const name = this.scoped(local);
    if (this.weightNames.has(name)) throw new Error(`duplicate weight ${name}`);
    this.weightNames.add(name);
    this.weights.push({ name, dims, init });
    return { name, shape: dims, elem: "float32" };
  }

  /** A small int64 constant (shapes, axes), stored in the graph and shared. */
  ints(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    const key = `i64:${dims.join("x")}:${values.join(",")}`;
    const known = this.constantNames.get(key);
    if (known) return known;
    const name = `const_i64_${this.constants.length}`;
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    this.constants.push({ name, dims: [...dims], dataType: ELEM.int64, rawData: new Uint8Array(raw.buffer) });
    const value: Value = { name, shape: dims, elem: "int64" };
    this.constantNames.set(key, value);
    return value;
  }

  /** A small float32 constant (scalars, frequency tables), stored in the graph and shared. */
  floats(values: readonly number[] | Float32Array, dims: readonly number[]): Value {
    const data = Float32Array.from(values);
    const key = `f32:${dims.join("x")}:${values.length <= 64 ? Array.from(data).join(",") : `#${this.constants.length}`}`;
    const known = this.constantNames.get(key);
    if (known) return known;
    const name = `const_f32_${this.constants.length}`;
    this.constants.push({ name, dims: [...dims], dataType: ELEM.float32, rawData: new Uint8Array(data.buffer) });
    const value: Value = { name, shape: dims, elem: "float32" };
    this.constantNames.set(key, value);
    return value;
  }

  /** Adds a node; `shapes` are its outputs' reference shapes, `elem` their type (else the first input's). */
  op(opType: string, inputs: readonly (Value | undefined)[], shapes: readonly (readonly number[])[], attrs: Record<string, Attr> = {}, elem?: ElemType): Value[] {
    const id = this.counter++;
    const base = `/${this.prefix.join("/")}/${opType}_${id}`;
    const type = elem ?? inputs[0]?.elem ?? "float32";
    const outs = shapes.map((shape, i): Value => ({ name: `${base}_output_${i}`, shape, elem: type }));
    for (const v of outs) this.activations.push(v);
    this.nodes.push({
      opType,
      name: base,
      input: inputs.map((v) => v?.name ?? ""),
      output: outs.map((v) => v.name),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  // ---- element-wise ----------------------------------------------------------------------

  private binary(opType: string, a: Value, b: Value): Value {
    const shape = broadcast(a.shape, b.shape);
    this.flops.other += product(shape);
    return this.op(opType, [a, b], [shape])[0];
  }

  add(a: Value, b: Value): Value {
    return this.binary("Add", a, b);
  }

  mul(a: Value, b: Value): Value {
    return this.binary("Mul", a, b);
  }

  div(a: Value, b: Value): Value {
    return this.binary("Div", a, b);
  }

  scalar(value: number): Value {
    return this.floats([value], []);
  }

  unary(opType: "Sigmoid" | "Erf" | "Tanh" | "Relu" | "Sin" | "Cos" | "Identity", x: Value): Value {
    this.flops.other += product(x.shape);
    return this.op(opType, [x], [x.shape])[0];
  }

  cast(x: Value, to: ElemType): Value {
    return this.op("Cast", [x], [x.shape], { to: ELEM[to] }, to)[0];
  }

  // ---- shape ops ----------------------------------------------------------------------------

  reshape(x: Value, spec: readonly number[]): Value {
    return this.op("Reshape", [x, this.ints(spec)], [reshapeDims(x.shape, spec)])[0];
  }

  /** Reshape to another value's (dynamic) shape. */
  reshapeLike(x: Value, like: Value): Value {
    const shape = this.op("Shape", [like], [[like.shape.length]], {}, "int64")[0];
    return this.op("Reshape", [x, shape], [like.shape])[0];
  }

  transpose(x: Value, perm: readonly number[]): Value {
    return this.op("Transpose", [x], [perm.map((p) => x.shape[p])], { perm })[0];
  }

  unsqueeze(x: Value, axes: readonly number[]): Value {
    const shape = [...x.shape];
    for (const a of [...axes].sort((p, q) => p - q)) shape.splice(a, 0, 1);
    return this.op("Unsqueeze", [x, this.ints(axes)], [shape])[0];
  }

  squeeze(x: Value, axes: readonly number[]): Value {
    const shape = x.shape.filter((_, i) => !axes.includes(i));
    return this.op("Squeeze", [x, this.ints(axes)], [shape])[0];
  }

  concat(values: readonly Value[], axis: number): Value {
    const shape = [...values[0].shape];
    shape[axis] = values.reduce((n, v) => n + v.shape[axis], 0);
    return this.op("Concat", values, [shape], { axis })[0];
  }

  split(x: Value, sizes: readonly number[], axis: number): Value[] {
    const a = axis < 0 ? x.shape.length + axis : axis;
    const shapes = sizes.map((s) => x.shape.map((d, i) => (i === a ? s : d)));
    return this.op("Split", [x, this.ints(sizes)], shapes, { axis });
  }

  // ---- compute ------------------------------------------------------------------------------

  /** x [..., n, k] × w [..., k, m]. `weighted`: w is a weight (a linear layer), else attention. */
  matmul(x: Value, w: Value, weighted: boolean): Value {
    const n = x.shape[x.shape.length - 2];
    const k = x.shape[x.shape.length - 1];
    const m = w.shape[w.shape.length - 1];
    if (w.shape[w.shape.length - 2] !== k) throw new Error(`matmul [${x.shape}] × [${w.shape}]`);
    const batch = broadcast(x.shape.slice(0, -2), w.shape.slice(0, -2));
    const shape = [...batch, n, m];
    const flops = 2 * product(batch) * n * k * m;
    if (weighted) this.flops.linear += flops;
    else this.flops.attention += flops;
    return this.op("MatMul", [x, w], [shape])[0];
  }

  /** NCHW convolution, square kernel, `pad` on every side. */
  conv(x: Value, w: Value, b: Value | undefined, stride: number, pad: number): Value {
    const [n, cin, h, wd] = x.shape;
    const [cout, cinW, kh, kw] = w.shape;
    if (cin !== cinW) throw new Error(`conv input has ${cin} channels, weight expects ${cinW}`);
    const ho = Math.floor((h + 2 * pad - kh) / stride) + 1;
    const wo = Math.floor((wd + 2 * pad - kw) / stride) + 1;
    const out = [n, cout, ho, wo];
    this.flops.conv += 2 * n * cout * ho * wo * cin * kh * kw;
    if (b) this.flops.other += product(out);
    const attrs = { kernel_shape: [kh, kw], pads: [pad, pad, pad, pad], strides: [stride, stride], dilations: [1, 1], group: 1 };
    return this.op("Conv", b ? [x, w, b] : [x, w], [out], attrs)[0];
  }

  softmax(x: Value, axis: number): Value {
    this.flops.other += 5 * product(x.shape);
    return this.op("Softmax", [x], [x.shape], { axis })[0];
  }

  instanceNorm(x: Value, scale: Value, bias: Value, epsilon: number): Value {
    this.flops.other += 6 * product(x.shape);
    return this.op("InstanceNormalization", [x, scale, bias], [x.shape], { epsilon: { float: epsilon } })[0];
  }

  layerNorm(x: Value, scale: Value, bias: Value, epsilon: number): Value {
    this.flops.other += 8 * product(x.shape);
    return this.op("LayerNormalization", [x, scale, bias], [x.shape], { axis: -1, epsilon: { float: epsilon } })[0];
  }

  /** Nearest-neighbour ×2 upsampling, as torch exports F.interpolate(scale_factor=2). */
  upsample2x(x: Value): Value {
    const [n, c, h, w] = x.shape;
    const scales = this.floats([1, 1, 2, 2], [4]);
    const attrs = { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" };
    return this.op("Resize", [x, undefined, scales], [[n, c, 2 * h, 2 * w]], attrs)[0];
  }

  gather(table: Value, ids: Value): Value {
    return this.op("Gather", [table, ids], [[...ids.shape, ...table.shape.slice(1)]], { axis: 0 })[0];
  }

  // ---- serialisation ------------------------------------------------------------------------

  /**
   * The ModelProto, with every weight pointing into `weightsFile` at the given offsets.
   * `exposeAll` also makes every float activation a graph output (for the activation check).
   */
  toModel(weightsFile: string, offsets: ReadonlyMap<string, number>, opset: number, exposeAll = false): onnx.IModelProto {
    const declared = new Set(this.outputs.map((o) => o.name));
    const extra = exposeAll
      ? this.activations.filter((v) => v.elem === "float32" && !declared.has(v.name)).map((v) => ({ name: v.name, type: { tensorType: { elemType: ELEM.float32 } } }))
      : [];
    const external: onnx.ITensorProto[] = this.weights.map((w) => ({
      name: w.name,
      dims: [...w.dims],
      dataType: ELEM.float32,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: "location", value: weightsFile },
        { key: "offset", value: String(offsets.get(w.name)) },
        { key: "length", value: String(product(w.dims) * 4) },
      ],
    }));
    return {
      irVersion: 8,
      producerName: "easel-synth",
      producerVersion: "1",
      opsetImport: [{ domain: "", version: opset }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: [...this.constants, ...external],
        input: this.inputs,
        output: [...this.outputs, ...extra],
      },
    };
  }
}
