// Test-side tools for checkpoint import: a checkpoint file writer, and the tiny models' weights exported
// as an original (LDM) single-file checkpoint. The diffusers -> LDM key conversion here is written
// from diffusers' conversion rules (the inverse of convert_ldm_unet_checkpoint /
// convert_ldm_vae_checkpoint), independently of the importer's code, and the graph's anonymous
// weights are named from the nodes that read them, in the reverse direction from the importer.
import { promises as fs } from "node:fs";
import path from "node:path";
import { onnx } from "onnx-proto";
import { float16BitsToFloat32, float32ToFloat16Bits } from "../../extension/engine/onnx/float16";
import { Engine } from "../../extension/engine/engine";
import { readRgb } from "./pixels";
import { safetensorsBytes } from "./safetensorsFile";

export interface NamedTensor {
  readonly dtype: "F32" | "F16";
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Writes a checkpoint's tensors as a safetensors file (through the one test-side writer, safetensorsFile.ts). */
export async function writeCheckpointFile(file: string, tensors: ReadonlyMap<string, NamedTensor>, metadata?: Record<string, string>): Promise<void> {
  const record = Object.fromEntries([...tensors].map(([name, t]) => [name, { shape: t.shape, data: t.values, dtype: t.dtype }]));
  await fs.writeFile(file, safetensorsBytes(record, metadata));
}

/** A deterministic generator for perturbing weights. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const roundF16 = (v: number) => float16BitsToFloat32(float32ToFloat16Bits(v));

function floatsOf(t: onnx.ITensorProto): Float32Array {
  const raw = t.rawData;
  if (!raw || t.dataType !== onnx.TensorProto.DataType.FLOAT) throw new Error(`${t.name}: expected fp32 raw data`);
  const copy = Buffer.from(raw);
  return new Float32Array(copy.buffer, copy.byteOffset, copy.length / 4);
}

/**
 * Replaces every float initializer with more than one element of `file` by new random-ish values
 * (the old ones scaled and shifted per element, rounded to fp16 so an F16 checkpoint holds them exactly).
 */
export async function perturbGraph(file: string, seed: number): Promise<void> {
  const model = onnx.ModelProto.decode(await fs.readFile(file));
  const rand = mulberry32(seed);
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT || (t.dims ?? []).length === 0) continue;
    const values = floatsOf(t);
    if (values.length < 2) continue;
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = roundF16(values[i] * (0.8 + 0.4 * rand()) + 0.02 * (rand() - 0.5));
    t.rawData = new Uint8Array(out.buffer);
  }
  await fs.writeFile(file, onnx.ModelProto.encode(model).finish());
}

function nodeModule(name: string): string {
  const parts = name.slice(1).split("/").slice(0, -1);
  return parts.filter((p, i) => !(i + 1 < parts.length && parts[i + 1].startsWith(`${p}.`))).join(".");
}

/**
 * The graph's weights under their torch module names (`unet.`/`vae.` wrapper scopes dropped),
 * each in torch's layout: a MatMul's [in,out] weight transposed back, GroupNorm's [C,1,1] as [C].
 */
export async function torchWeightsOfGraph(file: string): Promise<Map<string, { shape: number[]; values: Float32Array }>> {
  const model = onnx.ModelProto.decode(await fs.readFile(file));
  const graph = model.graph;
  if (!graph) throw new Error("no graph");
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const identity = new Map<string, string>();
  for (const n of graph.node ?? []) if (n.opType === "Identity") identity.set(n.output?.[0] ?? "", n.input?.[0] ?? "");
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  const strip = (n: string) => n.replace(/^(unet|vae)\./, "");
  // Some exports scope nodes more shallowly than they name weights (`/resblocks.0/ln_1/Add_1` beside
  // `transformer.resblocks.0.ln_1.weight`): a node's module is the named modules' one it ends.
  const namedModules = new Set([...inits.keys()].filter((n) => !n.startsWith("onnx::")).map((n) => strip(n).split(".").slice(0, -1).join(".")));
  const fullModule = (module: string): string => {
    if (namedModules.has(module)) return module;
    const matches = [...namedModules].filter((m) => m.endsWith(`.${module}`));
    return matches.length === 1 ? matches[0] : module;
  };
  for (const node of graph.node ?? []) {
    if (node.opType === "Identity") continue;
    (node.input ?? []).forEach((value, i) => {
      let v = value;
      while (!inits.has(v) && identity.has(v)) v = identity.get(v) ?? "";
      const t = inits.get(v);
      if (!t || t.dataType !== onnx.TensorProto.DataType.FLOAT || (t.dims ?? []).length === 0) return;
      const dims = (t.dims ?? []).map(Number);
      const values = floatsOf(t);
      if (values.length < 2) return;
      if (v === value && /\.(weight|bias)$|embedding$/.test(v)) {
        out.set(strip(v), { shape: dims, values });
        return;
      }
      const module = fullModule(strip(nodeModule(node.name ?? "")));
      if (node.opType === "MatMul" && i === 1) {
        const [rows, cols] = dims;
        const tr = new Float32Array(values.length); // [cols,rows] f32
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) tr[c * rows + r] = values[r * cols + c];
        const leaf = /(^|\.)attn$/.test(module) ? "in_proj_weight" : "weight";
        out.set(`${module}.${leaf}`, { shape: [cols, rows], values: tr });
      } else if (node.opType === "Gemm" && /(^|\.)attn$/.test(module)) {
        // MultiheadAttention calls out_proj through F.linear (transB=1: torch's layout), scoped at `attn`.
        out.set(`${module}.out_proj.${i === 1 ? "weight" : "bias"}`, { shape: dims, values });
      } else if (node.opType === "Mul") {
        out.set(`${module}.weight`, { shape: [values.length], values });
      } else if (node.opType === "Add") {
        out.set(`${module}.bias`, { shape: [values.length], values });
      }
    });
  }
  return out;
}

