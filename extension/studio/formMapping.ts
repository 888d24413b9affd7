// The Studio's form and the engine's request, both ways: the form (already validated) becomes a
// WireGenerateRequest, and a stored generation (an image's parameters) becomes form fields.
// Empty fields stay undefined, so generateAndSave fills them from the settings, then the model.
import type { StoredGeneration } from "../generation/requestFromInfotext";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import type { HiresRequest } from "../engine/types";
import { AUTO_UPSCALER, type FormPatch, type ModelGeometry, type StudioForm } from "../protocol/studioMessages";
import { choiceForSize, sizeFor } from "./sizePresets";
import { findCatalogLora } from "../engine/hub/catalog";

export function formToRequest(form: StudioForm, geometry: ModelGeometry, initImage?: Uint8Array): WireGenerateRequest {
  const mode = initImage ? (form.initMode ?? "img2img") : "img2img";
  // A mask is drawn on the starting image and outpainting adds to its sides: both take their size
  // from the image (the engine's rule), so the size picker does not apply.
  const size = mode === "img2img" ? sizeFor(form.size, form, geometry) : {};
  const mask = mode === "inpaint" && form.mask !== undefined ? Uint8Array.from(Buffer.from(form.mask, "base64")) : undefined;
  const outpaint = mode === "outpaint" ? form.outpaint : undefined;
  return {
    prompt: form.prompt,
    negativePrompt: form.negativePrompt.trim() === "" ? undefined : form.negativePrompt,
    scheduler: form.scheduler === "default" ? undefined : form.scheduler,
    steps: form.steps,
    guidance: form.guidance,
    seed: form.seedMode === "fixed" && form.seed !== "" ? BigInt(form.seed) : undefined,
    width: size.width,
    height: size.height,
    batch: form.batch,
    initImage,
    strength: initImage ? form.strength : undefined,
    decoder: form.decoder === "default" ? undefined : form.decoder,
    ...(form.tileable ? { tileable: true } : {}),
    ...(form.hiresScale === undefined || initImage ? {} : { hires: hiresOf(form, form.hiresScale) }),
    ...(mask ? { mask } : {}),
    ...(outpaint ? { outpaint: { ...outpaint } } : {}),
    // The picker's LoRAs by name (the engine finds them in the LoRA folders) and fast mode.
    ...(form.loras && form.loras.length > 0 ? { loras: form.loras.map((l) => ({ name: l.name, weight: l.weight })) } : {}),
    ...(form.quality === "fast" ? { fast: true, ...(form.fastLora ? { fastLora: form.fastLora } : {}) } : {}),
  };
}

/** Form fields that reproduce a stored generation (its seed fixed); the init image is left as it is. */
export function formFromStored(stored: StoredGeneration, geometry: ModelGeometry): FormPatch {
  const r = stored.request;
  const size = choiceForSize(r.width, r.height, geometry);
  return {
    prompt: r.prompt,
    negativePrompt: r.negativePrompt ?? "",
    scheduler: r.scheduler ?? "default",
    steps: r.steps,
    guidance: r.guidance,
    ...(r.seed === undefined ? { seedMode: "random" as const } : { seedMode: "fixed" as const, seed: r.seed.toString() }),
    size,
    ...(size === "custom" ? { width: r.width, height: r.height } : {}),
    ...(r.strength === undefined ? {} : { strength: r.strength }),
    // The image's own decode, so Generate makes the same picture.
    decoder: r.decoder ?? "default",
    tileable: r.tileable === true,
    // Restored only when the image had one, so an image without it never clears a scale the user set.
    ...(r.hires ? { hiresScale: r.hires.scale, hiresStrength: r.hires.strength, hiresSteps: r.hires.steps ?? 0, hiresUpscaler: r.hires.upscaler ?? AUTO_UPSCALER } : {}),
    // The image's LoRAs (its `LoRAs` key: prompt tags come back with the prompt), always, so an
    // image without any clears the picker. Fast mode's LoRA, recorded under its catalog id, brings
    // back the Fast quality with that LoRA (SDXL-Lightning stays Lightning whatever easel.fastLora
    // says; its sampler, steps and guidance come back above, its trailing spacing from its recipe)
    // instead of a LoRA the folders do not hold.
    loras: (r.loras ?? []).filter((l) => !findCatalogLora(l.name)),
    ...fastOf(r.loras ?? []),
    // Made transparent (and how hard its edges were cut) or not: Generate makes the same RGBA pixels. 0 clears a threshold.
    background: stored.backgroundRemoval ? "transparent" : "opaque",
    matte: stored.backgroundRemoval?.matte ?? 0,
  };
}

/** The Fast quality and its LoRA when a stored generation merged a catalog fast-mode LoRA, else Normal. */
function fastOf(loras: readonly { readonly name: string }[]): Pick<FormPatch, "quality" | "fastLora"> {
  const fast = loras.find((l) => findCatalogLora(l.name) !== undefined);
  // "" (not undefined, which a patch leaves alone) clears a LoRA an earlier restore put in.
  return fast ? { quality: "fast", fastLora: fast.name } : { quality: "normal", fastLora: "" };
}

/** The hires fix the form asks for: 0 steps and AUTO_UPSCALER leave those to the engine (the first pass's steps; its upscaler choice). */
function hiresOf(form: StudioForm, scale: number): HiresRequest {
  return {
    scale,
    strength: form.hiresStrength,
    ...(form.hiresSteps ? { steps: form.hiresSteps } : {}),
    ...(form.hiresUpscaler && form.hiresUpscaler !== AUTO_UPSCALER ? { upscaler: form.hiresUpscaler } : {}),
  };
}
