// The layers diffusers / transformers models are made of, as torch.onnx exports them (opset 17):
// Linear = MatMul + Add, GroupNorm = Reshape → InstanceNormalization → Reshape → Mul → Add, SiLU =
// x·sigmoid(x), exact GELU via Erf. ONNX Runtime fuses these the same way it fuses real exports.
// Weights are uniform with std 1/√fan_in (variance-preserving), norms' gains ≈ 1: every residual
// branch starts from a normalised input, so activations stay O(1) however deep the model is.
import type { GraphBuilder, Value, WeightInit } from "./graph";

const uniform = (std: number, mean = 0): WeightInit => ({ kind: "uniform", std, mean });
/** Biases and norm offsets: small, never zero. */
const SMALL = 0.02;

export function linear(g: GraphBuilder, x: Value, cin: number, cout: number, name: string, bias = true, gain = 1): Value {
  return g.scope(name, () => {
    // Stored [in, out]: torch.onnx exports Linear as MatMul by the transposed weight.
    const w = g.weight("weight", [cin, cout], uniform(gain / Math.sqrt(cin)));
    const y = g.matmul(x, w, true);
    return bias ? g.add(y, g.weight("bias", [cout], uniform(SMALL))) : y;
  });
}

export function conv2d(g: GraphBuilder, x: Value, cin: number, cout: number, name: string, k = 3, stride = 1, bias = true, gain = 1): Value {
  return g.scope(name, () => {
    const w = g.weight("weight", [cout, cin, k, k], uniform(gain / Math.sqrt(cin * k * k)));
    const b = bias ? g.weight("bias", [cout], uniform(SMALL)) : undefined;
    return g.conv(x, w, b, stride, Math.floor(k / 2));
  });
}

/** torch.nn.GroupNorm on NCHW, as exported at opset < 18. */
export function groupNorm(g: GraphBuilder, x: Value, groups: number, eps: number, name: string): Value {
  return g.scope(name, () => {
    const c = x.shape[1];
    const grouped = g.reshape(x, [0, groups, -1]);
    const ones = g.floats(new Float32Array(groups).fill(1), [groups]);
    const zeros = g.floats(new Float32Array(groups), [groups]);
    const normed = g.reshapeLike(g.instanceNorm(grouped, ones, zeros, eps), x);
    const gamma = g.weight("weight", [c, 1, 1], uniform(0.05, 1));
    const beta = g.weight("bias", [c, 1, 1], uniform(SMALL));
    return g.add(g.mul(normed, gamma), beta);
  });
}

export function layerNorm(g: GraphBuilder, x: Value, eps: number, name: string): Value {
  return g.scope(name, () => {
    const c = x.shape[x.shape.length - 1];
    return g.layerNorm(x, g.weight("weight", [c], uniform(0.05, 1)), g.weight("bias", [c], uniform(SMALL)), eps);
  });
}

export function silu(g: GraphBuilder, x: Value): Value {
  return g.mul(x, g.unary("Sigmoid", x));
}

/** Exact GELU as torch exports it: x · 0.5 · (1 + erf(x / √2)); ORT fuses it into Gelu. */
export function gelu(g: GraphBuilder, x: Value): Value {
  const erf = g.unary("Erf", g.div(x, g.scalar(Math.SQRT2)));
  return g.mul(g.mul(x, g.add(erf, g.scalar(1))), g.scalar(0.5));
}

export interface AttentionOptions {
  readonly heads: number;
  /** Width of the context (keys and values); the query's own width for self-attention. */
  readonly contextWidth: number;
  readonly qkvBias: boolean;
  /** Added to the scores (a causal mask), broadcast over batch and heads. */
  readonly mask?: Value;
}

/** Multi-head attention over [b, n, C] queries and [b, m, Cctx] context, then the output projection. */
export function attention(g: GraphBuilder, x: Value, context: Value, width: number, name: string, o: AttentionOptions): Value {
  return g.scope(name, () => {
    const d = width / o.heads;
    const q = linear(g, x, width, width, "to_q", o.qkvBias);
    const k = linear(g, context, o.contextWidth, width, "to_k", o.qkvBias);
    const v = linear(g, context, o.contextWidth, width, "to_v", o.qkvBias);
    const qh = g.transpose(g.reshape(g.mul(q, g.scalar(1 / Math.sqrt(d))), [0, -1, o.heads, d]), [0, 2, 1, 3]); // [b,H,n,d]
    const kh = g.transpose(g.reshape(k, [0, -1, o.heads, d]), [0, 2, 3, 1]); // [b,H,d,m]
    const vh = g.transpose(g.reshape(v, [0, -1, o.heads, d]), [0, 2, 1, 3]); // [b,H,m,d]
    let scores = g.matmul(qh, kh, false); // [b,H,n,m]
    if (o.mask) scores = g.add(scores, o.mask);
    const mixed = g.matmul(g.softmax(scores, -1), vh, false); // [b,H,n,d]
    const merged = g.reshape(g.transpose(mixed, [0, 2, 1, 3]), [0, -1, width]); // [b,n,C]
    return linear(g, merged, width, width, "to_out.0", true);
  });
}

/** [b, C, h, w] → [b, h·w, C] */
export function toTokens(g: GraphBuilder, x: Value): Value {
  return g.reshape(g.transpose(x, [0, 2, 3, 1]), [0, -1, x.shape[1]]);
}

/** [b, h·w, C] → the shape of `like` ([b, C, h, w]) */
export function fromTokens(g: GraphBuilder, tokens: Value, like: Value): Value {
  return g.reshapeLike(g.transpose(tokens, [0, 2, 1]), like);
}

/**
 * diffusers' ResnetBlock2D: GroupNorm → SiLU → conv → (+ time embedding) → GroupNorm → SiLU →
 * conv, plus the input (through a 1×1 conv when the width changes).
 */
export function resnet(g: GraphBuilder, x: Value, cout: number, name: string, groups: number, eps: number, temb?: { readonly act: Value; readonly width: number }): Value {
  return g.scope(name, () => {
    const cin = x.shape[1];
    let h = conv2d(g, silu(g, groupNorm(g, x, groups, eps, "norm1")), cin, cout, "conv1");
    if (temb) h = g.add(h, g.unsqueeze(linear(g, temb.act, temb.width, cout, "time_emb_proj"), [2, 3]));
    h = conv2d(g, silu(g, groupNorm(g, h, groups, eps, "norm2")), cout, cout, "conv2");
    const shortcut = cin === cout ? x : conv2d(g, x, cin, cout, "conv_shortcut", 1);
    return g.add(shortcut, h);
  });
}

export function downsample(g: GraphBuilder, x: Value, name: string): Value {
  return g.scope(name, () => conv2d(g, x, x.shape[1], x.shape[1], "conv", 3, 2));
}

export function upsample(g: GraphBuilder, x: Value, name: string): Value {
  return g.scope(name, () => conv2d(g, g.upsample2x(x), x.shape[1], x.shape[1], "conv"));
}
