// Which Stable Diffusion a single-file checkpoint is, told from its keys (as diffusers'
// `infer_diffusers_model_type` does): the text encoders' prefixes separate SD 1.x (transformers'
// CLIP), SD 2.x (OpenCLIP) and SDXL (two encoders; the refiner has only OpenCLIP); the UNet's
// first convolution's input channels mark inpainting (9) and instruct-pix2pix (8) variants.
// Architectures Easel has no graphs for are refused by name.
import path from "node:path";
import { EaselError } from "../errors";
import type { SafetensorsFile, TensorEntry } from "../model/safetensors";
import { UNET_PREFIX, VAE_PREFIX } from "./ldmKeys";

export const IMPORT_ARCHITECTURES = ["sd1", "sd2", "sdxl"] as const;
export type ImportArchitecture = (typeof IMPORT_ARCHITECTURES)[number];
export const PREDICTIONS = ["v", "eps"] as const;
export type Prediction = (typeof PREDICTIONS)[number];

export const ARCHITECTURE_LABELS: Readonly<Record<ImportArchitecture, string>> = { sd1: "SD 1.x", sd2: "SD 2.x", sdxl: "SDXL" };

/** The text encoders' key prefixes, per architecture, and how each is named. */
export interface TextEncoderSource {
  readonly component: "text_encoder" | "text_encoder_2";
  readonly prefix: string;
  readonly format: "hf-clip" | "open-clip";
}

export interface DetectedCheckpoint {
  readonly architecture: ImportArchitecture;
  /** UNet input channels: 4, or 9 for an inpainting UNet. */
  readonly unetInChannels: number;
  readonly textEncoders: readonly TextEncoderSource[];
  readonly hasVae: boolean;
  /** From the file's metadata when it says; SD 1.x and SDXL base are epsilon models. */
  readonly prediction: Prediction | undefined;
}

const SD1_TE = "cond_stage_model.transformer.";
const SD2_TE = "cond_stage_model.model.";
const SDXL_TE1 = "conditioner.embedders.0.transformer.";
const SDXL_TE2 = "conditioner.embedders.1.model.";
const REFINER_TE = "conditioner.embedders.0.model.";

function refuse(file: string, what: string): EaselError {
  return new EaselError("model-unsupported", `${path.basename(file)} is ${what}, which Easel cannot import: it imports SD 1.x, SD 2.x and SDXL base checkpoints`);
}

function predictionFromMetadata(metadata: Readonly<Record<string, string>>): Prediction | undefined {
  const value = (metadata["modelspec.prediction_type"] ?? metadata.prediction_type ?? "").toLowerCase();
  if (value === "v" || value === "v_prediction" || value === "v-prediction") return "v";
  if (value === "epsilon" || value === "eps") return "eps";
  return undefined;
}

export function detectCheckpoint(file: SafetensorsFile): DetectedCheckpoint {
  const names = [...file.tensors.keys()];
  const has = (prefix: string) => names.some((n) => n.startsWith(prefix));
  const name = file.file;
  if (names.some((n) => /^(lora_(unet|te\d?)_|lora_te_)/.test(n) || /\.lora_(down|up|A|B)\.weight$/.test(n))) {
    throw new EaselError("bad-argument", `${path.basename(name)} is a LoRA, not a checkpoint: use it with --lora, not 'models import'`);
  }
  if (has(`${UNET_PREFIX}joint_blocks.`) || has("joint_blocks.")) throw refuse(name, "a Stable Diffusion 3 model");
  if (names.some((n) => /(^|\.)double_blocks\.\d+\./.test(n))) throw refuse(name, "a Flux model");
  if (!has(UNET_PREFIX)) {
    throw new EaselError("model-unsupported", `${path.basename(name)} has no UNet under ${UNET_PREFIX}: it is not a full SD 1.x/2.x/SDXL checkpoint (a UNet-only or diffusers file?), so Easel cannot import it`);
  }
  const conv = file.tensors.get(`${UNET_PREFIX}input_blocks.0.0.weight`);
  const inChannels = conv?.shape[1] ?? 4;
  if (inChannels === 8) throw refuse(name, "an instruct-pix2pix model");
  if (inChannels !== 4 && inChannels !== 9) throw refuse(name, `a model whose UNet takes ${inChannels} channels`);
  let architecture: ImportArchitecture;
  let textEncoders: TextEncoderSource[];
  if (has(SDXL_TE2)) {
    architecture = "sdxl";
    textEncoders = [
      { component: "text_encoder", prefix: SDXL_TE1, format: "hf-clip" },
      { component: "text_encoder_2", prefix: SDXL_TE2, format: "open-clip" },
    ];
  } else if (has(REFINER_TE)) {
    throw refuse(name, "an SDXL refiner");
  } else if (has(SD2_TE)) {
    architecture = "sd2";
    textEncoders = [{ component: "text_encoder", prefix: SD2_TE, format: "open-clip" }];
  } else if (has(SD1_TE)) {
    architecture = "sd1";
    textEncoders = [{ component: "text_encoder", prefix: SD1_TE, format: "hf-clip" }];
  } else {
    throw new EaselError("model-unsupported", `${path.basename(name)} has a UNet but no text encoder Easel knows (${SD1_TE}, ${SD2_TE} or conditioner.embedders.*): it is an unknown architecture, which Easel cannot import`);
  }
  const metadataPrediction = predictionFromMetadata(file.metadata);
  return {
    architecture,
    unetInChannels: inChannels,
    textEncoders,
    hasVae: has(VAE_PREFIX),
    prediction: metadataPrediction ?? (architecture === "sd2" ? undefined : "eps"),
  };
}

/** Every tensor of the file under `prefix`. */
export function entriesUnder(file: SafetensorsFile, prefix: string): TensorEntry[] {
  return [...file.tensors.values()].filter((e) => e.name.startsWith(prefix));
}
