// The activation check: runs each component of a built folder with every float activation exposed
// as an output (at a small size: the values, not the sizes, decide NaN / denormal) and reports
// NaN, Inf, denormals and the largest magnitude over all of them.
import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { ClipTokenizer } from "../../../extension/engine/text/clipTokenizer";
import { SD21, type ModelSet } from "./configs";
import { buildComponent, componentsOf, type SynthComponent } from "./modelSet";
import { TIME_IDS } from "./unet";
import { Xoshiro128 } from "./prng";
import { addStats, emptyStats, formatStats, type ValueStats } from "./stats";
import { encodeModel } from "./write";

export const CHECK_PROMPT = "a photograph of an astronaut riding a horse";

export function uniformTensor(dims: readonly number[], std: number, stream: string): ort.Tensor {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  new Xoshiro128(7, stream).fillUniform(data, std);
  return new ort.Tensor("float32", data, dims);
}

export interface ComponentCheck {
  readonly component: SynthComponent;
  /** Over every float activation, outputs included. */
  readonly all: ValueStats;
  /** The declared outputs' names, dims and types. */
  readonly outputs: Readonly<Record<string, { readonly dims: readonly number[]; readonly type: string; readonly stats: ValueStats }>>;
}

async function runExposed(dir: string, set: ModelSet, component: SynthComponent, feeds: Record<string, ort.Tensor>): Promise<{ check: ComponentCheck; results: ort.InferenceSession.OnnxValueMapType }> {
  const graph = buildComponent(set, component);
  const file = path.join(dir, component, "model.check.onnx");
  fs.writeFileSync(file, encodeModel(graph, undefined, true));
  try {
    const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: "basic", intraOpNumThreads: 2 });
    try {
      const results = await session.run(feeds);
      const all = emptyStats();
      const declared = new Set(["out_sample", "sample", "last_hidden_state", "pooler_output", "text_embeds"]);
      const outputs: Record<string, { dims: readonly number[]; type: string; stats: ValueStats }> = {};
      for (const [name, value] of Object.entries(results)) {
        if (value.type !== "float32") continue;
        const data = value.data as Float32Array;
        addStats(all, data);
        if (declared.has(name) || name.startsWith("hidden_states.")) outputs[name] = { dims: value.dims, type: value.type, stats: addStats(emptyStats(), data) };
      }
      return { check: { component, all, outputs }, results };
    } finally {
      await session.release();
    }
  } finally {
    fs.rmSync(file, { force: true });
  }
}

async function promptIds(dir: string, tokenizerFolder: string): Promise<ort.Tensor> {
  const tokenizer = await ClipTokenizer.load(path.join(dir, tokenizerFolder));
  const ids = [...tokenizer.encode("").ids, ...tokenizer.encode(CHECK_PROMPT).ids];
  return new ort.Tensor("int32", Int32Array.from(ids), [2, ids.length / 2]);
}

/** [b, n, w1] and [b, n, w2] → [b, n, w1 + w2]: SDXL's two encoders' states side by side. */
function concatLast(a: ort.Tensor, b: ort.Tensor): ort.Tensor {
  const [batch, n, wa] = a.dims;
  const wb = b.dims[2];
  const out = new Float32Array(batch * n * (wa + wb));
  const da = a.data as Float32Array;
  const db = b.data as Float32Array;
  for (let r = 0; r < batch * n; r++) {
    out.set(da.subarray(r * wa, (r + 1) * wa), r * (wa + wb));
    out.set(db.subarray(r * wb, (r + 1) * wb), r * (wa + wb) + wa);
  }
  return new ort.Tensor("float32", out, [batch, n, wa + wb]);
}

/** Checks every component of the folder `dir` (built from `set`) at `side`² pixels, batch 2. */
export async function checkActivations(dir: string, log: (line: string) => void = console.log, set: ModelSet = SD21, side = 64): Promise<ComponentCheck[]> {
  const h = side / 8;
  const checks: ComponentCheck[] = [];
  // What the UNet reads from each encoder: SD's last_hidden_state; SDXL's penultimate layer.
  const states: ort.Tensor[] = [];
  let pooled: ort.Tensor | undefined;
  for (const component of componentsOf(set)) {
    let feeds: Record<string, ort.Tensor>;
    if (component === "text_encoder") feeds = { input_ids: await promptIds(dir, "tokenizer") };
    else if (component === "text_encoder_2") feeds = { input_ids: await promptIds(dir, "tokenizer_2") };
    else if (component === "unet") {
      if (states.length === 0) throw new Error("the text encoders run first");
      feeds = {
        sample: uniformTensor([2, set.unet.inChannels, h, h], 1, "sample"),
        timestep: set.unet.timestepType === "int64" ? new ort.Tensor("int64", BigInt64Array.from([999n, 1n]), [2]) : new ort.Tensor("float32", Float32Array.from([999, 1]), [2]),
        encoder_hidden_states: states.reduce(concatLast),
      };
      if (set.unet.added) {
        if (!pooled) throw new Error("text_encoder_2 runs first");
        feeds.text_embeds = pooled;
        feeds.time_ids = new ort.Tensor("float32", Float32Array.from({ length: 2 * TIME_IDS }, (_, i) => [side, side, 0, 0, side, side][i % TIME_IDS]), [2, TIME_IDS]);
      }
    } else {
      // The engine feeds the VAE latents / scaling_factor (SD: std ≈ 5.5); TAESD the latents as they are.
      feeds = { latent_sample: uniformTensor([2, 4, h, h], component === "vae_decoder" ? 1 / (set.vae.scalingFactor ?? 0.18215) : 1, component) };
    }
    const { check, results } = await runExposed(dir, set, component, feeds);
    if (component === "text_encoder" || component === "text_encoder_2") {
      const config = component === "text_encoder" ? set.text : set.text2;
      const read = config?.penultimate ? results[`hidden_states.${config.layers - 1}`] : results.last_hidden_state;
      states.push(new ort.Tensor("float32", read.data as Float32Array, read.dims));
      if (results.text_embeds) pooled = new ort.Tensor("float32", results.text_embeds.data as Float32Array, results.text_embeds.dims);
    }
    log(`${component}: ${formatStats(check.all)}`);
    checks.push(check);
  }
  return checks;
}
