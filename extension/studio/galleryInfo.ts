// What the gallery shows about an image, read from its `parameters` text (A1111's infotext).
import { infotextFields, parseInfotext } from "../engine/image/infotext";
import type { GalleryInfo } from "../protocol/studioMessages";

/** The gallery's description of an image; undefined for text that carries no parameters at all. */
export function galleryInfo(infotext: string): GalleryInfo | undefined {
  const parsed = parseInfotext(infotext);
  const f = infotextFields(parsed);
  if (Object.keys(parsed.params).length === 0 && parsed.prompt.trim() === "") return undefined;
  return {
    prompt: parsed.prompt,
    negativePrompt: parsed.negativePrompt,
    seed: f.seed?.toString(),
    width: f.width,
    height: f.height,
    steps: f.steps,
    sampler: f.sampler === undefined ? undefined : f.karras ? `${f.sampler} Karras` : f.sampler,
    guidance: f.guidance,
    model: f.model,
    strength: f.denoisingStrength,
    ...(f.tiling ? { tiling: true } : {}),
    ...(f.hires ? { hiresScale: f.hires.scale } : {}),
  };
}
