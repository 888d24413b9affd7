import { EaselError, notSupportedYet } from "../errors";
import type { PortInfo } from "../onnx/session";
import { INFERENCE_STEPS } from "../schedulers/config";
import { SCHEDULER_CONFIG_FILE } from "../schedulers/betas";
import { arrayField, checkNumber, type JsonObject, numberField, type NumberRange, stringField } from "./jsonFile";
import type { ModelFolder } from "./modelFolder";

export type ModelFamily = "sd1" | "sd2" | "turbo" | "lcm";

/** What the graphs' declared inputs say, read once when the sessions are created. */
export interface GraphPorts {
  readonly textEncoder: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
  readonly unet: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
  readonly vaeDecoder: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
  readonly vaeEncoder?: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
}

/** Everything the pipeline needs to know about a model, read from its graphs and configs, never assumed. */
export interface ModelInfo {
  readonly name: string;
  readonly family: ModelFamily;
  readonly schedulerClass: string;
  readonly latentChannels: number;
  readonly textWidth: number;
  /** Pixels per latent cell: 2^(VAE blocks - 1), 8 for every SD VAE. */
  readonly vaeScaleFactor: number;
  readonly scalingFactor: number;
  /** Width and height must be multiples of this: vaeScaleFactor × 2^(UNet downsamplings). */
  readonly granularity: number;
  /** LCM's guidance embedding width, when the UNet takes `timestep_cond`. */
  readonly timestepCondDim: number | undefined;
  /** A UNet exported with a fixed batch cannot run CFG as one batch of two. */
  readonly unetFixedBatch: number | undefined;
  /** A UNet exported for one latent size only. */
  readonly fixedSize: { readonly width: number; readonly height: number } | undefined;
  readonly canImg2Img: boolean;
  readonly vaeEncoderOutput: "latent_sample" | "latent_parameters" | undefined;
  /** LCM's `original_inference_steps`: the most steps an LCM schedule can take. */
  readonly originalInferenceSteps: number;
  readonly defaults: {
    readonly width: number;
    readonly height: number;
    readonly steps: number;
    readonly guidance: number;
  };
}

function dim(port: PortInfo | undefined, i: number): number | undefined {
  const d = port?.shape[i];
  return typeof d === "number" && d > 0 ? d : undefined;
}

// Bounds of the config numbers the engine reads (generous around SD 1.x/2.x/XL, SD3 and Flux configs):
// an out-of-range value is a damaged or hostile file, refused with its name rather than used.
const UNET_CONFIG = "unet/config.json";
const BLOCK_COUNT: NumberRange = { min: 1, max: 8, integer: true };
const CHANNELS: NumberRange = { min: 1, max: 64, integer: true };
const WIDTH: NumberRange = { min: 1, max: 16384, integer: true };
const SCALING_FACTOR: NumberRange = { min: 0.001, max: 1000 };
const COND_DIM: NumberRange = { min: 1, max: 8192, integer: true };
/**
 * A graph exported for a fixed batch gets its rows repeated up to that batch; a generation needs at
 * most 2 rows per step (CFG's pair), so exports use 1 or 2, and a declared 2^30 would allocate gigabytes.
 */
export const FIXED_BATCH: NumberRange = { min: 1, max: 16, integer: true };

/** A graph port's fixed batch dim within FIXED_BATCH; undefined when the batch is dynamic. */
export function fixedBatchOf(port: PortInfo | undefined, file: string): number | undefined {
  const batch = dim(port, 0);
  return batch === undefined ? undefined : checkNumber(batch, file, `${port?.name ?? "input"}'s fixed batch`, FIXED_BATCH);
}

/** In latent cells: 256 × 8 = MAX_SIDE. */
const SAMPLE_SIZE: NumberRange = { min: 1, max: 256, integer: true };

/** How many blocks a config's list names, within BLOCK_COUNT; undefined when the list is absent. */
function blockCount(config: JsonObject | undefined, key: string, file: string): number | undefined {
  const list = arrayField(config, key);
  return list === undefined ? undefined : checkNumber(list.length, file, `${key} (its length)`, BLOCK_COUNT);
}

/** The UNet's sample_size in latent cells; a [height, width] pair (allowed by diffusers) is not used. */
export function unetSampleSize(folder: Pick<ModelFolder, "unetConfig">): number | undefined {
  return Array.isArray(folder.unetConfig?.["sample_size"]) ? undefined : numberField(folder.unetConfig, "sample_size", UNET_CONFIG, SAMPLE_SIZE);
}

/**
 * Pixels per latent cell and the multiple every side must be, from the VAE and UNet configs alone
 * (no ONNX session needed, so the Studio can offer sizes before the model is loaded).
 */
export function sizeGeometry(folder: Pick<ModelFolder, "vaeConfig" | "vaeConfigFile" | "unetConfig">): { readonly vaeScaleFactor: number; readonly granularity: number } {
  const vaeBlocks = blockCount(folder.vaeConfig, "block_out_channels", folder.vaeConfigFile);
  const vaeScaleFactor = vaeBlocks ? 2 ** (vaeBlocks - 1) : 8;
  const unetDownBlocks = blockCount(folder.unetConfig, "down_block_types", UNET_CONFIG);
  return { vaeScaleFactor, granularity: unetDownBlocks ? vaeScaleFactor * 2 ** (unetDownBlocks - 1) : 64 };
}

