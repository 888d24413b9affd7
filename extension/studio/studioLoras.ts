// The Studio's LoRA picker and "Fast" quality on the host side, apart from VS Code's API: which
// LoRAs fit the chosen model (its base against each LoRA's, as the engine's planLoras refuses a
// mismatch), the picker's choices checked again before a generation (names the page cannot make up,
// nothing unfit), and fast mode's LoRA, sampler, steps and guidance for the model's family.
import { EaselError } from "../engine/errors";
import type { ModelFolder } from "../engine/model/modelFolder";
import type { ModelFamily } from "../engine/model/modelInfo";
import type { FastMode, LoraOption, StudioLora } from "../protocol/studioMessages";

/** A LoRA the library found (engine/lora/library.ts listLoras). */
export interface LoraListing {
  readonly name: string;
  readonly file: string;
  readonly base: string | undefined;
  readonly problem?: string;
}

/** The picker's choices: each LoRA with its base, marked when it cannot be used with a model of `modelBase`. */
export function loraOptions(listing: readonly LoraListing[], modelBase: string | undefined): LoraOption[] {
  return listing.map((l) => ({
    name: l.name,
    ...(l.base ? { base: l.base } : {}),
    ...(l.problem ? { problem: l.problem } : {}),
    ...(!l.problem && l.base && modelBase && l.base !== modelBase ? { unfit: `made for ${l.base}, and the model is ${modelBase}: pick an ${l.base} model to use it` } : {}),
  }));
}

/**
 * The picker's LoRAs before they reach the engine: each one the library lists, usable with this
 * model. One line for the first that is not (the page showed the same marks; the folder may have
 * changed since).
 */
export function checkChosenLoras(chosen: readonly StudioLora[], options: readonly LoraOption[]): void {
  for (const l of chosen) {
    const option = options.find((o) => o.name === l.name);
    if (!option) throw new EaselError("bad-argument", `no LoRA named ${l.name} in the LoRA folders any more: press Refresh beside the LoRAs, or remove it`);
    if (option.problem) throw new EaselError("bad-argument", `LoRA ${l.name} cannot be used: ${option.problem}`);
    if (option.unfit) throw new EaselError("bad-argument", `LoRA ${l.name} is ${option.unfit}, or remove it`);
  }
}

/** The LoRA names of a list that the library does not list (a restored image's, for a notice). */
export function missingLoras(chosen: readonly StudioLora[], options: readonly LoraOption[]): string[] {
  return chosen.filter((l) => !options.some((o) => o.name === l.name)).map((l) => l.name);
}

/** A catalog step-distillation LoRA as fast mode needs it (engine/hub/catalog.ts CatalogLora). */
export interface FastLoraEntry {
  readonly id: string;
  readonly name: string;
  readonly license: { readonly name: string };
  readonly fast: { readonly scheduler: string; readonly timestepSpacing?: string; readonly steps: number; readonly guidance: number };
}

/**
 * What "Fast" does with a model of `family`: the catalog's LoRAs for it (`entries`, the family's
 * default first; `downloaded` says which the store holds) and the one used when the form names none
 * (`preferred`, the easel.fastLora setting, when it is one of them), or why there is none (the
 * engine's Engine.fastLora rule).
 */
export function fastMode(family: ModelFamily | undefined, entries: readonly FastLoraEntry[], downloaded: ReadonlySet<string>, preferred?: string): FastMode {
  if (entries.length > 0) {
    const choices = entries.map((e) => ({
      id: e.id,
      lora: e.name,
      license: e.license.name,
      scheduler: e.fast.scheduler,
      ...(e.fast.timestepSpacing !== undefined ? { timestepSpacing: e.fast.timestepSpacing } : {}),
      steps: e.fast.steps,
      guidance: e.fast.guidance,
      downloaded: downloaded.has(e.id),
    }));
    return { available: true, choices, chosen: entries.find((e) => e.id === preferred)?.id ?? entries[0].id };
  }
  if (family === "lcm" || family === "turbo" || family === "sdxl-turbo") return { available: false, reason: `this model already draws in a few steps (${family}): Normal is as fast` };
  if (family === undefined) return { available: false, reason: "choose a model first (fast mode needs an SD 1.x or SDXL model)" };
  return { available: false, reason: `fast mode merges a step-distillation LoRA (LCM-LoRA, SDXL-Lightning, Hyper-SD), which exist for SD 1.x and SDXL models, and this model is ${family}` };
}

/** The base LoRAs name for a model family, for a model whose folder is not here yet (LCM: SD 1.x or SDXL, so unknown). */
export function familyLoraBase(family: ModelFamily | undefined): string | undefined {
  switch (family) {
    case "sd1":
      return "SD 1.x";
    case "sd2":
    case "turbo":
      return "SD 2.x";
    case "sdxl":
    case "sdxl-turbo":
      return "SDXL";
    default:
      return undefined;
  }
}

/**
 * The base a LoRA must be for, from a model folder before any session exists: the engine's
 * modelBase rule (SDXL's second text encoder or added conditioning, else the text encoder's width:
 * 1024 SD 2.x, 768 SD 1.x) read from the configs, as folderFamily reads the family. Undefined when
 * they do not tell (a tiny test model): nothing is marked then, and the engine has the last word.
 */
export function folderLoraBase(folder: Pick<ModelFolder, "files" | "unetConfig" | "textEncoderConfig">): string | undefined {
  if (folder.files.text_encoder_2 !== undefined || folder.unetConfig?.["addition_embed_type"] === "text_time") return "SDXL";
  const width = folder.textEncoderConfig?.["hidden_size"];
  return width === 1024 ? "SD 2.x" : width === 768 ? "SD 1.x" : undefined;
}
