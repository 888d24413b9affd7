// Lockfile entries made again from the editor: generations, background removal and upscaling
// through the engine process and its queue (like every other), so ONNX Runtime stays out of the
// extension host. Models are never downloaded here: a missing one is an error that says how to get it.
import { readSettings } from "../config";
import { type PostRunners, recordedModelDir, recordedToolFile, Regenerator } from "../engine/assets/assetRecord";
import type { Assets } from "../engine/assets/lockfile";
import { EaselError } from "../engine/errors";
import { backgroundRemoverEntry, matteSpecOf } from "../engine/matte/remover";
import { UPSCALE_SCALES, type UpscaleScale } from "../engine/upscale/upscaleImage";
import type { EngineService } from "../engineService";
import { modelStore } from "../models/modelResolver";

/** A Regenerator for the workspace folder `root` (its lockfile's entries `assets`), running in the editor. */
export function editorRegenerator(engine: EngineService, root: string, assets: Assets, signal: AbortSignal): Regenerator {
  const settings = readSettings();
  const ctx = { workspace: root, store: modelStore(settings), download: false, signal };
  const runners: PostRunners = {
    async removeBackground(image, step) {
      const file = await recordedToolFile(step.model, "background remover", ctx);
      const spec = matteSpecOf(backgroundRemoverEntry(step.model.catalogId));
      return (await engine.removeBackground({ image, remover: { file, spec, name: step.model.catalogId ?? step.model.name }, matte: step.matte, format: step.format }, signal)).image;
    },
    async upscale(image, step) {
      if (!(UPSCALE_SCALES as readonly number[]).includes(step.scale)) throw new EaselError("bad-argument", `an upscale by ${step.scale} cannot be made again: Easel upscales ${UPSCALE_SCALES.join(" or ")} times`);
      const file = step.model ? await recordedToolFile(step.model, "upscaler", ctx) : undefined;
      const upscaler = file && step.model ? { file, name: step.model.catalogId ?? step.model.name } : undefined;
      return (await engine.upscale({ image, name: "the recorded source", scale: step.scale as UpscaleScale, upscaler }, { signal })).png;
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
    signal,
  });
}
