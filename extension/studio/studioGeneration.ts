// One Studio generation: the validated form becomes a request, generateAndSave runs it (so files
// land through a WorkspaceEdit like everywhere else), and progress, previews and the outcome are
// reported as Studio messages.
import type { EngineService } from "../engineService";
import { generateAndSave, type GenerationOutcome } from "../generation/generateAndSave";
import type { HostMessage, ModelGeometry, StudioForm } from "../protocol/studioMessages";
import { formToRequest } from "./formMapping";
import { readStartingImage, startingImageOrigin } from "./initImage";

export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString("base64")}`;
}

export async function runStudioGeneration(
  engine: EngineService,
  form: StudioForm,
  geometry: ModelGeometry,
  signal: AbortSignal,
  post: (message: HostMessage) => void,
): Promise<GenerationOutcome> {
  const initImage = form.initImage ? await readStartingImage(form.initImage) : undefined;
  const request = formToRequest(form, geometry, initImage);
  post({ type: "started" });
  // The starting image is named in the lockfile entry by its place; a painted mask has none and is kept in the entry.
  const inputs = form.initImage ? { initImage: startingImageOrigin(form.initImage) } : undefined;
  const transparent = form.background === "transparent";
  return generateAndSave(engine, { request, transparent, ...(transparent && form.matte ? { matte: form.matte } : {}), inputs }, {
    signal,
    onLoadProgress: (e) => post({ type: "loading", component: e.component, index: e.index, total: e.total }),
    onProgress: (e) => post({ type: "progress", image: e.image, images: e.images, step: e.step, steps: e.steps, itPerSec: e.itPerSec }),
    onPreview: (e) => post({ type: "preview", image: e.image, step: e.step, src: pngDataUrl(e.png), width: e.width, height: e.height }),
  });
}
