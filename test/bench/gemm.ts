// The machine's GEMM rate through onnxruntime-node: one MatMul by a constant weight (prepacked by
// MLAS like the UNet's), at the shapes of the UNet's largest GEMMs at 512² (3×3 convolutions as
// im2col GEMMs: pixels × 9·Cin × Cout; the level-0 GEGLU projection).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "./synth/graph";
import { uniformTensor } from "./synth/check";
import { writeModel } from "./synth/write";
import { bestRun, engineOptions, fixed, percent, timeRepeats } from "./util";

export interface GemmShape {
  readonly label: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

export const UNET_GEMMS: readonly GemmShape[] = [
  { label: "conv 3×3 320→320 @64² (level 0)", m: 4096, k: 2880, n: 320 },
  { label: "conv 3×3 640→640 @32² (level 1)", m: 1024, k: 5760, n: 640 },
  { label: "conv 3×3 1280→1280 @16² (level 2)", m: 256, k: 11520, n: 1280 },
  { label: "GEGLU proj 320→2560 @64² (level 0)", m: 4096, k: 320, n: 2560 },
];

export interface GemmResult {
  readonly shape: GemmShape;
  readonly threads: number;
  readonly ms: number;
  readonly cpuShare: number;
  readonly gflops: number;
}

async function gemmSession(dir: string, shape: GemmShape, threads: number): Promise<ort.InferenceSession> {
  const g = new GraphBuilder(`gemm_${shape.k}x${shape.n}`);
  const a = g.input("a", "float32", ["m", shape.k], [shape.m, shape.k]);
  const w = g.weight("w", [shape.k, shape.n], { kind: "uniform", std: 1 / Math.sqrt(shape.k), mean: 0 });
  g.output(g.matmul(a, w, true), "y", "float32", ["m", shape.n]);
  const written = writeModel(g, path.join(dir, `${shape.m}x${shape.k}x${shape.n}`), 1);
  return ort.InferenceSession.create(written.modelFile, engineOptions({ intraOpNumThreads: threads }));
}

/** Best time of `repeats` runs of each shape; GFLOP/s = 2·m·k·n / time. */
export async function measureGemm(threads: number, repeats = 5, shapes: readonly GemmShape[] = UNET_GEMMS): Promise<GemmResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-gemm-"));
  try {
    const results: GemmResult[] = [];
    for (const shape of shapes) {
      const session = await gemmSession(dir, shape, threads);
      try {
        const feeds = { a: uniformTensor([shape.m, shape.k], 1, "gemm") };
        const run = bestRun(await timeRepeats(repeats, () => session.run(feeds), 2, threads));
        results.push({ shape, threads, ms: run.ms, cpuShare: run.cpuShare, gflops: (2 * shape.m * shape.k * shape.n) / run.ms / 1e6 });
      } finally {
        await session.release();
      }
    }
    return results;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The reference rate the UNet is compared with: the best of the UNet-shaped GEMMs. */
export const gemmRate = (results: readonly GemmResult[]): number => Math.max(...results.map((r) => r.gflops));

export function gemmTable(results: readonly GemmResult[]): string[] {
  const lines = ["| GEMM (m × k × n) | shape in the UNet | threads | best ms | CPU share (best) | GFLOP/s |", "|---|---|---|---|---|---|"];
  for (const r of results) lines.push(`| ${r.shape.m} × ${r.shape.k} × ${r.shape.n} | ${r.shape.label} | ${r.threads} | ${fixed(r.ms, 1)} | ${percent(r.cpuShare)} | ${fixed(r.gflops, 1)} |`);
  return lines;
}
