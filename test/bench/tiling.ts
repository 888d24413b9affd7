// `tiling [256|512|tiny]`: what switching between plain and seamless-tiling generations costs. The
// tiled variant is the UNet and VAE decoder rewritten to pad circularly (onnx/circularPadding.ts) and
// loaded as second sessions; ComponentSessions keeps both when twice the component's files fit in
// free memory, else loading one variant releases the other. Measured both ways on the same model:
// with the machine's free memory (both kept when they fit) and with no room for both (freeMemory 0,
// as an 8 GB machine would be), over plain, plain, tiled, tiled, plain, tiled generations. Real size:
// the synthetic SD-Turbo (1 step); `tiny`: the conformance tiny-sd15 (4 steps), only to show it runs.
import path from "node:path";
import { Engine } from "../../extension/engine/engine";
import { circularPaddingGraph } from "../../extension/engine/onnx/circularPadding";
import type { GenerateRequest } from "../../extension/engine/types";
import { MODELS } from "../helpers/paths";
import { CHECK_PROMPT } from "./synth/check";
import { benchModel, benchProvider, cpuTimed, fixed, gib, peakRss, percent, sideArg } from "./util";

const SEQUENCE = ["plain", "plain", "tiled", "tiled", "plain", "tiled"] as const;

interface Step {
  readonly variant: (typeof SEQUENCE)[number];
  readonly ms: number;
  readonly cpuShare: number;
  /** Sessions created during this generation, as component:variant. */
  readonly created: readonly string[];
  readonly peak: number;
  readonly rssAfter: number;
}

async function runSequence(dir: string, request: GenerateRequest, freeMemory: (() => number) | undefined): Promise<{ readonly loadMs: number; readonly steps: Step[] }> {
  const created: string[] = [];
  const loadStart = performance.now();
  const engine = await Engine.load(dir, { provider: benchProvider(), freeMemory, onSessionCreated: (c, v) => created.push(`${c}:${v}`) });
  const loadMs = performance.now() - loadStart;
  try {
    const steps: Step[] = [];
    for (let i = 0; i < SEQUENCE.length; i++) {
      const variant = SEQUENCE[i];
      created.length = 0;
      peakRss.reset();
      const { ms, cpuShare } = await cpuTimed(() => engine.generate({ ...request, seed: BigInt(i), tileable: variant === "tiled" }));
      steps.push({ variant, ms, cpuShare, created: [...created], peak: peakRss.bytes(), rssAfter: process.memoryUsage.rss() });
    }
    return { loadMs, steps };
  } finally {
    await engine.dispose();
  }
}

export async function benchTiling(args: readonly string[]): Promise<string[]> {
  const tiny = args.includes("tiny");
  const side = tiny ? 64 : sideArg(args, 256);
  const dir = tiny ? path.join(MODELS, "tiny-sd15") : benchModel("turbo");
  const request: GenerateRequest = tiny
    ? { prompt: CHECK_PROMPT, width: side, height: side, steps: 4, guidance: 7.5 }
    : { prompt: CHECK_PROMPT, width: side, height: side, steps: 1, guidance: 0 };
  const lines = [
    `${tiny ? "tiny-sd15 (conformance model: proves the subset runs, not a speed figure)" : "SD-Turbo (synthetic, real size)"} at ${side}², ${request.steps} step(s); generations ${SEQUENCE.join(", ")}`,
    "",
    "The rewrite alone (read the graph, move each Conv's padding into a wrap-around pad, serialise):",
    "",
    "| component | rewrite ms | convolutions wrapped | kept |",
    "|---|---|---|---|",
  ];
  for (const component of ["unet", "vae_decoder"] as const) {
    const start = performance.now();
    const graph = await circularPaddingGraph(path.join(dir, component, "model.onnx"), component);
    lines.push(`| ${component} | ${fixed(performance.now() - start)} | ${graph.wrapped} | ${graph.kept} |`);
  }
  for (const [label, freeMemory] of [["free memory as it is (both variants kept when they fit)", undefined], ["no room for both (freeMemory 0: each switch reloads)", () => 0]] as const) {
    const { loadMs, steps } = await runSequence(dir, request, freeMemory);
    const warm = (variant: Step["variant"]) => Math.min(...steps.filter((s, i) => s.variant === variant && i > 0 && s.created.length === 0).map((s) => s.ms));
    lines.push(
      "",
      `### ${label}`,
      "",
      `model load ${fixed(loadMs)} ms`,
      "",
      "| # | generation | wall ms | over the warm one | sessions created | CPU share | peak RSS | RSS after |",
      "|---|---|---|---|---|---|---|---|",
      ...steps.map((s, i) => {
        const base = warm(s.variant);
        const extra = Number.isFinite(base) ? fixed(s.ms - base) : "–";
        return `| ${i + 1} | ${s.variant} | ${fixed(s.ms)} | ${extra} | ${s.created.join(", ") || "none"} | ${percent(s.cpuShare)} | ${gib(s.peak)} | ${gib(s.rssAfter)} |`;
      }),
    );
  }
  lines.push("", "\"Over the warm one\": the generation's wall time minus the fastest of its kind that created no session (the switch's cost).");
  return lines;
}
