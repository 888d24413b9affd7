import { EaselError, notSupportedYet } from "../errors";
import type { PortInfo } from "../onnx/session";
import { arrayField, numberField, stringField } from "./jsonFile";
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
  /** Channels of the latents the scheduler sees (4 for every SD VAE). */
  readonly latentChannels: number;
  /**
   * An inpainting UNet (diffusers' StableDiffusionInpaintPipeline): its `sample` input declares 9
   * channels, latents + mask + masked-image latents. Told from the graph (or unet/config.json's
   * in_channels when the graph leaves the axis dynamic), not from the pipeline's class name.
   */
  readonly inpainting: boolean;
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

/** An inpainting UNet's input: 4 latent channels + 1 mask + 4 masked-image latent channels. */
export const INPAINT_UNET_CHANNELS = 9;

function dim(port: PortInfo | undefined, i: number): number | undefined {
  const d = port?.shape[i];
  return typeof d === "number" && d > 0 ? d : undefined;
}

/**
 * Pixels per latent cell and the multiple every side must be, from the VAE and UNet configs alone
 * (no ONNX session needed, so the Studio can offer sizes before the model is loaded).
 */
export function sizeGeometry(folder: Pick<ModelFolder, "vaeConfig" | "unetConfig">): { readonly vaeScaleFactor: number; readonly granularity: number } {
  const vaeBlocks = arrayField(folder.vaeConfig, "block_out_channels")?.length;
  const vaeScaleFactor = vaeBlocks ? 2 ** (vaeBlocks - 1) : 8;
  const unetDownBlocks = arrayField(folder.unetConfig, "down_block_types")?.length;
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
  const unetInChannels = dim(sample, 1) ?? numberField(folder.unetConfig, "in_channels") ?? 4;
  if (unetInChannels !== 4 && unetInChannels !== INPAINT_UNET_CHANNELS) throw notSupportedYet(`UNets with ${unetInChannels} input channels`);
  const inpainting = unetInChannels === INPAINT_UNET_CHANNELS;
  const latentChannels = 4;

  const textOut = ports.textEncoder.outputs.find((p) => p.name === "last_hidden_state") ?? ports.textEncoder.outputs[0];
  const textWidth = dim(textOut, 2) ?? dim(hidden, 2) ?? numberField(folder.textEncoderConfig, "hidden_size");
  if (textWidth === undefined) throw new EaselError("model-invalid", "cannot tell the text encoder's width from text_encoder/model.onnx: export the model again");
  const unetWidth = dim(hidden, 2);
  if (unetWidth !== undefined && unetWidth !== textWidth) {
    throw new EaselError("model-invalid", `the text encoder's width ${textWidth} does not match the UNet's ${unetWidth}: the folder mixes components of different models`);
  }

  const { vaeScaleFactor, granularity } = sizeGeometry(folder);
  const scalingFactor = numberField(folder.vaeConfig, "scaling_factor") ?? 0.18215;

  const timestepCond = unetIn("timestep_cond");
  const timestepCondDim = timestepCond ? (dim(timestepCond, 1) ?? numberField(folder.unetConfig, "time_cond_proj_dim") ?? 256) : undefined;

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
  const unetSampleSize = numberField(folder.unetConfig, "sample_size");
  const familySide =
    family === "sd2" ? (unetSampleSize ? unetSampleSize * vaeScaleFactor : prediction === "v_prediction" ? 768 : 512) : 512;
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
    inpainting,
    textWidth,
    vaeScaleFactor,
    scalingFactor,
    granularity,
    timestepCondDim,
    unetFixedBatch: dim(sample, 0),
    fixedSize,
    canImg2Img: vaeEncoderOutput !== undefined,
    vaeEncoderOutput,
    originalInferenceSteps: numberField(folder.schedulerConfig, "original_inference_steps") ?? 50,
    defaults,
  };
}
