// `options`: ONNX Runtime session options on the real-size UNet, one session at a time: thread
// count, spinning, graph optimisation level, memory pattern / CPU arena, and a saved optimised
// model (optimizedModelFilePath) for faster second loads.
import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { SD21 } from "./synth/configs";
import { componentFlops } from "./synth/modelSet";
import { unetFeeds } from "./components";
import { benchModel, bestRun, engineOptions, fixed, gib, peakRss, percent, timeRepeats, weightBytes } from "./util";

interface Variant {
  readonly label: string;
  readonly options: ort.InferenceSession.SessionOptions;
  /** Load this file instead of unet/model.onnx. */
  readonly file?: string;
}

const RUNS = 4;

const spinning = (on: boolean): ort.InferenceSession.SessionOptions["extra"] => ({ session: { intra_op: { allow_spinning: on ? "1" : "0" } } });

export async function benchOptions(side: number, only: readonly string[] = []): Promise<string[]> {
  const dir = benchModel("turbo");
  const unetFile = path.join(dir, "unet", "model.onnx");
  const weights = weightBytes(dir, ["unet"]);
  const optimized = path.join(dir, "unet", "model.optimized.onnx");
  const optimizedWeights = "model.optimized.weights.pb";
  const saveOptimized: ort.InferenceSession.SessionOptions = {
    optimizedModelFilePath: optimized,
    // Over 2 GB: the optimised graph must keep its weights outside the protobuf too.
    extra: {
      session: {
        intra_op: { allow_spinning: "0" },
        optimized_model_external_initializers_file_name: optimizedWeights,
        optimized_model_external_initializers_min_size_in_bytes: "1024",
      },
    },
  };
  const variants: Variant[] = [
    { label: "engine default (all, 2 threads, no spin, mem pattern + arena)", options: engineOptions() },
    { label: "1 intra-op thread", options: engineOptions({ intraOpNumThreads: 1 }) },
    { label: "spinning on", options: engineOptions({ extra: spinning(true) }) },
    { label: "graph optimisation: extended", options: engineOptions({ graphOptimizationLevel: "extended" }) },
    { label: "graph optimisation: basic", options: engineOptions({ graphOptimizationLevel: "basic" }) },
    { label: "graph optimisation: disabled", options: engineOptions({ graphOptimizationLevel: "disabled" }) },
    { label: "memory pattern off", options: engineOptions({ enableMemPattern: false }) },
    { label: "CPU arena off", options: engineOptions({ enableCpuMemArena: false }) },
    { label: "save optimised model (first load)", options: engineOptions(saveOptimized) },
    { label: "load saved optimised model, optimisation disabled", options: engineOptions({ graphOptimizationLevel: "disabled" }), file: optimized },
    { label: "load saved optimised model, optimisation all", options: engineOptions(), file: optimized },
  ];
  const chosen = only.length > 0 ? variants.filter((_, i) => only.includes(String(i))) : variants;
  const flops = componentFlops(SD21, "unet", side);
  const feeds = unetFeeds(1, side);
  const lines = [
    `UNet at ${side}², batch 1, ${RUNS} runs after 1 warm-up per variant (weights ${gib(weights)})`,
    "",
    "| # | session options | load s | best ms | median ms | CPU share (best, of the threads used) | GFLOP/s | peak RSS load | peak RSS run |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  try {
    for (const v of chosen) {
      peakRss.reset();
      const start = performance.now();
      const session = await ort.InferenceSession.create(v.file ?? unetFile, v.options);
      const loadS = (performance.now() - start) / 1000;
      const loadPeak = peakRss.bytes();
      try {
        peakRss.reset();
        const run = bestRun(await timeRepeats(RUNS, () => session.run(feeds), 1, v.options.intraOpNumThreads));
        const ms = run.ms;
        lines.push(`| ${variants.indexOf(v)} | ${v.label} | ${fixed(loadS, 1)} | ${fixed(ms)} | ${fixed(run.median)} | ${percent(run.cpuShare)} | ${fixed(flops / ms / 1e6, 1)} | ${gib(loadPeak)} | ${gib(peakRss.bytes())} |`);
      } finally {
        await session.release();
      }
    }
  } finally {
    for (const f of [optimized, path.join(dir, "unet", optimizedWeights)]) fs.rmSync(f, { force: true });
  }
  return lines;
}
