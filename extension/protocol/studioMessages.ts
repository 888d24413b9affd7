// Messages between the Studio webview and the extension host, one union per direction: the Studio
// protocol's one contract module. Its lists are `as const` tuples, declared once here; the types
// are derived from them, studioMessageValidation.ts builds its checks from them, and the webview
// bundle imports them (data only: no engine or VS Code code). Everything here survives JSON: seeds
// are decimal strings (no bigint), images are URLs the host issued, never file paths.
import type { EaselErrorCode } from "../engine/errors";
// Data and pure functions only (imageSizes.ts imports nothing at run time), so the webview bundle may take it.
import { ASPECT_IDS, type ModelGeometry, SDXL_SIZE_IDS } from "../engine/model/imageSizes";
import type { ModelFamily } from "../engine/model/modelInfo";
import type { SchedulerChoice } from "../engine/schedulers/scheduler";
import type { PromptSyntax } from "../engine/text/a1111Prompt";
// Data only (types.ts imports nothing at run time), so the webview bundle may take it.
import { DECODERS } from "../engine/types";

export type { ModelFamily, PromptSyntax, SchedulerChoice };
// The sizes' contract is the engine's (every host sizes images the same way); the Studio protocol carries it.
export { ASPECT_IDS, SDXL_SIZE_FAMILIES, SDXL_SIZE_IDS, sdxlSize } from "../engine/model/imageSizes";
export type { AspectId, ModelGeometry, PresetId, SdxlSizeId, SizePreset } from "../engine/model/imageSizes";

/** "default": the model's own size; "custom": the form's width and height. */
export const SIZE_CHOICES = ["default", "custom", ...ASPECT_IDS, ...SDXL_SIZE_IDS] as const;
export type SizeChoice = (typeof SIZE_CHOICES)[number];

/** What the starting image is for: img2img (the whole image redrawn), inpainting (a painted mask), outpainting (extended sides). */
export const INIT_MODES = ["img2img", "inpaint", "outpaint"] as const;
export type InitMode = (typeof INIT_MODES)[number];
export const OUTPAINT_SIDE_NAMES = ["left", "right", "top", "bottom"] as const;
export type OutpaintSideName = (typeof OUTPAINT_SIDE_NAMES)[number];
/** Pixels to add on each side of the starting image (outpainting). */
export type OutpaintSides = Readonly<Record<OutpaintSideName, number>>;
/**
 * The largest mask PNG the webview may send, in bytes (before base64): a 2048² RGBA canvas of brush
 * strokes compresses far below this; anything larger is not a mask the page drew.
 */
export const MAX_MASK_PNG_BYTES = 16 * 1024 * 1024;
/** The largest starting image a restored form carries inline (a data: URL of the image stored in an inpainted PNG). */
export const MAX_STORED_THUMB_CHARS = 96 * 1024 * 1024;
export const SEED_MODES = ["random", "fixed"] as const;
export type SeedMode = (typeof SEED_MODES)[number];
/** The final decode: as the easel.fastDecode setting says, the full VAE, or a TAESD draft. */
export const DECODER_CHOICES = ["default", ...DECODERS] as const;
export type DecoderChoice = (typeof DECODER_CHOICES)[number];
/** "transparent": the background removed after generation (the catalog's background-removal model). */
export const BACKGROUND_CHOICES = ["opaque", "transparent"] as const;
export type BackgroundChoice = (typeof BACKGROUND_CHOICES)[number];
export const PROMPT_FIELDS = ["prompt", "negativePrompt"] as const;
export type PromptField = (typeof PROMPT_FIELDS)[number];

// ---- LoRAs and fast mode (issue 10) ---------------------------------------------------------
/**
 * "normal": the model's own sampler, steps and guidance; "fast": a step-distillation LoRA of the
 * model's family merged (LCM-LoRA, SDXL-Lightning, Hyper-SD: the form's `fastLora`, else the
 * easel.fastLora setting's, else the family's default), with its recipe (the engine's request.fast).
 */
