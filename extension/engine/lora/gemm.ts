// W + A·B on ONNX Runtime's Gemm (its multithreaded MLAS kernel): a LoRA's delta for a 1280×5120
// feed-forward weight at rank 64 is 0.4 GFLOP, and a whole SDXL LoRA tens of GFLOP, which a plain
// JavaScript loop would take a minute over. The one-node graphs are written here, in a few bytes.

import * as ort from "onnxruntime-node";
import { concatBytes, lenField, varintField } from "../onnx/protobufWire";

const ONNX_FLOAT = 1;
const ATTRIBUTE_INT = 2;

/** A ValueInfoProto: a float32 tensor named `name` with symbolic dims. */
function valueInfo(name: string, dims: readonly string[]): Uint8Array {
  const shape = concatBytes(dims.map((d) => lenField(1, lenField(2, d)))); // TensorShapeProto.dim.dim_param
  const tensor = concatBytes([varintField(1, ONNX_FLOAT), lenField(2, shape)]); // TypeProto.Tensor
  return concatBytes([lenField(1, name), lenField(2, lenField(1, tensor))]);
}

/** A one-node Gemm model: Y = op(A)·op(B) + C, with transA/transB as given. */
function gemmModel(transA: number, transB: number): Uint8Array {
  const attribute = (name: string, value: number) => lenField(5, concatBytes([lenField(1, name), varintField(3, value), varintField(20, ATTRIBUTE_INT)]));
  const node = concatBytes([
    lenField(1, "A"),
    lenField(1, "B"),
    lenField(1, "C"),
    lenField(2, "Y"),
    lenField(4, "Gemm"),
    attribute("transA", transA),
    attribute("transB", transB),
  ]);
  const input = (name: string, dims: readonly string[]) => lenField(11, valueInfo(name, dims));
  const graph = concatBytes([
    lenField(1, node),
    lenField(2, "easel_lora_gemm"),
    input("A", ["a0", "a1"]),
    input("B", ["b0", "b1"]),
    input("C", ["m", "n"]),
    lenField(12, valueInfo("Y", ["m", "n"])),
  ]);
  return concatBytes([
    varintField(1, 8), // ir_version
    lenField(8, concatBytes([lenField(1, ""), varintField(2, 13)])), // opset_import: ai.onnx 13
    lenField(7, graph),
  ]);
}

let sessions: Promise<{ direct: ort.InferenceSession; transposed: ort.InferenceSession }> | undefined;

function gemmSessions(): Promise<{ direct: ort.InferenceSession; transposed: ort.InferenceSession }> {
  sessions ??= (async () => {
    const options: ort.InferenceSession.SessionOptions = { logSeverityLevel: 4, enableCpuMemArena: false, executionProviders: ["cpu"] };
    return {
      direct: await ort.InferenceSession.create(gemmModel(0, 0), options),
      transposed: await ort.InferenceSession.create(gemmModel(1, 1), options),
    };
  })();
  return sessions;
}

/**
 * W + up·down, with W stored as [out, in] ("out-in") or as its transpose [in, out] ("in-out", a
 * MatMul's weight): then W + (up·down)ᵀ = W + downᵀ·upᵀ. `up` [out, r] is already scaled.
 */
export async function addLowRank(
  w: Float32Array, // [out,in] or [in,out] f32
  up: Float32Array, // [out,r] f32
  down: Float32Array, // [r,in] f32
  out: number,
  rank: number,
  inFeatures: number,
  layout: "out-in" | "in-out",
): Promise<Float32Array> {
  const { direct, transposed } = await gemmSessions();
  const upT = new ort.Tensor("float32", up, [out, rank]);
  const downT = new ort.Tensor("float32", down, [rank, inFeatures]);
  if (layout === "out-in") {
    const r = await direct.run({ A: upT, B: downT, C: new ort.Tensor("float32", w, [out, inFeatures]) });
    return r.Y.data as Float32Array;
  }
  const r = await transposed.run({ A: downT, B: upT, C: new ort.Tensor("float32", w, [inFeatures, out]) });
  return r.Y.data as Float32Array;
}
