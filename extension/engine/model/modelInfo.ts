import { EaselError, notSupportedYet } from "../errors";
import type { PortInfo } from "../onnx/session";
import { INFERENCE_STEPS } from "../schedulers/config";
import { SCHEDULER_CONFIG_FILE } from "../schedulers/betas";
import { arrayField, checkNumber, type JsonObject, numberField, type NumberRange, stringField } from "./jsonFile";
import type { ModelFolder } from "./modelFolder";

/** Every family, once: the type, the engine protocol's validator and the catalog's all come from this list. */
export const MODEL_FAMILIES = ["sd1", "sd2", "turbo", "lcm", "sdxl", "sdxl-turbo"] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** What the graphs' declared inputs say, read once when the sessions are created. */
export interface GraphPorts {
  readonly textEncoder: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
  /** SDXL's second text encoder. */
  readonly textEncoder2?: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
  readonly unet: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
  readonly vaeDecoder: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
  readonly vaeEncoder?: { readonly inputs: readonly PortInfo[]; readonly outputs: readonly PortInfo[] };
}

/** One text encoder as the pipeline uses it, read from the graph's declared outputs. */
export interface TextEncoderUse {
  readonly component: "text_encoder" | "text_encoder_2";
  /** Where its tokenizer lives (tokenizer/ or tokenizer_2/). */
  readonly tokenizerDir: string;
  /** The output the prompt embedding is read from: last_hidden_state (SD), hidden_states.{N-1} (SDXL: the penultimate layer). */
  readonly hiddenOutput: string;
  /** The embedding's width (D of [n,77,D]). */
  readonly width: number;
  /** SDXL's second encoder: the projected pooled output (text_embeds) the UNet takes as its own input. */
  readonly pooledOutput: string | undefined;
}