// The inverse of diffusers' convert_ldm_unet_checkpoint for `layersPerBlock`.
function resnetToLdm(rest: string): string {
  return rest
    .replace(/^norm1\./, "in_layers.0.")
    .replace(/^conv1\./, "in_layers.2.")
    .replace(/^norm2\./, "out_layers.0.")
    .replace(/^conv2\./, "out_layers.3.")
    .replace(/^time_emb_proj\./, "emb_layers.1.")
    .replace(/^conv_shortcut\./, "skip_connection.");
}

export function unetToLdm(name: string, layersPerBlock: number, upHasAttention: (block: number) => boolean): string {
  const per = layersPerBlock + 1;
  const fixed: [RegExp, string][] = [
    [/^conv_in\./, "input_blocks.0.0."],
    [/^time_embedding\.linear_1\./, "time_embed.0."],
    [/^time_embedding\.linear_2\./, "time_embed.2."],
    [/^add_embedding\.linear_1\./, "label_emb.0.0."],
    [/^add_embedding\.linear_2\./, "label_emb.0.2."],
    [/^conv_norm_out\./, "out.0."],
    [/^conv_out\./, "out.2."],
  ];
  for (const [from, to] of fixed) if (from.test(name)) return `model.diffusion_model.${name.replace(from, to)}`;
  let m = /^down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(name);
  if (m) return `model.diffusion_model.input_blocks.${1 + Number(m[1]) * per + Number(m[3])}.${m[2] === "resnets" ? `0.${resnetToLdm(m[4])}` : `1.${m[4]}`}`;
  m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/.exec(name);
  if (m) return `model.diffusion_model.input_blocks.${1 + Number(m[1]) * per + layersPerBlock}.0.op.${m[2]}`;
  m = /^mid_block\.resnets\.(\d)\.(.+)$/.exec(name);
  if (m) return `model.diffusion_model.middle_block.${m[1] === "0" ? 0 : 2}.${resnetToLdm(m[2])}`;
  m = /^mid_block\.attentions\.0\.(.+)$/.exec(name);
  if (m) return `model.diffusion_model.middle_block.1.${m[1]}`;
  m = /^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(name);
  if (m) return `model.diffusion_model.output_blocks.${Number(m[1]) * per + Number(m[3])}.${m[2] === "resnets" ? `0.${resnetToLdm(m[4])}` : `1.${m[4]}`}`;
  m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/.exec(name);
  if (m) return `model.diffusion_model.output_blocks.${Number(m[1]) * per + layersPerBlock}.${upHasAttention(Number(m[1])) ? 2 : 1}.conv.${m[2]}`;
  throw new Error(`no LDM name for UNet ${name}`);
}

