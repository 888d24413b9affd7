// Catalog entries that are one file beside the models (TAESD decoders, background removers,
// super-resolution upscalers, fast mode's LoRAs), all pulled here:
// pinned values checked before any byte is fetched, the file downloaded resumably and verified
// into a staging folder, then moved into place with its manifest, exactly as a model is.
import { promises as fs } from "node:fs";
import path from "node:path";
import { EaselError } from "../errors";
import { writeFileAtomic } from "../image/atomicWrite";
import { type CatalogEntry, entryRevision } from "./catalog";
import { statfsFreeSpace } from "./diskSpace";
import { selectFiles } from "./fileSelection";
import { hubConfig } from "./hubConfig";
import { type Manifest, MANIFEST_NAME, readManifest, sizeOnlyNote } from "./manifest";
import { fileSize } from "./partFile";
import { checkCatalogFiles, checkFreeSpace, downloadAll, moveIntoPlace, type PullOptions, withTreeHashes } from "./pull";
import { acquirePullLock } from "./pullLock";
import { fetchRevision } from "./repoInfo";
import { ModelStore } from "./store";

/** What a one-file entry needs to be pulled and found. */
export interface SingleFileEntry {
  readonly id: string;
  readonly repo: string;
  readonly ref: string;
  readonly revision?: string;
  /** The file inside the repository (a graph, a LoRA), the only file fetched. */
  readonly file: string;
  readonly files?: CatalogEntry["files"];
}

export type SingleFilePull =
  | { readonly status: "present"; readonly file: string }
  /** `sizeOnlyNote`: the Hub published no hash for the file (see manifest.sizeOnlyNote). */
  | { readonly status: "downloaded"; readonly file: string; readonly bytes: number; readonly sizeOnlyNote?: string }
  | { readonly status: "declined" };

/** The entry's file in the store when it is downloaded and whole (its size as recorded); no network. */
export async function findStoreFile(store: ModelStore, entry: SingleFileEntry): Promise<string | undefined> {
  const pulled = await store.findPulled(entry.repo, entryRevision(entry));
  if (!pulled) return undefined;
  const recorded = pulled.manifest.files.find((f) => f.path === entry.file);
  const file = path.join(pulled.dir, ...entry.file.split("/"));
  if (!recorded || (await fileSize(file)) !== recorded.size) return undefined;
  return file;
}

/** The store folder of `commit` lists `file` in its manifest and holds it at its recorded size. */
async function holdsFile(folder: string, commit: string, file: string, local: string): Promise<boolean> {
  const manifest = await readManifest(folder);
  const recorded = manifest?.commit === commit ? manifest.files.find((f) => f.path === file) : undefined;
  return recorded !== undefined && (await fileSize(local)) === recorded.size;
}

/**
 * Downloads the entry's file into the store (or finds it there). `confirm` is asked with the size
 * after the pins are checked and before any byte is fetched; a no returns "declined".
 */
export async function pullSingleFile(
  entry: SingleFileEntry,
  options: PullOptions & {
    readonly confirm?: (bytes: number) => Promise<boolean>;
    /** What else the user can do when the repository lost the file ("or give easel upscale an .onnx file"). */
    readonly otherwise?: string;
  } = {},
): Promise<SingleFilePull> {
  const store = options.store ?? ModelStore.open();
  const config = hubConfig(options);
  const rev = entryRevision(entry);
  const label = `${entry.repo}@${rev}`;
  const info = await fetchRevision(config, entry.repo, rev, options.signal);
  const final = store.folderFor(entry.repo, info.commit);
  const local = path.join(final, ...entry.file.split("/"));
  if (await holdsFile(final, info.commit, entry.file, local)) {
    await store.recordRef(entry.repo, rev, info.commit);
    return { status: "present", file: local };
  }
  // The entry names its one file (fast mode's LoRAs are .safetensors files, which a model pull skips as PyTorch weights).
  const listed = selectFiles(info.files, undefined, [entry.file], { keepWeights: true });
  if (listed.length !== 1) throw new EaselError("model-invalid", `${label} no longer has ${entry.file}: update Easel${options.otherwise ? `, ${options.otherwise}` : ""}`);
  // As for a model: a hash the listing left out comes from the tree API, so the file is verified, not only size-checked.
  const selected = await withTreeHashes(config, info, listed, options.signal);
  checkCatalogFiles(selected, entry, label);
  const bytes = selected[0].file.size;
  if (options.confirm && !(await options.confirm(bytes))) return { status: "declined" };

  await store.ensureRoot();
  const staging = store.partialFor(entry.repo, info.commit);
  const release = await acquirePullLock(`${staging}.lock`, label);
  try {
    // Another process may have fetched it while this one waited for the lock.
    if (await holdsFile(final, info.commit, entry.file, local)) {
      await store.recordRef(entry.repo, rev, info.commit);
      return { status: "present", file: local };
    }
    await fs.mkdir(staging, { recursive: true });
    await checkFreeSpace(store.root, staging, selected, options.freeSpace ?? statfsFreeSpace);
    const files = await downloadAll(config, info, selected, staging, options);
    const existing = await readManifest(final);
    let manifest: Manifest;
    if (existing?.commit === info.commit) {
      // Several catalog files of one repository and commit (SDXL-Lightning's 2-, 4- and 8-step LoRAs)
      // share its folder: the new file joins the others and the manifest lists them all.
      manifest = { ...existing, files: [...existing.files.filter((f) => f.path !== entry.file), ...files] };
      await fs.mkdir(path.dirname(local), { recursive: true });
      await fs.rename(path.join(staging, ...entry.file.split("/")), local);
      await writeFileAtomic(path.join(final, MANIFEST_NAME), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
      await store.removeFolder(staging);
    } else {
      manifest = { format: 1, repo: entry.repo, commit: info.commit, revision: rev, pulledAt: new Date().toISOString(), files };
      await writeFileAtomic(path.join(staging, MANIFEST_NAME), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
      await moveIntoPlace(store, staging, final);
    }
    await store.recordRef(entry.repo, rev, info.commit);
    const note = sizeOnlyNote(manifest);
    return { status: "downloaded", file: local, bytes, ...(note === undefined ? {} : { sizeOnlyNote: note }) };
  } finally {
    await release();
  }
}
