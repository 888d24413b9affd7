// Easel: Choose Model, Download Model… and Remove Downloaded Model… — the catalog, models already
// downloaded, local folders (setting and `easel models add`), or any folder; the choice is the
// user's `easel.model`.
import * as path from "node:path";
import * as vscode from "vscode";
import { readSettings } from "../config";
import { catalogEntryForPull, downloadedLine, findPulledEntry, formatBytes, loadCatalog, manifestBytes, type CatalogEntry, type PulledModel } from "../engine/hub";
import { readImportRecord } from "../engine/convert/importRecord";
import { showError } from "../errorMessages";
import type { ProviderName } from "../engine/onnx/providers";
import type { EngineService } from "../engineService";
import type { EaselSettings } from "../settings";
import { downloadWithProgress, modelStore } from "./modelResolver";
import { fireModelsChanged } from "./modelsChanged";
import { confirmMisfitDownload, type Misfit, misfitHere, misfitNote } from "./providerFit";

interface ModelItem extends vscode.QuickPickItem {
  readonly spec?: string;
  readonly action?: "browse" | "repo";
  readonly entry?: CatalogEntry;
  readonly misfit?: Misfit;
}

async function setModel(spec: string): Promise<void> {
  await vscode.workspace.getConfiguration("easel").update("model", spec, vscode.ConfigurationTarget.Global);
  void vscode.window.setStatusBarMessage(`Easel: model set to ${spec}`, 4000);
}

function licenceNote(entry: CatalogEntry): string {
  return entry.license.commercialUse ? entry.license.name : `${entry.license.name} — non-commercial`;
}

/** A model the user can pick: a catalog entry (downloaded or not) or a folder on this machine. */
export interface AvailableModel {
  /** What `easel.model` is set to. */
  readonly spec: string;
  readonly name: string;
  readonly entry?: CatalogEntry;
  /** A catalog model already in the store; the others are always true. */
  readonly downloaded: boolean;
  /** A catalog preset, another Hub repository already in the store, or a folder on this machine. */
  readonly source: "catalog" | "hub" | "folder";
  /** Set when the catalog says the model cannot run on the provider Easel uses here. */
  readonly misfit?: Misfit;
  /** A checkpoint imported into the store (`easel models import`): the base model it was detected as. */
  readonly importedBase?: string;
}

/**
 * The catalog (marking what is downloaded), then other Hub repositories in the store, then local
 * folders: settings and `easel models add`.
 */
export async function availableModels(settings: EaselSettings, runsOn?: ProviderName): Promise<AvailableModel[]> {
  const store = modelStore(settings);
  const pulled = await store.listPulled().catch(() => []);
  const local = await store.listLocal().catch(() => []);
  const claimed = new Set<string>();
  const catalog = await Promise.all(
    loadCatalog().models.map(async (entry) => {
      // The entry's own revision or branch: another branch of the same repo is another model.
      const have = await findPulledEntry(store, entry, pulled).catch(() => undefined);
      if (have) claimed.add(have.dir);
      return { spec: entry.id, name: entry.name, entry, downloaded: have !== undefined, source: "catalog" as const, misfit: misfitHere(entry, runsOn) };
    }),
  );
  // The catalog's decoders and LoRAs are pulled into the store too, but are not models to generate with.
  const auxiliary = new Set([...(loadCatalog().decoders ?? []), ...(loadCatalog().loras ?? [])].map((e) => e.repo));
  const repos = pulled.filter((p) => !claimed.has(p.dir) && !auxiliary.has(p.repo)).map((p) => ({ spec: pulledSpec(p.repo, p.manifest.revision), name: pulledSpec(p.repo, p.manifest.revision), downloaded: true, source: "hub" as const }));
  const folders = [
    ...settings.localModels.map((dir) => ({ name: path.basename(dir), dir, importedBase: undefined })),
    ...(await Promise.all(local.map(async (l) => ({ name: l.name, dir: l.dir, importedBase: (await readImportRecord(l.dir).catch(() => undefined))?.baseModel })))),
  ];
  return [
    ...catalog,
    ...uniqueBySpec(repos),
    ...folders.map((f) => ({ spec: f.dir, name: f.name, downloaded: true, source: "folder" as const, ...(f.importedBase ? { importedBase: f.importedBase } : {}) })),
  ];
}

