// Which ONNX Runtime an Easel process loads. onnxruntime-node requires its native binding as
// `../bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node` (dist/binding.js), and the binding
// loads libonnxruntime.so.1 from its own folder (RUNPATH $ORIGIN), which in turn loads provider
// libraries from the folder it was loaded from. So when the CUDA provider is installed in Easel's
// cache (cudaInstall.ts), loading the binding from there brings the whole runtime from there.
// Node's module cache is keyed by resolved file name: putting the private binding's exports under
// the npm binding's name, before onnxruntime-node is first required, makes binding.js get it
// without touching node_modules or Node's resolver. It must run before that first require, which
// is why the CLI and the engine process import `./preferProvisionedOrt` first.
import { realpathSync } from "node:fs";
import Module from "node:module";
import path from "node:path";
import { type CudaLocations, defaultCudaLocations, provisionedCudaFolder } from "./cudaInstall";

/** Set for child processes (the provider probes): `[npm binding, private binding]` as JSON. */
export const ORT_BINDING_ENV = "EASEL_ORT_BINDING";

export interface ProvisionedOrt {
  readonly folder: string;
  /** Why the private copy was not used, when it was there but failed to load. */
  readonly warning?: string;
}

/**
 * Makes this process load ONNX Runtime from the provisioned CUDA folder, when there is one (Linux
 * x64 only). Returns the folder used, or undefined when the npm copy stays in use.
 */
export function useProvisionedOrt(loc?: CudaLocations, env: NodeJS.ProcessEnv = process.env): ProvisionedOrt | undefined {
  if (process.platform !== "linux" || process.arch !== "x64") return undefined;
  let locations: CudaLocations;
  try {
    locations = loc ?? defaultCudaLocations(env);
  } catch {
    return undefined;
  }
  const folder = provisionedCudaFolder(locations);
  if (!folder) return undefined;
  let npmBinding: string;
  try {
    npmBinding = realpathSync(path.join(locations.ortFolder, "onnxruntime_binding.node"));
  } catch {
    return undefined;
  }
  const privateBinding = path.join(folder, "onnxruntime_binding.node");
  // Already loaded (by an earlier call, or an import that came first): it cannot be swapped now.
  if (require.cache[npmBinding]) return require.cache[npmBinding]?.filename === privateBinding ? { folder } : undefined;
  try {
    primeBinding(npmBinding, privateBinding);
  } catch (error) {
    return { folder, warning: `ONNX Runtime from ${folder} failed to load (${error instanceof Error ? error.message.split("\n")[0] : String(error)}): using the one without CUDA; run 'easel gpu install cuda' again` };
  }
  env[ORT_BINDING_ENV] = JSON.stringify([npmBinding, privateBinding]);
  return { folder };
}

/** The module cache entry that answers `require(npmBinding)` with the private binding. */
function primeBinding(npmBinding: string, privateBinding: string): void {
  const exports: unknown = require(privateBinding);
  const entry = new Module(npmBinding);
  entry.filename = privateBinding;
  entry.loaded = true;
  entry.exports = exports;
  require.cache[npmBinding] = entry;
}

/**
 * The same priming for a `node -e` child (the provider probe), which has only the environment:
 * evaluate this source before requiring onnxruntime-node.
 */
export const PRIME_FROM_ENV_SOURCE = `{ const b = process.env.${ORT_BINDING_ENV}; if (b) { const [from, to] = JSON.parse(b); const M = require("node:module"); const m = new M(from); m.filename = to; m.loaded = true; m.exports = require(to); require.cache[from] = m; } }`;
