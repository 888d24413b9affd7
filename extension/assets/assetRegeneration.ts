// Lockfile entries made again from the editor: generations, background removal and upscaling
// through the engine process and its queue (like every other), so ONNX Runtime stays out of the
// extension host. Models are never downloaded here: a missing one is an error that says how to get it.
import { readSettings } from "../config";
import { loraPlaces, type PostRunners, recordedModelDir, recordedToolFile, Regenerator } from "../engine/assets/assetRecord";
import type { Assets } from "../engine/assets/lockfile";
import { backgroundRemoverEntry, matteSpecOf } from "../engine/matte/remover";
import type { EngineService } from "../engineService";
import { remakeUpscale } from "../generation/upscaleFile";
import { modelStore } from "../models/modelResolver";

/** A Regenerator for the workspace folder `root` (its lockfile's entries `assets`), running in the editor. */
export function editorRegenerator(engine: EngineService, root: string, assets: Assets, signal: AbortSignal): Regenerator {
  const settings = readSettings();
  // The LoRA folders the engine process searches (easel.loraFolders, then the store's loras/).
  const ctx = { workspace: root, store: modelStore(settings), download: false, loraFolders: settings.loraFolders, signal };
  const runners: PostRunners = {
    async removeBackground(image, step) {
      const file = await recordedToolFile(step.model, "background remover", ctx);
      const spec = matteSpecOf(backgroundRemoverEntry(step.model.catalogId));
      return (await engine.removeBackground({ image, remover: { file, spec, name: step.model.catalogId ?? step.model.name }, matte: step.matte, format: step.format }, signal)).image;
    },
    async upscale(image, step) {
      return remakeUpscale(engine, image, step, step.model ? await recordedToolFile(step.model, "upscaler", ctx) : undefined, signal);
    },
  };
  return new Regenerator({
    workspace: root,
    assets,
    async generate(model, request, genSignal) {
      const dir = await recordedModelDir(model, ctx);
      return (await engine.generate(dir, request, { signal: genSignal })).images[0].png;
    },
    runners,
    loras: loraPlaces(ctx),
    signal,
  });
}