/** What `easel.model` says for a pulled repository: `owner/name` for its main branch, else `owner/name@revision`. */
function pulledSpec(repo: string, revision: string): string {
  return revision === "main" ? repo : `${repo}@${revision}`;
}

function uniqueBySpec<T extends { readonly spec: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(i.spec) && seen.add(i.spec));
}

/** What the catalog publishes of a model's download: the sizes it pins (a lower bound when it pins only some files). */
function downloadNote(entry: CatalogEntry): string | undefined {
  const sizes = Object.values(entry.files ?? {}).map((f) => f.size ?? 0);
  const total = sizes.reduce((a, b) => a + b, 0);
  return total > 0 ? `download ≥ ${formatBytes(total)}` : undefined;
}

/**
 * Catalog models as the picker lists them. `runsHereFirst` (the picker a first generation opens):
 * downloaded models first, then those that run on this machine (smallest known download first),
 * then those that do not run here.
 */
function orderForHere(models: readonly AvailableModel[], runsHereFirst: boolean): readonly AvailableModel[] {
  if (!runsHereFirst) return models;
  const rank = (m: AvailableModel) => (m.misfit ? 2 : m.downloaded ? 0 : 1);
  const known = (m: AvailableModel) => (m.entry?.files ? Object.values(m.entry.files).reduce((a, f) => a + (f.size ?? 0), 0) : Infinity);
  return [...models].sort((a, b) => rank(a) - rank(b) || known(a) - known(b));
}

async function modelItems(engine: EngineService, runsHereFirst = false): Promise<ModelItem[]> {
  const models = await availableModels(readSettings(), await engine.runsOn(5_000));
  const items: ModelItem[] = [{ label: runsHereFirst ? "Runs on this machine first" : "Catalog", kind: vscode.QuickPickItemKind.Separator }];
  for (const { entry, downloaded, misfit } of orderForHere(models, runsHereFirst)) {
    if (!entry) continue;
    const size = downloaded ? undefined : downloadNote(entry);
    items.push({
      label: `${misfit ? "$(circle-slash)" : downloaded ? "$(check)" : "$(cloud-download)"} ${entry.name}`,
      // What keeps it from running here comes first, where a narrow picker still shows it.
      description: [...(misfit ? [misfitNote(misfit)] : []), ...(size ? [size] : []), entry.id, entry.family, licenceNote(entry)].join(" · "),
      detail: entry.description,
      spec: entry.id,
      entry,
      misfit,
    });
  }
  const folders = models.filter((m) => !m.entry);
  if (folders.length > 0) items.push({ label: "On this machine", kind: vscode.QuickPickItemKind.Separator });
  for (const f of folders) {
    const description = f.source === "hub" ? "downloaded from Hugging Face" : f.importedBase ? `imported checkpoint · ${f.importedBase}` : f.spec;
    items.push({ label: `${f.source === "hub" ? "$(cloud)" : "$(folder)"} ${f.name}`, description, spec: f.spec });
  }
  items.push({ label: "More", kind: vscode.QuickPickItemKind.Separator });
  items.push({ label: "$(folder-opened) Browse for a model folder…", action: "browse" });
  items.push({ label: "$(cloud-download) A Hugging Face repository (owner/name)…", action: "repo" });
  return items;
}

async function askRepo(): Promise<string | undefined> {
  return vscode.window.showInputBox({
    title: "Easel: Hugging Face model",
    prompt: "A repository in the diffusers ONNX layout, optionally @revision",
    placeHolder: "owner/name[@revision]",
    validateInput: (v) => (/^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(v.trim()) ? undefined : "Write it as owner/name or owner/name@revision"),
  });
}

/**
 * Downloads a picked catalog entry or typed repository; false when the user would rather not,
 * else what was only size-checked (undefined: everything downloaded was verified by hash).
 */
async function fetchPicked(picked: ModelItem, spec: string): Promise<false | { readonly sizeOnlyNote?: string }> {
  if (picked.misfit && picked.entry && !(await confirmMisfitDownload(picked.entry.name, picked.misfit))) return false;
  if (picked.entry || picked.action === "repo") return { sizeOnlyNote: (await downloadWithProgress(readSettings(), spec)).sizeOnlyNote };
  return {};
}

