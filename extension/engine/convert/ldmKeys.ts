// Original (LDM/CompVis, A1111) checkpoint keys -> diffusers parameter names, as diffusers'
// single-file loader converts them (`convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint`,
// `convert_open_clip_checkpoint` in diffusers/loaders/single_file_utils.py). The block arithmetic
// comes from the UNet/VAE configs of the template (layers_per_block, the number of blocks), never
// from SD 1.5's fixed numbers, so SDXL's and any other layout convert by the same code.
import { EaselError } from "../errors";
import type { TensorEntry } from "../model/safetensors";

/** Where a diffusers parameter's values come from in the checkpoint. */
export interface ParamSource {
  readonly entry: TensorEntry;
  /** The checkpoint's key, for messages. */
  readonly key: string;
  /** A slice of dim 0 (OpenCLIP's fused in_proj split into q, k, v): part `index` of `parts`. */
  readonly split?: { readonly index: number; readonly parts: number };
  /** The 2-D tensor is stored transposed (OpenCLIP's text_projection). */
  readonly transpose?: boolean;
}

export type ParamMap = Map<string, ParamSource>;

export const UNET_PREFIX = "model.diffusion_model.";
export const VAE_PREFIX = "first_stage_model.";

function unknownKey(key: string, what: string): EaselError {
  return new EaselError("model-invalid", `the checkpoint has a key Easel cannot place in ${what}: ${key} (a different or damaged model: check that it is a full SD checkpoint of the architecture detected)`);
}

function resnet(rest: string): string {
  return rest
    .replace(/^in_layers\.0\./, "norm1.")
    .replace(/^in_layers\.2\./, "conv1.")
    .replace(/^out_layers\.0\./, "norm2.")
    .replace(/^out_layers\.3\./, "conv2.")
    .replace(/^emb_layers\.1\./, "time_emb_proj.")
    .replace(/^skip_connection\./, "conv_shortcut.");
}

/** One UNet key (without `model.diffusion_model.`) -> its diffusers name; `layersPerBlock` from the UNet config. */
export function unetKeyToDiffusers(rest: string, layersPerBlock: number): string | undefined {
  const fixed: readonly [RegExp, string][] = [
    [/^time_embed\.0\./, "time_embedding.linear_1."],
    [/^time_embed\.2\./, "time_embedding.linear_2."],
    [/^label_emb\.0\.0\./, "add_embedding.linear_1."],
    [/^label_emb\.0\.2\./, "add_embedding.linear_2."],
    [/^input_blocks\.0\.0\./, "conv_in."],
    [/^out\.0\./, "conv_norm_out."],
    [/^out\.2\./, "conv_out."],
  ];
  for (const [from, to] of fixed) if (from.test(rest)) return rest.replace(from, to);
  const per = layersPerBlock + 1; // each down block: its resnets (with attentions), then a downsampler
  let m = /^input_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(rest);
  if (m) {
    const i = Number(m[1]);
    const j = Number(m[2]);
    const block = Math.floor((i - 1) / per);
    const layer = (i - 1) % per;
    if (layer === layersPerBlock) return j === 0 && m[3].startsWith("op.") ? `down_blocks.${block}.downsamplers.0.conv.${m[3].slice(3)}` : undefined;
    if (j === 0) return `down_blocks.${block}.resnets.${layer}.${resnet(m[3])}`;
    if (j === 1) return `down_blocks.${block}.attentions.${layer}.${m[3]}`;
    return undefined;
  }
  m = /^middle_block\.(\d+)\.(.+)$/.exec(rest);
  if (m) {
    if (m[1] === "0") return `mid_block.resnets.0.${resnet(m[2])}`;
    if (m[1] === "1") return `mid_block.attentions.0.${m[2]}`;
    if (m[1] === "2") return `mid_block.resnets.1.${resnet(m[2])}`;
    return undefined;
  }
  m = /^output_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(rest);
  if (m) {
    const i = Number(m[1]);
    const j = Number(m[2]);
    const block = Math.floor(i / per);
    const layer = i % per;
    if (j === 0) return `up_blocks.${block}.resnets.${layer}.${resnet(m[3])}`;
    // The upsampler follows the block's last resnet: at .1 without attention, at .2 with it.
    if ((j === 1 || j === 2) && m[3].startsWith("conv.")) return `up_blocks.${block}.upsamplers.0.conv.${m[3].slice(5)}`;
    if (j === 1) return `up_blocks.${block}.attentions.${layer}.${m[3]}`;
    return undefined;
  }
  return undefined;
}

