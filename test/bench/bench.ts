// npm run bench [-- MODEL...] — per-stage timings of the conformance models on the CPU provider,
// a first baseline (real-size models come with the engine-process issue). Prints a Markdown table.
import os from "node:os";
import path from "node:path";
import { Engine } from "../../extension/engine/engine";
import type { Stage } from "../../extension/engine/pipeline/stageClock";
import type { GenerateRequest, GenerateResult } from "../../extension/engine/types";
import { MODELS } from "../helpers/paths";

const REPEATS = 5;
const PROMPT = "a photograph of an astronaut riding a horse";
/** Named cases: `npm run bench -- tiny-sd15 tiny-sd15@256` runs a subset. */
const CASES: Readonly<Record<string, { readonly model: string; readonly request: GenerateRequest }>> = {
  "tiny-sd15": { model: "tiny-sd15", request: { prompt: PROMPT, steps: 20, guidance: 7.5, width: 64, height: 64 } },
  "tiny-sd15@256": { model: "tiny-sd15", request: { prompt: PROMPT, steps: 20, guidance: 7.5, width: 256, height: 256 } },
  "tiny-sd21v": { model: "tiny-sd21v", request: { prompt: PROMPT, steps: 20, guidance: 7.5, width: 64, height: 64 } },
  "tiny-turbo": { model: "tiny-turbo", request: { prompt: PROMPT, steps: 1, guidance: 0, width: 64, height: 64 } },
  "tiny-lcm": { model: "tiny-lcm", request: { prompt: PROMPT, steps: 4, guidance: 8, width: 64, height: 64 } },
};

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => x.toFixed(2);

async function benchCase(name: string, model: string, request: GenerateRequest): Promise<string> {
  const loadStart = performance.now();
  const engine = await Engine.load(path.join(MODELS, model), { provider: "cpu" });
  const loadMs = performance.now() - loadStart;
  try {
    const runs: GenerateResult[] = [];
    for (let i = 0; i < REPEATS + 1; i++) runs.push(await engine.generate({ ...request, seed: BigInt(i) }));
    const warm = runs.slice(1);
    const stage = (s: Stage) => ms(median(warm.map((r) => r.timings.stages[s])));
    const unetStep = median(warm.flatMap((r) => r.timings.unetRuns));
    const steps = warm[0].timings.unetRuns.length; // PLMS evaluates one timestep twice
    return `| ${name} | ${request.width}² | ${steps} | ${ms(loadMs)} | ${ms(runs[0].seconds * 1000)} | ${ms(median(warm.map((r) => r.seconds * 1000)))} | ${stage("tokenize")} | ${stage("textEncoder")} | ${ms(unetStep)} | ${stage("scheduler")} | ${stage("vaeDecode")} | ${stage("png")} | ${(1000 / unetStep).toFixed(0)} |`;
  } finally {
    await engine.dispose();
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(CASES);
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(`# ${new Date().toISOString().slice(0, 10)} — ${cpu}, ${os.availableParallelism()} threads, Node ${process.version}, provider cpu`);
  console.log(`median of ${REPEATS} warm runs; times in ms; UNet per step includes CFG (batch 2) where guidance > 1\n`);
  console.log("| case | size | UNet evals | load | first image | warm image | tokenize | text encoder | UNet / step | scheduler (all steps) | VAE decode | PNG | UNet it/s |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const name of names) {
    const c = CASES[name];
    if (!c) throw new Error(`unknown bench case ${name}: use ${Object.keys(CASES).join(", ")}`);
    console.log(await benchCase(name, c.model, c.request));
  }
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
