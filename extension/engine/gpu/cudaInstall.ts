// CUDA on Linux x64, on demand. onnxruntime-node's linux-x64 libonnxruntime.so.1 has the CUDA
// provider built in, but its libraries (libonnxruntime_providers_{shared,cuda}.so, ≈250 MB) are only
// in the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux of the same version, and ONNX Runtime
// loads them from the folder libonnxruntime.so.1 was loaded from. Easel never writes into
// node_modules (read-only in an installed extension, and shared): it makes a private copy of
// onnxruntime-node's native folder in its cache, puts the two provider libraries next to it, and
// every Easel process loads ONNX Runtime from there once it is complete (ortBinding.ts).
//
// The install: check the system's CUDA 12 / cuDNN 9 libraries first (no 250 MB that cannot load),
// find the package on the feed with its published SHA-512, download it resumably with the Hub's
// machinery, unpack the two libraries into a staging folder and rename it into place. A folder
// is complete (with its manifest) or absent; one process installs at a time and the other waits.
// This is the one module that knows whether CUDA is provisioned and where (`cudaStatus`).
import { readFileSync, statSync, promises as fs } from "node:fs";
import path from "node:path";
import { EaselError, firstLine } from "../errors";
import { writeFileAtomic } from "../image/atomicWrite";
import { downloadFile, type DownloadSource } from "../hub/fileDownload";
import { type FreeSpace, statfsFreeSpace } from "../hub/diskSpace";
import type { HubConfig } from "../hub/hubConfig";
import { fileSize, type OpenPart, openPartFile } from "../hub/partFile";
import { formatBytes, ProgressTracker, type PullProgress } from "../hub/progress";
import { waitForPullLock } from "../hub/pullLock";
import { defaultStoreRoot } from "../hub/storePaths";
import { type CudaProbeDeps, findCudaLibraries, CUDA_DRIVER_LIBRARY } from "./cudaLibraries";
import { NUGET_ENDPOINT_ENV, nugetConfig, nugetStatusError, type NugetOptions, type NugetPackage, resolveNugetPackage } from "./nuget";
import { extractZipEntry, readZipEntries } from "./zipEntries";

export const CUDA_PACKAGE_ID = "Microsoft.ML.OnnxRuntime.Gpu.Linux";
/** What ONNX Runtime loads beside libonnxruntime.so.1 for the CUDA provider (TensorRT's is left out). */
export const CUDA_PROVIDER_FILES = ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"] as const;
/** onnxruntime-node's linux-x64 native folder, copied as it is. */
export const ORT_NATIVE_FILES = ["onnxruntime_binding.node", "libonnxruntime.so.1"] as const;
const PACKAGE_NATIVE_DIR = "runtimes/linux-x64/native";
const MANIFEST = "easel-cuda.json";
export const INSTALL_COMMAND = "easel gpu install cuda";

export interface CudaLocations {
  /** Easel's GPU cache: `$EASEL_HOME/gpu`, else `$XDG_CACHE_HOME/easel/gpu`, else the OS cache's `easel/gpu`. */
  readonly root: string;
  /** onnxruntime-node's bin/napi-v6/linux/x64. */
  readonly ortFolder: string;
  /** onnxruntime-node's version: the package version fetched, and part of the folder's name. */
  readonly ortVersion: string;
}

export function defaultCudaLocations(env: NodeJS.ProcessEnv = process.env): CudaLocations {
  const packageJson = require.resolve("onnxruntime-node/package.json");
  const version = (JSON.parse(readFileSync(packageJson, "utf8")) as { version?: unknown }).version;
  return {
    // Beside the model store (`…/easel/models`); easel.cacheFolder moves only the models.
    root: path.join(path.dirname(defaultStoreRoot(env)), "gpu"),
    ortFolder: path.join(path.dirname(packageJson), "bin", "napi-v6", "linux", "x64"),
    ortVersion: typeof version === "string" ? version : "unknown",
  };
}

export function cudaFolder(loc: CudaLocations): string {
  return path.join(loc.root, `onnxruntime-node-${loc.ortVersion}-linux-x64-cuda12`);
}