function vaeResnet(rest: string): string {
  return rest.replace(/^nin_shortcut\./, "conv_shortcut.");
}

function vaeAttention(rest: string): string {
  return rest.replace(/^norm\./, "group_norm.").replace(/^q\./, "to_q.").replace(/^k\./, "to_k.").replace(/^v\./, "to_v.").replace(/^proj_out\./, "to_out.0.");
}

/** One VAE key (without `first_stage_model.`) -> its diffusers name; `upBlocks` = len(block_out_channels). */
export function vaeKeyToDiffusers(rest: string, upBlocks: number): string | undefined {
  const fixed: readonly [RegExp, string][] = [
    [/^(encoder|decoder)\.conv_in\./, "$1.conv_in."],
    [/^(encoder|decoder)\.conv_out\./, "$1.conv_out."],
    [/^(encoder|decoder)\.norm_out\./, "$1.conv_norm_out."],
    [/^quant_conv\./, "quant_conv."],
    [/^post_quant_conv\./, "post_quant_conv."],
  ];
  for (const [from, to] of fixed) if (from.test(rest)) return rest.replace(from, to);
  let m = /^(encoder|decoder)\.mid\.block_([12])\.(.+)$/.exec(rest);
  if (m) return `${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${vaeResnet(m[3])}`;
  m = /^(encoder|decoder)\.mid\.attn_1\.(.+)$/.exec(rest);
  if (m) return `${m[1]}.mid_block.attentions.0.${vaeAttention(m[2])}`;
  m = /^encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(rest);
  if (m) return `encoder.down_blocks.${m[1]}.resnets.${m[2]}.${vaeResnet(m[3])}`;
  m = /^encoder\.down\.(\d+)\.downsample\.conv\.(.+)$/.exec(rest);
  if (m) return `encoder.down_blocks.${m[1]}.downsamplers.0.conv.${m[2]}`;
  // LDM numbers the decoder's levels from the bottom; diffusers' up_blocks run from the top.
  m = /^decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$/.exec(rest);
  if (m && Number(m[1]) < upBlocks) return `decoder.up_blocks.${upBlocks - 1 - Number(m[1])}.resnets.${m[2]}.${vaeResnet(m[3])}`;
  m = /^decoder\.up\.(\d+)\.upsample\.conv\.(.+)$/.exec(rest);
  if (m && Number(m[1]) < upBlocks) return `decoder.up_blocks.${upBlocks - 1 - Number(m[1])}.upsamplers.0.conv.${m[2]}`;
  return undefined;
}

/** OpenCLIP text tower key -> transformers' CLIPTextModel name (diffusers' convert_open_clip_checkpoint). */
function openClipToHf(rest: string): { name: string; split?: { index: number; parts: number }[]; transpose?: boolean } | { names: string[] } | undefined {
  if (rest === "positional_embedding") return { name: "text_model.embeddings.position_embedding.weight" };
  if (rest === "token_embedding.weight") return { name: "text_model.embeddings.token_embedding.weight" };
  if (rest.startsWith("ln_final.")) return { name: `text_model.final_layer_norm.${rest.slice(9)}` };
  if (rest === "text_projection") return { name: "text_projection.weight", transpose: true };
  const m = /^transformer\.resblocks\.(\d+)\.(.+)$/.exec(rest);
  if (!m) return undefined;
  const layer = `text_model.encoder.layers.${m[1]}`;
  const inProj = /^attn\.in_proj_(weight|bias)$/.exec(m[2]);
  if (inProj) return { names: ["q_proj", "k_proj", "v_proj"].map((p) => `${layer}.self_attn.${p}.${inProj[1]}`) };
  const renamed = m[2]
    .replace(/^ln_1\./, "layer_norm1.")
    .replace(/^ln_2\./, "layer_norm2.")
    .replace(/^mlp\.c_fc\./, "mlp.fc1.")
    .replace(/^mlp\.c_proj\./, "mlp.fc2.")
    .replace(/^attn\.out_proj\./, "self_attn.out_proj.");
  return renamed === m[2] ? undefined : { name: `${layer}.${renamed}` };
}