export const QUALITY_CHOICES = ["normal", "fast"] as const;
export type QualityChoice = (typeof QUALITY_CHOICES)[number];
/** The most LoRAs one Studio generation stacks (A1111 has no limit; more is never a useful picture). */
export const MAX_STUDIO_LORAS = 16;
/** The slider's step (A1111's); the range is the engine's LoRA weight limit, sent in the "loras" message. */
export const LORA_WEIGHT_STEP = 0.05;
export const DEFAULT_LORA_WEIGHT = 1;

/** A LoRA chosen in the picker: its name in the LoRA folders and its weight. */
export interface StudioLora {
  readonly name: string;
  readonly weight: number;
}

/** A LoRA the picker offers. */
export interface LoraOption {
  readonly name: string;
  /** The base model its keys say it was trained for ("SD 1.x", "SD 2.x", "SDXL"); absent when they do not tell. */
  readonly base?: string;
  /** Why it cannot be used with the chosen model (its base is another); not selectable then. */
  readonly unfit?: string;
  /** Why it cannot be used at all (a pickle, a LyCORIS type Easel does not apply…). */
  readonly problem?: string;
}

/** One fast-mode LoRA the chosen model can use, with the recipe it runs. */
export interface FastChoice {
  /** Its catalog id (the form's `fastLora`, the easel.fastLora setting). */
  readonly id: string;
  /** The LoRA's catalog name ("LCM-LoRA for SD 1.5", "SDXL-Lightning 4-step LoRA") and licence name. */
  readonly lora: string;
  readonly license: string;
  readonly scheduler: string;
  /** The timestep spacing its card sets ("trailing"); absent: the model's own. */
  readonly timestepSpacing?: string;
  readonly steps: number;
  readonly guidance: number;
  /** False: the first fast generation offers to download it. */
  readonly downloaded: boolean;
}

/** What the "Fast" quality does with the chosen model. */
export type FastMode =
  | {
      readonly available: true;
      /** The family's fast-mode LoRAs, its default first. */
      readonly choices: readonly FastChoice[];
      /** The id Fast uses when the form names none: easel.fastLora's when it fits the family, else the default. */
      readonly chosen: string;
    }
  | {
      readonly available: false;
      /** Why not, and what works instead. */
      readonly reason: string;
    };
// ---------------------------------------------------------------------------------------------

/** A workspace image the host offered (picker, gallery); `id` is only meaningful to the host. */
export interface ImageRef {
  readonly id: string;
  readonly name: string;
  /** A webview URI (asWebviewUri) to show it; a data: URL when `stored`. */
  readonly thumb: string;
  /**
   * The starting image stored inside the Easel PNG `id` names (an inpainted or outpainted image's
   * original, see extension/assets/storedInputs.ts), not that PNG itself.
   */
  readonly stored?: boolean;
}

