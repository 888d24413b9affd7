// `lag`: event-loop delay in this (parent) process while the engine process generates on the
// real-size synthetic models, through EngineClient as the extension host uses it, previews on.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { EngineClient } from "../../extension/engineClient";
import type { EngineSettings } from "../../extension/engine/host/engineRequests";
import { ROOT } from "../helpers/paths";
import { CHECK_PROMPT } from "./synth/check";
import { benchModel, benchProvider, fixed, gib } from "./util";

const ENGINE = path.join(ROOT, "dist", "engineHost.js");
/** Several steps, so progress and preview events stream while the child computes. */
const STEPS = 4;

/** dist/engineHost.js, rebuilt with the project's esbuild script when missing. */
function enginePath(): string {
  if (!fs.existsSync(ENGINE)) {
    const built = spawnSync(process.execPath, [path.join(ROOT, "esbuild.mjs")], { cwd: ROOT, stdio: "inherit" });
    if (built.status !== 0 || !fs.existsSync(ENGINE)) throw new Error("could not build dist/engineHost.js: run npm run build");
  }
  return ENGINE;
}

export async function benchLag(side: number): Promise<string[]> {
  const dir = benchModel("turbo");
  const settings: EngineSettings = { provider: benchProvider(), previews: true, fastDecode: false, lowMemory: false, idleUnloadMs: 0 };
  const client = new EngineClient({ enginePath: enginePath(), settings: () => settings });
  const lines = [
    `SD-Turbo (synthetic, real size) at ${side}², ${STEPS} steps, through EngineClient (engine in a child process), previews on; event-loop delay of the parent sampled every 1 ms`,
    "",
    "| phase | wall s | p50 ms | p99 ms | max ms | progress events | preview events | engine peak RSS |",
    "|---|---|---|---|---|---|---|---|",
  ];
  try {
    for (const phase of ["load", "first image", "second image", "third image"]) {
      const histogram = monitorEventLoopDelay({ resolution: 1 });
      let progress = 0;
      let previews = 0;
      histogram.enable();
      const start = performance.now();
      let rss = "";
      if (phase === "load") await client.load(dir);
      else {
        const result = await client.generate(
          dir,
          { prompt: CHECK_PROMPT, width: side, height: side, steps: STEPS, seed: BigInt(lines.length) },
          { onProgress: () => progress++, onPreview: () => previews++ },
        );
        rss = gib(result.peakRssBytes);
      }
      histogram.disable();
      const ms = (ns: number) => fixed(ns / 1e6, 1);
      lines.push(`| ${phase} | ${fixed((performance.now() - start) / 1000, 1)} | ${ms(histogram.percentile(50))} | ${ms(histogram.percentile(99))} | ${ms(histogram.max)} | ${progress} | ${previews} | ${rss} |`);
    }
  } finally {
    await client.dispose();
  }
  return lines;
}
