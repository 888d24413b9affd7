// The catalog's TAESD decoders in the store: fetched with the first model of a family they serve
// (the user is asked once; a "no" is remembered until they pull the decoder themselves), and
// found by family when a model loads, so previews and draft images need no configured path.
// A decoder is one small ONNX file, pulled like a model: pins checked before any byte is fetched,
// resumable and verified into a staging folder, then moved into place with its manifest.
import { promises as fs } from "node:fs";
import path from "node:path";
import { EaselError, firstLine } from "../errors";
import { writeFileAtomic } from "../image/atomicWrite";
import { type Catalog, type CatalogDecoder, type DecoderOutput, decoderForFamily, entryRevision } from "./catalog";
import { statfsFreeSpace } from "./diskSpace";
import { selectFiles } from "./fileSelection";
import { hubConfig } from "./hubConfig";
import { type Manifest, MANIFEST_NAME, readManifest, sizeOnlyNote } from "./manifest";
import { fileSize } from "./partFile";
import { checkCatalogFiles, checkFreeSpace, downloadAll, moveIntoPlace, type PullOptions, withTreeHashes } from "./pull";
import { acquirePullLock } from "./pullLock";
import { fetchRevision } from "./repoInfo";
import { ModelStore } from "./store";

/** Asks whether to fetch a decoder of `bytes` bytes (its name, licence and size are shown). */
export type ConfirmDecoder = (decoder: CatalogDecoder, bytes: number) => Promise<boolean>;

export interface DecoderPullOptions extends PullOptions {
  /** Asked before a decoder's first download (after its pins are checked); a "no" is remembered. Without it the decoder is fetched. */
  readonly confirmDecoder?: ConfirmDecoder;
  /** For tests: a catalog other than the shipped one. */
  readonly catalog?: Catalog;
}

export type DecoderOutcome =
  | { readonly status: "present"; readonly decoder: CatalogDecoder; readonly file: string }
  /** `sizeOnlyNote`: the Hub published no hash for the file (see manifest.sizeOnlyNote); absent when it was verified by hash. */
  | { readonly status: "downloaded"; readonly decoder: CatalogDecoder; readonly file: string; readonly bytes: number; readonly sizeOnlyNote?: string }
  /** The user said no, now or before. */
  | { readonly status: "declined"; readonly decoder: CatalogDecoder }
  /** The model itself is fine; the decoder could not be fetched (the reason in one line). */
  | { readonly status: "failed"; readonly decoder: CatalogDecoder; readonly reason: string };

export interface StoreDecoder {
  /** The decoder's ONNX file. */
  readonly file: string;
  readonly output: DecoderOutput;
  readonly decoder: CatalogDecoder;
}

/** The store's decoder for a model family when it is downloaded and whole (its size as recorded); no network. */
export async function findStoreDecoder(store: ModelStore, family: string, catalog?: Catalog): Promise<StoreDecoder | undefined> {
  const decoder = decoderForFamily(family, catalog);
  if (!decoder) return undefined;
  const file = await findStoreFile(store, decoder);
  return file === undefined ? undefined : { file, output: decoder.output, decoder };
}

/** A catalog file entry's file in the store when it is downloaded and whole (its size as recorded); no network. */
export async function findStoreFile(store: ModelStore, entry: CatalogFileEntry): Promise<string | undefined> {
  const pulled = await store.findPulled(entry.repo, entryRevision(entry));
  if (!pulled) return undefined;
  const recorded = pulled.manifest.files.find((f) => f.path === entry.file);
  const file = path.join(pulled.dir, ...entry.file.split("/"));
  if (!recorded || (await fileSize(file)) !== recorded.size) return undefined;
  return file;
}

/**
 * The decoder for `family` after a model of it was downloaded: the one in the store, else fetched
 * unless the user declined it before (or declines now, through `confirmDecoder`). Never throws for
 * the decoder's sake: a failure is reported as an outcome, since the model is usable without it.
 */
export async function ensureDecoderFor(family: string, options: DecoderPullOptions & { readonly decline?: boolean } = {}): Promise<DecoderOutcome | undefined> {
  const decoder = decoderForFamily(family, options.catalog);
  if (!decoder) return undefined;
  const store = options.store ?? ModelStore.open();
  const have = await findStoreDecoder(store, family, options.catalog);
  if (have) return { status: "present", decoder, file: have.file };
  // `decline`: the user's no given up front (--no-taesd), remembered without asking the Hub anything.
  if (options.decline) await store.recordDecoderChoice(decoder.id, true);
  if (await store.isDecoderDeclined(decoder.id)) return { status: "declined", decoder };
  try {
    return await pullDecoder(decoder, { ...options, store });
  } catch (error) {
    if (error instanceof EaselError && error.code === "cancelled") throw error;
    return { status: "failed", decoder, reason: firstLine(error) };
  }
}

