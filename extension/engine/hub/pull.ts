// `easel models pull`: resolve the revision to a commit, check the file list makes a model, show
// the licence, check free space, download every file (resumable, verified) into a hidden staging
// folder, and only then move it into place: a model folder is complete and verified, or absent.
import { promises as fs } from "node:fs";
import path from "node:path";
import { badArgument, EaselError, firstLine } from "../errors";
import { assertStrictlyInside } from "../safePath";
import { writeFileAtomic } from "../image/atomicWrite";
import { readModelFolder } from "../model/modelFolder";
import { type CatalogEntry, entryRevision } from "./catalog";
import { type FreeSpace, statfsFreeSpace } from "./diskSpace";
import { cancelledError, downloadFile, type VerifiedFile } from "./fileDownload";
import { checkLayout, selectFiles, type SelectedFile } from "./fileSelection";
import { hubConfig, type HubConfig, type HubOptions } from "./hubConfig";
import { type ConfirmLicense, ensureLicenseAccepted, licenseFromCatalog, licenseFromRepo } from "./license";
import { type Manifest, MANIFEST_NAME, type ManifestFile, readManifest, sizeOnlyFiles } from "./manifest";
import { fileSize, type OpenPart, openPartFile } from "./partFile";
import { formatBytes, ProgressTracker, type PullProgress } from "./progress";
import { acquirePullLock } from "./pullLock";
import { fetchRevision, fetchTreeHashes, type RepoRevision } from "./repoInfo";
import { isCommitHash, isRepoId, isRevision } from "./repoId";
import { ModelStore, type PulledModel } from "./store";

export interface PullOptions extends HubOptions {
  readonly store?: ModelStore;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PullProgress) => void;
  /** Asked once per licence not yet accepted; without it such a pull fails with a clear message. */
  readonly confirmLicense?: ConfirmLicense;
  /** Files fetched at once (default 4). */
  readonly concurrency?: number;
  readonly progressIntervalMs?: number;
  /** For tests: how parts are written (a full disk) and how free space is measured. */
  readonly openPart?: OpenPart;
  readonly freeSpace?: FreeSpace;
  /** Glob patterns of files left out of the selection: a graph-only template's weight files (its store is `store.templates()`). */
  readonly exclude?: readonly string[];
}

export interface PullResult {
  readonly model: PulledModel;
  /** False when the folder was already in the store. */
  readonly downloaded: boolean;
  /** Files accepted on their size alone (the Hub published no hash for them); empty when all were hash-checked. */
  readonly sizeOnly: readonly string[];
}

/** Space kept free beyond the download itself, so the disk is not filled to the last byte. */
const SPARE_BYTES = 64 * 1024 * 1024;

