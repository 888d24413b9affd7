// The other direction of an image's `parameters` chunk: the request that made it, for
// "Variations", "Regenerate" and restoring the Studio's form from a gallery image.
import { type BackgroundRemovalInfo, infotextFields, parseInfotext } from "../engine/image/infotext";
import { SCHEDULER_NAMES, type SchedulerName } from "../engine/schedulers/scheduler";
import { samplerLabel } from "../engine/schedulers";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import type { OutpaintRequest } from "../engine/pipeline/outpaint";

export interface StoredGeneration {
  /** The parameters as a request, without any starting image (text cannot hold one; see storedInputs.ts). */
  readonly request: WireGenerateRequest;
  readonly model?: string;
  /** Inpainted with a mask (the infotext's `Mask blur`). */
  readonly masked: boolean;
  /** Outpainted: the sides, overlap and fill (the infotext's `Outpaint`). */
  readonly outpaint?: OutpaintRequest;
  /** Made transparent after generation (`Background removal`, `Matte threshold`): a recall removes the background again. */
  readonly backgroundRemoval?: BackgroundRemovalInfo;
}

/** The scheduler name an A1111 sampler label (plus Karras) stands for, when Easel has it. */
export function schedulerFromLabel(label: string | undefined, karras: boolean): SchedulerName | undefined {
  if (!label) return undefined;
  // The label comes from a file: trimmed by hand, since `/\s+Karras$/` retries every start in a long
  // run of spaces (quadratic time on a crafted Sampler value).
  const stem = label.slice(0, -"Karras".length);
  const base = /Karras$/i.test(label) && /\s$/.test(stem) ? stem.trimEnd() : label;
  const matches = SCHEDULER_NAMES.filter((n) => samplerLabel(n).toLowerCase() === base.toLowerCase());
  if (matches.includes("dpmpp-2m")) return karras || /Karras$/i.test(label) ? "dpmpp-2m-karras" : "dpmpp-2m";
  return matches[0];
}

export function requestFromInfotext(text: string): StoredGeneration {
  const parsed = parseInfotext(text);
  const f = infotextFields(parsed);
  return {
    request: {
      prompt: parsed.prompt,
      negativePrompt: parsed.negativePrompt || undefined,
      scheduler: schedulerFromLabel(f.sampler, f.karras),
      ...(f.timestepSpacing !== undefined ? { timestepSpacing: f.timestepSpacing } : {}),
      steps: f.steps,
      guidance: f.guidance,
      seed: f.seed,
      width: f.width,
      height: f.height,
      // A hires image's denoising strength is its second pass's (A1111), not an img2img one.
      strength: f.hires ? undefined : f.denoisingStrength,
      ...(f.tiling ? { tileable: true } : {}),
      ...(f.hires && f.denoisingStrength !== undefined ? { hires: { scale: f.hires.scale, strength: f.denoisingStrength, steps: f.hires.steps, upscaler: f.hires.upscaler } } : {}),
      // Named either way, so a recall decodes as the image was made whatever easel.fastDecode says.
      decoder: f.taesd ? "taesd" : "vae",
      promptSyntax: f.promptSyntax,
      // LoRAs named outside the prompt (its <lora:…> tags come back with the prompt itself).
      ...(f.loras.length > 0 ? { loras: f.loras } : {}),
    },
    model: f.model,
    masked: f.maskBlur !== undefined && f.outpaint === undefined,
    ...(f.outpaint ? { outpaint: { ...f.outpaint } } : {}),
    ...(f.backgroundRemoval ? { backgroundRemoval: f.backgroundRemoval } : {}),
  };
}
