// `lora`: LoRAs on the real-size synthetic SD 2.1-base model (3.4 GB of fp32 UNet weights in
// weights.pb). A synthetic LoRA the size of LCM-LoRA (rank 64 on every linear and convolution
// weight of the UNet, fp16) is written beside the model; the rows measure what a LoRA switch costs
// (the first apply, the same set again, another weight, the first again with its merged weights
// on disk, back to none) and time-to-image at `side`²:
// normal quality (25 steps with CFG; 2 steps measured, the rest from the warm per-step time)
// against fast mode's recipe (the LoRA merged, LCM, 4 steps, guidance 1), decoded by the VAE and by TAESD.
import fs from "node:fs";
import path from "node:path";
import { Engine } from "../../extension/engine/engine";
import { MERGED_WEIGHTS_FOLDER } from "../../extension/engine/hub/storePaths";
import { moduleWeights, readGraphWeights } from "../../extension/engine/onnx/graphWeights";
import { SPILL_KEEP } from "../../extension/engine/onnx/patchedGraph";
import type { GenerateRequest } from "../../extension/engine/types";
import { writeSafetensors, type TestTensor } from "../helpers/safetensorsFile";
import { CHECK_PROMPT } from "./synth/check";
import { Xoshiro128 } from "./synth/prng";
import { benchModel, fixed, gib, median, peakRss } from "./util";

const RANK = 64;

/** An LCM-LoRA-sized LoRA for the synthetic UNet: every MatMul/Conv weight, rank 64, fp16, small values. */
async function syntheticLora(modelDir: string): Promise<{ file: string; parameters: number }> {
  const file = path.join(modelDir, "bench-lora-r64.safetensors");
  const graph = await readGraphWeights(path.join(modelDir, "unet", "model.onnx"));
  const rng = new Xoshiro128(7, "bench-lora");
  const tensors: Record<string, TestTensor> = {};
  let parameters = 0;
  const seen = new Set<string>();
  for (const [module, weight] of moduleWeights(graph)) {
    // One entry per weight (the graph's modules are listed under their node names too).
    if (seen.has(weight.initializer)) continue;
    seen.add(weight.initializer);
    {
      const dims = graph.initializers.get(weight.initializer)!.dims;
      const [out, inFlat] = weight.layout === "in-out" ? [dims[1], dims[0]] : [dims[0], dims.slice(1).reduce((a, b) => a * b, 1)];
      const rank = Math.min(RANK, out, inFlat);
      const key = `lora_unet_${module.replace(/\./g, "_")}`;
      const random = (n: number) => {
        const out = new Float32Array(n);
        rng.fillUniform(out, 0.01);
        return out;
      };
      const downShape = dims.length === 4 ? [rank, dims[1], dims[2], dims[3]] : [rank, inFlat];
      tensors[`${key}.lora_down.weight`] = { shape: downShape, data: random(rank * inFlat), dtype: "F16" };
      tensors[`${key}.lora_up.weight`] = { shape: dims.length === 4 ? [out, rank, 1, 1] : [out, rank], data: random(out * rank), dtype: "F16" };
      tensors[`${key}.alpha`] = { shape: [], data: Float32Array.of(rank) };
      parameters += rank * (inFlat + out);
    }
  }
  if (!fs.existsSync(file)) writeSafetensors(file, tensors);
  return { file, parameters };
}