/** The form as the webview holds it; the host turns it into a generate request (formMapping.ts). */
export interface StudioForm {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly scheduler: SchedulerChoice;
  /** Absent: the model's (or the settings') default. */
  readonly steps?: number;
  readonly guidance?: number;
  readonly seedMode: SeedMode;
  /** Decimal digits; used when seedMode is "fixed". */
  readonly seed: string;
  readonly size: SizeChoice;
  /** Used when size is "custom". */
  readonly width?: number;
  readonly height?: number;
  readonly batch: number;
  readonly initImage?: ImageRef;
  /** img2img only: how far from the init image to go, (0, 1]. */
  readonly strength: number;
  readonly decoder: DecoderChoice;
  /** Seamless tiling (the image repeats without seams; previewed as a 2×2 repeat). */
  readonly tileable: boolean;
  /** Hires fix: the upscale factor (above 1, at most 4); absent: off. */
  readonly hiresScale?: number;
  /** The hires pass's denoising strength, (0, 1]. */
  readonly hiresStrength: number;
  /** The hires pass's steps; absent or 0: the first pass's (A1111's `Hires steps: 0`). See the hires block below. */
  readonly hiresSteps?: number;
  /** The upscaler between the passes, named as `Hires upscaler` records it; absent or AUTO_UPSCALER: the engine's choice. */
  readonly hiresUpscaler?: string;
  readonly background: BackgroundChoice;
  /** With a transparent background: hard edges, alpha cut at this threshold in (0, 1); absent or 0: soft edges. */
  readonly matte?: number;
  /** What the starting image is for (absent: img2img). */
  readonly initMode?: InitMode;
  /** Inpainting: the mask as a base64 PNG of the starting image's size, white repaints. */
  readonly mask?: string;
  /** Outpainting: pixels added on each side. */
  readonly outpaint?: OutpaintSides;
  // ---- LoRAs and fast mode (issue 10)
  /** LoRAs merged for this generation (the request's `loras`), beside the prompt's `<lora:…>` tags. */
  readonly loras?: readonly StudioLora[];
  /** Absent: normal. */
  readonly quality?: QualityChoice;
  /** With the Fast quality: the catalog id of the fast-mode LoRA to merge (one of FastMode's choices); absent or "": FastMode's `chosen`. */
  readonly fastLora?: string;
}

/** Fields to put into the form (restore from an image, "Open Studio with these settings"). */
export type FormPatch = Partial<StudioForm>;

export interface SchedulerOption {
  readonly value: SchedulerChoice;
  readonly label: string;
}

export interface ModelOption {
  /** What `easel.model` is set to when picked. */
  readonly spec: string;
  readonly label: string;
  readonly detail: string;
  readonly source: "catalog" | "local" | "configured";
  /** False for a catalog model that still has to be downloaded. */
  readonly downloaded: boolean;
  /** True when the catalog says it cannot run on the provider Easel uses on this machine. */
  readonly notForThisMachine?: boolean;
}

export interface StudioLimits {
  readonly maxSteps: number;
  readonly maxGuidance: number;
  readonly maxBatch: number;
  readonly minSide: number;
  readonly maxSide: number;
  /** The largest seed (2^64 - 1), as a decimal string. */
  readonly maxSeed: string;
}

/** An image in the workspace's output folder(s), described from its `parameters` metadata. */
export interface GalleryItem {
  readonly id: string;
  /** The resource URI (for drag and drop into an editor as text/uri-list). */
  readonly uri: string;
  readonly thumb: string;
  /** Workspace-relative path, for labels. */
  readonly name: string;
  /** Modification time (ms since the epoch), newest first. */
  readonly modified: number;
  /** Absent when the file has no generation parameters (e.g. webp/jpeg output). */
  readonly info?: GalleryInfo;
}

export interface GalleryInfo {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly seed?: string;
  readonly width?: number;
  readonly height?: number;
  readonly steps?: number;
  readonly sampler?: string;
  readonly guidance?: number;
  readonly model?: string;
  readonly strength?: number;
  /** `Tiling: True`: shown as a 2×2 repeat. */
  readonly tiling?: boolean;
  /** `Hires upscale`, with the hires pass's strength in `strength`. */
  readonly hiresScale?: number;
}

export const GALLERY_ACTIONS = ["open", "reveal", "insert", "copyLink", "variations", "restore", "delete", "useAsInit"] as const;
export type GalleryAction = (typeof GALLERY_ACTIONS)[number];

/** What the user can do about an error, shown as buttons beside it. */
export const ERROR_ACTION_IDS = ["chooseModel", "downloadModel", "providerSettings", "outputSettings", "pickInitImage", "retry", "showLog"] as const;
export type ErrorActionId = (typeof ERROR_ACTION_IDS)[number];

export interface StudioError {
  readonly code: EaselErrorCode;
  readonly message: string;
  readonly actions: readonly { readonly id: ErrorActionId; readonly label: string }[];
}

