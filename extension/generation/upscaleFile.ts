// The logic of "Easel: Upscale Image…" without VS Code: which upscaler (a catalog super-resolution
// model in the store, else Lanczos), the engine process's upscale request (it runs ONNX Runtime, as
// generation and background removal do; tiled, so a large image stays in bounded memory there), and
// the new file's name beside the image. The engine, the reader and the folder listing are injected.
import { isImageFile, IMAGE_KINDS } from "../assets/imageFiles";
import { upscaledName } from "../assets/naming";
import { EaselError } from "../engine/errors";
import { upscaleStep } from "../engine/assets/assetRecord";
import type { UpscaleStep } from "../engine/assets/lockfile";
import type { UpscaledEvent, UpscaleProgressEvent } from "../engine/host/engineEvents";
import type { UpscaleMessage } from "../engine/host/engineRequests";
import type { ModelStore } from "../engine/hub/store";
import { UPSCALE_SCALES, type UpscaleScale, upscaleWraps } from "../engine/upscale/upscaleImage";
import { resolveUpscaler } from "../engine/upscale/upscalers";

export interface UpscaleEngine {
  upscale(
    request: Omit<UpscaleMessage, "type" | "id" | "settings">,
    handlers: { readonly signal?: AbortSignal; readonly onUpscaleProgress?: (event: UpscaleProgressEvent) => void },
  ): Promise<UpscaledEvent>;
}

export interface UpscaleDeps {
  readonly engine: UpscaleEngine;
  readonly store: ModelStore;
  /** The image's bytes (read only once its name is known to be an image's). */
  readonly read: () => Promise<Uint8Array>;
  /** The names in the image's folder, so the new file never replaces one. */
  readonly taken: () => Promise<ReadonlySet<string>>;
}

export interface UpscaledFile {
  /** The new file's name, beside the image: `<stem>-x<scale>.png`. */
  readonly name: string;
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly upscaler: string;
  /** The image as read, the source its lockfile entry names. */
  readonly source: Uint8Array;
  /** Its lockfile step for the workspace folder `root` (the one `easel upscale --record` writes). */
  readonly step: (root: string) => Promise<UpscaleStep>;
}

/** "tile 3 of 12" (with the pass when the model runs more than once). */
export function upscaleProgressLine(p: Pick<UpscaleProgressEvent, "pass" | "passes" | "tile" | "tiles">): string {
  return `tile ${p.tile} of ${p.tiles}${p.passes > 1 ? `, pass ${p.pass} of ${p.passes}` : ""}`;
}

/** `name` (an image) enlarged `scale` times in the engine process; a bad file is the engine's one line. Writes nothing. */
export async function upscaleFile(
  name: string,
  scale: UpscaleScale,
  deps: UpscaleDeps,
  options: { readonly signal?: AbortSignal; readonly onProgress?: (event: UpscaleProgressEvent) => void } = {},
): Promise<UpscaledFile> {
  if (!isImageFile(name)) throw new EaselError("image-invalid", `${name} is not an image Easel reads: choose a ${IMAGE_KINDS} file`);
  const image = await deps.read();
  const upscaler = await resolveUpscaler(undefined, deps.store, scale);
  // Wrapped around when the image is tileable: said in the request and in the record alike.
  const wrap = upscaleWraps(image);
  const done = await deps.engine.upscale({ image, name, scale, upscaler, wrap }, { signal: options.signal, onUpscaleProgress: options.onProgress });
  return {
    name: upscaledName(name, scale, await deps.taken()),
    png: done.png,
    width: done.width,
    height: done.height,
    upscaler: done.upscaler,
    source: image,
    step: (root) => upscaleStep(scale, upscaler, root, { wrap }),
  };
}

/**
 * A recorded upscale step made again in the engine process (Regenerate Asset, Check Workspace
 * Assets): the same request as Upscale Image, tiled and wrapped as recorded, so it runs the one
 * upscaleToPng that `easel upscale` runs. `upscaler` is the recorded model's file (undefined: Lanczos).
 */
export async function remakeUpscale(engine: UpscaleEngine, image: Uint8Array, step: UpscaleStep, upscaler: string | undefined, signal?: AbortSignal): Promise<Uint8Array> {
  if (!(UPSCALE_SCALES as readonly number[]).includes(step.scale)) throw new EaselError("bad-argument", `an upscale by ${step.scale} cannot be made again: Easel upscales ${UPSCALE_SCALES.join(" or ")} times`);
  const model = upscaler !== undefined && step.model ? { file: upscaler, name: step.model.catalogId ?? step.model.name } : undefined;
  const request = { image, name: "the recorded source", scale: step.scale as UpscaleScale, upscaler: model, tile: step.tile, overlap: step.overlap, wrap: step.wrap === true };
  return (await engine.upscale(request, { signal })).png;
}
