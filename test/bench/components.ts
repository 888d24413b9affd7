// Per-component benches on the real-size synthetic SD-Turbo: `unet`, `vae` (VAE decoder and
// TAESD), `text` (the text encoder). Sessions are created with the engine's options; inputs are
// what the pipeline feeds (latents of unit scale, 77 CLIP tokens, the text encoder's output).
import path from "node:path";
import * as ort from "onnxruntime-node";
import { ClipTokenizer } from "../../extension/engine/text/clipTokenizer";
import { CHECK_PROMPT, uniformTensor } from "./synth/check";
import { SD21 } from "./synth/configs";
import { componentFlops, type SynthComponent } from "./synth/modelSet";
import { addStats, emptyStats, formatStats, healthy } from "./synth/stats";
import { gemmRate, gemmTable, measureGemm } from "./gemm";
import { benchModel, bestRun, engineOptions, fixed, gib, peakRss, percent, timeRepeats, weightBytes } from "./util";

interface Loaded {
  readonly session: ort.InferenceSession;
  readonly loadMs: number;
  /** Peak RSS while loading, and the weights' size on disk. */
  readonly loadPeak: number;
  readonly weights: number;
}

async function load(dir: string, component: SynthComponent, options: ort.InferenceSession.SessionOptions = engineOptions()): Promise<Loaded> {
  peakRss.reset();
  const start = performance.now();
  const session = await ort.InferenceSession.create(path.join(dir, component, "model.onnx"), options);
  return { session, loadMs: performance.now() - start, loadPeak: peakRss.bytes(), weights: weightBytes(dir, [component]) };
}

function outputCheck(result: ort.InferenceSession.ReturnType, name: string): string {
  const stats = addStats(emptyStats(), result[name].data as Float32Array);
  return `${name} [${result[name].dims.join(", ")}] ${healthy(stats) ? "finite and normal" : "NOT HEALTHY"}: ${formatStats(stats)}`;
}

export function unetFeeds(batch: number, side: number): Record<string, ort.Tensor> {
  const h = side / 8;
  return {
    sample: uniformTensor([batch, 4, h, h], 1, "sample"),
    timestep: new ort.Tensor("float32", new Float32Array(batch).fill(999), [batch]),
    encoder_hidden_states: uniformTensor([batch, 77, 1024], 1, "text"),
  };
}

export async function benchUnet(side: number): Promise<string[]> {
  const repeats = side >= 512 ? 3 : 5;
  const gemm = await measureGemm(engineOptions().intraOpNumThreads ?? 1);
  const rate = gemmRate(gemm);
  const dir = benchModel("turbo");
  const unet = await load(dir, "unet");
  const lines = [...gemmTable(gemm), "", `GEMM rate (best UNet-shaped GEMM): ${fixed(rate, 1)} GFLOP/s`, ""];
  lines.push(`UNet load ${fixed(unet.loadMs / 1000, 1)} s; peak RSS while loading ${gib(unet.loadPeak)} for ${gib(unet.weights)} of weights (${fixed(unet.loadPeak / unet.weights, 2)}×)`, "");
  lines.push(`| UNet at ${side}² | evaluations | best ms | median ms | CPU share (best) | it/s | dense GFLOP | GFLOP/s | % of GEMM rate | peak RSS / weights |`, "|---|---|---|---|---|---|---|---|---|---|");
  try {
    let last: ort.InferenceSession.ReturnType | undefined;
    const row = async (label: string, batch: number, n: number) => {
      const feeds = unetFeeds(batch, side);
      peakRss.reset();
      const run = bestRun(await timeRepeats(n, async () => (last = await unet.session.run(feeds))));
      const ms = run.ms;
      const flops = componentFlops(SD21, "unet", side, batch);
      const gflops = flops / ms / 1e6;
      lines.push(`| ${label} | ${run.count} | ${fixed(ms)} | ${fixed(run.median)} | ${percent(run.cpuShare)} | ${fixed(1000 / ms, 2)} | ${fixed(flops / 1e9, 1)} | ${fixed(gflops, 1)} | ${fixed((100 * gflops) / rate)}% | ${fixed(peakRss.bytes() / unet.weights, 2)}× |`);
      return ms;
    };
    const one = await row("batch 1", 1, repeats);
    const two = await row("batch 2 (CFG as one batch)", 2, Math.max(2, repeats - 1));
    lines.push(`| 2 × batch 1 (CFG as two runs) | — | ${fixed(2 * one)} | | | ${fixed(1000 / (2 * one), 2)} | | | | |`);
    lines.push("", `CFG: one batch of 2 takes ${fixed(two)} ms, two batches of 1 ${fixed(2 * one)} ms (${two < 2 * one ? "batch 2 faster" : "two batch-1 runs faster"} by ${fixed((100 * Math.abs(2 * one - two)) / Math.max(two, 2 * one))}%)`);
    if (last) lines.push("", outputCheck(last, "out_sample"));
  } finally {
    await unet.session.release();
  }
  return lines;
}

