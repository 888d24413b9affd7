// The architectures: SD 2.1-base / SD-Turbo at real size (the two share every weight shape and
// differ in their scheduler), and a tiny variant of each component for the unit tests.
import type { TaesdConfig } from "./taesd";
import type { TextEncoderConfig } from "./textEncoder";
import type { UnetConfig } from "./unet";
import type { VaeDecoderConfig } from "./vae";

export interface ModelSet {
  readonly unet: UnetConfig;
  readonly vae: VaeDecoderConfig;
  readonly text: TextEncoderConfig;
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

export type Variant = "turbo" | "base";
export const VARIANTS: readonly Variant[] = ["turbo", "base"];
export const FOLDER: Record<Variant, string> = { turbo: "sd-turbo", base: "sd21-base" };

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

/** stabilityai/sd-turbo: Euler, trailing spacing; stabilityai/stable-diffusion-2-1-base: PNDM. */
export function schedulerConfig(variant: Variant): Record<string, unknown> {
  return variant === "turbo"
    ? { _class_name: "EulerDiscreteScheduler", ...SCHEDULER_COMMON, interpolation_type: "linear", timestep_spacing: "trailing", use_karras_sigmas: false }
    : { _class_name: "PNDMScheduler", ...SCHEDULER_COMMON, timestep_spacing: "leading" };
}

export function modelIndex(variant: Variant): Record<string, unknown> {
  const onnxModel = ["diffusers", "OnnxRuntimeModel"];
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
    out_channels: c.inChannels,
    center_input_sample: false,
    flip_sin_to_cos: true,
    freq_shift: 0,
    down_block_types: Array.from({ length: levels }, (_, i) => (i < levels - 1 ? "CrossAttnDownBlock2D" : "DownBlock2D")),
    mid_block_type: "UNetMidBlock2DCrossAttn",
    up_block_types: Array.from({ length: levels }, (_, i) => (i === 0 ? "UpBlock2D" : "CrossAttnUpBlock2D")),
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
    scaling_factor: 0.18215,
  };
}

export function textEncoderConfig(c: TextEncoderConfig): Record<string, unknown> {
  return {
    _class_name: "CLIPTextModel",
    architectures: ["CLIPTextModel"],
    hidden_act: "gelu",
    hidden_size: c.width,
    intermediate_size: c.mlp,
    max_position_embeddings: c.positions,
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    vocab_size: c.vocab,
    layer_norm_eps: 1e-5,
    projection_dim: 512,
    torch_dtype: "float32",
  };
}
