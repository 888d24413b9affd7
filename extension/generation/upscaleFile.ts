// The logic of "Easel: Upscale Image…" without VS Code: which upscaler (a catalog super-resolution
// model in the store, else Lanczos), the engine process's upscale request (it runs ONNX Runtime, as
// generation and background removal do; tiled, so a large image stays in bounded memory there), and
// the new file's name beside the image. The engine, the reader and the folder listing are injected.
import { isImageFile, IMAGE_KINDS } from "../assets/imageFiles";
import { upscaledName } from "../assets/naming";
import { EaselError } from "../engine/errors";
import type { UpscaledEvent, UpscaleProgressEvent } from "../engine/host/engineEvents";
import type { UpscaleMessage } from "../engine/host/engineRequests";
import type { ModelStore } from "../engine/hub/store";
import type { UpscaleScale } from "../engine/upscale/upscaleImage";
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
  const done = await deps.engine.upscale({ image, name, scale, upscaler }, { signal: options.signal, onUpscaleProgress: options.onProgress });
  return { name: upscaledName(name, scale, await deps.taken()), png: done.png, width: done.width, height: done.height, upscaler: done.upscaler };
}
