// The CLIP text tower as transformers' CLIPTextModel exports it (SD 2.x: OpenCLIP ViT-H's text
// tower without its last layer): token + position embeddings, pre-LN layers with causal
// self-attention and a GELU MLP, the final LayerNorm; pooler_output is the hidden state at each
// row's highest token id (the end-of-text token), as CLIPTextTransformer picks it. SDXL's encoders
// as optimum exports them add `hidden_states.{layers-1}` (the penultimate layer's output, which the
// SDXL pipeline reads) and, for the second (CLIPTextModelWithProjection), `text_embeds`: the pooled
// output through text_projection (no bias) instead of pooler_output.
import { GraphBuilder } from "./graph";
import { attention, gelu, layerNorm, linear } from "./layers";

export interface TextEncoderConfig {
  readonly vocab: number;
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly mlp: number;
  readonly positions: number;
  /** Also output hidden_states.{layers-1}, the penultimate layer (SDXL's encoders). */
  readonly penultimate?: boolean;
  /** CLIPTextModelWithProjection's projection_dim: output text_embeds instead of pooler_output. */
  readonly projection?: number;
}

export function buildTextEncoder(c: TextEncoderConfig, batch: number): GraphBuilder {
  const g = new GraphBuilder("text_encoder");
  const n = c.positions;
  const ids = g.input("input_ids", "int32", ["batch", n], [batch, n]);
  let h = g.scope("embeddings", () => {
    const tokens = g.gather(g.weight("token_embedding.weight", [c.vocab, c.width], { kind: "uniform", std: 0.02, mean: 0 }), ids);
    return g.add(tokens, g.weight("position_embedding.weight", [n, c.width], { kind: "uniform", std: 0.01, mean: 0 }));
  });
  // Causal mask: -1e9 above the diagonal (exp underflows to exactly 0, never to a denormal).
  const mask = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) mask[i * n + j] = -1e9;
  const causal = g.floats(mask, [n, n]);
  g.scope("encoder", () => {
    for (let l = 0; l < c.layers; l++) {
      if (c.penultimate && l === c.layers - 1) g.output(h, `hidden_states.${l}`, "float32", ["batch", n, c.width]);
      g.scope(`layers.${l}`, () => {
        const n1 = layerNorm(g, h, 1e-5, "layer_norm1");
        h = g.add(h, attention(g, n1, n1, c.width, "self_attn", { heads: c.heads, contextWidth: c.width, qkvBias: true, mask: causal }));
        const n2 = layerNorm(g, h, 1e-5, "layer_norm2");
        const mlp = g.scope("mlp", () => linear(g, gelu(g, linear(g, n2, c.width, c.mlp, "fc1")), c.mlp, c.width, "fc2"));
        h = g.add(h, mlp);
      });
    }
  });
  const last = layerNorm(g, h, 1e-5, "final_layer_norm");
  g.output(last, "last_hidden_state", "float32", ["batch", n, c.width]);

  // pooler_output = last[b, argmax(ids[b])]: ArgMax → [b,1,1] → broadcast to [b,1,W] → GatherElements.
  const eot = g.op("ArgMax", [ids], [[batch]], { axis: -1, keepdims: 0 }, "int64")[0];
  const index = g.op("Expand", [g.unsqueeze(eot, [1, 2]), g.ints([1, 1, c.width])], [[batch, 1, c.width]])[0];
  const pooled = g.op("GatherElements", [last, index], [[batch, 1, c.width]], { axis: 1 })[0];
  const pooledRow = g.squeeze(pooled, [1]); // [b, W] f32
  if (c.projection === undefined) g.output(pooledRow, "pooler_output", "float32", ["batch", c.width]);
  else g.output(linear(g, pooledRow, c.width, c.projection, "text_projection", false), "text_embeds", "float32", ["batch", c.projection]);
  return g;
}
