// Image sizes, the one contract for every host (CLI, engine process, MCP and Copilot tools, the
// Studio): the side limits, the aspect ids and SDXL's trained sizes, and how a model's geometry
// turns them into widths and heights. Each aspect preset keeps about the model's native pixel count
// (so a 16:9 image costs what a square one does) and rounds both sides to the model's granularity;
// SDXL models get A1111's SDXL sizes instead (1024² and the aspect buckets SDXL was trained on).
// Data and pure functions only (nothing imported at run time), so the Studio's webview may take it.
import type { ModelFamily } from "./modelInfo";

export const MIN_SIDE = 64;
export const MAX_SIDE = 2048;
/** Aspect ratios the size picker offers SD 1.x/2.x-style models, as width:height (sides scaled to the model's native area). */
export const ASPECT_IDS = ["1:1", "4:3", "3:4", "16:9", "9:16"] as const;
export type AspectId = (typeof ASPECT_IDS)[number];
/**
 * SDXL's sizes, as AUTOMATIC1111 offers them: 1024² and the aspect buckets SDXL was trained on
 * (about a megapixel each, both sides multiples of 64), as WIDTHxHEIGHT.
 */
export const SDXL_SIZE_IDS = ["1024x1024", "1152x896", "896x1152", "1216x832", "832x1216", "1344x768", "768x1344"] as const;
export type SdxlSizeId = (typeof SDXL_SIZE_IDS)[number];
/** The families that get SDXL_SIZE_IDS instead of ASPECT_IDS (SDXL-Turbo was distilled at 512²: it keeps the aspects). */
export const SDXL_SIZE_FAMILIES = ["sdxl"] as const satisfies readonly ModelFamily[];
/** A preset of the size picker: an aspect of the model's area, or one of SDXL's sizes. */
export type PresetId = AspectId | SdxlSizeId;
/** The width and height an SDXL size id names. */
export function sdxlSize(id: SdxlSizeId): { readonly width: number; readonly height: number } {
  const [width, height] = id.split("x").map(Number);
  return { width, height };
}

export interface SizePreset {
  readonly id: PresetId;
  readonly width: number;
  readonly height: number;
}

/** What the chosen model allows for sizes, as far as its folder tells without loading it. */
export interface ModelGeometry {
  /** Width and height must be multiples of this. */
  readonly granularity: number;
  readonly defaultWidth: number;
  readonly defaultHeight: number;
  readonly presets: readonly SizePreset[];
  /** The model's family as the engine reads it from the folder (model/modelInfo.ts); absent when it cannot be read yet. */
  readonly family?: ModelFamily;
}

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