/** Keys a checkpoint carries that no component uses (training state, buffers). */
export function isIgnoredKey(key: string): boolean {
  return (
    key.startsWith("model_ema.") ||
    key.startsWith("first_stage_model.loss.") ||
    /^(betas|alphas_cumprod|alphas_cumprod_prev|sqrt_alphas_cumprod|sqrt_one_minus_alphas_cumprod|log_one_minus_alphas_cumprod|sqrt_recip_alphas_cumprod|sqrt_recipm1_alphas_cumprod|posterior_variance|posterior_log_variance_clipped|posterior_mean_coef1|posterior_mean_coef2|logvar|model\.logvar|lvlb_weights)$/.test(key) ||
    /(^|\.)position_ids$/.test(key) ||
    /\.logit_scale$/.test(key) ||
    /\.attn_mask$/.test(key)
  );
}

export function convertUnet(entries: readonly TensorEntry[], layersPerBlock: number, into: ParamMap): void {
  for (const entry of entries) {
    const name = unetKeyToDiffusers(entry.name.slice(UNET_PREFIX.length), layersPerBlock);
    if (name === undefined) throw unknownKey(entry.name, "the UNet");
    into.set(name, { entry, key: entry.name });
  }
}

export function convertVae(entries: readonly TensorEntry[], upBlocks: number, into: ParamMap): void {
  for (const entry of entries) {
    const name = vaeKeyToDiffusers(entry.name.slice(VAE_PREFIX.length), upBlocks);
    if (name === undefined) throw unknownKey(entry.name, "the VAE");
    into.set(name, { entry, key: entry.name });
  }
}

/** transformers' CLIP keys (SD 1.x `cond_stage_model.transformer.`, SDXL's first encoder): only the prefix changes. */
export function convertHfClip(entries: readonly TensorEntry[], prefix: string, into: ParamMap): void {
  for (const entry of entries) {
    const rest = entry.name.slice(prefix.length);
    // Older SD 1.x checkpoints omit the `text_model.` level.
    into.set(rest.startsWith("text_model.") || rest.startsWith("text_projection") ? rest : `text_model.${rest}`, { entry, key: entry.name });
  }
}

/**
 * An OpenCLIP text tower (SD 2.x, SDXL's second encoder). `keepNames`: the template's graph was
 * exported from OpenCLIP's own module (its weights are named `transformer.resblocks.…`), so the
 * names stay; otherwise they become transformers' CLIPTextModel names, in_proj split in three.
 */
export function convertOpenClip(entries: readonly TensorEntry[], prefix: string, keepNames: boolean, into: ParamMap): void {
  for (const entry of entries) {
    const rest = entry.name.slice(prefix.length);
    if (keepNames) {
      into.set(rest, { entry, key: entry.name });
      continue;
    }
    const hf = openClipToHf(rest);
    if (hf === undefined) throw unknownKey(entry.name, "the text encoder");
    if ("names" in hf) hf.names.forEach((name, index) => into.set(name, { entry, key: entry.name, split: { index, parts: 3 } }));
    else into.set(hf.name, { entry, key: entry.name, ...(hf.transpose ? { transpose: true } : {}) });
  }
}
