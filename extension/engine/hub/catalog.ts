// The catalog shipped with Easel (models/catalog.json): presets users pick by id. It is data,
// checked against its schema when loaded, so a bad edit fails loudly instead of half-working.
import catalogJson from "../../../models/catalog.json";
import schemaJson from "../../../models/catalog.schema.json";
import { EaselError } from "../errors";
import type { ModelFamily } from "../model/modelInfo";
import type { ProviderName } from "../onnx/providers";
import { quoteValue, relativePathProblem } from "../safePath";
import { type Schema, validateSchema } from "./jsonSchema";
import { globToRegExp } from "./fileSelection";
import { isRepoId, isRevision } from "./repoId";
import type { TimestepSpacing } from "../schedulers/betas";
import type { SchedulerName } from "../schedulers/scheduler";

/** A catalog entry's family is what the engine detects from the model (the schema's enum lists the same names; a test checks). */
export type CatalogFamily = ModelFamily;

export interface CatalogLicense {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly commercialUse: boolean;
  readonly note?: string;
}

export interface CatalogEntry {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly repo: string;
  readonly ref: string;
  readonly revision?: string;
  readonly subfolder?: string;
  readonly include?: readonly string[];
  readonly files?: Readonly<Record<string, { readonly size?: number; readonly sha256?: string }>>;
  readonly family: CatalogFamily;
  readonly precision?: "fp32" | "fp16";
  readonly license: CatalogLicense;
  readonly defaults: { readonly steps: number; readonly guidance: number; readonly scheduler: string; readonly width: number; readonly height: number };
  readonly providers: { readonly known: readonly ProviderName[]; readonly unsupported: readonly { readonly provider: ProviderName; readonly reason: string }[] };
  readonly unverified?: readonly string[];
  readonly sources: readonly string[];
}

/**
 * What every one-file catalog entry has (a TAESD decoder, a LoRA, an upscaler, a background
 * remover): pulled by hub/singleFile.ts, pinned by the same rules as a model.
 */
interface CatalogFileEntry {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly repo: string;
  readonly ref: string;
  readonly revision?: string;
  /** The file inside the repository, the only file fetched. */
  readonly file: string;
  readonly files?: Readonly<Record<string, { readonly size?: number; readonly sha256?: string }>>;
  readonly license: CatalogLicense;
  readonly unverified?: readonly string[];
  readonly sources: readonly string[];
}

/** The range a decoder graph's image comes out in: taesd.py's [0, 1], or diffusers' AutoencoderTiny [-1, 1]. */
export type DecoderOutput = "zero-to-one" | "minus-one-to-one";

/**
 * An auxiliary TAESD decoder: one ONNX file fetched with the first model of a family it serves,
 * for previews and draft images. Pinned values follow the same rules as a model's.
 */
export interface CatalogDecoder extends CatalogFileEntry {
  readonly kind: "decoder";
  readonly families: readonly CatalogFamily[];
  readonly output: DecoderOutput;
}

/** A super-resolution model: one ONNX file, for `easel upscale` and the hires fix. */
export interface CatalogUpscaler extends CatalogFileEntry {
  readonly kind: "upscaler";
  readonly scale: 2 | 4;
}

/**
 * A background-removal graph (easel rembg, --transparent): one ONNX file whose mask becomes an
 * image's alpha, with the preprocessing and output scaling its reference implementation uses.
 */
export interface CatalogBackgroundRemover extends CatalogFileEntry {
  readonly kind: "background-removal";
  readonly input: { readonly size: number; readonly mean: readonly [number, number, number]; readonly std: readonly [number, number, number] };
  readonly output: "sigmoid" | "min-max";
}

/** What fast mode runs with a step-distillation LoRA merged, as its model card recommends. */
export interface FastRecipe {
  readonly scheduler: SchedulerName;
  /** diffusers' timestep_spacing the card sets (SDXL-Lightning, Hyper-SD: "trailing"); absent: the model's own. */
  readonly timestepSpacing?: TimestepSpacing;
  readonly steps: number;
  readonly guidance: number;
}

/**
 * A step-distillation LoRA (LCM-LoRA, SDXL-Lightning, Hyper-SD): one .safetensors file that fast
 * mode merges into a model of a family it serves, run with the recipe its card gives. The first of
 * a family in the catalog is that family's default.
 */
export interface CatalogLora extends CatalogFileEntry {
  readonly kind: "lora";
  readonly families: readonly CatalogFamily[];
  readonly fast: FastRecipe;
}

/**
 * A graph-only pull of a catalog model, the template `easel models import` takes a checkpoint's
 * architecture from: the model's repository, revision, files and licence, less the external weight
 * files of the components whose every weight the checkpoint replaces. It cannot generate.
 */
