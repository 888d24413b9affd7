// The architectures: SD 2.1-base / SD-Turbo at real size (the two share every weight shape and
// differ in their scheduler), SDXL base at real size, and a tiny variant of each for the unit tests.
import type { TaesdConfig } from "./taesd";
import type { TextEncoderConfig } from "./textEncoder";
import { attentionAt, depthAt, TIME_IDS, type UnetConfig } from "./unet";
import type { VaeDecoderConfig } from "./vae";

export interface ModelSet {
  readonly unet: UnetConfig;
  readonly vae: VaeDecoderConfig;
  readonly text: TextEncoderConfig;
  /** SDXL's second encoder (OpenCLIP bigG with projection). */
  readonly text2?: TextEncoderConfig;
  readonly taesd: TaesdConfig;
}

/** SD 2.1-base, SD-Turbo: stabilityai's unet / vae / text_encoder configs. */
export const SD21: ModelSet = {
  unet: { inChannels: 4, blockOut: [320, 640, 1280, 1280], layersPerBlock: 2, heads: [5, 10, 20, 20], crossAttentionDim: 1024, groups: 32, timestepType: "float32" },
  vae: { latentChannels: 4, blockOut: [128, 256, 512, 512], layersPerBlock: 2, groups: 32 },
  // OpenCLIP ViT-H/14's text tower as SD 2.x uses it (the penultimate layer's output: 23 of 24 layers).
  text: { vocab: 49408, width: 1024, layers: 23, heads: 16, mlp: 4096, positions: 77 },
  taesd: { latentChannels: 4, channels: 64, stages: 3, blocksPerStage: 3 },
};

/** Every structural feature of SD21 at a few kB per component, for the unit tests. */
export const TINY: ModelSet = {
  unet: { inChannels: 4, blockOut: [32, 64], layersPerBlock: 1, heads: [2, 4], crossAttentionDim: 64, groups: 8, timestepType: "float32" },
  vae: { latentChannels: 4, blockOut: [8, 16, 16, 16], layersPerBlock: 1, groups: 8 },
  text: { vocab: 49408, width: 64, layers: 1, heads: 2, mlp: 256, positions: 77 },
  taesd: { latentChannels: 4, channels: 16, stages: 3, blocksPerStage: 1 },
};

/**
 * SDXL base 1.0: stabilityai's unet (2.57 B parameters), text_encoder (CLIP ViT-L/14), text_encoder_2
 * (OpenCLIP ViT-bigG/14 with projection) and vae configs; TAESDXL has TAESD's architecture.
 */
export const SDXL: ModelSet = {
  unet: {
    inChannels: 4,
    blockOut: [320, 640, 1280],
    layersPerBlock: 2,
    heads: [5, 10, 20],
    crossAttentionDim: 2048,
    groups: 32,
    timestepType: "float32",
    attention: [false, true, true],
    depth: [1, 2, 10],
    added: { pooledWidth: 1280, timeEmbedDim: 256 },
  },
  vae: { latentChannels: 4, blockOut: [128, 256, 512, 512], layersPerBlock: 2, groups: 32, scalingFactor: 0.13025 },
  text: { vocab: 49408, width: 768, layers: 12, heads: 12, mlp: 3072, positions: 77, penultimate: true },
  text2: { vocab: 49408, width: 1280, layers: 32, heads: 20, mlp: 5120, positions: 77, penultimate: true, projection: 1280 },
  taesd: { latentChannels: 4, channels: 64, stages: 3, blocksPerStage: 3 },
};

/** Every structural feature of SDXL at a few kB per component, for the unit tests. */
export const TINY_XL: ModelSet = {
  unet: { ...TINY.unet, blockOut: [32, 64, 64], heads: [2, 4, 4], crossAttentionDim: 80, attention: [false, true, true], depth: [1, 2, 3], added: { pooledWidth: 24, timeEmbedDim: 8 } },
  vae: { ...TINY.vae, scalingFactor: 0.13025 },
  text: { ...TINY.text, width: 32, layers: 2, penultimate: true },
  text2: { ...TINY.text, width: 48, layers: 2, penultimate: true, projection: 24 },
  taesd: TINY.taesd,
};

export type Variant = "turbo" | "base" | "sdxl";
export const VARIANTS: readonly Variant[] = ["turbo", "base", "sdxl"];
export const FOLDER: Record<Variant, string> = { turbo: "sd-turbo", base: "sd21-base", sdxl: "sdxl-base" };
/** The architecture each variant is built from (variants of one set share every weight). */
export const SET: Record<Variant, ModelSet> = { turbo: SD21, base: SD21, sdxl: SDXL };

