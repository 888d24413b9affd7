// The --dtype converter on a small graph holding each case the SD exports have and the tiny models
// lack: a float Range (no float16 form in ONNX), Resize scales computed from a float16 value
// (float32 only), a sinusoid argument kept in float32, Constant value_float(s) (an epsilon below
// float16's range, torch's finfo(float32).min), a ConstantOfShape without a value (float32 zero).
// Each converted graph loads in ONNX Runtime (which checks every operator's types) and computes
// what the original does within float16's rounding.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { checkConvertible, convertGraphPrecision, weightsDtype } from "../../extension/engine/convert/graphPrecision";
import { EaselError } from "../../extension/engine/errors";
import { fromFloat16, toFloat16 } from "../../extension/engine/onnx/float16";

const { DataType } = onnx.TensorProto;
const INT = onnx.AttributeProto.AttributeType.INT;
const FLOATS = onnx.AttributeProto.AttributeType.FLOATS;
const FLOAT_ATTR = onnx.AttributeProto.AttributeType.FLOAT;

function scalar(name: string, value: number): onnx.ITensorProto {
  return { name, dims: [], dataType: DataType.FLOAT, rawData: new Uint8Array(new Float32Array([value]).buffer) };
}

function port(name: string, elemType: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } } };
}

/**
 * out = Resize(x + mean(sin(range(0,4,1) · t)) + ε + zeros, scales = s) + max(·, finfo.min), and
 * w = x · W (a weight) alongside.
 */
function buildGraph(): onnx.ModelProto {
  const w = new Float32Array([0.5, -1.25, 2, 0.1]); // [2,2] f32
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 14 }],
    graph: {
      name: "g",
      input: [port("x", DataType.FLOAT, [1, 1, 2, 2]), port("t", DataType.FLOAT, [1]), port("s", DataType.FLOAT, [4])],
      output: [port("out", DataType.FLOAT, [1, 1, 4, 4]), port("w_out", DataType.FLOAT, [1, 1, 2, 2])],
      initializer: [scalar("c0", 0), scalar("c4", 4), scalar("c1", 1), { name: "W", dims: [2, 2], dataType: DataType.FLOAT, rawData: new Uint8Array(w.buffer) }],
      node: [
        { opType: "Range", input: ["c0", "c4", "c1"], output: ["r"], name: "range" },
        { opType: "Mul", input: ["r", "t"], output: ["arg"], name: "arg" },
        { opType: "Sin", input: ["arg"], output: ["sin"], name: "sin" },
        { opType: "ReduceMean", input: ["sin"], output: ["mean"], name: "mean", attribute: [{ name: "keepdims", type: INT, i: 0 }] },
        { opType: "Add", input: ["x", "mean"], output: ["y1"], name: "y1" },
        { opType: "Constant", input: [], output: ["eps"], name: "eps", attribute: [{ name: "value_float", type: FLOAT_ATTR, f: 1e-12 }] },
        { opType: "Add", input: ["y1", "eps"], output: ["y2"], name: "y2" },
        { opType: "Shape", input: ["y2"], output: ["shape"], name: "shape" },
        { opType: "ConstantOfShape", input: ["shape"], output: ["zeros"], name: "zeros" },
        { opType: "Add", input: ["y2", "zeros"], output: ["y3"], name: "y3" },
        { opType: "Resize", input: ["y3", "", "s"], output: ["big"], name: "resize", attribute: [{ name: "mode", type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode("nearest") }] },
        { opType: "Constant", input: [], output: ["floor"], name: "floor", attribute: [{ name: "value_floats", type: FLOATS, floats: [-3.4028234663852886e38] }] },
        { opType: "Max", input: ["big", "floor"], output: ["out"], name: "out" },
        { opType: "MatMul", input: ["x", "W"], output: ["w_out"], name: "w" },
      ],
    },
  });
}

async function run(model: onnx.ModelProto, feeds: Record<string, ort.Tensor>): Promise<{ out: Float32Array; w: Float32Array }> {
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
  try {
    const result = await session.run(feeds);
    const values = (t: ort.Tensor): Float32Array => (t.type === "float16" ? fromFloat16(t.data as Uint16Array) : (t.data as Float32Array));
    return { out: values(result.out), w: values(result.w_out) };
  } finally {
    await session.release();
  }
}

function feedsFor(model: onnx.ModelProto, x: Float32Array, t: number, s: Float32Array): Record<string, ort.Tensor> {
  const typeOf = (name: string) => (model.graph!.input!.find((p) => p.name === name)!.type!.tensorType!.elemType === DataType.FLOAT16 ? "float16" : "float32");
  const tensor = (name: string, values: Float32Array, dims: number[]) =>
    typeOf(name) === "float32" ? new ort.Tensor("float32", values, dims) : new ort.Tensor("float16", toFloat16(values), dims); // f16 bits
  return { x: tensor("x", x, [1, 1, 2, 2]), t: tensor("t", new Float32Array([t]), [1]), s: tensor("s", s, [4]) };
}