export interface CatalogTemplate {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly kind: "template";
  /** The id of the catalog model it pulls from. */
  readonly model: string;
  readonly architecture: "sd1" | "sd2" | "sdxl";
  /** Glob patterns (relative to the model's subfolder) of the files left out. */
  readonly exclude: readonly string[];
}

export interface Catalog {
  readonly format: 1;
  readonly models: readonly CatalogEntry[];
  readonly decoders?: readonly CatalogDecoder[];
  readonly loras?: readonly CatalogLora[];
  readonly upscalers?: readonly CatalogUpscaler[];
  readonly backgroundRemovers?: readonly CatalogBackgroundRemover[];
  readonly templates?: readonly CatalogTemplate[];
}

export const CATALOG_SCHEMA = schemaJson as Schema;

/** Checks catalog data against the schema and the rules a schema cannot state (unique ids). */
export function parseCatalog(data: unknown): Catalog {
  const errors = validateSchema(data, CATALOG_SCHEMA);
  const catalog = data as Catalog;
  if (errors.length === 0) {
    const seen = new Set<string>();
    // Models, decoders, LoRAs, upscalers, background removers and templates share one namespace: `easel models pull ID` takes any.
    // Each with the fields that become paths in the store besides `files`.
    const entries: { at: string; m: CatalogEntry | CatalogDecoder | CatalogLora | CatalogUpscaler | CatalogBackgroundRemover; paths: Record<string, string | undefined> }[] = [
      ...catalog.models.map((m, i) => ({ at: `$.models[${i}]`, m, paths: { subfolder: m.subfolder } })),
      ...(catalog.decoders ?? []).map((d, i) => ({ at: `$.decoders[${i}]`, m: d, paths: { file: d.file } })),
      ...(catalog.loras ?? []).map((l, i) => ({ at: `$.loras[${i}]`, m: l, paths: { file: l.file } })),
      ...(catalog.upscalers ?? []).map((u, i) => ({ at: `$.upscalers[${i}]`, m: u, paths: { file: u.file } })),
      ...(catalog.backgroundRemovers ?? []).map((r, i) => ({ at: `$.backgroundRemovers[${i}]`, m: r, paths: { file: r.file } })),
    ];
    // The schema subset has no maxItems: one value per RGB channel, checked here.
    (catalog.backgroundRemovers ?? []).forEach((r, i) => {
      if (r.input.mean.length !== 3 || r.input.std.length !== 3) errors.push(`$.backgroundRemovers[${i}].input: mean and std need one value per RGB channel`);
    });
    // The engine refuses a spacing with LCM (its own schedule ignores one): a recipe cannot ask for it.
    (catalog.loras ?? []).forEach((l, i) => {
      if (l.fast.scheduler === "lcm" && l.fast.timestepSpacing !== undefined) errors.push(`$.loras[${i}].fast: the lcm scheduler takes no timestepSpacing`);
    });
    checkTemplates(catalog, seen, errors);
    for (const { at, m, paths } of entries) {
      if (seen.has(m.id)) errors.push(`$: id "${m.id}" appears twice`);
      seen.add(m.id);
      // The repo, revision and paths become URLs and folders in the store: the same checks as a user's or the Hub's.
      if (!isRepoId(m.repo)) errors.push(`${at}.repo: ${quoteValue(m.repo)} is not a Hugging Face repo id`);
      if (!isRevision(m.ref)) errors.push(`${at}.ref: ${quoteValue(m.ref)} is not a branch or tag name`);
      for (const [field, value] of Object.entries(paths)) {
        const problem = value === undefined ? undefined : relativePathProblem(value);
        if (problem !== undefined) errors.push(`${at}.${field}: ${quoteValue(value)} ${problem}`);
      }
      for (const name of Object.keys(m.files ?? {})) {
        const problem = relativePathProblem(name);
        if (problem !== undefined) errors.push(`${at}.files: ${quoteValue(name)} ${problem}`);
      }
    }
  }
  if (errors.length > 0) throw new EaselError("internal", `models/catalog.json is invalid (${errors.slice(0, 3).join("; ")}): fix the catalog`);
  return catalog;
}

/** The graph files a template must keep (what an import reads from it), checked against its exclude patterns. */
const TEMPLATE_KEEPS = ["model_index.json", "scheduler/scheduler_config.json", "unet/model.onnx", "unet/config.json", "text_encoder/model.onnx", "text_encoder_2/model.onnx", "vae_decoder/model.onnx", "vae_decoder/config.json", "vae_encoder/model.onnx"];

