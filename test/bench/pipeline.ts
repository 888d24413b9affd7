// End-to-end benches through the Engine on the real-size synthetic models: `pipeline` (SD-Turbo,
// 1 step: first vs later images, stages, overhead outside session.run, peak RSS, RSS growth) and
// `steps` (SD 2.1-base with CFG: each UNet step, the scheduler, TAESD vs linear previews).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Engine } from "../../extension/engine/engine";
import type { Stage } from "../../extension/engine/pipeline/stageClock";
import type { GenerateOptions, GenerateRequest, GenerateResult } from "../../extension/engine/types";
import { CHECK_PROMPT } from "./synth/check";
import { COMPONENTS } from "./synth/modelSet";
import { benchModel, benchProvider, best, cpuTimed, fixed, gib, median, overrideSessionOptions, peakRss, percent, RunTimer, weightBytes } from "./util";

interface Generation {
  readonly wallMs: number;
  readonly insideRunMs: number;
  readonly runCalls: number;
  readonly result: GenerateResult;
  readonly peak: number;
  readonly rssAfter: number;
  readonly cpuShare: number;
}

async function generate(engine: Engine, timer: RunTimer, request: GenerateRequest, options: GenerateOptions = {}): Promise<Generation> {
  peakRss.reset();
  timer.reset();
  const { value: result, ms: wallMs, cpuShare } = await cpuTimed(() => engine.generate(request, options));
  return { wallMs, insideRunMs: timer.ms, runCalls: timer.calls, result, peak: peakRss.bytes(), rssAfter: process.memoryUsage.rss(), cpuShare };
}

const mib = (bytes: number) => fixed(bytes / 2 ** 20);

const STAGES: readonly Stage[] = ["tokenize", "textEncoder", "unet", "scheduler", "preview", "vaeDecode", "png"];

function stageRow(label: string, gens: readonly Generation[]): string {
  const med = (f: (g: Generation) => number) => median(gens.map(f));
  const wall = med((g) => g.wallMs);
  const overhead = med((g) => (100 * (g.wallMs - g.insideRunMs)) / g.wallMs);
  const stages = STAGES.map((s) => fixed(med((g) => g.result.timings.stages[s]), s === "tokenize" || s === "scheduler" ? 2 : 0));
  const unetRuns = gens.flatMap((g) => g.result.timings.unetRuns);
  return `| ${label} | ${gens.length} | ${fixed(wall)} | ${percent(med((g) => g.cpuShare))} | ${stages.join(" | ")} | ${fixed(1000 / median(unetRuns), 2)} | ${fixed(med((g) => g.wallMs - g.insideRunMs))} | ${fixed(overhead, 2)}% |`;
}

const STAGE_HEADER = [
  "| images | n | wall | CPU share | tokenize | text encoder | UNet (all steps) | scheduler | preview | VAE / TAESD decode | PNG | UNet it/s | outside run() | overhead |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
];

/**
 * SD-Turbo, 1 step, previews on (as the extension runs it), then fast decode (TAESD). `withArena`:
 * every session with ONNX Runtime's CPU arena (which the engine turns off).
 */
