// Lockfile entries made again from the editor: generations and background removal through the
// engine process and its queue (like every other), upscaling through `easel upscale` in its own
// process (as "Upscale Image…" runs it, so ONNX Runtime stays out of the extension host). Models are
// never downloaded here: a missing one is an error that says how to get it.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readSettings } from "../config";
import { type PostRunners, recordedModelDir, recordedToolFile, Regenerator } from "../engine/assets/assetRecord";
import type { Assets } from "../engine/assets/lockfile";
import { EaselError } from "../engine/errors";
import { backgroundRemoverEntry, matteSpecOf } from "../engine/matte/remover";
import type { EngineService } from "../engineService";
import type { CliRun } from "../generation/upscaleFile";
import { modelStore } from "../models/modelResolver";

/** Runs `easel ARGS` (dist/cli.js) and collects its output. */
export type CliRunner = (args: readonly string[], signal: AbortSignal) => Promise<CliRun>;

/** The CLI's one `error:` line from a failed run, as an EaselError. */
export function cliFailure(run: CliRun, command: string): EaselError {
  const lines = run.stderr.trim().split("\n");
  const line = lines.find((l) => l.startsWith("error: ")) ?? lines[0] ?? "";
  return new EaselError("image-invalid", line.replace(/^error: /, "") || `easel ${command} exited with ${run.code}`);
}

/** A Regenerator for the workspace folder `root` (its lockfile's entries `assets`), running in the editor. */
export function editorRegenerator(engine: EngineService, runCli: CliRunner, root: string, assets: Assets, signal: AbortSignal): Regenerator {
  const settings = readSettings();
  const ctx = { workspace: root, store: modelStore(settings), download: false, signal };
  const runners: PostRunners = {
    async removeBackground(image, step) {
      const file = await recordedToolFile(step.model, "background remover", ctx);
      const spec = matteSpecOf(backgroundRemoverEntry(step.model.catalogId));
      return (await engine.removeBackground({ image, remover: { file, spec, name: step.model.catalogId ?? step.model.name }, matte: step.matte, format: step.format }, signal)).image;
    },
    async upscale(image, step) {
      const model = step.model ? await recordedToolFile(step.model, "upscaler", ctx) : "lanczos";
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "easel-regenerate-"));
      try {
        const input = path.join(dir, "source.png");
        const output = path.join(dir, "upscaled.png");
        // `easel upscale` reads the image by its content, not its name.
        await fs.writeFile(input, image);
        const tiles = [...(step.tile === undefined ? [] : ["--tile", String(step.tile)]), ...(step.overlap === undefined ? [] : ["--overlap", String(step.overlap)])];
        const run = await runCli(["upscale", input, "--scale", String(step.scale), "--model", model, ...tiles, "--out", output, "--provider", settings.provider, "--json"], signal);
        if (signal.aborted) throw new EaselError("cancelled", "regenerating was cancelled");
        if (run.code !== 0) throw cliFailure(run, "upscale");
        return await fs.readFile(output);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  };
  return new Regenerator({
    workspace: root,
    assets,
    async generate(model, request, genSignal) {
      const dir = await recordedModelDir(model, ctx);
      return (await engine.generate(dir, request, { signal: genSignal })).images[0].png;
    },
    runners,
    signal,
  });
}