/** The model picker; true once a model is set (downloaded first when it has to be). */
async function pickModel(engine: EngineService, title: string, runsHereFirst: boolean): Promise<boolean> {
  const picked = await vscode.window.showQuickPick(modelItems(engine, runsHereFirst), { title, matchOnDescription: true, matchOnDetail: true });
  if (!picked) return false;
  if (picked.action === "browse") {
    const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: "Use this model folder" });
    if (!folder?.[0]) return false;
    await setModel(folder[0].fsPath);
    return true;
  }
  const spec = (picked.action === "repo" ? await askRepo() : picked.spec)?.trim();
  if (!spec || !(await fetchPicked(picked, spec))) return false;
  await setModel(spec);
  return true;
}

async function chooseModel(engine: EngineService): Promise<void> {
  await pickModel(engine, "Easel: Choose Model", false);
}

/**
 * A generation asked for with no model chosen yet (a first run): the picker, with what runs well
 * here first, opens right there; once a model is set (and downloaded) the same request goes on.
 * False when the user closed the picker.
 */
export function chooseModelToGenerate(engine: EngineService): Promise<boolean> {
  return pickModel(engine, "Easel: Choose a model for this image", true);
}

async function downloadModel(engine: EngineService): Promise<void> {
  const items = (await modelItems(engine)).filter((i) => i.entry || i.action === "repo" || i.kind === vscode.QuickPickItemKind.Separator);
  const picked = await vscode.window.showQuickPick(items.filter((i, k) => !(i.kind === vscode.QuickPickItemKind.Separator && items[k + 1]?.kind === vscode.QuickPickItemKind.Separator)), {
    title: "Easel: Download Model",
  });
  if (!picked) return;
  const spec = (picked.action === "repo" ? await askRepo() : picked.spec)?.trim();
  const fetched = spec ? await fetchPicked(picked, spec) : false;
  if (!spec || !fetched) return;
  const use = await vscode.window.showInformationMessage(`Easel: ${spec} is ${downloadedLine(fetched.sizeOnlyNote)}.`, "Use it now");
  if (use) await setModel(spec);
}

interface PulledItem extends vscode.QuickPickItem {
  readonly model: PulledModel;
  readonly size: string;
}

/** Easel: Remove Downloaded Model… — frees the disk a pulled model takes (its partial download too). */
async function removeModel(engine: EngineService): Promise<void> {
  const store = modelStore(readSettings());
  const pulled = await store.listPulled();
  if (pulled.length === 0) {
    void vscode.window.showInformationMessage(`Easel: no model is downloaded in ${store.root}.`);
    return;
  }
  const items: PulledItem[] = pulled.map((model) => {
    const size = formatBytes(manifestBytes(model.manifest));
    const entry = catalogEntryForPull({ repo: model.repo, commit: model.commit, revision: model.manifest.revision });
    return {
      label: `${model.repo}@${model.commit.slice(0, 12)}`,
      description: [size, ...(entry ? [entry.name] : []), `pulled ${model.manifest.pulledAt.slice(0, 10)}`].join(" · "),
      detail: model.dir,
      model,
      size,
    };
  });
  const picked = await vscode.window.showQuickPick(items, { title: "Easel: Remove Downloaded Model", matchOnDescription: true });
  if (!picked) return;
  const remove = "Remove";
  const answer = await vscode.window.showWarningMessage(
    `Remove ${picked.label} (${picked.size}) from the model cache?`,
    { modal: true, detail: "Its files are deleted. A generation that uses it downloads it again." },
    remove,
  );
  if (answer !== remove) return;
  // The engine may have it loaded: release it first (Windows cannot delete open files).
  await engine.unload();
  await store.removePulled(picked.model);
  fireModelsChanged();
  void vscode.window.showInformationMessage(`Easel: removed ${picked.label}.`);
}

export function registerModelCommands(engine: EngineService): vscode.Disposable {
  const guard = (run: (engine: EngineService) => Promise<void>) => async () => {
    try {
      await run(engine);
    } catch (error) {
      await showError(error);
    }
  };
  return vscode.Disposable.from(
    vscode.commands.registerCommand("easel.chooseModel", guard(chooseModel)),
    vscode.commands.registerCommand("easel.downloadModel", guard(downloadModel)),
    vscode.commands.registerCommand("easel.removeModel", guard(removeModel)),
  );
}
