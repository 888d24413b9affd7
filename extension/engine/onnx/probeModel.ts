// A one-node ONNX model (y = x + x) written as raw protobuf, so a provider can be probed without
// touching the user's (possibly multi-GB) model files.

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(num: number, payload: number[] | string): number[] {
  const bytes = typeof payload === "string" ? [...Buffer.from(payload, "utf8")] : payload;
  return [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
}

function intField(num: number, value: number): number[] {
  return [...varint(num << 3), ...varint(value)];
}

/** ONNX TensorProto.DataType: FLOAT 1, FLOAT16 10. */
const ELEM_TYPES = { float32: 1, float16: 10 } as const;

function floatTensorValueInfo(name: string, elemType: number): number[] {
  const dim = field(1, intField(1, 4)); // Dimension.dim_value = 4
  const shape = field(2, dim); // TypeProto.Tensor.shape
  const tensorType = field(1, [...intField(1, elemType), ...shape]);
  return [...field(1, name), ...field(2, tensorType)];
}

/** y = x + x over four `dtype` values (float16: whether a provider runs half precision itself). */
export function probeModelBytes(dtype: keyof typeof ELEM_TYPES = "float32"): Uint8Array {
  const elemType = ELEM_TYPES[dtype];
  const node = [...field(1, "x"), ...field(1, "x"), ...field(2, "y"), ...field(4, "Add")];
  const graph = [...field(1, node), ...field(2, "probe"), ...field(11, floatTensorValueInfo("x", elemType)), ...field(12, floatTensorValueInfo("y", elemType))];
  const opset = [...field(1, ""), ...intField(2, 13)];
  return Uint8Array.from([...intField(1, 8), ...field(8, opset), ...field(7, graph)]);
}