interface CudaManifest {
  readonly format: 1;
  readonly package: string;
  readonly version: string;
  readonly sha512: string;
  readonly installedAt: string;
  readonly files: ReadonlyArray<{ readonly name: string; readonly size: number }>;
}

/**
 * The provisioned folder, or undefined: synchronous and cheap (a manifest and four stats), since
 * the engine process decides with it which ONNX Runtime to load before anything else runs.
 */
export function provisionedCudaFolder(loc: CudaLocations): string | undefined {
  const folder = cudaFolder(loc);
  try {
    const m = JSON.parse(readFileSync(path.join(folder, MANIFEST), "utf8")) as Partial<CudaManifest>;
    if (m.format !== 1 || m.package !== CUDA_PACKAGE_ID || m.version !== loc.ortVersion || !Array.isArray(m.files)) return undefined;
    const names = m.files.map((f) => f.name);
    if (![...ORT_NATIVE_FILES, ...CUDA_PROVIDER_FILES].every((n) => names.includes(n))) return undefined;
    for (const f of m.files) if (statSync(path.join(folder, f.name)).size !== f.size) return undefined;
    return folder;
  } catch {
    return undefined;
  }
}

export interface CudaStatus {
  /** Linux x64: the only platform whose onnxruntime-node has the CUDA provider. */
  readonly supported: boolean;
  readonly provisioned: boolean;
  /** Where the libraries are, or will be once installed. */
  readonly folder: string;
  readonly packageId: string;
  readonly packageVersion: string;
  /** Bytes on disk when provisioned. */
  readonly sizeBytes: number | undefined;
  /** False when no NVIDIA driver is found: there is nothing to offer then. */
  readonly driver: boolean;
  /** Sonames the CUDA provider needs that the loader cannot find (the driver's included). */
  readonly missingSystemLibs: readonly string[];
  /** What to install or export, in one line; "" when the system libraries are all there. */
  readonly advice: string;
}

export interface CudaStatusOptions {
  readonly locations?: CudaLocations;
  readonly probe?: CudaProbeDeps;
  readonly platform?: NodeJS.Platform;
  readonly arch?: string;
}

export async function cudaStatus(options: CudaStatusOptions = {}): Promise<CudaStatus> {
  const loc = options.locations ?? defaultCudaLocations();
  const supported = (options.platform ?? process.platform) === "linux" && (options.arch ?? process.arch) === "x64";
  const folder = cudaFolder(loc);
  const base = { supported, folder, packageId: CUDA_PACKAGE_ID, packageVersion: loc.ortVersion };
  if (!supported) return { ...base, provisioned: false, sizeBytes: undefined, driver: false, missingSystemLibs: [], advice: "CUDA is offered on Linux x64 only" };
  const provisioned = provisionedCudaFolder(loc) !== undefined;
  const libs = await findCudaLibraries(options.probe);
  const missingSystemLibs = [...(libs.driver ? [] : [CUDA_DRIVER_LIBRARY]), ...libs.missing, ...libs.offPath.map((o) => o.soname)];
  return { ...base, provisioned, sizeBytes: provisioned ? await folderBytes(folder) : undefined, driver: libs.driver, missingSystemLibs, advice: libs.advice };
}

async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(folder)) total += await fileSize(path.join(folder, name));
  return total;
}

export interface CudaInstallOptions extends NugetOptions, CudaStatusOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PullProgress) => void;
  readonly progressIntervalMs?: number;
  /** Asked with the package (its size) before anything is downloaded; false installs nothing. */
  readonly confirm?: (pkg: NugetPackage) => Promise<boolean>;
  /** Told when another Easel process is installing: this one waits for it. */
  readonly onWait?: (pid: number) => void;
  readonly lockPollMs?: number;
  /** For tests: how the package file is written, and how free space is measured. */
  readonly openPart?: OpenPart;
  readonly freeSpace?: FreeSpace;
}

export type CudaInstallResult =
  | { readonly status: "installed"; readonly folder: string; readonly package: NugetPackage; readonly sizeBytes: number }
  | { readonly status: "present"; readonly folder: string }
  | { readonly status: "declined"; readonly folder: string; readonly package: NugetPackage };

