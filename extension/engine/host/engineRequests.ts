// Messages from the extension host (EngineClient) to the engine process. Type-only: the
// validator beside it (engineMessageValidation.ts) checks every one on arrival.
import type { MatteSpec, TransparentFormat } from "../matte/backgroundRemoval";
import type { ProviderChoice } from "../onnx/providers";
import type { GenerateRequest } from "../types";
import type { UpscaleScale } from "../upscale/upscaleImage";

/** Settings that shape how the engine process holds models; sent with every load/generate. */
export interface EngineSettings {
  readonly provider: ProviderChoice;
  /** Send a preview image after every step. */
  readonly previews: boolean;
  /** A TAESD decoder (ONNX file) for previews and, with fastDecode, for the final image. */
  readonly taesdDecoder?: string;
  /** Decode with TAESD when a request names no decoder (`WireGenerateRequest.decoder`) and one is loaded. */
  readonly fastDecode: boolean;
  /** The model store (root folder) whose TAESD decoder for the model's family is used when none is configured. */
  readonly modelStore?: string;
  /** Folders searched for LoRAs named in prompts and requests (easel.loraFolders), before the store's loras/. */
  readonly loraFolders?: readonly string[];
  /** Keep only the component in use loaded (for 8 GB machines). */
  readonly lowMemory: boolean;
  /** Unload the model after this long without a request; 0 keeps it loaded. */
  readonly idleUnloadMs: number;
}

/** The engine's own request type: plain data, so it crosses the process boundary as it is. */
export type WireGenerateRequest = GenerateRequest;

export interface LoadRequest {
  readonly type: "load";
  readonly id: number;
  readonly modelDir: string;
  readonly settings: EngineSettings;
}

export interface UnloadRequest {
  readonly type: "unload";
  readonly id: number;
}

export interface GenerateMessage {
  readonly type: "generate";
  readonly id: number;
  readonly modelDir: string;
  readonly settings: EngineSettings;
  readonly request: WireGenerateRequest;
}

export interface CancelRequest {
  readonly type: "cancel";
  /** The id of the generate request to stop. */
  readonly id: number;
}

export interface DisposeRequest {
  readonly type: "dispose";
}

/** Which provider `choice` gives on this machine (answered at once, beside any running generation). */
export interface ProvidersRequest {
  readonly type: "providers";
  readonly id: number;
  readonly choice: ProviderChoice;
}

/** Makes an image's background transparent (answered with a CutoutEvent); queued like a generation. */
export interface RemoveBackgroundMessage {
  readonly type: "removeBackground";
  readonly id: number;
  readonly settings: EngineSettings;
  /** The encoded image (PNG, WebP or JPEG). */
  readonly image: Uint8Array;
  /** The background-removal graph and its reference preprocessing (from the catalog). */
  readonly remover: { readonly file: string; readonly spec: MatteSpec; /** Recorded in the PNG's parameters (`Background removal`): the catalog id or the file's stem. */ readonly name?: string };
  /** Hard edges: alpha cut at this threshold in (0, 1). */
  readonly matte?: number;
  readonly format: TransparentFormat;
}

/**
 * Enlarges an image 2x or 4x ("Easel: Upscale Image…"): answered with upscaleProgress events, then an
 * UpscaledEvent; queued like a generation and stopped by a CancelRequest with its id.
 */
export interface UpscaleMessage {
  readonly type: "upscale";
  readonly id: number;
  readonly settings: EngineSettings;
  /** The encoded image (PNG, WebP or JPEG). */
  readonly image: Uint8Array;
  /** The image's file name, for the one-line error about it. */
  readonly name: string;
  readonly scale: UpscaleScale;
  /** The super-resolution graph and the name the result reports; absent: Lanczos. */
  readonly upscaler?: { readonly file: string; readonly name: string };
  /** Tile size and overlap of the super-resolution pass (absent: the defaults), as `easel upscale --tile/--overlap`. */
  readonly tile?: number;
  readonly overlap?: number;
  /** Wrapped around or not; absent: as the image's parameters say (a tileable image is). A recorded upscale says which. */
  readonly wrap?: boolean;
}

export type EngineRequest = LoadRequest | UnloadRequest | GenerateMessage | CancelRequest | DisposeRequest | ProvidersRequest | RemoveBackgroundMessage | UpscaleMessage;