// ---------------------------------------------------------------------------------------------
// Hires fix: the upscalers the host offers for the pass between the two generations (the form's
// hiresUpscaler is one of their names, or AUTO_UPSCALER).

/** Lets the engine choose: the first catalog upscaler downloaded, else Lanczos (as the CLI does). */
export const AUTO_UPSCALER = "";
/** Plain Lanczos resampling, named as A1111's `Hires upscaler` records it. */
export const LANCZOS_UPSCALER = "Lanczos";
/** The longest upscaler name the form may carry (catalog names are far shorter). */
export const MAX_UPSCALER_NAME_CHARS = 200;

export interface UpscalerOption {
  /** What the form's hiresUpscaler is set to (a catalog upscaler's name, or LANCZOS_UPSCALER). */
  readonly name: string;
  readonly label: string;
}

/** The upscalers at hand: Lanczos and the catalog's super-resolution models that are downloaded. Sent on ready and when models change. */
export interface UpscalersMessage {
  readonly type: "upscalers";
  readonly upscalers: readonly UpscalerOption[];
}

// ---------------------------------------------------------------------------------------------
// Webview → host

export interface ReadyMessage {
  readonly type: "ready";
}
export interface GenerateRequestMessage {
  readonly type: "generate";
  readonly form: StudioForm;
}
export interface CancelMessage {
  readonly type: "cancel";
}
export interface CountTokensMessage {
  readonly type: "countTokens";
  readonly field: PromptField;
  readonly text: string;
  /** Echoed back, so a late answer for older text is ignored. */
  readonly seq: number;
}
export interface SelectModelMessage {
  readonly type: "selectModel";
  readonly spec: string;
}
export interface CancelDownloadMessage {
  readonly type: "cancelDownload";
}
export interface MoreModelsMessage {
  /** Easel: Choose Model (browse for a folder, a Hugging Face repository). */
  readonly type: "moreModels";
}
export interface PickInitImageMessage {
  readonly type: "pickInitImage";
}
export interface GalleryActionMessage {
  readonly type: "galleryAction";
  readonly action: GalleryAction;
  readonly id: string;
}
export interface ErrorActionMessage {
  readonly type: "errorAction";
  readonly action: ErrorActionId;
}
export interface RefreshGalleryMessage {
  readonly type: "refreshGallery";
}
/** Read the LoRA folders again (the Refresh button, the panel shown again). */
export interface RefreshLorasMessage {
  readonly type: "refreshLoras";
}

export type WebviewMessage =
  | ReadyMessage
  | GenerateRequestMessage
  | CancelMessage
  | CountTokensMessage
  | SelectModelMessage
  | CancelDownloadMessage
  | MoreModelsMessage
  | PickInitImageMessage
  | GalleryActionMessage
  | ErrorActionMessage
  | RefreshGalleryMessage
  | RefreshLorasMessage;

// ---------------------------------------------------------------------------------------------
// Host → webview

