// Can ONNX Runtime's CUDA provider load here? It needs the NVIDIA driver and the CUDA 12 and
// cuDNN 9 libraries that libonnxruntime_providers_cuda.so links against, found by the dynamic
// loader: in ldconfig's cache (the system folders) or on LD_LIBRARY_PATH. NVIDIA's pip wheels
// (site-packages/nvidia/*/lib) and a toolkit under /usr/local/cuda* are looked at too: a library
// only there is reported with the export line that makes the loader see it, since the loader
// reads LD_LIBRARY_PATH once, when a process starts. Everything the check reads is injectable.
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface CudaLibrary {
  /** The soname the CUDA provider asks the loader for. */
  readonly soname: string;
  /** What it is, in words. */
  readonly what: string;
  /** NVIDIA's pip wheel that ships it (its files land in site-packages/nvidia/<folder>/lib). */
  readonly wheel: string;
  readonly wheelFolder: string;
  /** The Debian/Ubuntu package from NVIDIA's CUDA repository (X.Y: the CUDA 12 minor version). */
  readonly apt: string;
}

// The libraries ONNX Runtime's CUDA 12 build of the provider links against (its documented
// requirements: CUDA 12.x and cuDNN 9.x); the driver's libcuda.so.1 is checked on its own.
export const CUDA_LIBRARIES: readonly CudaLibrary[] = [
  { soname: "libcudart.so.12", what: "the CUDA 12 runtime", wheel: "nvidia-cuda-runtime-cu12", wheelFolder: "cuda_runtime", apt: "cuda-cudart-12-X" },
  { soname: "libcublas.so.12", what: "cuBLAS 12", wheel: "nvidia-cublas-cu12", wheelFolder: "cublas", apt: "libcublas-12-X" },
  { soname: "libcublasLt.so.12", what: "cuBLASLt 12", wheel: "nvidia-cublas-cu12", wheelFolder: "cublas", apt: "libcublas-12-X" },
  { soname: "libcufft.so.11", what: "cuFFT (CUDA 12)", wheel: "nvidia-cufft-cu12", wheelFolder: "cufft", apt: "libcufft-12-X" },
  { soname: "libcurand.so.10", what: "cuRAND (CUDA 12)", wheel: "nvidia-curand-cu12", wheelFolder: "curand", apt: "libcurand-12-X" },
  { soname: "libcudnn.so.9", what: "cuDNN 9", wheel: "nvidia-cudnn-cu12", wheelFolder: "cudnn", apt: "libcudnn9-cuda-12" },
];
export const CUDA_DRIVER_LIBRARY = "libcuda.so.1";

export interface CudaProbeDeps {
  /** `ldconfig -p`'s output, or undefined when it cannot be run. */
  readonly ldconfig: () => Promise<string | undefined>;
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;
  /** Names in a folder; [] when it cannot be read. */
  readonly listDir: (dir: string) => Promise<readonly string[]>;
}

export interface CudaLibraryReport {
  /** True when the driver's libcuda.so.1 is on the loader's path (no NVIDIA driver: nothing to offer). */
  readonly driver: boolean;
  /** Sonames the loader cannot find at all. */
  readonly missing: readonly string[];
  /** Sonames found only outside the loader's path, with the folder each is in. */
  readonly offPath: ReadonlyArray<{ readonly soname: string; readonly dir: string }>;
  /** Empty when everything loads; else one line: what to install or export, exactly. */
  readonly advice: string;
}

/** Runs `ldconfig -p` (it is in /sbin, often not on a user's PATH). */
async function runLdconfig(): Promise<string | undefined> {
  for (const cmd of ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"]) {
    const out = await new Promise<string | undefined>((resolve) => {
      execFile(cmd, ["-p"], { timeout: 10_000, maxBuffer: 16 << 20, env: { ...process.env, LC_ALL: "C" } }, (error, stdout) => resolve(error ? undefined : stdout));
    });
    if (out !== undefined) return out;
  }
  return undefined;
}

export const systemCudaProbe: CudaProbeDeps = {
  ldconfig: runLdconfig,
  env: process.env,
  home: os.homedir(),
  listDir: (dir) => fs.readdir(dir).catch(() => []),
};

/** Sonames in `ldconfig -p` output for this machine's 64-bit x86 libraries. */
export function ldconfigSonames(output: string): Set<string> {
  const names = new Set<string>();
  for (const line of output.split("\n")) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s*=>/.exec(line);
    if (m && /x86-64/.test(m[2])) names.add(m[1]);
  }
  return names;
}

