// diffusers' UNet2DConditionModel as the SD 2.x / SD-Turbo export has it: CrossAttnDownBlock2D ×
// (levels - 1) + DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D + CrossAttnUpBlock2D × (levels - 1),
// Transformer2DModel with linear projections, self- and cross-attention and a GEGLU feed-forward,
// and the sinusoidal timestep embedding computed in the graph from the `timestep` input. SDXL's
// differs in configuration only: which levels attend, how many transformer blocks each has, and the
// added conditioning (`text_embeds` + `time_ids` through add_embedding, summed into the time embedding).
import { GraphBuilder, type ElemType, type Value } from "./graph";
import { attention, conv2d, downsample, fromTokens, gelu, groupNorm, layerNorm, linear, resnet, silu, toTokens, upsample } from "./layers";

export interface UnetConfig {
  readonly inChannels: number;
  /** The latent channels it predicts; default inChannels (an inpainting UNet takes 9 and predicts 4). */
  readonly outChannels?: number;
  /** block_out_channels */
  readonly blockOut: readonly number[];
  readonly layersPerBlock: number;
  /** diffusers' attention_head_dim, which SD 2.x uses as the number of heads per level. */
  readonly heads: readonly number[];
  readonly crossAttentionDim: number;
  readonly groups: number;
  /** The `timestep` input's type (Olive / ORT exports: float32; optimum: int64). */
  readonly timestepType: ElemType;
  /** Whether each down level (and its mirrored up level) has transformers; default: all but the last (SD 1.x/2.x). */
  readonly attention?: readonly boolean[];
  /** transformer_layers_per_block per level (the mid block uses the last level's); default 1. */
  readonly depth?: readonly number[];
  /** SDXL's addition_embed_type "text_time": the pooled width and addition_time_embed_dim. */
  readonly added?: { readonly pooledWidth: number; readonly timeEmbedDim: number };
}

/** SDXL's six time_ids: original size, crop top-left, target size. */
export const TIME_IDS = 6;

export const attentionAt = (c: UnetConfig, level: number): boolean => c.attention?.[level] ?? level < c.blockOut.length - 1;
export const depthAt = (c: UnetConfig, level: number): number => c.depth?.[level] ?? 1;

/** The batch and latent size the FLOP count is taken at (the graph itself is dynamic). */
export interface LatentSize {
  readonly batch: number;
  readonly height: number;
  readonly width: number;
}

const EPS = 1e-5;

interface Context {
  readonly g: GraphBuilder;
  readonly c: UnetConfig;
  readonly temb: { readonly act: Value; readonly width: number };
  readonly text: Value;
}

function transformer(x: Context, h: Value, heads: number, depth: number, name: string): Value {
  const { g, c } = x;
  return g.scope(name, () => {
    const width = h.shape[1];
    let t = linear(g, toTokens(g, groupNorm(g, h, c.groups, 1e-6, "norm")), width, width, "proj_in");
    for (let d = 0; d < depth; d++) g.scope(`transformer_blocks.${d}`, () => {
      const n1 = layerNorm(g, t, EPS, "norm1");
      t = g.add(t, attention(g, n1, n1, width, "attn1", { heads, contextWidth: width, qkvBias: false }));
      const n2 = layerNorm(g, t, EPS, "norm2");
      t = g.add(t, attention(g, n2, x.text, width, "attn2", { heads, contextWidth: c.crossAttentionDim, qkvBias: false }));
      const n3 = layerNorm(g, t, EPS, "norm3");
      const ff = g.scope("ff", () => {
        // GEGLU: one projection to 2 × 4C, split, value × gelu(gate).
        const [value, gate] = g.split(linear(g, n3, width, 8 * width, "net.0.proj"), [4 * width, 4 * width], -1);
        return linear(g, g.mul(value, gelu(g, gate)), 4 * width, width, "net.2");
      });
      t = g.add(t, ff);
    });
    return g.add(fromTokens(g, linear(g, t, width, width, "proj_out"), h), h);
  });
}

/** Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0): [cos(t·f), sin(t·f)], f_i = 10000^(-i/half). */
function sinusoid(g: GraphBuilder, t: Value, dim: number): Value {
  const half = dim / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const args = g.mul(g.unsqueeze(t, [1]), g.floats(freqs, [1, half])); // [n, half]
  return g.concat([g.unary("Cos", args), g.unary("Sin", args)], 1); // [n, dim]
}

interface AddedInputs {
  readonly textEmbeds: Value; // [b, P] f32
  readonly timeIds: Value; // [b, 6] f32
}