const SCHEDULER_COMMON = {
  _diffusers_version: "0.24.0",
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: "epsilon",
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/**
 * stabilityai/sd-turbo: Euler, trailing spacing; stabilityai/stable-diffusion-2-1-base: PNDM;
 * stabilityai/stable-diffusion-xl-base-1.0: Euler, leading spacing.
 */
export function schedulerConfig(variant: Variant): Record<string, unknown> {
  switch (variant) {
    case "turbo":
      return { _class_name: "EulerDiscreteScheduler", ...SCHEDULER_COMMON, interpolation_type: "linear", timestep_spacing: "trailing", use_karras_sigmas: false };
    case "sdxl":
      return { _class_name: "EulerDiscreteScheduler", ...SCHEDULER_COMMON, interpolation_type: "linear", timestep_spacing: "leading", use_karras_sigmas: false };
    case "base":
      return { _class_name: "PNDMScheduler", ...SCHEDULER_COMMON, timestep_spacing: "leading" };
  }
}

export function modelIndex(variant: Variant): Record<string, unknown> {
  const onnxModel = ["diffusers", "OnnxRuntimeModel"];
  if (variant === "sdxl") {
    return {
      _class_name: "ORTStableDiffusionXLPipeline",
      _diffusers_version: "0.24.0",
      force_zeros_for_empty_prompt: true,
      scheduler: ["diffusers", "EulerDiscreteScheduler"],
      text_encoder: onnxModel,
      text_encoder_2: onnxModel,
      tokenizer: ["transformers", "CLIPTokenizer"],
      tokenizer_2: ["transformers", "CLIPTokenizer"],
      unet: onnxModel,
      vae_decoder: onnxModel,
      vae_encoder: [null, null],
    };
  }
  return {
    _class_name: "OnnxStableDiffusionPipeline",
    _diffusers_version: "0.24.0",
    scheduler: ["diffusers", schedulerConfig(variant)._class_name],
    text_encoder: onnxModel,
    tokenizer: ["transformers", "CLIPTokenizer"],
    unet: onnxModel,
    vae_decoder: onnxModel,
    vae_encoder: [null, null],
    safety_checker: [null, null],
    feature_extractor: [null, null],
    requires_safety_checker: false,
  };
}

export function unetConfig(c: UnetConfig): Record<string, unknown> {
  const levels = c.blockOut.length;
  return {
    _class_name: "UNet2DConditionModel",
    sample_size: 64,
    in_channels: c.inChannels,
    out_channels: c.outChannels ?? c.inChannels,
    center_input_sample: false,
    flip_sin_to_cos: true,
    freq_shift: 0,
    down_block_types: Array.from({ length: levels }, (_, i) => (attentionAt(c, i) ? "CrossAttnDownBlock2D" : "DownBlock2D")),
    mid_block_type: "UNetMidBlock2DCrossAttn",
    up_block_types: Array.from({ length: levels }, (_, i) => (attentionAt(c, levels - 1 - i) ? "CrossAttnUpBlock2D" : "UpBlock2D")),
    transformer_layers_per_block: Array.from({ length: levels }, (_, i) => depthAt(c, i)),
    ...(c.added && {
      addition_embed_type: "text_time",
      addition_time_embed_dim: c.added.timeEmbedDim,
      projection_class_embeddings_input_dim: c.added.pooledWidth + TIME_IDS * c.added.timeEmbedDim,
    }),
    only_cross_attention: false,
    block_out_channels: c.blockOut,
    layers_per_block: c.layersPerBlock,
    downsample_padding: 1,
    mid_block_scale_factor: 1,
    act_fn: "silu",
    norm_num_groups: c.groups,
    norm_eps: 1e-5,
    cross_attention_dim: c.crossAttentionDim,
    attention_head_dim: c.heads,
    use_linear_projection: true,
    upcast_attention: false,
    resnet_time_scale_shift: "default",
    time_embedding_type: "positional",
    conv_in_kernel: 3,
    conv_out_kernel: 3,
  };
}

export function vaeConfig(c: VaeDecoderConfig): Record<string, unknown> {
  return {
    _class_name: "AutoencoderKL",
    in_channels: 3,
    out_channels: 3,
    down_block_types: c.blockOut.map(() => "DownEncoderBlock2D"),
    up_block_types: c.blockOut.map(() => "UpDecoderBlock2D"),
    block_out_channels: c.blockOut,
    layers_per_block: c.layersPerBlock,
    act_fn: "silu",
    latent_channels: c.latentChannels,
    norm_num_groups: c.groups,
    sample_size: 512,
    scaling_factor: c.scalingFactor ?? 0.18215,
  };
}

export function textEncoderConfig(c: TextEncoderConfig): Record<string, unknown> {
  const cls = c.projection === undefined ? "CLIPTextModel" : "CLIPTextModelWithProjection";
  return {
    _class_name: cls,
    architectures: [cls],
    hidden_act: "gelu",
    hidden_size: c.width,
    intermediate_size: c.mlp,
    max_position_embeddings: c.positions,
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    vocab_size: c.vocab,
    layer_norm_eps: 1e-5,
    projection_dim: c.projection ?? 512,
    torch_dtype: "float32",
  };
}
