// What `--model X` names, in this order: an existing folder, a catalog id, a folder added with
// `easel models add`, or a Hugging Face repo (`owner/name[@rev]`), downloaded first when missing.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { EaselError } from "../errors";
import { type CatalogEntry, entryRevision, findCatalogEntry, loadCatalog } from "./catalog";
import { type DecoderOutcome, type DecoderPullOptions, ensureDecoderFor } from "./decoders";
import { checkCatalogProvider } from "../model/providerSupport";
import type { ProviderName } from "../onnx/providers";
import { type Manifest, readManifest, sizeOnlyNote } from "./manifest";
import { pullModel, type PullOptions } from "./pull";
import { parseRepoRef } from "./repoId";
import { ModelStore, type LocalModel, type PulledModel } from "./store";
import { verifyFolder } from "./verify";

export interface ResolvedModel {
  readonly dir: string;
  readonly source: "path" | "catalog" | "local" | "repo";
  readonly entry?: CatalogEntry;
  /** True when this call downloaded it. */
  readonly downloaded: boolean;
  /** For a pulled model with files the Hub published no hash for: what was only size-checked (see sizeOnlyNote). */
  readonly sizeOnlyNote?: string;
  /** What happened to the TAESD decoder of the model's family, when this call downloaded a catalog model. */
  readonly decoder?: DecoderOutcome;
}

/** The sizeOnlyNote field for a pulled model, present only when there is something to say. */
function noteOf(manifest: Manifest): { sizeOnlyNote?: string } {
  const note = sizeOnlyNote(manifest);
  return note === undefined ? {} : { sizeOnlyNote: note };
}

export interface ResolveOptions extends PullOptions, DecoderPullOptions {
  /** False: the user's no to the family's TAESD decoder, given up front and remembered (default: fetch with a model downloaded now, asking through confirmDecoder). */
  readonly taesd?: boolean;
  readonly cwd?: string;
  /** False: only what is already on this machine (no network); a model not downloaded yet is an error. */
  readonly download?: boolean;
  /** The provider the model will run on, when known: a catalog model that cannot run there is refused before any download. */
  readonly provider?: ProviderName;
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** Text that can only be meant as a path: `./x`, `/x`, `~/x`, `C:\x`, anything with a backslash. */
function looksLikePath(spec: string): boolean {
  return /^(\.{1,2}([/\\]|$)|[/\\~]|[A-Za-z]:)/.test(spec) || spec.includes("\\");
}

/** The store's folder for a catalog entry (its pinned commit, or what its branch resolved to at the last pull). */
export function findPulledEntry(store: ModelStore, entry: CatalogEntry, listed?: readonly PulledModel[]): Promise<PulledModel | undefined> {
  return store.findPulled(entry.repo, entryRevision(entry), listed);
}

export async function resolveModel(spec: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  const store = options.store ?? ModelStore.open();
  const expanded = spec.startsWith("~/") ? path.join(os.homedir(), spec.slice(2)) : spec;
  const asPath = path.resolve(options.cwd ?? process.cwd(), expanded);
  // Anything on disk is meant as a path; readModelFolder says what is wrong with it, if anything.
  if (await exists(asPath)) return { dir: asPath, source: "path", downloaded: false };
  if (looksLikePath(spec)) {
    throw new EaselError("model-missing", `model folder ${asPath} does not exist: pass a folder in the diffusers ONNX layout, a catalog id or owner/name`);
  }

  const entry = findCatalogEntry(spec, options.catalog);
  if (entry) {
    const have = await findPulledEntry(store, entry);
    if (have) return { dir: await checkedDir(have), source: "catalog", entry, downloaded: false, ...noteOf(have.manifest) };
    refuseDownload(spec, options);
    if (options.provider) checkCatalogProvider(entry, options.provider);
    const { model } = await pullModel(entry.repo, entryRevision(entry), { ...options, store }, entry);
    // The first model of a family brings its TAESD decoder (asked once); the model is usable either way.
    const decoder = await ensureDecoderFor(entry.family, { ...options, store, decline: options.taesd === false });
    return { dir: model.dir, source: "catalog", entry, downloaded: true, ...noteOf(model.manifest), ...(decoder ? { decoder } : {}) };
  }

  const local = (await store.listLocal()).find((l) => l.name === spec);
  if (local) return { dir: await checkedLocal(local), source: "local", downloaded: false };

  const ref = parseRepoRef(spec);
  if (ref) {
    const have = await store.findPulled(ref.repo, ref.revision);
    if (have) return { dir: await checkedDir(have), source: "repo", downloaded: false, ...noteOf(have.manifest) };
    refuseDownload(spec, options);
    const { model } = await pullModel(ref.repo, ref.revision, { ...options, store });
    return { dir: model.dir, source: "repo", downloaded: true, ...noteOf(model.manifest) };
  }
  const ids = (options.catalog ?? loadCatalog()).models.map((m) => m.id).join(", ");
  throw new EaselError("model-missing", `--model ${spec} is not a folder, a catalog id (${ids}), an added model or a Hugging Face repo (owner/name): see 'easel models list'`);
}

function refuseDownload(spec: string, options: ResolveOptions): void {
  if (options.download === false) {
    throw new EaselError("model-missing", `${spec} is not downloaded yet: download it first ('easel models pull' or 'Easel: Download Model')`);
  }
}

/** The cheap check before every use: all files present with their recorded sizes. */
async function checkedDir(model: PulledModel): Promise<string> {
  const manifest = (await readManifest(model.dir)) ?? model.manifest;
  const report = await verifyFolder(model.dir, manifest, { hashes: false });
  if (report.problems.length > 0) {
    throw new EaselError("model-invalid", `${model.repo}@${model.commit.slice(0, 12)} in ${model.dir} is damaged (${report.problems[0]}): run 'easel models rm ${model.repo}@${model.commit}' and pull it again`);
  }
  return model.dir;
}

async function checkedLocal(local: LocalModel): Promise<string> {
  if (!(await isDirectory(local.dir))) {
    throw new EaselError("model-missing", `the added model "${local.name}" pointed to ${local.dir}, which is gone: add it again (easel models add DIR) or remove it (easel models rm ${local.name})`);
  }
  return local.dir;
}