/** Downloads a decoder into the store (or finds it there). Called without `confirmDecoder` it is an explicit pull, which clears an earlier "no". */
export async function pullDecoder(decoder: CatalogDecoder, options: DecoderPullOptions = {}): Promise<DecoderOutcome> {
  const store = options.store ?? ModelStore.open();
  const outcome = await pullCatalogFile(decoder, { ...options, store }, {
    missing: "or set easel.taesdDecoder to a TAESD decoder file",
    confirm: options.confirmDecoder ? (bytes) => options.confirmDecoder!(decoder, bytes) : undefined,
  });
  if (outcome.status === "declined") {
    await store.recordDecoderChoice(decoder.id, true);
    return { status: "declined", decoder };
  }
  if (outcome.status === "downloaded" || !options.confirmDecoder) await store.recordDecoderChoice(decoder.id, false);
  return { ...outcome, decoder };
}

/** A catalog entry that is one file of a repository (a TAESD decoder, a LoRA). */
export interface CatalogFileEntry {
  readonly id: string;
  readonly repo: string;
  readonly ref: string;
  readonly revision?: string;
  readonly file: string;
  readonly files?: Readonly<Record<string, { readonly size?: number; readonly sha256?: string }>>;
}

export type FileOutcome =
  | { readonly status: "present"; readonly file: string }
  | { readonly status: "downloaded"; readonly file: string; readonly bytes: number; readonly sizeOnlyNote?: string }
  | { readonly status: "declined" };

/**
 * Downloads one catalog file into the store (or finds it there), pulled like a model: pins checked
 * before any byte is fetched, resumable and verified into a staging folder, then moved into place
 * with its manifest. `confirm` is asked with the size before a first download.
 */
export async function pullCatalogFile(
  entry: CatalogFileEntry,
  options: PullOptions,
  how: { readonly missing: string; readonly confirm?: (bytes: number) => Promise<boolean> },
): Promise<FileOutcome> {
  const store = options.store ?? ModelStore.open();
  const config = hubConfig(options);
  const rev = entryRevision(entry);
  const label = `${entry.repo}@${rev}`;
  const info = await fetchRevision(config, entry.repo, rev, options.signal);
  const final = store.folderFor(entry.repo, info.commit);
  const local = path.join(final, ...entry.file.split("/"));
  if ((await readManifest(final))?.commit === info.commit) {
    await store.recordRef(entry.repo, rev, info.commit);
    return { status: "present", file: local };
  }
  const listed = selectFiles(info.files, undefined, [entry.file]);
  if (listed.length !== 1) {
    throw new EaselError("model-invalid", `${label} no longer has ${entry.file}: update Easel, ${how.missing}`);
  }
  // As for a model: a hash the listing left out comes from the tree API, so the file is verified, not only size-checked.
  const selected = await withTreeHashes(config, info, listed, options.signal);
  checkCatalogFiles(selected, entry, label);
  const bytes = selected[0].file.size;
  if (how.confirm && !(await how.confirm(bytes))) return { status: "declined" };

  await store.ensureRoot();
  const staging = store.partialFor(entry.repo, info.commit);
  const release = await acquirePullLock(`${staging}.lock`, label);
  try {
    await fs.mkdir(staging, { recursive: true });
    await checkFreeSpace(store.root, staging, selected, options.freeSpace ?? statfsFreeSpace);
    const files = await downloadAll(config, info, selected, staging, options);
    const manifest: Manifest = { format: 1, repo: entry.repo, commit: info.commit, revision: rev, pulledAt: new Date().toISOString(), files };
    await writeFileAtomic(path.join(staging, MANIFEST_NAME), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    await moveIntoPlace(store, staging, final);
    await store.recordRef(entry.repo, rev, info.commit);
    const note = sizeOnlyNote(manifest);
    return { status: "downloaded", file: local, bytes, ...(note === undefined ? {} : { sizeOnlyNote: note }) };
  } finally {
    await release();
  }
}
