// The other direction of an image's `parameters` chunk: the request that made it, for
// "Variations", "Regenerate" and restoring the Studio's form from a gallery image.
import { infotextFields, parseInfotext } from "../engine/image/infotext";
import { SCHEDULER_NAMES, type SchedulerName } from "../engine/schedulers/scheduler";
import { samplerLabel } from "../engine/schedulers";
import type { WireGenerateRequest } from "../engine/host/engineRequests";

export interface StoredGeneration {
  readonly request: WireGenerateRequest;
  readonly model?: string;
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
      steps: f.steps,
      guidance: f.guidance,
      seed: f.seed,
      width: f.width,
      height: f.height,
      strength: f.denoisingStrength,
      // Named either way, so a recall decodes as the image was made whatever easel.fastDecode says.
      decoder: f.taesd ? "taesd" : "vae",
      promptSyntax: f.promptSyntax,
      // LoRAs named outside the prompt (its <lora:…> tags come back with the prompt itself).
      ...(f.loras.length > 0 ? { loras: f.loras } : {}),
    },
    model: f.model,
  };
}