/** A template names a model of its architecture, leaves every graph and config in, and takes an id no other entry has. */
function checkTemplates(catalog: Catalog, ids: Set<string>, errors: string[]): void {
  (catalog.templates ?? []).forEach((t, i) => {
    const at = `$.templates[${i}]`;
    const model = catalog.models.find((m) => m.id === t.model);
    if (!model) errors.push(`${at}.model: no catalog model has the id "${t.model}"`);
    else if (model.family !== t.architecture) errors.push(`${at}.architecture: ${t.architecture} is not the family of ${t.model} (${model.family})`);
    for (const pattern of t.exclude) {
      const kept = TEMPLATE_KEEPS.find((f) => globToRegExp(pattern).test(f));
      if (kept !== undefined) errors.push(`${at}.exclude: ${quoteValue(pattern)} leaves out ${kept}, which an import reads`);
    }
    // Added before the other entries' ids, which are checked against it next.
    if (ids.has(t.id)) errors.push(`$: id "${t.id}" appears twice`);
    ids.add(t.id);
  });
}

let shipped: Catalog | undefined;

export function loadCatalog(): Catalog {
  shipped ??= parseCatalog(catalogJson);
  return shipped;
}

export function findCatalogEntry(id: string, catalog: Catalog = loadCatalog()): CatalogEntry | undefined {
  return catalog.models.find((m) => m.id === id);
}

/** Why the entry cannot run on `provider`, when its catalog data says so. */
export function unsupportedReason(entry: CatalogEntry, provider: ProviderName): string | undefined {
  return entry.providers.unsupported.find((u) => u.provider === provider)?.reason;
}

export function findCatalogDecoder(id: string, catalog: Catalog = loadCatalog()): CatalogDecoder | undefined {
  return catalog.decoders?.find((d) => d.id === id);
}

export function findCatalogUpscaler(id: string, catalog: Catalog = loadCatalog()): CatalogUpscaler | undefined {
  return catalog.upscalers?.find((u) => u.id === id);
}

export function findCatalogBackgroundRemover(id?: string, catalog: Catalog = loadCatalog()): CatalogBackgroundRemover | undefined {
  const all = catalog.backgroundRemovers ?? [];
  return id === undefined ? all[0] : all.find((r) => r.id === id);
}

/** The decoder that serves a model family (TAESD for SD 1.x/2.x, TAESDXL for SDXL), if the catalog has one. */
export function decoderForFamily(family: string, catalog: Catalog = loadCatalog()): CatalogDecoder | undefined {
  return catalog.decoders?.find((d) => (d.families as readonly string[]).includes(family));
}

export function findCatalogTemplate(id: string, catalog: Catalog = loadCatalog()): CatalogTemplate | undefined {
  return catalog.templates?.find((t) => t.id === id);
}

/** The catalog model a template pulls from (parseCatalog checked that it exists). */
export function templateModel(template: CatalogTemplate, catalog: Catalog = loadCatalog()): CatalogEntry {
  const model = findCatalogEntry(template.model, catalog);
  if (!model) throw new EaselError("internal", `the catalog template ${template.id} names no model`);
  return model;
}

export function findCatalogLora(id: string, catalog: Catalog = loadCatalog()): CatalogLora | undefined {
  return catalog.loras?.find((l) => l.id === id);
}

/** Every fast-mode LoRA made for a model family, the family's default (the first in the catalog) first. */
export function fastLorasForFamily(family: string, catalog: Catalog = loadCatalog()): readonly CatalogLora[] {
  return (catalog.loras ?? []).filter((l) => (l.families as readonly string[]).includes(family));
}

/**
 * The fast-mode LoRA for a model family: `preferred` (a catalog id, e.g. the easel.fastLora setting)
 * when it is made for that family, else the family's default (LCM-LoRA for SD 1.x and SDXL), if any.
 */
export function fastLoraForFamily(family: string, preferred?: string, catalog: Catalog = loadCatalog()): CatalogLora | undefined {
  const fitting = fastLorasForFamily(family, catalog);
  return fitting.find((l) => l.id === preferred) ?? fitting[0];
}

/** What Easel pulls for an entry: its pinned commit, else its branch. */
export function entryRevision(entry: Pick<CatalogEntry, "revision" | "ref">): string {
  return entry.revision ?? entry.ref;
}

/**
 * The entry a pulled folder was downloaded for: the same repo at the entry's pinned commit, or
 * pulled by the entry's branch (two branches of one repo are two models).
 */
export function catalogEntryForPull(pull: { readonly repo: string; readonly commit: string; readonly revision: string }, catalog: Catalog = loadCatalog()): CatalogEntry | undefined {
  return catalog.models.find((m) => m.repo === pull.repo && (m.revision ? m.revision === pull.commit : m.ref === pull.revision));
}
