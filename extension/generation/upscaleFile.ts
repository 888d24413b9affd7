// The logic of "Easel: Upscale Image…" without VS Code: which upscaler, the `easel upscale` CLI run
// in its own process (super-resolution runs on ONNX Runtime, which stays out of the extension host
// as the engine process does), its one-line error or its JSON answer. The runner is injected.
import path from "node:path";
import { isImageFile, IMAGE_KINDS } from "../assets/imageFiles";
import { EaselError } from "../engine/errors";
import type { ModelStore } from "../engine/hub/store";
import type { ProviderChoice } from "../engine/onnx/providers";
import { resolveUpscaler } from "../engine/upscale/upscalers";

export const UPSCALE_SCALES = [2, 4] as const;
export type UpscaleScale = (typeof UPSCALE_SCALES)[number];

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface UpscaleDeps {
  /** Runs `easel ARGS` and collects its output; the signal stops it. */
  readonly runCli: (args: readonly string[], signal: AbortSignal) => Promise<CliRun>;
  readonly store: ModelStore;
  readonly provider: ProviderChoice;
  /** The workspace folder whose easel-assets.json records the upscaled image (the CLI's --record). */
  readonly recordIn?: string;
}

export interface UpscaleResult {
  readonly file: string;
  readonly width: number;
  readonly height: number;
  readonly upscaler: string;
}

/** Upscales `file` (a local image) by `scale` into a new file beside it; a failure is the CLI's one line as an EaselError. */
export async function upscaleFile(file: string, scale: UpscaleScale, deps: UpscaleDeps, signal: AbortSignal): Promise<UpscaleResult> {
  if (!isImageFile(file)) throw new EaselError("image-invalid", `${path.basename(file)} is not an image Easel reads: choose a ${IMAGE_KINDS} file`);
  const upscaler = await resolveUpscaler(undefined, deps.store, scale);
  const args = ["upscale", file, "--scale", String(scale), "--model", upscaler?.file ?? "lanczos", "--provider", deps.provider, "--json", ...(deps.recordIn === undefined ? [] : ["--record", "--workspace", deps.recordIn])];
  const run = await deps.runCli(args, signal);
  if (signal.aborted) throw new EaselError("cancelled", "upscaling was cancelled");
  if (run.code !== 0) {
    const line = run.stderr.trim().split("\n").find((l) => l.startsWith("error: ")) ?? run.stderr.trim().split("\n")[0] ?? "";
    throw new EaselError("image-invalid", line.replace(/^error: /, "") || `easel upscale exited with ${run.code}`);
  }
  const json = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as { path?: unknown; width?: unknown; height?: unknown; upscaler?: unknown };
  if (typeof json.path !== "string" || typeof json.width !== "number" || typeof json.height !== "number") throw new EaselError("internal", "easel upscale reported no file");
  return { file: json.path, width: json.width, height: json.height, upscaler: typeof json.upscaler === "string" ? json.upscaler : "Lanczos" };
}
