// npm run bench -- import [tiny]  (test/bench/bench.ts)
// Peak memory of checkpoint import at real size: the synthetic SD 2.1 UNet (test/bench/synth, 866 M
// parameters, 3.46 GB in fp32) as a graph-only template (model.onnx without its weights), an fp16
// LDM checkpoint of random weights for it (model.diffusion_model.*, 1.7 GB, written streaming),
// and the importer's conversion of that UNet (planWeights + writeWeights: the largest component)
// run in a child process whose peak RSS (VmHWM) is read from /proc. Linux only. Uses ~5.5 GB of disk.
// `fp16`: the same into an fp16 UNet (`--dtype fp16`: the fp32 template's graph converted first,
// graphPrecision.ts), ~3.5 GB of disk.
import { spawnSync } from "node:child_process";
import { createWriteStream, promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { convertUnet, type ParamMap } from "../../extension/engine/convert/ldmKeys";
import { plannedBytes, planWeights, readOnnxModel, writeWeights } from "../../extension/engine/convert/onnxWeights";
import { SafetensorsFile } from "../../extension/engine/model/safetensors";
import { convertGraphPrecision } from "../../extension/engine/convert/graphPrecision";
import { unetToLdm } from "../helpers/ldmCheckpoint";
import { type ModelSet, SD21, TINY } from "./synth/configs";
import { product } from "./synth/graph";
import { buildComponent } from "./synth/modelSet";
import { encodeModel } from "./synth/write";

/** `tiny`: the same at a few kB (checks the bench itself in seconds). */
let SET: ModelSet = process.argv.includes("--tiny") ? TINY : SD21;
let HALF = process.argv.includes("--fp16");

function vmHwmBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

async function prepare(dir: string): Promise<number> {
  const g = buildComponent(SET, "unet");
  await fs.mkdir(path.join(dir, "template"), { recursive: true });
  await fs.writeFile(path.join(dir, "template", "model.onnx"), encodeModel(g));
  // The checkpoint: each weight in torch's layout (a MatMul's [in,out] weight is [out,in] in torch; GroupNorm's [C,1,1] is [C]).
  const entries = g.weights.map((w) => {
    const linear = w.dims.length === 2 && !w.name.includes("conv");
    const shape = linear ? [w.dims[1], w.dims[0]] : w.dims.length === 3 ? [w.dims[0]] : [...w.dims];
    const key = unetToLdm(w.name, SET.unet.layersPerBlock, (b) => b >= 1) // UpBlock2D first, then CrossAttnUpBlock2D;
    return { key, shape, count: product(w.dims) };
  });
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const e of entries) {
    header[e.key] = { dtype: "F16", shape: e.shape, data_offsets: [offset, offset + e.count * 2] };
    offset += e.count * 2;
  }
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const out = createWriteStream(path.join(dir, "unet.safetensors"));
  const write = (b: Buffer) => new Promise<void>((resolve, reject) => out.write(b, (e) => (e ? reject(e) : resolve())));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  await write(len);
  await write(json);
  // Random halves in ±[2^-10, 2^-5): a random sign, exponent and mantissa straight into the bits.
  let seed = 1;
  for (const e of entries) {
    for (let done = 0; done < e.count; done += 1 << 20) {
      const n = Math.min(1 << 20, e.count - done);
      const halves = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        halves[i] = (seed >>> 16) & (0x8000 | 0x03ff) | ((5 + ((seed >>> 11) % 5)) << 10);
      }
      await write(Buffer.from(halves.buffer));
    }
  }
  await new Promise<void>((resolve) => out.end(resolve));
  return entries.reduce((s, e) => s + e.count, 0);
}

async function convert(dir: string): Promise<void> {
  const start = performance.now();
  const checkpoint = await SafetensorsFile.open(path.join(dir, "unet.safetensors"));
  const params: ParamMap = new Map();
  convertUnet([...checkpoint.tensors.values()], SET.unet.layersPerBlock, params);
  const plan = planWeights(await readOnnxModel(path.join(dir, "template", "model.onnx")), new Map([...params].map(([k, v]) => [k, { shape: v.entry.shape }])));
  if (plan.missing.length > 0) throw new Error(`unplaced: ${plan.missing.slice(0, 3).join(", ")}`);
  const unused = [...params.keys()].filter((p) => !plan.used.has(p));
  if (unused.length > 0) throw new Error(`unused: ${unused.slice(0, 3).join(", ")}`);
  const externalFrom = HALF ? convertGraphPrecision(plan.model, "fp16", { component: "unet", replaced: new Set(plan.placements.map((p) => p.template)), keepInputs: ["timestep"] }).externalFrom : undefined;
  await fs.mkdir(path.join(dir, "out"), { recursive: true });
  await writeWeights(plan, path.join(dir, "out"), {
    templateDir: path.join(dir, "template"),
    externalFrom,
    describe: (p) => ({ shape: params.get(p)?.entry.shape ?? [], key: params.get(p)?.key ?? p }),
    read: async (p) => checkpoint.readFloat32(params.get(p)?.entry ?? (undefined as never)),
  });
  await checkpoint.close();
  process.stdout.write(`${JSON.stringify({ seconds: (performance.now() - start) / 1000, peakRss: vmHwmBytes(), componentBytes: plannedBytes(plan) })}\n`);
}

export async function benchImport(args: readonly string[]): Promise<string[]> {
  if (args.includes("tiny")) SET = TINY;
  if (args.includes("fp16")) HALF = true;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "easel-import-bench-"));
  try {
    const t = performance.now();
    const params = await prepare(dir);
    const prepared = `prepared ${params} UNet parameters (fp16 LDM checkpoint, graph-only template) in ${((performance.now() - t) / 1000).toFixed(0)} s`;
    const child = spawnSync(process.execPath, ["--import", "tsx", __filename, "--convert", dir, ...(SET === TINY ? ["--tiny"] : []), ...(HALF ? ["--fp16"] : [])], { encoding: "utf8" });
    if (child.status !== 0) throw new Error(child.stderr);
    const r = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as { seconds: number; peakRss: number; componentBytes: number };
    const gb = (n: number) => (n / 1e9).toFixed(2);
    return [
      prepared,
      "",
      "| component | weights written | time | peak RSS | peak / component |",
      "|---|---|---|---|---|",
      `| UNet (${SET === TINY ? "tiny" : "SD 2.1"}, fp16 checkpoint -> ${HALF ? "fp16 graph, converted from the fp32 template" : "fp32 graph"}) | ${gb(r.componentBytes)} GB | ${r.seconds.toFixed(1)} s | ${gb(r.peakRss)} GB | ${((r.peakRss / r.componentBytes) * 100).toFixed(1)}% |`,
    ];
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// The child that converts (its peak RSS is the measure).
if (process.argv.includes("--convert")) {
  void convert(process.argv[process.argv.indexOf("--convert") + 1]).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