/** Installs the CUDA provider libraries; each failure is one line saying what to do. */
export async function installCuda(options: CudaInstallOptions = {}): Promise<CudaInstallResult> {
  const loc = options.locations ?? defaultCudaLocations();
  const status = await cudaStatus({ ...options, locations: loc });
  if (!status.supported) throw new EaselError("provider-unavailable", `CUDA is offered on Linux x64 only (this is ${options.platform ?? process.platform}-${options.arch ?? process.arch}): use --provider auto`);
  if (status.provisioned) return { status: "present", folder: status.folder };
  if (status.advice !== "") throw new EaselError("provider-unavailable", `${status.advice}; then run '${INSTALL_COMMAND}' again`);

  const config = nugetConfig(options);
  const pkg = await resolveNugetPackage(config, CUDA_PACKAGE_ID, loc.ortVersion, options.signal);
  if (options.confirm && !(await options.confirm(pkg))) return { status: "declined", folder: status.folder, package: pkg };

  const partial = path.join(loc.root, ".partial");
  await fs.mkdir(partial, { recursive: true }).catch((error: unknown) => {
    throw new EaselError("output-unwritable", `cannot create ${partial} (${(error as NodeJS.ErrnoException).code ?? firstLine(error)}): set EASEL_HOME to a writable folder`);
  });
  const name = path.basename(status.folder);
  const release = await waitForPullLock(path.join(partial, `${name}.lock`), { signal: options.signal, onWait: options.onWait, pollMs: options.lockPollMs });
  try {
    // Another process may have finished while this one waited.
    if (provisionedCudaFolder(loc)) return { status: "present", folder: status.folder };
    const nupkg = path.join(partial, `${pkg.id.toLowerCase()}.${pkg.version.toLowerCase()}.nupkg`);
    const freeSpace = options.freeSpace ?? statfsFreeSpace;
    await checkFreeSpace(loc.root, pkg.size - Math.min(await fileSize(nupkg), pkg.size), "the download", freeSpace);
    await downloadPackage(pkg, nupkg, config, options);
    await checkFreeSpace(loc.root, await unpackedBytes(loc, nupkg), "unpacking it", freeSpace);
    const staging = path.join(partial, name);
    await fs.rm(staging, { recursive: true, force: true });
    try {
      await fs.mkdir(staging);
      const files = await unpack(loc, pkg, nupkg, staging, options.signal);
      const manifest: CudaManifest = { format: 1, package: CUDA_PACKAGE_ID, version: loc.ortVersion, sha512: pkg.sha512, installedAt: new Date().toISOString(), files };
      await writeFileAtomic(path.join(staging, MANIFEST), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
      if (options.signal?.aborted) throw cancelled();
      // A folder without a valid manifest (an older Easel's, or one damaged) is replaced whole.
      await fs.rm(status.folder, { recursive: true, force: true });
      await fs.rename(staging, status.folder);
    } catch (error) {
      await fs.rm(staging, { recursive: true, force: true });
      throw error;
    }
    await fs.rm(nupkg, { force: true });
    return { status: "installed", folder: status.folder, package: pkg, sizeBytes: await folderBytes(status.folder) };
  } finally {
    await release();
  }
}

/** Kept free beyond what the install writes, so the disk is not filled to the last byte. */
const SPARE_BYTES = 64 * 1024 * 1024;

async function checkFreeSpace(root: string, needed: number, what: string, freeSpace: FreeSpace): Promise<void> {
  if (needed <= 0) return;
  let free: number;
  try {
    free = await freeSpace(root);
  } catch {
    return; // A file system that cannot say is no reason to refuse; a real shortage still fails cleanly.
  }
  if (needed + SPARE_BYTES > free) {
    throw new EaselError("output-unwritable", `not enough disk space in ${root}: ${what} needs ${formatBytes(needed + SPARE_BYTES)} and ${formatBytes(free)} is free; free some space or set EASEL_HOME to a larger disk`);
  }
}

/** What unpacking writes: the copy of onnxruntime-node's folder and the two libraries, as the zip states their sizes. */
async function unpackedBytes(loc: CudaLocations, nupkg: string): Promise<number> {
  let total = 0;
  for (const name of ORT_NATIVE_FILES) total += await fileSize(path.join(loc.ortFolder, name));
  const entries = await readZipEntries(nupkg);
  for (const name of CUDA_PROVIDER_FILES) total += entries.find((e) => e.name === `${PACKAGE_NATIVE_DIR}/${name}`)?.size ?? 0;
  return total;
}

function cancelled(): EaselError {
  return new EaselError("cancelled", `CUDA install cancelled: nothing was installed; run '${INSTALL_COMMAND}' again to resume the download where it stopped`);
}

/** The .nupkg, fetched (or finished) and checked against the feed's SHA-512; kept until unpacked, so a cancel resumes. */
async function downloadPackage(pkg: NugetPackage, file: string, config: HubConfig, options: CudaInstallOptions): Promise<void> {
  const label = path.basename(file);
  const tracker = new ProgressTracker(pkg.id, pkg.version, [{ path: label, size: pkg.size }], options.onProgress, options.progressIntervalMs);
  const source: DownloadSource = {
    name: `the NuGet feed ${config.endpoint.host}`,
    subject: `${pkg.id} ${pkg.version}`,
    again: `run '${INSTALL_COMMAND}' again`,
    owner: `the feed's owner (${NUGET_ENDPOINT_ENV} chooses the feed)`,
    rangeRefused: `run '${INSTALL_COMMAND}' again`,
    statusError: (status, headers) => nugetStatusError(status, config.endpoint.host, `${pkg.id} ${pkg.version}`, typeof headers["retry-after"] === "string" ? headers["retry-after"] : undefined),
  };
  try {
    await downloadFile(
      { repo: pkg.id, commit: pkg.version, file: { path: label, size: pkg.size, sha256: undefined, blobId: undefined }, url: pkg.url, partPath: file, expected: { kind: "sha512", hex: pkg.sha512 } },
      { config, signal: options.signal, openPart: options.openPart ?? openPartFile, onBytes: (delta, fetched) => tracker.bytes(label, delta, fetched), source },
    );
  } catch (error) {
    if (error instanceof EaselError && error.code === "cancelled") throw cancelled();
    // The download machinery words its errors for model pulls; these belong to the provider.
    if (error instanceof EaselError && error.code !== "provider-unavailable") throw new EaselError("provider-unavailable", error.message, error.retryable);
    throw error;
  }
  tracker.verified(label);
  tracker.emit(true);
}

/** The copy of onnxruntime-node's native folder and the two provider libraries, into `staging`. */
async function unpack(loc: CudaLocations, pkg: NugetPackage, nupkg: string, staging: string, signal: AbortSignal | undefined): Promise<{ name: string; size: number }[]> {
  const files: { name: string; size: number }[] = [];
  for (const name of ORT_NATIVE_FILES) {
    if (signal?.aborted) throw cancelled();
    await fs.copyFile(path.join(loc.ortFolder, name), path.join(staging, name)).catch((error: unknown) => {
      throw new EaselError("provider-unavailable", `cannot copy ${name} from onnxruntime-node (${(error as NodeJS.ErrnoException).code ?? firstLine(error)}): reinstall Easel`);
    });
    files.push({ name, size: await fileSize(path.join(staging, name)) });
  }
  const entries = await readZipEntries(nupkg);
  for (const name of CUDA_PROVIDER_FILES) {
    if (signal?.aborted) throw cancelled();
    const entry = entries.find((e) => e.name === `${PACKAGE_NATIVE_DIR}/${name}`);
    if (!entry) throw new EaselError("provider-unavailable", `${pkg.id} ${pkg.version} has no ${PACKAGE_NATIVE_DIR}/${name}: this Easel cannot use it; report it to Easel`);
    try {
      await extractZipEntry(nupkg, entry, path.join(staging, name), signal);
    } catch (error) {
      if (signal?.aborted) throw cancelled();
      throw error;
    }
    files.push({ name, size: entry.size });
  }
  return files;
}

/** How `--provider cuda` reads when this machine cannot use it yet, or undefined when it can be tried. */
export function cudaSetupProblem(loc: CudaLocations = defaultCudaLocations()): string | undefined {
  if (provisionedCudaFolder(loc)) return undefined;
  return `CUDA's provider libraries are not installed: run '${INSTALL_COMMAND}' (downloads ${CUDA_PACKAGE_ID} ${loc.ortVersion}, about 250 MB, once), or use --provider auto`;
}

