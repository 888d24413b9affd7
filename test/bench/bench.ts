// npm run bench [-- [--provider NAME] SUBSET [SIZE] ...] — benchmarks, one named subset per run (each
// within ~10 minutes on a 2-core machine), on the CPU unless --provider names another (auto, webgpu,
// dml, cuda, coreml: what the engine would use, checked the engine's way). The real-size subsets build the synthetic SD-Turbo / SD 2.1-base
// models on first use (test/bench/synth, cached in ~/.cache/easel/bench-models). Prints Markdown.
//
//   tiny [CASE...]     the conformance-model baseline (tiny-sd15, tiny-sd15@256, tiny-sd21v, tiny-turbo, tiny-lcm)
//   gemm               MatMul GFLOP/s through onnxruntime-node at the UNet's big GEMM shapes, 1 and N threads
//   unet [256|512]     UNet batch 1 / batch 2 (CFG), GFLOP/s against the GEMM rate measured in the same run
//   vae [256|512] [arena]  VAE decoder and TAESD decoder (arena: with the CPU arena the engine turns off)
//   text               text encoder, batch 1 and 2
//   pipeline [256|512] [arena]  Engine end to end (SD-Turbo): first vs later images, stages, overhead, peak RSS,
//                      RSS growth; arena: every session with enableCpuMemArena true (the engine turns it off)
//   steps [256|512]    Engine, SD 2.1-base with CFG, 4 steps: each UNet step, scheduler, TAESD vs linear previews
//   options [256|512] [#…]  session options on the UNet (threads, spinning, optimisation level, memory, saved
//                      optimised model); #…: only those rows, e.g. `options 512 0 7`
//   lora [256|512]     LoRA on SD 2.1-base: what a switch costs (an LCM-LoRA-sized synthetic LoRA), and
//                      time to image, normal (25 steps, CFG) vs fast (LoRA merged, LCM, 4 steps; VAE and TAESD)
//   lag [256|512]      event-loop delay in the parent while the engine process generates (EngineClient)
//   sdxl [512|256] [full]  SDXL base, 3 steps with CFG: UNet step through the Engine vs a bare session.run, and
//                      peak RSS in low-memory mode against the largest component (full: default mode too)
//   tiling [256|512|tiny]  switching between plain and seamless-tiling generations: the graph rewrite, the
//                      tiled sessions' first load, with both variants kept and with room for one
//                      (tiny: the conformance tiny-sd15, seconds, only to show the subset runs)
//   import [tiny] [fp16]  checkpoint import: the SD 2.1 UNet converted from an fp16 LDM checkpoint into a
//                      graph-only template, time and peak RSS against the component's size (~5.5 GB disk);
//                      fp16: into an fp16 UNet, the fp32 template's graph converted (--dtype fp16)
import os from "node:os";
import { physicalCoreCount } from "../../extension/engine/onnx/cpuCores";
import { benchText, benchUnet, benchVae } from "./components";
import { gemmRate, gemmTable, measureGemm } from "./gemm";
import { benchImport } from "./importMemory";
import { benchLag } from "./lag";
import { benchLora } from "./lora";
import { benchOptions } from "./options";
import { benchPipeline, benchSteps } from "./pipeline";
import { benchSdxl } from "./sdxl";
import { benchTiling } from "./tiling";
import { benchTiny, TINY_CASES } from "./tiny";
import { isProviderChoice, PROVIDER_NAMES, resolveProvider } from "../../extension/engine/onnx/providers";
import { fixed, machineLine, setBenchProvider, sideArg } from "./util";

type Subset = (args: readonly string[]) => Promise<string[]>;

const SUBSETS: Readonly<Record<string, Subset>> = {
  tiny: (args) => benchTiny(args),
  gemm: async () => {
    const lines: string[] = [];
    for (const threads of [...new Set([1, physicalCoreCount()])]) {
      const results = await measureGemm(threads);
      lines.push(...gemmTable(results), "", `best: ${fixed(gemmRate(results), 1)} GFLOP/s with ${threads} thread(s)`, "");
    }
    return lines;
  },
  unet: (args) => benchUnet(sideArg(args, 256)),
  vae: (args) => benchVae(sideArg(args, 256), args.includes("arena")),
  text: () => benchText(),
  pipeline: (args) => benchPipeline(sideArg(args, 256), args.includes("arena")),
  steps: (args) => benchSteps(sideArg(args, 256)),
  options: (args) => benchOptions(sideArg(args.slice(0, 1), 256), args.slice(1)),
  lag: (args) => benchLag(sideArg(args, 256)),
  lora: (args) => benchLora(sideArg(args, 512)),
  sdxl: (args) => benchSdxl(sideArg(args, 512), args.includes("full")),
  import: (args) => benchImport(args),
  tiling: (args) => benchTiling(args),
};

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");

/** `--provider NAME` anywhere in the arguments: resolved as the engine resolves it (auto: the first that passes its probe). */
async function takeProvider(argv: string[]): Promise<string[]> {
  const at = argv.indexOf("--provider");
  if (at < 0) return argv;
  const choice = argv[at + 1] ?? "";
  if (!isProviderChoice(choice)) throw new Error(`--provider needs one of ${PROVIDER_NAMES.join(", ")} (got "${choice}")`);
  const { provider, skipped } = await resolveProvider(choice);
  for (const s of skipped) console.error(`provider ${s.provider} skipped: ${s.reason ?? "unavailable"}`);
  setBenchProvider(provider);
  return [...argv.slice(0, at), ...argv.slice(at + 2)];
}

async function main(): Promise<void> {
  const argv = await takeProvider(process.argv.slice(2));
  let [name, ...args] = argv;
  if (name === undefined) name = "tiny";
  else if (name in TINY_CASES) [name, args] = ["tiny", argv]; // `npm run bench -- tiny-sd15@256`
  const subset = SUBSETS[name];
  if (!subset) throw new Error(`unknown bench subset ${name}: use ${Object.keys(SUBSETS).join(", ")} (see test/bench/bench.ts)`);
  console.log(`# ${machineLine()}`);
  console.log(`command: npm run bench -- ${process.argv.slice(2).join(" ")}; load average before: ${load()}\n`);
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const lines = await subset(args);
  console.log(lines.join("\n"));
  // On a quiet machine ONNX Runtime keeps every core busy: a low share means other processes competed.
  const cpu = process.cpuUsage(cpuStart);
  const wallS = (performance.now() - start) / 1000;
  const share = (cpu.user + cpu.system) / 1e6 / (wallS * physicalCoreCount());
  console.log(`\n(${fixed(wallS)} s; this process used ${fixed(100 * share)}% of ${physicalCoreCount()} cores; load average after: ${load()})`);
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