export async function benchLora(side: number): Promise<string[]> {
  const dir = benchModel("base");
  const { file, parameters } = await syntheticLora(dir);
  const lines = [
    `SD 2.1-base (synthetic, real size, fp32 UNet in weights.pb); LoRA: rank ${RANK} on every UNet MatMul/Conv, ${fixed(parameters / 1e6, 1)} M parameters, ${gib(fs.statSync(file).size)} fp16 (LCM-LoRA for SD 1.5: 67.5 M, 135 MB)`,
    "",
    "| step | wall s | peak RSS |",
    "|---|---|---|",
  ];
  // The merged weights go to a store of the bench's own (its `.lora-merged`), removed after.
  const store = path.join(path.dirname(dir), "lora-bench-store");
  const spill = path.join(store, MERGED_WEIGHTS_FOLDER);
  fs.rmSync(store, { recursive: true, force: true });
  const engine = await Engine.load(dir, { provider: "cpu", modelStore: store });
  const tiny: GenerateRequest = { prompt: CHECK_PROMPT, width: 64, height: 64, steps: 1, guidance: 0, seed: 1n };
  const timed = async (label: string, request: GenerateRequest) => {
    peakRss.reset();
    const start = performance.now();
    const result = await engine.generate(request);
    lines.push(`| ${label} | ${fixed((performance.now() - start) / 1000, 1)} | ${gib(peakRss.bytes())} |`);
    return result;
  };
  try {
    await timed("no LoRA, 1 step at 64² (reference)", tiny);
    await timed("LoRA applied (switch), 1 step at 64²", { ...tiny, loras: [{ name: file, weight: 1 }] });
    await timed("same LoRA set again (cached session), 1 step at 64²", { ...tiny, loras: [{ name: file, weight: 1 }] });
    await timed("another weight (switch), 1 step at 64²", { ...tiny, loras: [{ name: file, weight: 0.5 }] });
    await timed("back to the first weight (switch; its merged weights reused from disk), 1 step at 64²", { ...tiny, loras: [{ name: file, weight: 1 }] });
    await timed("back to no LoRA (switch), 1 step at 64²", tiny);
    const entries = fs.readdirSync(spill);
    const onDisk = entries.reduce((n, e) => n + fs.statSync(path.join(spill, e, "weights.bin")).size, 0);
    lines.push("", `Merged weights on disk: ${entries.length} entries, ${gib(onDisk)} in all (the model store's ${MERGED_WEIGHTS_FOLDER}; the newest ${SPILL_KEEP} are kept).`);

    // Each recipe runs twice: the first image at a size pays ONNX Runtime's first-run allocations
    // (and, for fast mode, follows the LoRA switch), the second is what every later image costs.
    lines.push(
      "",
      `Time to image at ${side}² (text encoder, UNet steps, decode, PNG), each recipe twice: first / warm:`,
      "",
      "| quality | steps | CFG | decoder | UNet ms per step (warm) | first s | warm s |",
      "|---|---|---|---|---|---|---|",
    );
    const twice = async (request: GenerateRequest) => {
      const first = await engine.generate({ ...request, seed: 2n });
      const warm = await engine.generate({ ...request, seed: 3n });
      return { first: first.seconds, warm: warm.seconds, perStep: median(warm.timings.unetRuns), unet: warm.timings.stages.unet / 1000 };
    };
    const normal = await twice({ prompt: CHECK_PROMPT, negativePrompt: "blurry", width: side, height: side, steps: 2, guidance: 7.5, scheduler: "euler" });
    lines.push(`| normal (measured) | 2 | yes | VAE | ${fixed(normal.perStep)} | ${fixed(normal.first, 1)} | ${fixed(normal.warm, 1)} |`);
    const rest = normal.warm - normal.unet;
    lines.push(`| normal (25 steps: the warm image's other stages + 25 × its step) | 25 | yes | VAE | ${fixed(normal.perStep)} | | ${fixed(rest + (25 * normal.perStep) / 1000, 1)} |`);
    for (const decoder of ["vae", "taesd"] as const) {
      if (decoder === "taesd" && !engine.hasTaesd) continue;
      const fast = await twice({ prompt: CHECK_PROMPT, width: side, height: side, steps: 4, guidance: 1, scheduler: "lcm", decoder, loras: [{ name: file, weight: 1 }] });
      lines.push(`| fast (LoRA merged, LCM) | 4 | no | ${decoder === "vae" ? "VAE" : "TAESD"} | ${fixed(fast.perStep)} | ${fixed(fast.first, 1)} | ${fixed(fast.warm, 1)} |`);
    }
  } finally {
    await engine.dispose();
    fs.rmSync(store, { recursive: true, force: true });
  }
  return lines;
}
