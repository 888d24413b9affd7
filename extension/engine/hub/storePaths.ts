// Where models live: one cache folder shared by the CLI and the extension, so nothing is
// downloaded twice. `EASEL_HOME` (or the extension's setting, passed as `root`) moves it.
import os from "node:os";
import path from "node:path";

export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = os.homedir()): string {
  if (env.EASEL_HOME) return path.join(path.resolve(env.EASEL_HOME), "models");
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return path.join(env.XDG_CACHE_HOME, "easel", "models");
  switch (platform) {
    case "win32":
      return path.join(env.LOCALAPPDATA ?? path.join(home, "AppData", "Local"), "easel", "models");
    case "darwin":
      return path.join(home, "Library", "Caches", "easel", "models");
    default:
      return path.join(home, ".cache", "easel", "models");
  }
}

/** The store's folder of LoRA-merged weights too large to go inline in a graph (onnx/patchedGraph.ts). */
export const MERGED_WEIGHTS_FOLDER = ".lora-merged";