describe("--dtype graph conversion", () => {
  const x = new Float32Array([0.5, -0.25, 1.5, 2]);
  const s = new Float32Array([1, 1, 2, 2]);
  // A sinusoid argument float16 cannot carry: 999.5·3 = 2998.5, where float16's spacing is 2.
  const t = 999.5;

  it("fp32 -> fp16: loads in ONNX Runtime, keeps the sinusoid and Range in float32, and computes the original within float16 rounding", async () => {
    const reference = await run(buildGraph(), feedsFor(buildGraph(), x, t, s));
    const model = buildGraph();
    convertGraphPrecision(model, "fp16", { component: "test", replaced: new Set(), keepInputs: ["t"] });
    const graph = model.graph!;
    const portType = (name: string) => [...graph.input!, ...graph.output!].find((p) => p.name === name)!.type!.tensorType!.elemType;
    assert.deepEqual(["x", "t", "s", "out", "w_out"].map(portType), [DataType.FLOAT16, DataType.FLOAT, DataType.FLOAT16, DataType.FLOAT16, DataType.FLOAT16]);
    // The weight is fp16; Range's constants stay float32 (Range has no float16 form).
    const init = (name: string) => graph.initializer!.find((i) => i.name === name)!;
    assert.equal(init("W").dataType, DataType.FLOAT16);
    assert.deepEqual(["c0", "c4", "c1"].map((n) => init(n).dataType), [DataType.FLOAT, DataType.FLOAT, DataType.FLOAT]);
    // Resize reads its float16 scales through a Cast to float32; the float32 mean enters the float16 Add through a Cast.
    const resize = graph.node!.find((n) => n.name === "resize")!;
    const castOf = (value: string) => graph.node!.find((n) => n.opType === "Cast" && n.output![0] === value);
    assert.equal(Number(castOf(resize.input![2])?.attribute![0].i), DataType.FLOAT);
    assert.equal(castOf(resize.input![2])?.input![0], "s");
    const y1 = graph.node!.find((n) => n.name === "y1")!;
    assert.equal(Number(castOf(y1.input![1])?.attribute![0].i), DataType.FLOAT16);
    // Constants in float16: the epsilon at the smallest subnormal rather than 0, finfo.min at -65504 rather than -inf.
    const constantValue = (name: string) => fromFloat16(new Uint16Array(Uint8Array.from(graph.node!.find((n) => n.name === name)!.attribute![0].t!.rawData!).buffer));
    assert.deepEqual([...constantValue("eps")], [2 ** -24]);
    assert.deepEqual([...constantValue("floor")], [-65504]);
    assert.equal(graph.node!.find((n) => n.name === "zeros")!.attribute![0].t!.dataType, DataType.FLOAT16);

    const half = await run(model, feedsFor(model, x, t, s));
    // float16 keeps 11 significant bits: values of magnitude ≤ 3 within 3·2^-10 (a few roundings);
    // the sinusoid in float16 would be off by up to 1 (sin of 2998.5 vs 2998 or 3000).
    half.out.forEach((v, i) => assert.ok(Math.abs(v - reference.out[i]) < 0.003, `out[${i}] ${v} vs ${reference.out[i]}`));
    half.w.forEach((v, i) => assert.ok(Math.abs(v - reference.w[i]) < 0.003, `w[${i}] ${v} vs ${reference.w[i]}`));
    assert.equal(weightsDtype(graph.initializer!), "fp16");

    // And back: fp16 -> fp32 leaves no float16 anywhere, and computes what the fp16 graph's values give in float32.
    convertGraphPrecision(model, "fp32", { component: "test", replaced: new Set() });
    const types = [...model.graph!.initializer!.map((i) => i.dataType), ...[...model.graph!.input!, ...model.graph!.output!].map((p) => p.type!.tensorType!.elemType), ...model.graph!.node!.filter((n) => n.opType === "Cast").map((n) => Number(n.attribute![0].i))];
    assert.ok(!types.includes(DataType.FLOAT16), String(types));
    const back = await run(model, feedsFor(model, x, t, s));
    back.out.forEach((v, i) => assert.ok(Math.abs(v - reference.out[i]) < 0.003, `out[${i}] ${v} vs ${reference.out[i]}`));
  });

  it("refuses an operator it cannot follow, a contrib op and a subgraph, in one line", () => {
    const contrib = buildGraph();
    contrib.graph!.node!.push({ opType: "FastGelu", domain: "com.microsoft", input: ["x"], output: ["g"], name: "gelu" });
    assert.throws(() => convertGraphPrecision(contrib, "fp16", { component: "unet", replaced: new Set() }), (e: unknown) => e instanceof EaselError && /^the template's unet graph uses the operator com\.microsoft\.FastGelu, which Easel's --dtype fp16 conversion cannot follow: give an fp16 template \(--template DIR\) or leave --dtype out$/.test(e.message));
    assert.throws(() => checkConvertible([{ opType: "RandomNormalLike", domain: "" }], "unet", "fp32"), /uses the operator RandomNormalLike/);
    const loop = buildGraph();
    loop.graph!.node!.push({ opType: "If", input: ["c1"], output: ["branch"], name: "if", attribute: [{ name: "then_branch", type: onnx.AttributeProto.AttributeType.GRAPH, g: { name: "then" } }] });
    assert.throws(() => convertGraphPrecision(loop, "fp16", { component: "vae_decoder", replaced: new Set() }), /uses the operator If/);
  });
});