/** `withArena`: sessions with ONNX Runtime's CPU arena, which the engine turns off (it keeps activations for good). */
export async function benchVae(side: number, withArena = false): Promise<string[]> {
  const repeats = side >= 512 ? 2 : 3;
  const dir = benchModel("turbo");
  const h = side / 8;
  const lines = [
    `| decoder at ${side}²${withArena ? ", CPU arena on" : ""} | load s | runs | best ms | median ms | CPU share (best) | dense GFLOP | GFLOP/s | peak RSS while running | RSS after |`,
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  const checks: string[] = [];
  for (const [component, std] of [["vae_decoder", 1 / 0.18215], ["taesd_decoder", 1]] as const) {
    const c = await load(dir, component, engineOptions(withArena ? { enableCpuMemArena: true } : {}));
    try {
      const feeds = { latent_sample: uniformTensor([1, 4, h, h], std, component) };
      let last: ort.InferenceSession.ReturnType | undefined;
      peakRss.reset();
      const n = component === "taesd_decoder" ? 5 : repeats;
      const run = bestRun(await timeRepeats(n, async () => (last = await c.session.run(feeds))));
      const ms = run.ms;
      const flops = componentFlops(SD21, component, side);
      lines.push(`| ${component} | ${fixed(c.loadMs / 1000, 1)} | ${run.count} | ${fixed(ms)} | ${fixed(run.median)} | ${percent(run.cpuShare)} | ${fixed(flops / 1e9, 1)} | ${fixed(flops / ms / 1e6, 1)} | ${gib(peakRss.bytes())} | ${gib(process.memoryUsage.rss())} |`);
      if (last) checks.push(`${component}: ${outputCheck(last, "sample")}`);
    } finally {
      await c.session.release();
    }
  }
  return [...lines, "", ...checks];
}

export async function benchText(): Promise<string[]> {
  const dir = benchModel("turbo");
  const tokenizer = await ClipTokenizer.load(path.join(dir, "tokenizer"));
  const c = await load(dir, "text_encoder");
  const lines = [`text encoder load ${fixed(c.loadMs / 1000, 1)} s, peak RSS while loading ${gib(c.loadPeak)} for ${gib(c.weights)} of weights`, ""];
  lines.push("| text encoder | runs | best ms | median ms | CPU share (best) | dense GFLOP | GFLOP/s |", "|---|---|---|---|---|---|---|");
  try {
    let last: ort.InferenceSession.ReturnType | undefined;
    for (const batch of [1, 2]) {
      const rows = batch === 1 ? [CHECK_PROMPT] : ["", CHECK_PROMPT];
      const ids = rows.flatMap((p) => tokenizer.encode(p).ids);
      const feeds = { input_ids: new ort.Tensor("int32", Int32Array.from(ids), [batch, 77]) };
      const run = bestRun(await timeRepeats(5, async () => (last = await c.session.run(feeds))));
      const ms = run.ms;
      const flops = componentFlops(SD21, "text_encoder", 512, batch);
      lines.push(`| batch ${batch} | ${run.count} | ${fixed(ms, 1)} | ${fixed(run.median, 1)} | ${percent(run.cpuShare)} | ${fixed(flops / 1e9, 1)} | ${fixed(flops / ms / 1e6, 1)} |`);
    }
    if (last) lines.push("", outputCheck(last, "last_hidden_state"), outputCheck(last, "pooler_output"));
  } finally {
    await c.session.release();
  }
  return lines;
}
