// Sizes the Studio offers for a model, from what its folder says without loading it: the
// granularity from the VAE and UNet configs (the engine's own rule), the family (the engine's
// folderFamily: SDXL gets SDXL's sizes), and a native size from the catalog or the UNet's
// sample_size. A model that cannot be read gets SD 1.x's 512² / 64 (or its catalog family's
// sizes); the engine reports what is wrong with it when it is used.
import path from "node:path";
import { findCatalogEntry } from "../engine/hub";
import { readModelFolder } from "../engine/model/modelFolder";
import { folderFamily, isTurboSchedule, sizeGeometry, unetSampleSize } from "../engine/model/modelInfo";
import type { ModelGeometry } from "../protocol/studioMessages";
import { modelGeometry } from "../engine/model/imageSizes";

const FALLBACK_SIDE = 512;
/** SDXL's native side (its UNet's sample_size 128 × 8); the least an SDXL model is offered. */
const SDXL_SIDE = 1024;
const FALLBACK_GRANULARITY = 64;

/**
 * The native side from the UNet's sample_size, when it is an SD 2.x-style 768 (SD 1.x exports say
 * 64 → 512), or SDXL's 1024 (never less: a tiny SDXL-layout export's config says less).
 */
export function nativeSide(sampleSize: number | undefined, vaeScaleFactor: number, floor = FALLBACK_SIDE): number {
  const side = sampleSize === undefined ? undefined : sampleSize * vaeScaleFactor;
  return side !== undefined && side >= floor ? side : floor;
}

export async function readModelGeometry(spec: string, dir: string | undefined): Promise<ModelGeometry> {
  const entry = findCatalogEntry(spec);
  const catalogSize = entry ? { width: entry.defaults.width, height: entry.defaults.height } : undefined;
  const fallback = () => modelGeometry(catalogSize?.width ?? FALLBACK_SIDE, catalogSize?.height ?? FALLBACK_SIDE, FALLBACK_GRANULARITY, entry?.family);
  if (!dir) return fallback();
  try {
    const folder = await readModelFolder(path.resolve(dir));
    const { vaeScaleFactor, granularity } = sizeGeometry(folder);
    const family = folderFamily(folder);
    // Turbo models (SDXL-Turbo's UNet config says 1024²) were distilled at 512².
    const side = isTurboSchedule(folder.schedulerConfig) ? FALLBACK_SIDE : nativeSide(unetSampleSize(folder), vaeScaleFactor, family === "sdxl" ? SDXL_SIDE : FALLBACK_SIDE);
    return modelGeometry(catalogSize?.width ?? side, catalogSize?.height ?? side, granularity, family);
  } catch {
    return fallback();
  }
}