function timeEmbedding(g: GraphBuilder, timestep: Value, c: UnetConfig, added: AddedInputs | undefined): { act: Value; width: number } {
  const base = c.blockOut[0];
  const width = 4 * base;
  const t = timestep.elem === "float32" ? timestep : g.cast(timestep, "float32");
  let emb = g.scope("time_embedding", () => linear(g, silu(g, linear(g, sinusoid(g, t, base), base, width, "linear_1")), width, width, "linear_2"));
  if (added && c.added) {
    const { pooledWidth, timeEmbedDim } = c.added;
    // diffusers: add_time_proj(time_ids.flatten()) → [b·6, D] → [b, 6·D], concatenated after text_embeds.
    const timeProj = g.reshape(sinusoid(g, g.reshape(added.timeIds, [-1]), timeEmbedDim), [-1, TIME_IDS * timeEmbedDim]);
    const addIn = pooledWidth + TIME_IDS * timeEmbedDim;
    const aug = g.scope("add_embedding", () => linear(g, silu(g, linear(g, g.concat([added.textEmbeds, timeProj], 1), addIn, width, "linear_1")), width, width, "linear_2"));
    emb = g.add(emb, aug);
  }
  // Every resnet applies SiLU to the embedding first: computed once (ORT would merge the copies).
  return { act: silu(g, emb), width };
}

/** The UNet graph: sample, timestep, encoder_hidden_states (SDXL: text_embeds, time_ids) → out_sample. */
export function buildUnet(c: UnetConfig, size: LatentSize): GraphBuilder {
  const g = new GraphBuilder("unet");
  const { batch, height, width } = size;
  const sample = g.input("sample", "float32", ["batch", c.inChannels, "height", "width"], [batch, c.inChannels, height, width]);
  const timestep = g.input("timestep", c.timestepType, ["batch"], [batch]);
  const text = g.input("encoder_hidden_states", "float32", ["batch", "sequence", c.crossAttentionDim], [batch, 77, c.crossAttentionDim]);
  const added: AddedInputs | undefined = c.added && {
    textEmbeds: g.input("text_embeds", "float32", ["batch", c.added.pooledWidth], [batch, c.added.pooledWidth]),
    timeIds: g.input("time_ids", "float32", ["batch", TIME_IDS], [batch, TIME_IDS]),
  };
  const x: Context = { g, c, temb: timeEmbedding(g, timestep, c, added), text };
  const levels = c.blockOut.length;

  let h = conv2d(g, sample, c.inChannels, c.blockOut[0], "conv_in");
  const skips: Value[] = [h];
  for (let i = 0; i < levels; i++) {
    const crossAttn = attentionAt(c, i);
    g.scope(`down_blocks.${i}`, () => {
      for (let j = 0; j < c.layersPerBlock; j++) {
        h = resnet(g, h, c.blockOut[i], `resnets.${j}`, c.groups, EPS, x.temb);
        if (crossAttn) h = transformer(x, h, c.heads[i], depthAt(c, i), `attentions.${j}`);
        skips.push(h);
      }
      if (i < levels - 1) {
        h = downsample(g, h, "downsamplers.0");
        skips.push(h);
      }
    });
  }

  const top = c.blockOut[levels - 1];
  g.scope("mid_block", () => {
    h = resnet(g, h, top, "resnets.0", c.groups, EPS, x.temb);
    h = transformer(x, h, c.heads[levels - 1], depthAt(c, levels - 1), "attentions.0");
    h = resnet(g, h, top, "resnets.1", c.groups, EPS, x.temb);
  });

  for (let i = 0; i < levels; i++) {
    const mirror = levels - 1 - i; // up level i mirrors down level levels-1-i
    const crossAttn = attentionAt(c, mirror);
    g.scope(`up_blocks.${i}`, () => {
      for (let j = 0; j < c.layersPerBlock + 1; j++) {
        const skip = skips.pop();
        if (!skip) throw new Error("UNet skip connections out of balance");
        h = resnet(g, g.concat([h, skip], 1), c.blockOut[mirror], `resnets.${j}`, c.groups, EPS, x.temb);
        if (crossAttn) h = transformer(x, h, c.heads[mirror], depthAt(c, mirror), `attentions.${j}`);
      }
      if (i < levels - 1) h = upsample(g, h, "upsamplers.0");
    });
  }

  h = silu(g, groupNorm(g, h, c.groups, EPS, "conv_norm_out"));
  const out = c.outChannels ?? c.inChannels;
  h = conv2d(g, h, c.blockOut[0], out, "conv_out");
  g.output(h, "out_sample", "float32", ["batch", out, "height", "width"]);
  return g;
}
