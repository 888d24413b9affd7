// The Studio's LoRA and fast-mode ports with the real parts: the engine's LoRA library over
// easel.loraFolders and the model store's loras/, the chosen model's folder for its base, the
// catalog and the store for fast mode's LoRA, and the palette's download offer for it.
import path from "node:path";
import { readSettings } from "../config";
import { fastLorasForFamily } from "../engine/hub/catalog";
import { findStoreFile } from "../engine/hub/singleFile";
import { LORA_WEIGHT_LIMIT } from "../engine/lora/apply";
import { listLoras, storeLoraFolder } from "../engine/lora/library";
import { readModelFolder } from "../engine/model/modelFolder";
import { ensureFastLora } from "../generation/generateImageCommand";
import { modelStore } from "../models/modelResolver";
import type { EaselSettings } from "../settings";
import type { StudioLoraPorts } from "./studioController";
import { familyLoraBase, fastMode, folderLoraBase } from "./studioLoras";

/** The folders the picker lists, in the engine's order (easel.loraFolders first, then the store's). */
export function studioLoraFolders(settings: EaselSettings): string[] {
  return [...settings.loraFolders, storeLoraFolder(modelStore(settings).root)];
}

export function studioLoraPorts(): StudioLoraPorts {
  return {
    list: async () => {
      const folders = studioLoraFolders(readSettings());
      return { loras: await listLoras(folders), folders };
    },
    modelBase: async (models) => {
      const family = models.message.geometry.family;
      if (!models.dir) return familyLoraBase(family);
      try {
        return folderLoraBase(await readModelFolder(path.resolve(models.dir)));
      } catch {
        return familyLoraBase(family); // The engine says what is wrong with the folder when it is used.
      }
    },
    fast: async (family) => {
      const settings = readSettings();
      const entries = family ? fastLorasForFamily(family) : [];
      const store = modelStore(settings);
      const held = await Promise.all(entries.map(async (e) => ((await findStoreFile(store, e)) !== undefined ? e.id : undefined)));
      return fastMode(family, entries, new Set(held.filter((id): id is string => id !== undefined)), settings.fastLora);
    },
    ensureFastLora: async (family, id) => (await ensureFastLora(family, id)) !== false,
    promptSyntax: () => readSettings().promptSyntax,
    weightLimit: LORA_WEIGHT_LIMIT,
  };
}
