// Image sizes by aspect ratio: each preset keeps about the model's native pixel count (so a 16:9
// image costs what a square one does) and rounds both sides to the model's granularity. SDXL
// models get A1111's SDXL sizes instead (1024² and the aspect buckets SDXL was trained on).
import { MAX_SIDE, MIN_SIDE } from "../engine/pipeline/resolveRequest";
import {
  ASPECT_IDS, SDXL_SIZE_FAMILIES, SDXL_SIZE_IDS, sdxlSize, type AspectId, type ModelFamily, type ModelGeometry, type SizeChoice, type SizePreset,
} from "../protocol/studioMessages";

/** An aspect id ("16:9") as its width and height parts. */
function ratio(id: AspectId): readonly [number, number] {
  const [w, h] = id.split(":").map(Number);
  return [w, h];
}

/** The nearest multiple of `granularity` within the engine's limits. */
export function snapSide(value: number, granularity: number): number {
  const g = Math.max(1, Math.round(granularity));
  const lowest = Math.ceil(MIN_SIDE / g) * g;
  const highest = Math.floor(MAX_SIDE / g) * g;
  return Math.min(highest, Math.max(lowest, Math.round(value / g) * g));
}

export function sizePresets(defaultWidth: number, defaultHeight: number, granularity: number): SizePreset[] {
  const area = defaultWidth * defaultHeight;
  return ASPECT_IDS.map((id) => {
    const [w, h] = ratio(id);
    const height = Math.sqrt((area * h) / w);
    return { id, width: snapSide((height * w) / h, granularity), height: snapSide(height, granularity) };
  });
}

/** Whether a family gets SDXL's sizes. */
export function usesSdxlSizes(family: ModelFamily | undefined): boolean {
  return (SDXL_SIZE_FAMILIES as readonly (ModelFamily | undefined)[]).includes(family);
}

/** SDXL's sizes the model's granularity allows (all of them for SDXL's 8 × 2² = 32). */
export function sdxlPresets(granularity: number): SizePreset[] {
  return SDXL_SIZE_IDS.map((id) => ({ id, ...sdxlSize(id) })).filter((p) => p.width % granularity === 0 && p.height % granularity === 0);
}

export function modelGeometry(defaultWidth: number, defaultHeight: number, granularity: number, family?: ModelFamily): ModelGeometry {
  const presets = usesSdxlSizes(family) ? sdxlPresets(granularity) : sizePresets(defaultWidth, defaultHeight, granularity);
  return { granularity, defaultWidth, defaultHeight, presets, ...(family ? { family } : {}) };
}

/** The width and height a size choice stands for; undefined leaves the model's default. */
export function sizeFor(
  choice: SizeChoice,
  custom: { readonly width?: number; readonly height?: number },
  geometry: ModelGeometry,
): { readonly width?: number; readonly height?: number } {
  if (choice === "default") return {};
  if (choice === "custom") return { width: custom.width, height: custom.height };
  const preset = geometry.presets.find((p) => p.id === choice);
  return preset ? { width: preset.width, height: preset.height } : {};
}

/** The choice that reproduces a stored size: a preset when one matches, else custom. */
export function choiceForSize(width: number | undefined, height: number | undefined, geometry: ModelGeometry): SizeChoice {
  if (width === undefined || height === undefined) return "default";
  return geometry.presets.find((p) => p.width === width && p.height === height)?.id ?? "custom";
}

/**
 * The size an aspect id stands for with a model of this geometry: its own preset (SD 1.x/2.x-style
 * models: the aspect at the model's native area), else — SDXL, whose presets are its trained
 * buckets — the bucket whose shape is nearest to the aspect's.
 */
export function aspectSize(aspect: AspectId, geometry: ModelGeometry): { readonly width: number; readonly height: number } {
  const own = geometry.presets.find((p) => p.id === aspect);
  if (own) return { width: own.width, height: own.height };
  const [w, h] = ratio(aspect);
  const off = (p: SizePreset) => Math.abs(Math.log(p.width / p.height) - Math.log(w / h));
  const nearest = [...geometry.presets].sort((a, b) => off(a) - off(b))[0];
  return nearest ? { width: nearest.width, height: nearest.height } : sizePresets(geometry.defaultWidth, geometry.defaultHeight, geometry.granularity).find((p) => p.id === aspect)!;
}

/** What each aspect id makes with this model, e.g. "1:1 512x512, 4:3 576x448, …". */
export function aspectSizesText(geometry: ModelGeometry): string {
  return ASPECT_IDS.map((id) => {
    const s = aspectSize(id, geometry);
    return `${id} ${s.width}x${s.height}`;
  }).join(", ");
}
