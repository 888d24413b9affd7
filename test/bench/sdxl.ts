// `npm run bench -- sdxl [512|256] [full]`: the real-size synthetic SDXL base (2.57 B-parameter UNet,
// two text encoders; ~13.4 GiB of fp32 weights) at 512². First the UNet alone through a bare
// InferenceSession (batch 2, CFG as one batch, the engine's session options), then the Engine in
// low-memory mode (each component loaded when needed and released after), whose UNet steps are
// compared with the bare runs and whose peak RSS is compared with the largest component (the UNet)
// and the sum of all. `full`: the Engine again with every session kept (the default mode), to show
// what low-memory mode saves. One model in memory at a time: 24 GB machines hold one copy, not two.
import path from "node:path";
import * as ort from "onnxruntime-node";
import { Engine } from "../../extension/engine/engine";
import type { GenerateRequest, GenerateResult } from "../../extension/engine/types";
import { CHECK_PROMPT, uniformTensor } from "./synth/check";
import { SDXL } from "./synth/configs";
import { ALL_COMPONENTS, componentFlops } from "./synth/modelSet";
import { TIME_IDS } from "./synth/unet";
import { benchModel, best, bestRun, cpuTimed, engineOptions, fixed, gib, median, peakRss, percent, timeRepeats, weightBytes } from "./util";

const STEPS = 3;

function unetFeeds(side: number): Record<string, ort.Tensor> {
  const h = side / 8;
  const { added } = SDXL.unet;
  if (!added) throw new Error("SDXL has added conditioning");
  return {
    sample: uniformTensor([2, 4, h, h], 1, "sample"), // [2,4,h,h] f32
    timestep: new ort.Tensor("float32", new Float32Array(2).fill(999), [2]),
    encoder_hidden_states: uniformTensor([2, 77, SDXL.unet.crossAttentionDim], 1, "text"), // [2,77,2048] f32
    text_embeds: uniformTensor([2, added.pooledWidth], 1, "pooled"), // [2,1280] f32
    time_ids: new ort.Tensor("float32", Float32Array.from({ length: 2 * TIME_IDS }, (_, i) => [side, side, 0, 0, side, side][i % TIME_IDS]), [2, TIME_IDS]), // [2,6] f32
  };
}

interface EngineRun {
  readonly loadMs: number;
  readonly result: GenerateResult;
  readonly wallMs: number;
  readonly cpuShare: number;
  readonly peak: number;
}

async function engineRun(dir: string, side: number, lowMemory: boolean): Promise<EngineRun> {
  peakRss.reset();
  const loadStart = performance.now();
  const engine = await Engine.load(dir, { provider: "cpu", lowMemory });
  const loadMs = performance.now() - loadStart;
  try {
    const request: GenerateRequest = { prompt: CHECK_PROMPT, negativePrompt: "blurry", width: side, height: side, steps: STEPS, guidance: 5, seed: 1n };
    const { value: result, ms: wallMs, cpuShare } = await cpuTimed(() => engine.generate(request));
    return { loadMs, result, wallMs, cpuShare, peak: peakRss.bytes() };
  } finally {
    await engine.dispose();
  }
}

export async function benchSdxl(side: number, full: boolean): Promise<string[]> {
  const dir = benchModel("sdxl");
  const unetWeights = weightBytes(dir, ["unet"]);
  const allWeights = weightBytes(dir, ALL_COMPONENTS);
  const flops = componentFlops(SDXL, "unet", side, 2);

  // The bare UNet: create, one warm-up run (ONNX Runtime's first-run allocations), then timed runs.
  peakRss.reset();
  const loadStart = performance.now();
  const session = await ort.InferenceSession.create(path.join(dir, "unet", "model.onnx"), engineOptions());
  const bareLoadMs = performance.now() - loadStart;
  let bare: ReturnType<typeof bestRun>;
  let barePeak: number;
  try {
    const feeds = unetFeeds(side);
    bare = bestRun(await timeRepeats(STEPS - 1, () => session.run(feeds)));
    barePeak = peakRss.bytes();
  } finally {
    await session.release();
  }

  const low = await engineRun(dir, side, true);
  const runs = low.result.timings.unetRuns;
  const warmSteps = runs.slice(1); // the first step pays ONNX Runtime's first-run allocations, like the bare warm-up
  const lines = [
    `SDXL base (synthetic, real size) at ${side}², Euler, ${STEPS} steps, guidance 5 (the UNet runs CFG as batch 2: ${fixed(flops / 1e9)} dense GFLOP per step); weights ${gib(allWeights)}, of which the UNet ${gib(unetWeights)}`,
    "",
    "| UNet step (batch 2) | runs | best ms | median ms | CPU share | GFLOP/s |",
    "|---|---|---|---|---|---|",
    `| bare session.run (after a warm-up run) | ${bare.count} | ${fixed(bare.ms)} | ${fixed(bare.median)} | ${percent(bare.cpuShare)} | ${fixed(flops / bare.ms / 1e6, 1)} |`,
    `| Engine, low-memory mode, steps 2..${STEPS} | ${warmSteps.length} | ${fixed(best(warmSteps))} | ${fixed(median(warmSteps))} | ${percent(low.cpuShare)} (whole image) | ${fixed(flops / best(warmSteps) / 1e6, 1)} |`,
    "",
    `- Engine UNet step / bare run: ${fixed(best(warmSteps) / bare.ms, 3)}× (best against best); first step ${fixed(runs[0])} ms`,
    `- bare UNet: load ${fixed(bareLoadMs / 1000, 1)} s, peak RSS ${gib(barePeak)} = ${fixed(barePeak / unetWeights, 2)}× the UNet's weights`,
    `- Engine, low-memory: load ${fixed(low.loadMs / 1000, 1)} s (sessions are created when used), image ${fixed(low.wallMs / 1000, 1)} s; stages ms: ${Object.entries(low.result.timings.stages).map(([k, v]) => `${k} ${fixed(v)}`).join(", ")}`,
    `- Engine, low-memory: peak RSS ${gib(low.peak)} = ${fixed(low.peak / unetWeights, 2)}× the largest component (UNet), ${fixed(low.peak / allWeights, 2)}× the sum of all components`,
  ];
  if (full) {
    const kept = await engineRun(dir, side, false);
    lines.push(`- Engine, every session kept (default mode): load ${fixed(kept.loadMs / 1000, 1)} s, image ${fixed(kept.wallMs / 1000, 1)} s, peak RSS ${gib(kept.peak)} = ${fixed(kept.peak / allWeights, 2)}× the sum of all components`);
  }
  return lines;
}
