// A tiny background-removal graph with BiRefNet_lite's ports: `input_image` [1,3,S,S] f32 in,
// `output_image` [1,1,S,S] f32 logits out. The arithmetic is one 1×1 convolution (a weighted sum
// of the normalised channels plus a bias), so a test can compute the expected mask on its own.
import fs from "node:fs/promises";
import path from "node:path";
import { onnx } from "onnx-proto";

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