/** Folders where NVIDIA's pip wheels or a CUDA toolkit may have put the libraries. */
async function candidateFolders(deps: CudaProbeDeps): Promise<string[]> {
  const sitePackages: string[] = [];
  const pythonLibs = [deps.env.VIRTUAL_ENV, deps.env.CONDA_PREFIX, path.join(deps.home, ".local"), "/usr/local", "/usr", "/opt/conda"]
    .filter((p): p is string => typeof p === "string" && p !== "")
    .map((p) => path.join(p, "lib"));
  for (const lib of pythonLibs) {
    for (const name of await deps.listDir(lib)) {
      if (!/^python3(\.\d+)?$/.test(name)) continue;
      sitePackages.push(path.join(lib, name, "site-packages"), path.join(lib, name, "dist-packages"));
    }
  }
  const folders: string[] = [];
  for (const site of sitePackages) {
    for (const lib of CUDA_LIBRARIES) folders.push(path.join(site, "nvidia", lib.wheelFolder, "lib"));
  }
  const toolkits = (await deps.listDir("/usr/local")).filter((n) => /^cuda(-12(\.\d+)?)?$/.test(n)).map((n) => path.join("/usr/local", n, "lib64"));
  if (deps.env.CONDA_PREFIX) toolkits.push(path.join(deps.env.CONDA_PREFIX, "lib"));
  return [...new Set([...folders, ...toolkits])];
}

export async function findCudaLibraries(deps: CudaProbeDeps = systemCudaProbe): Promise<CudaLibraryReport> {
  const onLoaderPath = new Set<string>();
  const cache = await deps.ldconfig();
  if (cache !== undefined) for (const n of ldconfigSonames(cache)) onLoaderPath.add(n);
  // Without ldconfig, the folders its cache would hold on a Debian- or Fedora-style system.
  const searched = (deps.env.LD_LIBRARY_PATH ?? "").split(":").filter((d) => d !== "");
  if (cache === undefined) searched.push("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64");
  for (const dir of searched) for (const n of await deps.listDir(dir)) onLoaderPath.add(n);

  const wanted = [...new Set(CUDA_LIBRARIES.map((l) => l.soname))];
  const notLoadable = wanted.filter((s) => !onLoaderPath.has(s));
  const offPath: { soname: string; dir: string }[] = [];
  if (notLoadable.length > 0) {
    for (const dir of await candidateFolders(deps)) {
      const names = new Set(await deps.listDir(dir));
      for (const s of notLoadable) if (names.has(s) && !offPath.some((o) => o.soname === s)) offPath.push({ soname: s, dir });
    }
  }
  const missing = notLoadable.filter((s) => !offPath.some((o) => o.soname === s));
  const driver = onLoaderPath.has(CUDA_DRIVER_LIBRARY);
  return { driver, missing, offPath, advice: adviceLine(driver, missing, offPath) };
}

/** One line that says exactly what to install or export, or "" when nothing is missing. */
export function adviceLine(driver: boolean, missing: readonly string[], offPath: ReadonlyArray<{ soname: string; dir: string }>): string {
  const parts: string[] = [];
  if (!driver) parts.push(`the NVIDIA driver (${CUDA_DRIVER_LIBRARY} not found): install your distribution's NVIDIA driver package`);
  if (missing.length > 0) {
    const libs = CUDA_LIBRARIES.filter((l) => missing.includes(l.soname));
    const wheels = [...new Set(libs.map((l) => l.wheel))];
    const apt = [...new Set(libs.map((l) => l.apt))];
    parts.push(
      `${libs.map((l) => `${l.what} (${l.soname})`).join(", ")} not found by ldconfig, LD_LIBRARY_PATH or NVIDIA's pip wheels: install them with 'pip install ${wheels.join(" ")}' or, from NVIDIA's CUDA repository, 'apt install ${apt.join(" ")}' (X: your CUDA 12 minor version)`,
    );
  }
  if (offPath.length > 0) {
    const dirs = [...new Set(offPath.map((o) => o.dir))];
    parts.push(`${offPath.map((o) => o.soname).join(", ")} found outside the loader's path: start VS Code or easel with 'export LD_LIBRARY_PATH=${dirs.join(":")}:$LD_LIBRARY_PATH'`);
  }
  return parts.length === 0 ? "" : `CUDA needs ${parts.join("; and ")}`;
}
