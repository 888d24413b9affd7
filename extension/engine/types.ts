// The engine's public data: plain values only, so the same shapes cross the engine-process
// boundary unchanged (bigint seeds travel as decimal strings there).
import type { PreviewFrame } from "./image/preview";
import type { SessionComponent, SessionVariant } from "./onnx/componentSessions";
import type { ProviderDeps } from "./onnx/providerChoice";
import type { SessionOpener } from "./onnx/session";
import type { ProviderChoice, ProviderName } from "./onnx/providers";
import type { OutpaintRequest } from "./pipeline/outpaint";
import type { Stage } from "./pipeline/stageClock";
import type { TimestepSpacing } from "./schedulers/betas";
import type { SchedulerName } from "./schedulers/scheduler";
import type { PromptSyntax } from "./text/a1111Prompt";

export interface GenerateRequest {
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly scheduler?: SchedulerName | "default";
  /**
   * How the sampler spaces its timesteps over the training schedule (diffusers' `timestep_spacing`,
   * set as `Scheduler.from_config(config, timestep_spacing=...)` does); absent: the model's
   * scheduler_config.json. Recorded as `Timestep spacing`, so a recall spaces them the same way.
   */
  readonly timestepSpacing?: TimestepSpacing;
  readonly steps?: number;
  readonly guidance?: number;
  /** 0..2^64-1; a random one when absent. Image i of a batch uses seed + i. */
  readonly seed?: bigint;
  readonly width?: number;
  readonly height?: number;
  readonly batch?: number;
  /** img2img: the encoded init image (PNG, JPEG, WebP…), resized to the output size when it differs. */
  readonly initImage?: Uint8Array;
  /** img2img / inpainting strength in (0, 1]; default 0.8, or 1 when inpainting (diffusers' defaults). */
  readonly strength?: number;
  /**
   * The final decode: "vae" (default) or "taesd", a draft through the TAESD decoder for the model's
   * family (an error when there is none). Recorded in the PNG, so a recall decodes the same way.
   */
  readonly decoder?: Decoder;
  /**
   * Inpainting: the mask image (encoded), the output's size; white repaints, black keeps (read as
   * grey, binarised at 50%). Needs `initImage`.
   */
  readonly mask?: Uint8Array;
  /** Outpainting: `initImage` extended on these sides, then inpainted; the output size follows (no width/height). */
  readonly outpaint?: OutpaintRequest;
  /** How the prompts are read: `plain` (diffusers' truncation, the default) or `a1111` (weights, BREAK, 75-token chunks). */
  readonly promptSyntax?: PromptSyntax;
  /**
   * LoRAs merged into the model for this request, beside any `<lora:NAME:W>` tags of an a1111-syntax
   * prompt. `name`: a .safetensors file, or a name looked up in the LoRA folders.
   */
  readonly loras?: readonly LoraRequest[];
  /**
   * Fast mode: a step-distillation LoRA from the catalog merged (`fastLora`, else the family's
   * default, LCM-LoRA), with its sampler and timestep spacing (unless a sampler is named), steps and
   * guidance (unless given). Recorded as a LoRA under its catalog id, with the sampler, spacing,
   * steps and guidance that ran.
   */
  readonly fast?: boolean;
  /** With `fast`: the catalog id of the fast-mode LoRA to merge (one made for the model's family); absent: the family's default. */
  readonly fastLora?: string;
  /**
   * Seamless tiling: every 2-D convolution of the UNet and VAE pads circularly (A1111's "Tiling"),
   * so the image wraps around left-right and top-bottom. Recorded as `Tiling: True`.
   */
  readonly tileable?: boolean;
  /** Hires fix: generate at the request's size, upscale, then img2img at the larger size (A1111's hires fix). */
  readonly hires?: HiresRequest;
}

/** A1111's hires fix: the second pass's scale, denoising strength, steps and upscaler. */
export interface HiresRequest {
  /** Factor from the base size to the target size (e.g. 2); the target is rounded to the model's granularity. */
  readonly scale: number;
  /** The img2img pass's denoising strength in (0, 1]. */
  readonly strength: number;
  /** The second pass's steps; absent: the first pass's (A1111's `Hires steps: 0`). */
  readonly steps?: number;
  /**
   * `lanczos`, a catalog upscaler's id or name (what the PNG records) from the model store, or a
   * super-resolution .onnx file; absent: the first catalog upscaler downloaded, else Lanczos.
   */
  readonly upscaler?: string;
}

/** One LoRA and its weight (-10..10; negative weights subtract it). */
export interface LoraRequest {
  readonly name: string;
  readonly weight: number;
}