export interface InitMessage {
  readonly type: "init";
  readonly schedulers: readonly SchedulerOption[];
  readonly limits: StudioLimits;
  readonly previews: boolean;
}
export interface ModelsMessage {
  readonly type: "models";
  readonly models: readonly ModelOption[];
  /** The configured `easel.model` ("" when none). */
  readonly current: string;
  readonly geometry: ModelGeometry;
  /** The model's defaults, for placeholders. */
  readonly defaults: { readonly steps?: number; readonly guidance?: number };
}
export interface TokenCountMessage {
  readonly type: "tokenCount";
  readonly field: PromptField;
  readonly seq: number;
  /** Absent when no tokenizer is at hand (no model downloaded yet). */
  readonly count?: number;
  /** Tokens the text encoder sees in one chunk (75 for CLIP). */
  readonly max: number;
  readonly truncated: boolean;
  /** 75-token chunks the prompt takes in AUTOMATIC1111's syntax (1 in the plain syntax). */
  readonly chunks?: number;
  /** Tokens in the last chunk, the one being typed into (A1111's counter); the count itself in the plain syntax. */
  readonly chunkCount?: number;
  /** How the prompt is read: chunks in a1111 (nothing cut), a cut after `max` tokens in plain. */
  readonly syntax?: PromptSyntax;
}
export interface DownloadProgressMessage {
  readonly type: "download";
  readonly spec: string;
  readonly state: "running" | "done" | "failed" | "cancelled";
  /** 0..1 when known. */
  readonly fraction?: number;
  readonly line: string;
}
export interface GenerationStartedMessage {
  readonly type: "started";
}
export interface LoadProgressMessage {
  readonly type: "loading";
  readonly component: string;
  readonly index: number;
  readonly total: number;
}
export interface StepProgressMessage {
  readonly type: "progress";
  readonly image: number;
  readonly images: number;
  readonly step: number;
  readonly steps: number;
  readonly itPerSec: number;
}
export interface PreviewMessage {
  readonly type: "preview";
  readonly image: number;
  readonly step: number;
  /** data: URL of a small PNG. */
  readonly src: string;
  readonly width: number;
  readonly height: number;
}
export interface GenerationDoneMessage {
  readonly type: "done";
  readonly images: readonly GalleryItem[];
  /** The seeds used, as decimal strings; the first is what "reuse last" puts back. */
  readonly seeds: readonly string[];
  readonly seconds: number;
}
export interface GenerationFailedMessage {
  readonly type: "failed";
  readonly error: StudioError;
}
export interface GenerationCancelledMessage {
  readonly type: "cancelled";
}
export interface GalleryMessage {
  readonly type: "gallery";
  readonly items: readonly GalleryItem[];
  /** Workspace-relative folders that were read, for the empty state. */
  readonly folders: readonly string[];
}
export interface RestoreFormMessage {
  readonly type: "restoreForm";
  readonly form: FormPatch;
  /** What the settings came from, for a short notice. */
  readonly source: string;
}
export interface InitImageMessage {
  readonly type: "initImage";
  readonly image?: ImageRef;
  /** Easel: Inpaint Image… / Extend Image…: the mask editor or the outpaint control shown with it. */
  readonly mode?: InitMode;
  /** A stored mask to put on the editor (base64 PNG), from a restored inpainted image. */
  readonly mask?: string;
}
export interface NoticeMessage {
  readonly type: "notice";
  readonly kind: "info" | "warning";
  readonly text: string;
}

/** The LoRA picker's choices for the chosen model, `<lora:` completion, and what "Fast" will use. */
export interface LorasMessage {
  readonly type: "loras";
  readonly loras: readonly LoraOption[];
  /** The chosen model's base as LoRAs name it; absent when its folder does not tell (then nothing is marked). */
  readonly modelBase?: string;
  /** The folders read (easel.loraFolders, then the model store's loras/), for the empty state. */
  readonly folders: readonly string[];
  /** Weights go from -limit to limit (the engine's rule). */
  readonly weightLimit: number;
  /** `<lora:NAME:W>` in a prompt is read only in AUTOMATIC1111's syntax (easel.promptSyntax). */
  readonly promptSyntax: PromptSyntax;
  readonly fast: FastMode;
}

/** An image saved elsewhere (a texture from the palette) shown in the preview, 2×2 when it tiles. */
export interface ShowResultMessage {
  readonly type: "showResult";
  readonly image: GalleryItem;
}

export type HostMessage =
  | LorasMessage
  | UpscalersMessage
  | ShowResultMessage
  | InitMessage
  | ModelsMessage
  | TokenCountMessage
  | DownloadProgressMessage
  | GenerationStartedMessage
  | LoadProgressMessage
  | StepProgressMessage
  | PreviewMessage
  | GenerationDoneMessage
  | GenerationFailedMessage
  | GenerationCancelledMessage
  | GalleryMessage
  | RestoreFormMessage
  | InitImageMessage
  | NoticeMessage;