/** SDXL's added conditioning (UNet inputs text_embeds and time_ids). */
export interface AddedConditioning {
  readonly pooledWidth: number;
  /** 6: original size, crop top-left, target size. */
  readonly timeIdsWidth: number;
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
  /** The UNet's encoder_hidden_states width: the text encoders' widths added up (SDXL concatenates two). */
  readonly textWidth: number;
  /** In the order their embeddings are concatenated. */
  readonly textEncoders: readonly TextEncoderUse[];
  readonly addedConditioning: AddedConditioning | undefined;
  /** SDXL with CFG: an empty negative prompt is all zeros (embedding and pooled) instead of an encoded "". */
  readonly forceZerosForEmptyPrompt: boolean;
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

// Bounds of the config numbers the engine reads (generous around SD 1.x/2.x/XL, SD3 and Flux configs):
// an out-of-range value is a damaged or hostile file, refused with its name rather than used.
const UNET_CONFIG = "unet/config.json";
const BLOCK_COUNT: NumberRange = { min: 1, max: 8, integer: true };
const CHANNELS: NumberRange = { min: 1, max: 64, integer: true };
const WIDTH: NumberRange = { min: 1, max: 16384, integer: true };
const LAYER_COUNT: NumberRange = { min: 1, max: 1000, integer: true };
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

const HIDDEN_STATE = /^hidden_states\.(\d+)$/;

/**
 * The penultimate layer's output, `hidden_states.{N-1}` of hidden_states.0 … hidden_states.N (the
 * embeddings, then one per layer), as optimum exports CLIP with output_hidden_states: what
 * diffusers' SDXL pipeline takes (`hidden_states[-2]`), before the final layer norm. N is the
 * config's num_hidden_layers, else the highest hidden_states index the graph declares.
 */
function penultimateOutput(component: string, outputs: readonly PortInfo[], config: JsonObject | undefined): PortInfo {
  const declared = outputs.flatMap((p) => {
    const m = HIDDEN_STATE.exec(p.name);
    return m ? [Number(m[1])] : [];
  });
  const layers = numberField(config, "num_hidden_layers", `${component}/config.json`, LAYER_COUNT) ?? (declared.length > 0 ? Math.max(...declared) : undefined);
  const port = layers !== undefined && layers >= 1 ? outputs.find((p) => p.name === `hidden_states.${layers - 1}`) : undefined;
  if (!port) {
    const names = outputs.map((p) => p.name).join(", ");
    const which = layers !== undefined ? `hidden_states.${layers - 1} (the penultimate of its ${layers} layers)` : "hidden_states.0 … hidden_states.N";
    throw new EaselError(
      "model-invalid",
      `${component}/model.onnx has outputs [${names}], without ${which}: SDXL needs each layer's hidden states; export the model with optimum (optimum-cli export onnx), which adds them`,
    );
  }
  return port;
}

/** SDXL's pooled embedding: the second encoder's projected output (text_embeds), else its first [batch, P] output. */
function pooledOutput(outputs: readonly PortInfo[]): PortInfo {
  const port = outputs.find((p) => p.name === "text_embeds") ?? outputs.find((p) => p.shape.length === 2);
  if (!port) {
    const names = outputs.map((p) => p.name).join(", ");
    throw new EaselError("model-invalid", `text_encoder_2/model.onnx has outputs [${names}], none of them the pooled text_embeds SDXL's UNet takes: export text_encoder_2 as CLIPTextModelWithProjection`);
  }
  return port;
}

/** SDXL: two encoders, each read at its penultimate layer, and the second's pooled output for the UNet's added conditioning. */
function describeXlText(
  folder: ModelFolder,
  ports: GraphPorts,
  unetIn: (name: string) => PortInfo | undefined,
): { encoders: TextEncoderUse[]; added: AddedConditioning } {
  const second = ports.textEncoder2;
  if (!second || !folder.tokenizer2Dir) {
    throw new EaselError("model-invalid", "the UNet takes text_embeds and time_ids (SDXL) but the folder has no text_encoder_2/model.onnx and tokenizer_2/: download or export the whole SDXL model");
  }
  const timeIds = unetIn("time_ids");
  const textEmbeds = unetIn("text_embeds");
  if (!timeIds || !textEmbeds) {
    throw new EaselError("model-invalid", "the UNet takes only one of text_embeds and time_ids: it is not an SDXL UNet export; export the model again");
  }
  const timeIdsWidth = dim(timeIds, 1) ?? 6;
  // The refiner's time_ids have 5 values (an aesthetic score instead of the target size).
  if (timeIdsWidth !== 6) throw notSupportedYet(`an SDXL UNet whose time_ids has ${timeIdsWidth} values (the refiner's); use an SDXL base or SDXL-Turbo model`);

  const use = (component: TextEncoderUse["component"], tokenizerDir: string, outputs: readonly PortInfo[], pooled: boolean): TextEncoderUse => {
    const config = component === "text_encoder" ? folder.textEncoderConfig : folder.textEncoder2Config;
    const hidden = penultimateOutput(component, outputs, config);
    const width = dim(hidden, 2) ?? numberField(config, "hidden_size", `${component}/config.json`, WIDTH);
    if (width === undefined) throw new EaselError("model-invalid", `cannot tell ${component}'s width from ${component}/model.onnx: export the model again`);
    return { component, tokenizerDir, hiddenOutput: hidden.name, width, pooledOutput: pooled ? pooledOutput(outputs).name : undefined };
  };
  const encoders = [
    use("text_encoder", folder.tokenizerDir, ports.textEncoder.outputs, false),
    use("text_encoder_2", folder.tokenizer2Dir, second.outputs, true),
  ];
  const pooledWidth = dim(second.outputs.find((p) => p.name === encoders[1].pooledOutput), 1) ?? dim(textEmbeds, 1);
  if (pooledWidth === undefined) throw new EaselError("model-invalid", "cannot tell the width of text_encoder_2's pooled output or the UNet's text_embeds: export the model again");
  const unetPooled = dim(textEmbeds, 1);
  if (unetPooled !== undefined && unetPooled !== pooledWidth) {
    throw new EaselError("model-invalid", `text_encoder_2's pooled output has width ${pooledWidth} but the UNet's text_embeds takes ${unetPooled}: the folder mixes components of different models`);
  }
  return { encoders, added: { pooledWidth, timeIdsWidth } };
}

/** SD 1.x/2.x: one encoder's last_hidden_state (its first output when none is named so). */
function describeSdText(folder: ModelFolder, ports: GraphPorts, hidden: PortInfo): TextEncoderUse {
  if (ports.textEncoder2) {
    throw new EaselError("model-invalid", "the folder has text_encoder_2/model.onnx (SDXL) but the UNet takes no text_embeds / time_ids: the folder mixes components of different models");
  }
  const textOut = ports.textEncoder.outputs.find((p) => p.name === "last_hidden_state") ?? ports.textEncoder.outputs[0];
  const width = dim(textOut, 2) ?? dim(hidden, 2) ?? numberField(folder.textEncoderConfig, "hidden_size", "text_encoder/config.json", WIDTH);
  if (width === undefined) throw new EaselError("model-invalid", "cannot tell the text encoder's width from text_encoder/model.onnx: export the model again");
  return { component: "text_encoder", tokenizerDir: folder.tokenizerDir, hiddenOutput: textOut.name, width, pooledOutput: undefined };
}

/**
 * Turbo (SD-Turbo, SDXL-Turbo, distilled for 1-4 steps without CFG at 512²): an Euler scheduler
 * with trailing spacing. Read from the config alone, so the Studio can size a model it has not loaded.
 */
export function isTurboSchedule(schedulerConfig: JsonObject | undefined): boolean {
  return /^Euler/.test(stringField(schedulerConfig, "_class_name") ?? "") && stringField(schedulerConfig, "timestep_spacing") === "trailing";
}

/** What tells the families apart; describeModel reads it from the graphs, folderFamily from the folder alone. */
interface FamilySigns {
  /** A UNet input timestep_cond, or an LCMScheduler. */
  readonly lcm: boolean;
  /** Added conditioning (UNet inputs text_embeds and time_ids) with a second text encoder. */
  readonly xl: boolean;
  readonly turbo: boolean;
  readonly vPrediction: boolean;
  /** The text embedding's width (1024: OpenCLIP, SD 2.x); undefined when unknown. */
  readonly textWidth: number | undefined;
}

function familyOf(s: FamilySigns): ModelFamily {
  if (s.lcm) return "lcm";
  if (s.xl) return s.turbo ? "sdxl-turbo" : "sdxl";
  if (s.turbo) return "turbo";
  return s.vPrediction || s.textWidth === 1024 ? "sd2" : "sd1";
}

/**
 * The family as the folder tells it before any session exists (the Studio's size picker), by
 * describeModel's rule with the graphs' inputs read from the folder instead: SDXL's added
 * conditioning from its second text encoder (text_encoder_2/, which readModelFolder pairs with
 * tokenizer_2/) or the UNet config's addition_embed_type "text_time", LCM's timestep_cond from
 * time_cond_proj_dim, the text width from the text encoder's hidden_size. describeModel, which
 * sees the graphs, stays the authority once the model is loaded.
 */
export function folderFamily(folder: Pick<ModelFolder, "files" | "schedulerConfig" | "unetConfig" | "textEncoderConfig">): ModelFamily {
  const schedulerClass = stringField(folder.schedulerConfig, "_class_name") ?? "";
  return familyOf({
    lcm: numberField(folder.unetConfig, "time_cond_proj_dim", UNET_CONFIG, COND_DIM) !== undefined || schedulerClass === "LCMScheduler",
    xl: folder.files.text_encoder_2 !== undefined || stringField(folder.unetConfig, "addition_embed_type") === "text_time",
    turbo: isTurboSchedule(folder.schedulerConfig),
    vPrediction: stringField(folder.schedulerConfig, "prediction_type") === "v_prediction",
    textWidth: numberField(folder.textEncoderConfig, "hidden_size", "text_encoder/config.json", WIDTH),
  });
}

export function describeModel(folder: ModelFolder, ports: GraphPorts): ModelInfo {
  const unetIn = (name: string) => ports.unet.inputs.find((p) => p.name === name);
  const sample = unetIn("sample");
  const hidden = unetIn("encoder_hidden_states");
  if (!sample || !unetIn("timestep") || !hidden) {
    const names = ports.unet.inputs.map((p) => p.name).join(", ");
    throw new EaselError("model-invalid", `unet/model.onnx has inputs [${names}], not sample/timestep/encoder_hidden_states: it is not a Stable Diffusion UNet export`);
  }
  const unetInChannels = dim(sample, 1) ?? numberField(folder.unetConfig, "in_channels", UNET_CONFIG, CHANNELS) ?? 4;
  if (unetInChannels !== 4 && unetInChannels !== INPAINT_UNET_CHANNELS) throw notSupportedYet(`UNets with ${unetInChannels} input channels`);
  const inpainting = unetInChannels === INPAINT_UNET_CHANNELS;
  const latentChannels = 4;

  // Checked now so a hostile text encoder fails at load, not at its first generation.
  for (const [encoder, file] of [[ports.textEncoder, "text_encoder/model.onnx"], [ports.textEncoder2, "text_encoder_2/model.onnx"]] as const) {
    if (encoder) fixedBatchOf(encoder.inputs.find((p) => p.name === "input_ids") ?? encoder.inputs[0], file);
  }
  // Two encoders and added conditioning (UNet inputs text_embeds + time_ids) make SDXL.
  const xl = unetIn("text_embeds") !== undefined || unetIn("time_ids") !== undefined;
  const xlText = xl ? describeXlText(folder, ports, unetIn) : undefined;
  const textEncoders = xlText ? xlText.encoders : [describeSdText(folder, ports, hidden)];
  const textWidth = textEncoders.reduce((sum, e) => sum + e.width, 0);
  const unetWidth = dim(hidden, 2);
  if (unetWidth !== undefined && unetWidth !== textWidth) {
    const what = xlText ? `the text encoders' widths ${textEncoders.map((e) => e.width).join(" + ")}` : `the text encoder's width ${textWidth}`;
    throw new EaselError("model-invalid", `${what} do not match the UNet's ${unetWidth}: the folder mixes components of different models`);
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
  const turbo = isTurboSchedule(folder.schedulerConfig);
  const family = familyOf({ lcm: timestepCond !== undefined || schedulerClass === "LCMScheduler", xl, turbo, vPrediction: prediction === "v_prediction", textWidth });

  const latentH = dim(sample, 2);
  const latentW = dim(sample, 3);
  const fixedSize = latentH && latentW ? { width: latentW * vaeScaleFactor, height: latentH * vaeScaleFactor } : undefined;
  const sampleSize = unetSampleSize(folder);
  const configSide = sampleSize ? sampleSize * vaeScaleFactor : undefined;
  // SD 2.x and SDXL: the UNet's native size (768² for SD 2.x-v, 1024² for SDXL); SDXL-Turbo was
  // distilled at 512², whatever its UNet config says.
  const familySide =
    family === "sd2" ? (configSide ?? (prediction === "v_prediction" ? 768 : 512))
    : family === "sdxl" || (xl && family === "lcm") ? (configSide ?? 1024)
    : 512;
  const fewSteps = family === "turbo" || family === "sdxl-turbo";
  const defaults = {
    width: fixedSize?.width ?? familySide,
    height: fixedSize?.height ?? familySide,
    steps: fewSteps ? 1 : family === "lcm" ? 4 : 25,
    guidance: fewSteps ? 0 : family === "lcm" ? 8 : family === "sdxl" ? 5 : 7.5,
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
    textEncoders,
    addedConditioning: xlText?.added,
    forceZerosForEmptyPrompt: folder.forceZerosForEmptyPrompt,
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