export function describeModel(folder: ModelFolder, ports: GraphPorts): ModelInfo {
  const unetIn = (name: string) => ports.unet.inputs.find((p) => p.name === name);
  if (unetIn("text_embeds") || unetIn("time_ids")) {
    throw notSupportedYet("SDXL UNets (text_embeds / time_ids inputs); use an SD 1.x, SD 2.x, SD-Turbo or LCM model");
  }
  const sample = unetIn("sample");
  const hidden = unetIn("encoder_hidden_states");
  if (!sample || !unetIn("timestep") || !hidden) {
    const names = ports.unet.inputs.map((p) => p.name).join(", ");
    throw new EaselError("model-invalid", `unet/model.onnx has inputs [${names}], not sample/timestep/encoder_hidden_states: it is not a Stable Diffusion UNet export`);
  }
  const latentChannels = dim(sample, 1) ?? numberField(folder.unetConfig, "in_channels", UNET_CONFIG, CHANNELS) ?? 4;
  if (latentChannels === 9) throw notSupportedYet("inpainting UNets (9 input channels); use a text-to-image model");
  if (latentChannels !== 4) throw notSupportedYet(`UNets with ${latentChannels} input channels`);

  // Checked now so a hostile text encoder fails at load, not at its first generation.
  fixedBatchOf(ports.textEncoder.inputs.find((p) => p.name === "input_ids") ?? ports.textEncoder.inputs[0], "text_encoder/model.onnx");
  const textOut = ports.textEncoder.outputs.find((p) => p.name === "last_hidden_state") ?? ports.textEncoder.outputs[0];
  const textWidth = dim(textOut, 2) ?? dim(hidden, 2) ?? numberField(folder.textEncoderConfig, "hidden_size", "text_encoder/config.json", WIDTH);
  if (textWidth === undefined) throw new EaselError("model-invalid", "cannot tell the text encoder's width from text_encoder/model.onnx: export the model again");
  const unetWidth = dim(hidden, 2);
  if (unetWidth !== undefined && unetWidth !== textWidth) {
    throw new EaselError("model-invalid", `the text encoder's width ${textWidth} does not match the UNet's ${unetWidth}: the folder mixes components of different models`);
  }

  const { vaeScaleFactor, granularity } = sizeGeometry(folder);
  const scalingFactor = numberField(folder.vaeConfig, "scaling_factor", folder.vaeConfigFile, SCALING_FACTOR) ?? 0.18215;

  const timestepCond = unetIn("timestep_cond");
  // The graph's own width is bounded too: the guidance embedding is allocated at that width.
  const timestepCondDim = timestepCond
    ? checkNumber(dim(timestepCond, 1) ?? numberField(folder.unetConfig, "time_cond_proj_dim", UNET_CONFIG, COND_DIM) ?? 256, "unet/model.onnx", "timestep_cond width", COND_DIM)
    : undefined;

  const schedulerClass = stringField(folder.schedulerConfig, "_class_name") ?? "";
  const prediction = stringField(folder.schedulerConfig, "prediction_type") ?? "epsilon";
  const spacing = stringField(folder.schedulerConfig, "timestep_spacing");
  const family: ModelFamily = timestepCond || schedulerClass === "LCMScheduler"
    ? "lcm"
    : /^Euler/.test(schedulerClass) && spacing === "trailing"
      ? "turbo"
      : prediction === "v_prediction" || textWidth === 1024
        ? "sd2"
        : "sd1";

  const latentH = dim(sample, 2);
  const latentW = dim(sample, 3);
  const fixedSize = latentH && latentW ? { width: latentW * vaeScaleFactor, height: latentH * vaeScaleFactor } : undefined;
  const sampleSize = unetSampleSize(folder);
  const familySide =
    family === "sd2" ? (sampleSize ? sampleSize * vaeScaleFactor : prediction === "v_prediction" ? 768 : 512) : 512;
  const defaults = {
    width: fixedSize?.width ?? familySide,
    height: fixedSize?.height ?? familySide,
    steps: family === "turbo" ? 1 : family === "lcm" ? 4 : 25,
    guidance: family === "turbo" ? 0 : family === "lcm" ? 8 : 7.5,
  };

  const encoderOut = ports.vaeEncoder?.outputs[0]?.name;
  const vaeEncoderOutput = encoderOut === "latent_parameters" ? "latent_parameters" : encoderOut ? "latent_sample" : undefined;
  return {
    name: folder.name,
    family,
    schedulerClass,
    latentChannels,
    textWidth,
    vaeScaleFactor,
    scalingFactor,
    granularity,
    timestepCondDim,
    unetFixedBatch: fixedBatchOf(sample, "unet/model.onnx"),
    fixedSize,
    canImg2Img: vaeEncoderOutput !== undefined,
    vaeEncoderOutput,
    originalInferenceSteps: numberField(folder.schedulerConfig, "original_inference_steps", SCHEDULER_CONFIG_FILE, INFERENCE_STEPS) ?? 50,
    defaults,
  };
}