export async function benchPipeline(side: number, withArena = false): Promise<string[]> {
  const dir = benchModel("turbo");
  const weights = weightBytes(dir, COMPONENTS);
  const timer = new RunTimer().install();
  const restore = withArena ? overrideSessionOptions({ enableCpuMemArena: true }) : () => undefined;
  try {
    peakRss.reset();
    const loadStart = performance.now();
    const engine = await Engine.load(dir, { provider: benchProvider() });
    const loadMs = performance.now() - loadStart;
    const loadPeak = peakRss.bytes();
    const rssLoaded = process.memoryUsage.rss();
    try {
      const count = side >= 512 ? 4 : 20;
      const request = (i: number): GenerateRequest => ({ prompt: CHECK_PROMPT, width: side, height: side, seed: BigInt(i) });
      const previews: GenerateOptions = { onPreview: () => undefined };
      const gens: Generation[] = [];
      for (let i = 0; i < count; i++) gens.push(await generate(engine, timer, request(i), previews));
      const fast: Generation[] = [];
      for (let i = 0; i < 2; i++) fast.push(await generate(engine, timer, request(100 + i), { ...previews, fastDecode: true }));

      const warm = gens.slice(1);
      const warmPeak = Math.max(...warm.map((g) => g.peak));
      const lines = [
        `SD-Turbo (synthetic, real size) at ${side}², 1 step, guidance 0, previews on (TAESD), seeds 0..${count - 1}; weights ${gib(weights)}${withArena ? "; every session with enableCpuMemArena: true" : ""}`,
        "",
        `- load: ${fixed(loadMs / 1000, 1)} s (peak RSS while loading ${gib(loadPeak)}, ${fixed(loadPeak / weights, 2)}× weights; RSS after load ${gib(rssLoaded)})`,
        `- first image ${fixed(gens[0].wallMs)} ms, second ${fixed(gens[1].wallMs)} ms, warm images best ${fixed(best(warm.map((g) => g.wallMs)))} ms, median ${fixed(median(warm.map((g) => g.wallMs)))} ms`,
        `- peak RSS while generating (warm images) ${gib(warmPeak)} = ${fixed(warmPeak / weights, 2)}× weights`,
        `- RSS after image 1 ${gib(gens[0].rssAfter)}, image 2 ${gib(gens[1].rssAfter)}, image ${count} ${gib(gens[count - 1].rssAfter)}: growth ${mib(gens[1].rssAfter - gens[0].rssAfter)} MiB from image 1 to 2 (arenas reaching their size), then ${mib(gens[count - 1].rssAfter - gens[1].rssAfter)} MiB over ${count - 2} images`,
        `- RSS after each image, MiB: ${gens.map((g) => mib(g.rssAfter)).join(" ")}`,
        `- session.run calls per image: ${gens[1].runCalls}`,
        "",
        "Times in ms (medians); CPU share = this process's CPU time / (wall × cores), ≈ 100% when nothing else competed; overhead = (wall − time inside session.run) / wall.",
        "",
        ...STAGE_HEADER,
        stageRow("first image", gens.slice(0, 1)),
        stageRow("warm images", warm),
        stageRow("fast decode (TAESD), warm", fast),
      ];
      return lines;
    } finally {
      await engine.dispose();
    }
  } finally {
    restore();
    timer.uninstall();
  }
}

/** A view of `dir` without taesd_decoder/ (symlinks), so the engine falls back to linear previews. */
function withoutTaesd(dir: string): string {
  const view = fs.mkdtempSync(path.join(os.tmpdir(), "easel-notaesd-"));
  for (const entry of fs.readdirSync(dir)) if (entry !== "taesd_decoder") fs.symlinkSync(path.join(dir, entry), path.join(view, entry));
  return view;
}

/** SD 2.1-base, CFG 7.5, `steps` steps: per-step UNet (batch 2), scheduler, preview cost. */
export async function benchSteps(side: number, steps = 4): Promise<string[]> {
  const dir = benchModel("base");
  const timer = new RunTimer().install();
  const lines = [
    `SD 2.1-base (synthetic, real size) at ${side}², PNDM, ${steps} steps, guidance 7.5 (CFG: the UNet runs batch 2)`,
    "",
    ...STAGE_HEADER,
  ];
  const perStep: string[] = [];
  const linearView = withoutTaesd(dir);
  try {
    for (const [label, modelDir] of [["TAESD previews", dir], ["linear previews", linearView]] as const) {
      const engine = await Engine.load(modelDir, { provider: benchProvider() });
      try {
        const request = (i: number): GenerateRequest => ({ prompt: CHECK_PROMPT, negativePrompt: "blurry", width: side, height: side, steps, guidance: 7.5, seed: BigInt(i) });
        const gens: Generation[] = [];
        for (let i = 0; i < 2; i++) gens.push(await generate(engine, timer, request(i), { onPreview: () => undefined }));
        lines.push(stageRow(`${label}, first`, gens.slice(0, 1)), stageRow(`${label}, second`, gens.slice(1)));
        const g = gens[1];
        const previewPerStep = g.result.timings.stages.preview / steps;
        const unetPerStep = median(g.result.timings.unetRuns);
        perStep.push(
          `- ${label}: UNet evaluations ${g.result.timings.unetRuns.map((ms) => fixed(ms)).join(", ")} ms; preview ${fixed(previewPerStep, 1)} ms per step = ${fixed((100 * previewPerStep) / unetPerStep, 2)}% of a UNet step; scheduler ${fixed(g.result.timings.stages.scheduler / g.result.timings.unetRuns.length, 2)} ms per evaluation`,
        );
      } finally {
        await engine.dispose();
      }
    }
  } finally {
    timer.uninstall();
    fs.rmSync(linearView, { recursive: true, force: true });
  }
  return [...lines, "", ...perStep];
}