// The inverse of diffusers' convert_ldm_vae_checkpoint for `blocks` levels.
export function vaeToLdm(name: string, blocks: number): string {
  const attn = (r: string) => r.replace(/^group_norm\./, "norm.").replace(/^to_q\./, "q.").replace(/^to_k\./, "k.").replace(/^to_v\./, "v.").replace(/^to_out\.0\./, "proj_out.");
  const res = (r: string) => r.replace(/^conv_shortcut\./, "nin_shortcut.");
  let m = /^(encoder|decoder)\.conv_norm_out\.(.+)$/.exec(name);
  if (m) return `first_stage_model.${m[1]}.norm_out.${m[2]}`;
  m = /^(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.+)$/.exec(name);
  if (m) return `first_stage_model.${m[1]}.mid.block_${Number(m[2]) + 1}.${res(m[3])}`;
  m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(.+)$/.exec(name);
  if (m) return `first_stage_model.${m[1]}.mid.attn_1.${attn(m[2])}`;
  m = /^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name);
  if (m) return `first_stage_model.encoder.down.${m[1]}.block.${m[2]}.${res(m[3])}`;
  m = /^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/.exec(name);
  if (m) return `first_stage_model.encoder.down.${m[1]}.downsample.conv.${m[2]}`;
  m = /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name);
  if (m) return `first_stage_model.decoder.up.${blocks - 1 - Number(m[1])}.block.${m[2]}.${res(m[3])}`;
  m = /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/.exec(name);
  if (m) return `first_stage_model.decoder.up.${blocks - 1 - Number(m[1])}.upsample.conv.${m[2]}`;
  if (/^(encoder|decoder)\.conv_(in|out)\.|^(post_)?quant_conv\./.test(name)) return `first_stage_model.${name}`;
  throw new Error(`no LDM name for VAE ${name}`);
}

/**
 * A tiny model folder's weights as an LDM checkpoint: UNet under model.diffusion_model., VAE under
 * first_stage_model., the text encoders under SD 1.x's cond_stage_model.transformer.text_model.
 * (transformers' CLIP), SD 2.x's cond_stage_model.model. (OpenCLIP-named graphs), or SDXL's
 * conditioner.embedders.0.transformer.text_model. (transformers' CLIP place) and
 * conditioner.embedders.1.model. (OpenCLIP's). VAE attention projections are stored as LDM stores
 * them, 1×1 convolutions ([C,C,1,1]).
 */
export async function ldmCheckpointOf(modelDir: string, dtype: "F32" | "F16", architecture: "sd1" | "sd2" | "sdxl" = "sd2"): Promise<Map<string, NamedTensor>> {
  const unetConfig = JSON.parse(await fs.readFile(path.join(modelDir, "unet", "config.json"), "utf8")) as { layers_per_block: number; up_block_types: string[] };
  const vaeConfig = JSON.parse(await fs.readFile(path.join(modelDir, "vae_decoder", "config.json"), "utf8")) as { block_out_channels: number[] };
  const out = new Map<string, NamedTensor>();
  const add = (key: string, w: { shape: number[]; values: Float32Array }) => out.set(key, { dtype, shape: w.shape, values: w.values });
  for (const [name, w] of await torchWeightsOfGraph(path.join(modelDir, "unet", "model.onnx"))) {
    add(unetToLdm(name, unetConfig.layers_per_block, (b) => unetConfig.up_block_types[b].startsWith("CrossAttn")), w);
  }
  for (const component of ["vae_decoder", "vae_encoder"]) {
    const file = path.join(modelDir, component, "model.onnx");
    if (!(await fs.stat(file).catch(() => undefined))) continue;
    for (const [name, w] of await torchWeightsOfGraph(file)) {
      const key = vaeToLdm(name, vaeConfig.block_out_channels.length);
      const isAttnProj = /\.mid\.attn_1\.(q|k|v|proj_out)\.weight$/.test(key);
      add(key, isAttnProj ? { shape: [...w.shape, 1, 1], values: w.values } : w);
    }
  }
  const encoders: [string, string][] =
    architecture === "sd2"
      ? [["text_encoder", "cond_stage_model.model."]]
      : architecture === "sd1"
        ? [["text_encoder", "cond_stage_model.transformer.text_model."]]
        : [
          ["text_encoder", "conditioner.embedders.0.transformer.text_model."],
          ["text_encoder_2", "conditioner.embedders.1.model."],
        ];
  for (const [component, prefix] of encoders) {
    for (const [name, w] of await torchWeightsOfGraph(path.join(modelDir, component, "model.onnx"))) add(`${prefix}${name}`, w);
  }
  return out;
}

/** The pixels of each image a model folder draws for one fixed request (a PNG's parameters name the folder, which differs between the folders compared). */
export async function drawPixels(dir: string): Promise<Buffer[]> {
  const engine = await Engine.load(dir, { provider: "cpu" });
  try {
    const result = await engine.generate({ prompt: "a lighthouse at dawn", negativePrompt: "fog", steps: 3, width: 64, height: 64, seed: 7n, batch: 2 });
    return Promise.all(result.images.map(async (i) => Buffer.from((await readRgb(i.png)).data)));
  } finally {
    await engine.dispose();
  }
}
