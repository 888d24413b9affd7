// Where an import's graphs come from when no --template is given: a catalog model of the same
// architecture already in the store (its graphs are the architecture's; its weights are not used),
// else a graph-only template pulled for that architecture (`easel models pull sd15-template`: the
// model's files less the external weights a checkpoint replaces, in the store's templates area).
import { type Catalog, type CatalogEntry, type CatalogTemplate, entryRevision, loadCatalog, templateModel } from "../hub/catalog";
import { readManifest } from "../hub/manifest";
import { pullModel, type PullOptions, type PullResult } from "../hub/pull";
import { findPulledEntry } from "../hub/resolveModel";
import { ModelStore, type PulledModel } from "../hub/store";
import { verifyFolder } from "../hub/verify";
import { SafetensorsFile } from "../model/safetensors";
import { ARCHITECTURE_LABELS, detectCheckpoint, type ImportArchitecture } from "./architecture";
import { EaselError } from "../errors";

/** The architecture a checkpoint file is, from its header alone (the template it needs). */
export async function checkpointArchitecture(file: string): Promise<ImportArchitecture> {
  const checkpoint = await SafetensorsFile.open(file);
  try {
    return detectCheckpoint(checkpoint).architecture;
  } finally {
    await checkpoint.close();
  }
}

/** Pulls a template: its model's repository and revision, every file the model would fetch but the excluded weights. */
export function pullTemplate(template: CatalogTemplate, options: PullOptions & { readonly catalog?: Catalog } = {}): Promise<PullResult> {
  const store = options.store ?? ModelStore.open();
  const model = templateModel(template, options.catalog);
  return pullModel(model.repo, entryRevision(model), { ...options, store: store.templates(), exclude: template.exclude }, model);
}

/** The store's folder for a pulled template, if any. */
export function findPulledTemplate(store: ModelStore, template: CatalogTemplate, catalog?: Catalog): Promise<PulledModel | undefined> {
  const model = templateModel(template, catalog);
  return store.templates().findPulled(model.repo, entryRevision(model));
}

/** What the store has for an architecture: a full model's folder, a template's, or what to pull (a template when the catalog has one). */
export type StoreTemplate =
  | { readonly found: "model" | "template"; readonly dir: string }
  | { readonly found: undefined; readonly pull: CatalogTemplate | CatalogEntry | undefined };

export async function lookUpStoreTemplate(store: ModelStore, architecture: ImportArchitecture, catalog: Catalog = loadCatalog()): Promise<StoreTemplate> {
  const pulled = await store.listPulled();
  const models = catalog.models.filter((m) => m.family === architecture);
  for (const entry of models) {
    const found = await findPulledEntry(store, entry, pulled);
    if (found) return { found: "model", dir: found.dir };
  }
  const templates = (catalog.templates ?? []).filter((t) => t.architecture === architecture);
  for (const template of templates) {
    const found = await findPulledTemplate(store, template, catalog);
    if (!found) continue;
    // The cheap check a model gets before use: every file present with its size.
    const report = await verifyFolder(found.dir, (await readManifest(found.dir)) ?? found.manifest, { hashes: false });
    if (report.problems.length > 0) {
      throw new EaselError("model-invalid", `the import template ${template.id} in ${found.dir} is damaged (${report.problems[0]}): run 'easel models rm ${template.id}' and pull it again`);
    }
    return { found: "template", dir: found.dir };
  }
  return { found: undefined, pull: templates[0] ?? models[0] };
}

export async function findStoreTemplate(store: ModelStore, architecture: ImportArchitecture, catalog: Catalog = loadCatalog()): Promise<string> {
  const found = await lookUpStoreTemplate(store, architecture, catalog);
  if (found.found !== undefined) return found.dir;
  const what = found.pull === undefined ? "" : "kind" in found.pull ? `download its graphs first (easel models pull ${found.pull.id}: ${found.pull.name}) or ` : `download a model of it first (easel models pull ${found.pull.id}) or `;
  throw new EaselError("model-missing", `importing an ${ARCHITECTURE_LABELS[architecture]} checkpoint needs that architecture's ONNX graphs: ${what}give a diffusers ONNX folder of the same architecture with --template DIR`);
}
