// Tiny convolution networks written as self-contained ONNX files (weights inline), for the tests of
// the circular-padding rewrite and of tiled super-resolution: a chain of 3x3 convolutions (each with
// its own name and padding) with ReLU between them, optionally ending in a pixel shuffle
// (DepthToSpace) that makes it a `scale`x super-resolution graph with a [0, 1] output (Sigmoid).
import fs from "node:fs/promises";
import { onnx } from "onnx-proto";

export interface ConvSpec {
  /** The node's name (diffusers' exports name them by module path: /conv_in/Conv…). */
  readonly name: string;
  /** Padding on every side (0 or 1 for a 3x3 kernel). */
  readonly pad: number;
  /** [top, left, bottom, right] instead of `pad` on every side. */
  readonly pads?: readonly number[];
}

export interface ConvNetOptions {
  readonly convs: readonly ConvSpec[];
  /** Channels between the convolutions (default 4). */
  readonly width?: number;
  /** A super-resolution graph: the last convolution makes 3·scale² channels, shuffled into pixels. */
  readonly scale?: number;
  readonly opset?: number;
  readonly seed?: number;
  /** Fixed input side (a mobile export's 128x128); default dynamic. */
  readonly fixedSide?: number;
  /** Leave node names out (an export without them). */
  readonly unnamed?: boolean;
  /** Start with a pixel unshuffle by 2 (SpaceToDepth), as Real-ESRGAN x2plus does: even sides only. */
  readonly unshuffle?: boolean;
}

const T = onnx.AttributeProto.AttributeType;

/** xorshift32 in [-0.5, 0.5). */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32 - 0.5;
  };
}

export function convNetModel(options: ConvNetOptions): Uint8Array {
  const random = prng(options.seed ?? 1);
  const width = options.width ?? 4;
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  let current = "image";
  let channels = 3;
  if (options.unshuffle) {
    nodes.push({ opType: "SpaceToDepth", input: [current], output: ["unshuffled"], attribute: [{ name: "blocksize", type: T.INT, i: 2 }] });
    current = "unshuffled";
    channels = 12;
  }
  const shuffle = (options.scale ?? 1) * (options.unshuffle ? 2 : 1);
  options.convs.forEach((conv, i) => {
    const last = i === options.convs.length - 1;
    const out = last ? 3 * shuffle * shuffle : width;
    const w = Float32Array.from({ length: out * channels * 9 }, () => random() * (2 / Math.sqrt(channels * 9)));
    const b = Float32Array.from({ length: out }, () => random() * 0.1);
    initializers.push(
      { name: `w${i}`, dims: [out, channels, 3, 3], dataType: 1, rawData: new Uint8Array(w.buffer) },
      { name: `b${i}`, dims: [out], dataType: 1, rawData: new Uint8Array(b.buffer) },
    );
    const pads = conv.pads ?? [conv.pad, conv.pad, conv.pad, conv.pad];
    nodes.push({
      opType: "Conv",
      name: options.unnamed ? undefined : conv.name,
      input: [current, `w${i}`, `b${i}`],
      output: [`conv${i}`],
      attribute: [
        { name: "kernel_shape", type: T.INTS, ints: [3, 3] },
        { name: "pads", type: T.INTS, ints: [...pads] },
        { name: "strides", type: T.INTS, ints: [1, 1] },
      ],
    });
    current = `conv${i}`;
    if (!last) {
      nodes.push({ opType: "Relu", input: [current], output: [`relu${i}`] });
      current = `relu${i}`;
    }
    channels = out;
  });
  if (options.scale) {
    nodes.push({ opType: "DepthToSpace", input: [current], output: ["shuffled"], attribute: [{ name: "blocksize", type: T.INT, i: shuffle }, { name: "mode", type: T.STRING, s: new TextEncoder().encode("CRD") }] });
    nodes.push({ opType: "Sigmoid", input: ["shuffled"], output: ["upscaled"] });
  } else {
    nodes.push({ opType: "Identity", input: [current], output: ["upscaled"] });
  }
  const side = (name: string) => (options.fixedSide ? { dimValue: options.fixedSide } : { dimParam: name });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: options.opset ?? 14 }],
    graph: {
      name: "convnet",
      node: nodes,
      initializer: initializers,
      input: [{ name: "image", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }, side("height"), side("width")] } } } }],
      output: [{ name: "upscaled", type: { tensorType: { elemType: 1 } } }],
    },
  }).finish();
}

export async function writeConvNet(file: string, options: ConvNetOptions): Promise<string> {
  await fs.writeFile(file, convNetModel(options));
  return file;
}
