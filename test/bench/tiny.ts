// `tiny`: the first baseline — the conformance pipelines (a few MB, random weights) measure the
// pipeline's own overhead, not real-model speed. Loads each model once, makes one image, then five
// more with new seeds, and prints the medians of the warm runs.
import path from "node:path";
import { Engine } from "../../extension/engine/engine";
import type { Stage } from "../../extension/engine/pipeline/stageClock";
import type { GenerateRequest, GenerateResult } from "../../extension/engine/types";
import { MODELS } from "../helpers/paths";
import { benchProvider, median, peakRss } from "./util";

const REPEATS = 5;
const PROMPT = "a photograph of an astronaut riding a horse";
/** Named cases: `npm run bench -- tiny tiny-sd15 tiny-sd15@256` runs a subset. */
export const TINY_CASES: Readonly<Record<string, { readonly model: string; readonly request: GenerateRequest }>> = {
  "tiny-sd15": { model: "tiny-sd15", request: { prompt: PROMPT, steps: 20, guidance: 7.5, width: 64, height: 64 } },
  "tiny-sd15@256": { model: "tiny-sd15", request: { prompt: PROMPT, steps: 20, guidance: 7.5, width: 256, height: 256 } },
  "tiny-sd21v": { model: "tiny-sd21v", request: { prompt: PROMPT, steps: 20, guidance: 7.5, width: 64, height: 64 } },
  "tiny-turbo": { model: "tiny-turbo", request: { prompt: PROMPT, steps: 1, guidance: 0, width: 64, height: 64 } },
  "tiny-lcm": { model: "tiny-lcm", request: { prompt: PROMPT, steps: 4, guidance: 8, width: 64, height: 64 } },
};

const ms = (x: number) => x.toFixed(2);

async function benchCase(name: string, model: string, request: GenerateRequest): Promise<string> {
  peakRss.reset();
  const loadStart = performance.now();
  const engine = await Engine.load(path.join(MODELS, model), { provider: benchProvider() });
  const loadMs = performance.now() - loadStart;
  try {
    const runs: GenerateResult[] = [];
    for (let i = 0; i < REPEATS + 1; i++) runs.push(await engine.generate({ ...request, seed: BigInt(i) }));
    const warm = runs.slice(1);
    const stage = (s: Stage) => ms(median(warm.map((r) => r.timings.stages[s])));
    const unetStep = median(warm.flatMap((r) => r.timings.unetRuns));
    const steps = warm[0].timings.unetRuns.length; // PLMS evaluates one timestep twice
    // The provider the images were made on (a GPU that failed the model hands it to the next one).
    const ran = runs.at(-1)!.provider;
    return `| ${name} | ${ran} | ${request.width}² | ${steps} | ${ms(loadMs)} | ${ms(runs[0].seconds * 1000)} | ${ms(median(warm.map((r) => r.seconds * 1000)))} | ${stage("tokenize")} | ${stage("textEncoder")} | ${ms(unetStep)} | ${stage("scheduler")} | ${stage("vaeDecode")} | ${stage("png")} | ${(1000 / unetStep).toFixed(1000 / unetStep < 10 ? 2 : 0)} | ${(peakRss.bytes() / 2 ** 20).toFixed(0)} |`;
  } finally {
    await engine.dispose();
  }
}

export async function benchTiny(names: readonly string[]): Promise<string[]> {
  const chosen = names.length > 0 ? names : Object.keys(TINY_CASES);
  const lines = [
    `median of ${REPEATS} warm runs on --provider ${benchProvider()}; times in ms; UNet per step includes CFG (batch 2) where guidance > 1;`,
    "peak RSS: the process's resident memory at its peak (MiB; GPU memory is not visible through onnxruntime-node)",
    "",
    "| case | provider | size | UNet evals | load | first image | warm image | tokenize | text encoder | UNet / step | scheduler (all steps) | VAE decode | PNG | UNet it/s | peak RSS |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const name of chosen) {
    const c = TINY_CASES[name];
    if (!c) throw new Error(`unknown tiny case ${name}: use ${Object.keys(TINY_CASES).join(", ")}`);
    lines.push(await benchCase(name, c.model, c.request));
  }
  return lines;
}
