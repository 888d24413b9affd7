// Messages from the engine process to the extension host. Type-only; validated on arrival by
// engineMessageValidation.ts, since a crashing or mismatched engine can send anything.
import type { EaselErrorCode } from "../errors";
import type { ModelFamily } from "../model/modelInfo";
import type { ProviderName } from "../onnx/providers";
import type { Stage } from "../pipeline/stageClock";
import type { SchedulerName } from "../schedulers/scheduler";
import type { AppliedLora } from "../types";

export interface ReadyEvent {
  readonly type: "ready";
  readonly pid: number;
}

export interface LoadProgressEvent {
  readonly type: "loadProgress";
  readonly id: number;
  /** The component being loaded (text_encoder, unet, vae_decoder, …). */
  readonly component: string;
  readonly index: number;
  readonly total: number;
}

export interface LoadedEvent {
  readonly type: "loaded";
  readonly id: number;
  readonly model: string;
  readonly family: ModelFamily;
  readonly provider: ProviderName;
  readonly seconds: number;
}

export interface UnloadedEvent {
  readonly type: "unloaded";
  readonly id: number;
}

export interface ProgressEvent {
  readonly type: "progress";
  readonly id: number;
  readonly image: number;
  readonly images: number;
  readonly step: number;
  readonly steps: number;
  readonly itPerSec: number;
}

export interface PreviewEvent {
  readonly type: "preview";
  readonly id: number;
  readonly image: number;
  readonly step: number;
  /** A small PNG of what the image looks like at this step. */
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface WireImage {
  /** PNG bytes with the `parameters` chunk; whoever asked writes the file. */
  readonly png: Uint8Array;
  readonly seed: bigint;
  readonly width: number;
  readonly height: number;
  readonly infotext: string;
}

export interface ResultEvent {
  readonly type: "result";
  readonly id: number;
  readonly images: readonly WireImage[];
  readonly sampler: SchedulerName;
  readonly provider: ProviderName;
  readonly seconds: number;
  readonly stages: Readonly<Record<Stage, number>>;
  readonly peakRssBytes: number;
  /** ONNX sessions the engine process has created so far (warm reuse adds none). */
  readonly sessionsCreated: number;
  /** What did not stop the generation but the user should hear (a LoRA that matched the model only in part). */
  readonly warnings: readonly string[];
  /** The LoRAs merged into the model for these images (with their whole A1111 hashes, for the asset lockfile). */
  readonly loras: readonly AppliedLora[];
}

export interface ErrorEvent {
  readonly type: "error";
  /** The request that failed; absent for a message that could not be read at all. */
  readonly id?: number;
  readonly code: EaselErrorCode;
  readonly message: string;
  readonly retryable: boolean;
}

export interface ProvidersEvent {
  readonly type: "providers";
  readonly id: number;
  /** The provider generations run on. */
  readonly provider: ProviderName;
  /** Providers `auto` tried first and why each is not usable here. */
  readonly skipped: readonly { readonly provider: ProviderName; readonly reason: string }[];
}

/** The answer to a removeBackground request: the transparent PNG or WebP. */
export interface CutoutEvent {
  readonly type: "cutout";
  readonly id: number;
  readonly image: Uint8Array;
  readonly seconds: number;
}

/** Where an upscale is: super-resolution pass `pass` of `passes`, tile `tile` of `tiles` (no events for Lanczos alone). */
export interface UpscaleProgressEvent {
  readonly type: "upscaleProgress";
  readonly id: number;
  readonly pass: number;
  readonly passes: number;
  readonly tile: number;
  readonly tiles: number;
}

/** The answer to an upscale request: the PNG (with the original's parameters), its size and what upscaled it. */
export interface UpscaledEvent {
  readonly type: "upscaled";
  readonly id: number;
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** The super-resolution model's name, or "Lanczos". */
  readonly upscaler: string;
  readonly seconds: number;
}

/** One line a user should know of, said while a request runs ("WebGPU failed at its first run …: falling back to the CPU"). */
export interface NoticeEvent {
  readonly type: "notice";
  readonly id: number;
  readonly message: string;
}

export type EngineEvent = UpscaleProgressEvent | UpscaledEvent | CutoutEvent | NoticeEvent | ReadyEvent | LoadProgressEvent | LoadedEvent | UnloadedEvent | ProgressEvent | PreviewEvent | ResultEvent | ErrorEvent | ProvidersEvent;
