// Sizes the Studio offers for a model, from what its folder says without loading it: the
// granularity from the VAE and UNet configs (the engine's own rule), and a native size from the
// catalog or the UNet's sample_size. A model that cannot be read gets SD 1.x's 512² / 64; the
// engine reports what is wrong with it when it is used.
import path from "node:path";
import { findCatalogEntry } from "../engine/hub";
import { readModelFolder } from "../engine/model/modelFolder";
import { isTurboSchedule, sizeGeometry, unetSampleSize } from "../engine/model/modelInfo";
import type { ModelGeometry } from "../protocol/studioMessages";
import { modelGeometry } from "./sizePresets";

const FALLBACK_SIDE = 512;
const FALLBACK_GRANULARITY = 64;

/** The native side from the UNet's sample_size, when it is an SD 2.x-style 768 (SD 1.x exports say 64 → 512). */
export function nativeSide(sampleSize: number | undefined, vaeScaleFactor: number): number {
  const side = sampleSize === undefined ? undefined : sampleSize * vaeScaleFactor;
  return side !== undefined && side >= FALLBACK_SIDE ? side : FALLBACK_SIDE;
}

export async function readModelGeometry(spec: string, dir: string | undefined): Promise<ModelGeometry> {
  const entry = findCatalogEntry(spec);
  const catalogSize = entry ? { width: entry.defaults.width, height: entry.defaults.height } : undefined;
  if (!dir) return modelGeometry(catalogSize?.width ?? FALLBACK_SIDE, catalogSize?.height ?? FALLBACK_SIDE, FALLBACK_GRANULARITY);
  try {
    const folder = await readModelFolder(path.resolve(dir));
    const { vaeScaleFactor, granularity } = sizeGeometry(folder);
    // Turbo models (SDXL-Turbo's UNet config says 1024²) were distilled at 512².
    const side = isTurboSchedule(folder.schedulerConfig) ? FALLBACK_SIDE : nativeSide(unetSampleSize(folder), vaeScaleFactor);
    return modelGeometry(catalogSize?.width ?? side, catalogSize?.height ?? side, granularity);
  } catch {
    return modelGeometry(catalogSize?.width ?? FALLBACK_SIDE, catalogSize?.height ?? FALLBACK_SIDE, FALLBACK_GRANULARITY);
  }
}