/** A LoRA a generation applied, as recorded in the image (`Lora hashes`). */
export interface AppliedLora {
  /** As the prompt tag or the request named it (for a file, its stem). */
  readonly name: string;
  readonly file: string;
  readonly unetWeight: number;
  readonly textWeight: number;
  /** A1111's hash: sha256 of the data after the safetensors header (the infotext keeps 12 hex digits). */
  readonly hash: string;
  /** From the prompt's tags (else from the request's `loras`). */
  readonly fromPrompt: boolean;
}

/** The final decode a request may name: the full VAE, or a TAESD draft. */
export const DECODERS = ["vae", "taesd"] as const;
export type Decoder = (typeof DECODERS)[number];

/** A request with every default filled in and every value checked against the model. */
export interface ResolvedRequest {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly scheduler: SchedulerName | "default";
  /** The request's timestep spacing; undefined: the model's scheduler_config.json. */
  readonly timestepSpacing: TimestepSpacing | undefined;
  readonly steps: number;
  readonly guidance: number;
  readonly seed: bigint;
  readonly width: number;
  readonly height: number;
  readonly batch: number;
  readonly initImage: Uint8Array | undefined;
  readonly strength: number | undefined;
  /** The decoder that made the image: the request's, else TAESD when fast decode is on and one is loaded. */
  readonly decoder: Decoder;
  readonly mask: Uint8Array | undefined;
  readonly outpaint: OutpaintRequest | undefined;
  readonly promptSyntax: PromptSyntax;
  readonly tileable: boolean;
  readonly hires: HiresRequest | undefined;
}

export interface GeneratedImage {
  /** PNG bytes with the A1111 `parameters` chunk. */
  readonly png: Buffer;
  readonly seed: bigint;
  readonly width: number;
  readonly height: number;
  readonly infotext: string;
}

export interface GenerateResult {
  readonly images: readonly GeneratedImage[];
  readonly request: ResolvedRequest;
  /** The sampler that actually ran (resolved from `default`). */
  readonly sampler: SchedulerName;
  readonly provider: ProviderName;
  /** The graph that decoded the images, relative to the model folder (vae_decoder/model.fp32.onnx when force_upcast picked the fp32 variant), or "taesd". */
  readonly vaeDecoder: string;
  readonly seconds: number;
  /** The LoRAs merged into the model for these images. */
  readonly loras: readonly AppliedLora[];
  /** Things worth a line that did not stop the generation (a LoRA that matched the model only in part). */
  readonly warnings: readonly string[];
  /** Milliseconds per stage summed over the batch, and each UNet evaluation. */
  readonly timings: { readonly stages: Readonly<Record<Stage, number>>; readonly unetRuns: readonly number[] };
}

export interface StepProgress {
  /** 0-based index of the image in the batch. */
  readonly image: number;
  readonly images: number;
  /** 1-based step just finished, of `steps` denoising steps actually run. */
  readonly step: number;
  readonly steps: number;
  readonly elapsedMs: number;
}

export interface GenerateOptions {
  readonly signal?: AbortSignal;
  readonly onStep?: (progress: StepProgress) => void;
  /** A small picture of each image after every step (latent → RGB approximation, 1/8 size). */
  readonly onPreview?: (frame: PreviewFrame) => void;
  /** Decode with TAESD when the request names no decoder and one is loaded (the `easel.fastDecode` setting). */
  readonly fastDecode?: boolean;
}

export interface EngineOptions {
  readonly provider?: ProviderChoice;
  /** Keep only the component in use loaded. */
  readonly lowMemory?: boolean;
  /** A TAESD decoder ONNX file; else the model folder's taesd_decoder/model.onnx; else the store's (below). */
  readonly taesdDecoder?: string;
  /** A model store (its root folder) whose TAESD decoder for the model's family serves previews and drafts, and whose loras/ folder holds LoRAs. */
  readonly modelStore?: string;
  /** Folders searched for LoRAs named in prompts (`<lora:NAME:W>`) and requests, before the store's. */
  readonly loraFolders?: readonly string[];
  readonly onProgress?: (component: SessionComponent, index: number, total: number) => void;
  readonly onSessionCreated?: (component: SessionComponent, variant: SessionVariant) => void;
  /** Bytes of memory free now, which decides whether the plain and tiled sessions are both kept (os.freemem; the bench passes its own). */
  readonly freeMemory?: () => number;
  /** One line for each provider fallback a user should know of ("WebGPU failed at its first run …"). */
  readonly onNotice?: (line: string) => void;
  /** Platform, probes, adapter identity and the provider memory; the real ones where not given (tests inject). */
  readonly providerDeps?: Partial<ProviderDeps>;
  /** Creates the ONNX Runtime sessions (tests wrap real ones to inject GPU faults). */
  readonly openSession?: SessionOpener;
}