export async function pullModel(repo: string, revision: string | undefined, options: PullOptions = {}, entry?: CatalogEntry): Promise<PullResult> {
  const store = options.store ?? ModelStore.open();
  const config = hubConfig(options);
  const rev = revision ?? (entry ? entryRevision(entry) : "main");
  // The extension and other callers hand these over without going through parseRepoRef.
  if (!isRepoId(repo)) throw badArgument(`${JSON.stringify(repo)} is not a Hugging Face repository: write owner/name`);
  if (!isRevision(rev)) throw badArgument(`${JSON.stringify(rev)} is not a branch, tag or commit of ${repo}: write owner/name@revision with letters, digits, '.', '_', '-' and '/'`);
  const label = `${repo}@${rev}`;
  if (isCommitHash(rev)) {
    const have = await store.findPulled(repo, rev);
    if (have) return { model: have, downloaded: false, sizeOnly: sizeOnlyFiles(have.manifest) };
  }
  const info = await fetchRevision(config, repo, rev, options.signal);
  const final = store.folderFor(repo, info.commit);
  const existing = await readManifest(final);
  if (existing && existing.commit === info.commit) {
    await store.recordRef(repo, rev, info.commit);
    return { model: { kind: "pulled", repo, commit: info.commit, dir: final, manifest: existing }, downloaded: false, sizeOnly: sizeOnlyFiles(existing) };
  }

  const listed = selectFiles(info.files, entry?.subfolder, entry?.include, { exclude: options.exclude });
  checkLayout(listed, label);
  const selected = await withTreeHashes(config, info, listed, options.signal);
  checkCatalogFiles(selected, entry, label);
  const license = entry ? licenseFromCatalog(entry) : licenseFromRepo(info);
  await ensureLicenseAccepted(store, license, entry ? `${entry.name} (${repo})` : repo, options.confirmLicense);

  await store.ensureRoot();
  const staging = store.partialFor(repo, info.commit);
  const release = await acquirePullLock(`${staging}.lock`, label);
  try {
    await fs.mkdir(staging, { recursive: true });
    await checkFreeSpace(store.root, staging, selected, options.freeSpace ?? statfsFreeSpace);
    const verified = await downloadAll(config, info, selected, staging, options);
    const manifest: Manifest = {
      format: 1,
      repo,
      commit: info.commit,
      revision: rev,
      ...(entry?.subfolder ? { subfolder: entry.subfolder } : {}),
      pulledAt: new Date().toISOString(),
      files: verified,
    };
    await checkFolder(store, staging, label);
    await writeFileAtomic(path.join(staging, MANIFEST_NAME), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    await moveIntoPlace(store, staging, final);
    await store.recordRef(repo, rev, info.commit);
    return { model: { kind: "pulled", repo, commit: info.commit, dir: final, manifest }, downloaded: true, sizeOnly: sizeOnlyFiles(manifest) };
  } finally {
    await release();
  }
}

/**
 * Files the revision listing gave no hash for get one from the tree API when the endpoint has it
 * (the real Hub lists them all; a mirror may not), so they are verified rather than size-checked.
 */
export async function withTreeHashes(config: HubConfig, info: RepoRevision, selected: readonly SelectedFile[], signal: AbortSignal | undefined): Promise<readonly SelectedFile[]> {
  const bare = selected.filter((s) => s.file.sha256 === undefined && s.file.blobId === undefined);
  if (bare.length === 0) return selected;
  const found = await fetchTreeHashes(config, info, bare.map((s) => s.file), signal);
  if (!found) return selected;
  return selected.map((s) => {
    const hashes = bare.includes(s) ? found.get(s.file.path) : undefined;
    return hashes ? { ...s, file: { ...s.file, ...hashes } } : s;
  });
}

/** Sizes and hashes the catalog established must agree with what the Hub lists now. */
export function checkCatalogFiles(selected: readonly SelectedFile[], entry: Pick<CatalogEntry, "files"> | undefined, label: string): void {
  for (const s of selected) {
    const known = entry?.files?.[s.local];
    if (!known) continue;
    if ((known.size !== undefined && known.size !== s.file.size) || (known.sha256 !== undefined && s.file.sha256 !== undefined && known.sha256 !== s.file.sha256)) {
      throw new EaselError("model-invalid", `${s.local} of ${label} is not the file the catalog describes (size or sha256 differ): the repository changed; pull a pinned revision or update Easel`);
    }
  }
}

export async function checkFreeSpace(root: string, staging: string, selected: readonly SelectedFile[], freeSpace: FreeSpace): Promise<void> {
  let needed = 0;
  for (const s of selected) {
    const done = await fileSize(path.join(staging, s.local));
    const part = done === s.file.size ? done : await fileSize(path.join(staging, `${s.local}.part`));
    needed += Math.max(0, s.file.size - Math.min(part, s.file.size));
  }
  if (needed === 0) return;
  let free: number;
  try {
    free = await freeSpace(root);
  } catch {
    return; // A file system that cannot say is not a reason to refuse; a real shortage still fails cleanly.
  }
  if (needed + SPARE_BYTES > free) {
    throw new EaselError(
      "output-unwritable",
      `not enough disk space in ${root}: the download needs ${formatBytes(needed + SPARE_BYTES)} and ${formatBytes(free)} is free; free some space or set EASEL_HOME to a larger disk`,
    );
  }
}

export async function downloadAll(config: HubConfig, info: RepoRevision, selected: readonly SelectedFile[], staging: string, options: PullOptions): Promise<ManifestFile[]> {
  const tracker = new ProgressTracker(
    info.repo,
    info.commit,
    selected.map((s) => ({ path: s.local, size: s.file.size })),
    options.onProgress,
    options.progressIntervalMs,
  );
  // One failure stops the other files; the user's cancel stops everything.
  const inner = new AbortController();
  const onAbort = () => inner.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const queue = [...selected].sort((a, b) => b.file.size - a.file.size);
  const results = new Map<string, VerifiedFile>();
  let firstError: unknown;

  const worker = async () => {
    for (let s = queue.shift(); s && firstError === undefined; s = queue.shift()) {
      try {
        results.set(s.local, await fetchOne(config, info, s, staging, inner.signal, options.openPart ?? openPartFile, tracker));
      } catch (error) {
        firstError ??= error;
        inner.abort(error);
      }
    }
  };
  try {
    const n = Math.max(1, Math.min(options.concurrency ?? 4, queue.length));
    await Promise.all(Array.from({ length: n }, worker));
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  if (options.signal?.aborted) throw cancelledError();
  if (firstError !== undefined) throw firstError;
  tracker.emit(true);
  return selected.map((s) => {
    const v = results.get(s.local)!;
    return { path: s.local, size: v.size, ...(v.sha256 ? { sha256: v.sha256 } : {}), ...(v.blobId ? { blobId: v.blobId } : {}), ...(v.hashChecked ? {} : { hashPublished: false as const }) };
  });
}

async function fetchOne(
  config: HubConfig,
  info: RepoRevision,
  s: SelectedFile,
  staging: string,
  signal: AbortSignal,
  openPart: OpenPart,
  tracker: ProgressTracker,
): Promise<VerifiedFile> {
  // s.local passed the listing's and the selection's checks; this is the last guard before writing.
  const done = assertStrictlyInside(staging, path.join(staging, s.local), "a downloaded file");
  // A file under its final name in the staging folder was renamed there only after it verified.
  if ((await fileSize(done)) === s.file.size && s.file.size > 0) {
    tracker.bytes(s.local, s.file.size, false);
    tracker.verified(s.local);
    return { path: s.local, size: s.file.size, sha256: s.file.sha256, blobId: s.file.blobId, hashChecked: s.file.sha256 !== undefined || s.file.blobId !== undefined };
  }
  await fs.mkdir(path.dirname(done), { recursive: true });
  const encoded = s.file.path.split("/").map(encodeURIComponent).join("/");
  const url = new URL(`${config.endpoint.pathname.replace(/\/$/, "")}/${info.repo}/resolve/${info.commit}/${encoded}`, config.endpoint);
  const verified = await downloadFile(
    { repo: info.repo, commit: info.commit, file: s.file, url, partPath: `${done}.part` },
    { config, signal, openPart, onBytes: (delta, fetched) => tracker.bytes(s.local, delta, fetched) },
  );
  await fs.rename(`${done}.part`, done);
  tracker.verified(s.local);
  return verified;
}

/** The folder must load as a model before it is published under its final name. */
async function checkFolder(store: ModelStore, staging: string, label: string): Promise<void> {
  try {
    await readModelFolder(staging);
  } catch (error) {
    await store.removeFolder(staging);
    throw new EaselError("model-invalid", `${label} downloaded and verified but is not a usable model folder (${firstLine(error)}): pick another repository or revision`);
  }
}

export async function moveIntoPlace(store: ModelStore, staging: string, final: string): Promise<void> {
  try {
    await fs.rename(staging, final);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another process finished the same commit first: its folder is as good as ours.
    if ((code === "ENOTEMPTY" || code === "EEXIST" || code === "EPERM") && (await readManifest(final))) {
      await store.removeFolder(staging);
      return;
    }
    throw new EaselError("output-unwritable", `cannot move the finished download into ${final} (${code ?? firstLine(error)}): check the store folder's permissions`);
  }
}
