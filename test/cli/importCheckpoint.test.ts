// `easel models import`: the tiny SD 2.x model's weights, changed, exported as an original (LDM)
// single-file checkpoint and imported with the tiny model as the template, must draw exactly what
// a diffusers-layout folder holding the same weights draws; broken files are one-line errors that
// leave no folder behind.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { unetKeyToDiffusers, vaeKeyToDiffusers } from "../../extension/engine/convert/ldmKeys";
import { importCheckpoint } from "../../extension/engine/convert/importCheckpoint";
import { convertGraphPrecision } from "../../extension/engine/convert/graphPrecision";
import { verifyImportedFolder } from "../../extension/engine/convert/verifyImport";
import { EaselError } from "../../extension/engine/errors";
import { ModelStore } from "../../extension/engine/hub/store";
import { drawPixels, ldmCheckpointOf, type NamedTensor, perturbGraph, writeCheckpointFile } from "../helpers/ldmCheckpoint";
import { externalizeWeights, OPTIMUM_EXTERNAL_DATA, readGraph, rewriteComponent } from "../helpers/onnxVariants";
import { MODELS } from "../helpers/paths";
import { runCli } from "../helpers/runCli";

const TEMPLATE = path.join(MODELS, "tiny-sd21v");
const COMPONENTS = ["text_encoder", "unet", "vae_decoder", "vae_encoder"] as const;

async function copyDir(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true });
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}


const FLOAT = 1;
const FLOAT16 = 10;

/** Each float type a graph file holds, where: its ports, and its initializers read as weights (by MatMul/Gemm/Conv/Gather) or not. */
async function graphTypes(file: string): Promise<{ ports: Map<string, number>; weights: Set<number>; constants: Set<number> }> {
  const graph = (await readGraph(file)).graph!;
  const ports = new Map([...(graph.input ?? []), ...(graph.output ?? [])].map((p) => [p.name!, p.type?.tensorType?.elemType ?? 0]));
  const weightNames = new Set((graph.node ?? []).flatMap((n) => (["MatMul", "Gemm", "Conv"].includes(n.opType!) ? (n.input ?? []).slice(1) : n.opType === "Gather" ? [n.input![0]] : [])));
  const weights = new Set<number>();
  const constants = new Set<number>();
  for (const t of graph.initializer ?? []) if (t.dataType === FLOAT || t.dataType === FLOAT16) (weightNames.has(t.name!) ? weights : constants).add(t.dataType);
  return { ports, weights, constants };
}

// fp16 rounds weights to 11 significant bits (2^-11 ≈ 4.9e-4 relative) and every activation as it
// is computed; over 3 steps of the tiny SD 2.x model (batch 2, guidance) that moves pixels by 0.34
// levels on average and 5 at most (measured). The bounds leave 2-3x margin for other CPUs' kernels,
// well under what a mistyped constant or a lost weight does (whole images off by tens of levels).
const FP16_MEAN_LEVELS = 1;
const FP16_MAX_LEVELS = 12;

/** Mean and largest difference of two images' 8-bit channels. */
function pixelDrift(a: readonly Buffer[], b: readonly Buffer[]): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  let n = 0;
  a.forEach((image, k) => {
    for (let i = 0; i < image.length; i++) {
      const d = Math.abs(image[i] - b[k][i]);
      sum += d;
      max = Math.max(max, d);
      n++;
    }
  });
  return { mean: sum / n, max };
}

describe("easel models import", () => {
  let work: string;
  let reference: string;
  let checkpoint: Map<string, NamedTensor>;
  // The reference folder's images, drawn once for the tests that compare with them.
  let referenceImages: Promise<Buffer[]> | undefined;
  const drawReference = () => (referenceImages ??= drawPixels(reference));
  const env = () => ({ EASEL_HOME: path.join(work, "home") });
  const storeTree = () => listTree(path.join(work, "home", "models"));

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), "easel-import-"));
    // The reference: the template's folder with every weight changed, in the diffusers layout.
    reference = path.join(work, "reference");
    await copyDir(TEMPLATE, reference);
    let seed = 1;
    for (const c of ["text_encoder", "unet", "vae_decoder", "vae_encoder"]) await perturbGraph(path.join(reference, c, "model.onnx"), seed++);
    checkpoint = await ldmCheckpointOf(reference, "F16");
    // An EMA copy and the DDPM buffers ride along in real checkpoints: they are skipped, not errors.
    const anyKey = [...checkpoint.keys()][0];
    checkpoint.set(`model_ema.${anyKey.replace(/\./g, "")}`, checkpoint.get(anyKey) as NamedTensor);
    checkpoint.set("alphas_cumprod", { dtype: "F32", shape: [4], values: new Float32Array([1, 0.9, 0.8, 0.7]) });
    await writeCheckpointFile(path.join(work, "good.safetensors"), checkpoint);
  });

  after(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  it("imports an LDM checkpoint whose images equal the diffusers-layout folder's, and lists it with its base model", async () => {
    const r = await runCli(["models", "import", path.join(work, "good.safetensors"), "--template", TEMPLATE, "--prediction", "v", "--name", "mine", "--json"], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { dir: string; baseModel: string; vae: string; dtype: string };
    assert.equal(out.baseModel, "SD 2.x (v-prediction)");
    assert.equal(out.vae, "checkpoint");
    assert.equal(out.dtype, "fp32");
    assert.equal(out.dir, path.join(work, "home", "models", "imported", "mine"));
    // Weights live in external data; the template's weights are not carried over.
    const unetGraph = await fs.stat(path.join(out.dir, "unet", "model.onnx"));
    const unetData = await fs.stat(path.join(out.dir, "unet", "model.onnx_data"));
    const templateGraph = await fs.stat(path.join(TEMPLATE, "unet", "model.onnx"));
    assert.ok(unetData.size > 800_000 && unetGraph.size < templateGraph.size - 780_000, `graph ${unetGraph.size} B, data ${unetData.size} B`);
    const imported = await drawPixels(out.dir);
    assert.deepEqual(imported, await drawReference());
    // And it is not the template's drawing: the weights did change.
    assert.notDeepEqual(imported, await drawPixels(TEMPLATE));

    const list = await runCli(["models", "list"], { env: env() });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /mine .*imported good\.safetensors; base model SD 2\.x \(v-prediction\)/);
    const gen = await runCli(["generate", "--model", "mine", "--prompt", "a cat", "--steps", "1", "--width", "64", "--height", "64", "--seed", "1", "--out", path.join(work, "cat.png")], { env: env() });
    assert.equal(gen.code, 0, gen.stderr);
    // rm deletes the folder the store made.
    const rm = await runCli(["models", "rm", "mine"], { env: env() });
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual((await storeTree()).filter((p) => p.startsWith("imported/")), []);
  });

  it("takes an optimum export with external weights, and a graph-only template (its weight files removed)", async () => {
    // optimum's layout: weights and large Constant values in model.onnx_data; the constants are copied over.
    const external = path.join(work, "optimum-external");
    await copyDir(TEMPLATE, external);
    for (const c of COMPONENTS) await externalizeWeights(external, c, OPTIMUM_EXTERNAL_DATA);
    // Graph-only: every initializer external and the side files gone; Constant values stay in the graph.
    const graphOnly = path.join(work, "graph-only");
    await copyDir(TEMPLATE, graphOnly);
    for (const c of COMPONENTS) {
      await externalizeWeights(graphOnly, c, { ...OPTIMUM_EXTERNAL_DATA, sizeThreshold: 0, convertAttributes: false });
      await fs.rm(path.join(graphOnly, c, OPTIMUM_EXTERNAL_DATA.location));
    }
    const expected = await drawReference();
    for (const [name, template] of [["from-optimum", external], ["from-graphs", graphOnly]]) {
      const r = await runCli(["models", "import", path.join(work, "good.safetensors"), "--template", template, "--prediction", "v", "--name", name, "--json"], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await drawPixels((JSON.parse(r.stdout) as { dir: string }).dir), expected, name);
    }
  });

  it("imports an SDXL checkpoint (two text encoders, add_embedding) drawing what the diffusers-layout folder draws", async () => {
    const xlTemplate = path.join(MODELS, "tiny-sdxl");
    const xlReference = path.join(work, "reference-xl");
    await copyDir(xlTemplate, xlReference);
    let seed = 11;
    for (const c of ["text_encoder", "text_encoder_2", "unet", "vae_decoder"]) await perturbGraph(path.join(xlReference, c, "model.onnx"), seed++);
    await writeCheckpointFile(path.join(work, "xl.safetensors"), await ldmCheckpointOf(xlReference, "F16", "sdxl"));
    const r = await runCli(["models", "import", path.join(work, "xl.safetensors"), "--template", xlTemplate, "--json"], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { dir: string; baseModel: string };
    assert.equal(out.baseModel, "SDXL");
    const expected = await drawPixels(xlReference);
    assert.deepEqual(await drawPixels(out.dir), expected);
    // In fp16: both text encoders and the UNet, whose size conditioning (time_ids) stays a float32 sinusoid.
    const half = await runCli(["models", "import", path.join(work, "xl.safetensors"), "--template", xlTemplate, "--name", "xl-half", "--dtype", "fp16", "--json"], { env: env() });
    assert.equal(half.code, 0, half.stderr);
    const halfDir = (JSON.parse(half.stdout) as { dir: string }).dir;
    for (const c of ["text_encoder", "text_encoder_2", "unet"]) assert.deepEqual([...(await graphTypes(path.join(halfDir, c, "model.onnx"))).weights], [FLOAT16], c);
    const unet = await graphTypes(path.join(halfDir, "unet", "model.onnx"));
    assert.deepEqual([unet.ports.get("text_embeds"), unet.ports.get("time_ids")], [FLOAT16, FLOAT]);
    const drift = pixelDrift(await drawPixels(halfDir), expected);
    assert.ok(drift.mean <= FP16_MEAN_LEVELS && drift.max <= FP16_MAX_LEVELS, `SDXL fp16 drifts ${drift.mean.toFixed(3)} levels on average, ${drift.max} at most`);
  });

  it("--dtype fp16 on an fp32 template writes fp16 text encoder and UNet graphs (the VAE stays fp32) drawing close to the fp32 folder", async () => {
    const r = await runCli(["models", "import", path.join(work, "good.safetensors"), "--template", TEMPLATE, "--prediction", "v", "--name", "half", "--dtype", "fp16", "--json"], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { dir: string; dtype: string; vaeDtype: string };
    assert.equal(out.dtype, "fp16");
    assert.equal(out.vaeDtype, "fp32");
    const unet = await graphTypes(path.join(out.dir, "unet", "model.onnx"));
    assert.deepEqual([...unet.weights], [FLOAT16]);
    assert.equal(unet.ports.get("sample"), FLOAT16);
    assert.equal(unet.ports.get("encoder_hidden_states"), FLOAT16);
    assert.equal(unet.ports.get("out_sample"), FLOAT16);
    // The integer timestep is cast to float32 for the sinusoid, as diffusers computes it.
    assert.equal(unet.ports.get("timestep"), 7);
    const text = await graphTypes(path.join(out.dir, "text_encoder", "model.onnx"));
    assert.deepEqual([...text.weights], [FLOAT16]);
    assert.equal(text.ports.get("last_hidden_state"), FLOAT16);
    for (const vae of ["vae_decoder", "vae_encoder"]) {
      const types = await graphTypes(path.join(out.dir, vae, "model.onnx"));
      assert.deepEqual([...types.weights, ...types.constants, ...new Set(types.ports.values())].filter((t) => t !== FLOAT), [], vae);
    }
    const list = await runCli(["models", "list"], { env: env() });
    assert.match(list.stdout, /half .*base model SD 2\.x \(v-prediction\); fp16, VAE fp32\)/);
    const drift = pixelDrift(await drawPixels(out.dir), await drawReference());
    assert.ok(drift.mean <= FP16_MEAN_LEVELS && drift.max <= FP16_MAX_LEVELS, `fp16 drifts ${drift.mean.toFixed(3)} levels on average, ${drift.max} at most`);
  });

  it("--dtype fp32 on an fp16 template writes fp32 graphs everywhere drawing what the fp32 folder draws, within the template constants' fp16 rounding", async () => {
    // An fp16 template: the tiny model converted by the importer's own converter, as optimum --fp16 exports look.
    const half = path.join(work, "fp16-template");
    await copyDir(TEMPLATE, half);
    for (const c of COMPONENTS) await rewriteComponent(half, c, (model) => void convertGraphPrecision(model, "fp16", { component: c, replaced: new Set(), keepInputs: c === "unet" ? ["timestep"] : [] }));
    assert.deepEqual([...(await graphTypes(path.join(half, "vae_decoder", "model.onnx"))).weights], [FLOAT16]);
    const r = await runCli(["models", "import", path.join(work, "good.safetensors"), "--template", half, "--prediction", "v", "--name", "full", "--dtype", "fp32", "--json"], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { dir: string; dtype: string; vaeDtype: string };
    assert.equal(out.dtype, "fp32");
    assert.equal(out.vaeDtype, "fp32");
    for (const c of COMPONENTS) {
      const types = await graphTypes(path.join(out.dir, c, "model.onnx"));
      assert.deepEqual([...types.weights, ...types.constants, ...new Set(types.ports.values())].filter((t) => t === FLOAT16), [], c);
    }
    // The checkpoint's weights are fp16-exact and fp16 -> fp32 is exact: only the template's own
    // constants (norm epsilons, GELU's √2) still carry their fp16 rounding: 0.003 levels on average,
    // 1 at most (measured).
    const drift = pixelDrift(await drawPixels(out.dir), await drawReference());
    assert.ok(drift.mean <= 0.05 && drift.max <= 2, `fp32 from an fp16 template drifts ${drift.mean.toFixed(3)} levels on average, ${drift.max} at most`);
    // A checkpoint without a VAE takes the template's, converted to fp32 too.
    await writeCheckpointFile(path.join(work, "novae-fp32.safetensors"), new Map([...checkpoint].filter(([k]) => !k.startsWith("first_stage_model."))));
    const noVae = await runCli(["models", "import", path.join(work, "novae-fp32.safetensors"), "--template", half, "--prediction", "v", "--dtype", "fp32", "--json"], { env: env() });
    assert.equal(noVae.code, 0, noVae.stderr);
    const noVaeOut = JSON.parse(noVae.stdout) as { dir: string; vae: string; vaeDtype: string };
    assert.deepEqual([noVaeOut.vae, noVaeOut.vaeDtype], ["template", "fp32"]);
    const vaeTypes = await graphTypes(path.join(noVaeOut.dir, "vae_decoder", "model.onnx"));
    assert.deepEqual([...vaeTypes.weights, ...vaeTypes.constants, ...new Set(vaeTypes.ports.values())].filter((t) => t === FLOAT16), []);
  });

  it("without a baked VAE, takes the template's", async () => {
    const noVae = new Map([...checkpoint].filter(([k]) => !k.startsWith("first_stage_model.")));
    await writeCheckpointFile(path.join(work, "novae.safetensors"), noVae);
    const r = await runCli(["models", "import", path.join(work, "novae.safetensors"), "--template", TEMPLATE, "--prediction", "v", "--json"], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { name: string; vae: string; dir: string };
    assert.equal(out.name, "novae");
    assert.equal(out.vae, "template");
    assert.deepEqual(await fs.readFile(path.join(out.dir, "vae_decoder", "model.onnx")), await fs.readFile(path.join(TEMPLATE, "vae_decoder", "model.onnx")));
  });

  it("cancelled half-way, leaves no folder and lists nothing", async () => {
    const store = ModelStore.open(path.join(work, "cancel-store"));
    const controller = new AbortController();
    let seen = 0;
    await assert.rejects(
      importCheckpoint(path.join(work, "good.safetensors"), {
        store,
        templateDir: TEMPLATE,
        prediction: "v",
        signal: controller.signal,
        verify: verifyImportedFolder,
        onProgress: (p) => {
          seen++;
          if (p.bytes > 0) controller.abort();
        },
      }),
      (e: unknown) => e instanceof EaselError && e.code === "cancelled",
    );
    assert.ok(seen > 0);
    assert.deepEqual(await listTree(store.root), [".partial"]);
    assert.deepEqual(await store.listLocal(), []);
  });

  it("a folder that does not draw (NaN weights) is not listed", async () => {
    const nan = new Map([...checkpoint].map(([k, t]) => [k, k === "model.diffusion_model.out.2.bias" ? { ...t, values: new Float32Array(t.values.length).fill(Number.NaN) } : t]));
    await writeCheckpointFile(path.join(work, "nan.safetensors"), nan);
    const store = ModelStore.open(path.join(work, "nan-store"));
    await assert.rejects(
      importCheckpoint(path.join(work, "nan.safetensors"), { store, templateDir: TEMPLATE, prediction: "v", verify: verifyImportedFolder }),
      /the imported model does not run \(.*NaN/,
    );
    assert.deepEqual(await listTree(store.root), [".partial"]);
    assert.deepEqual(await store.listLocal(), []);
  });

  const bad: { name: string; make: (file: string) => Promise<void>; args?: string[]; template?: () => Promise<string>; error: RegExp }[] = [
    {
      name: "a missing key",
      make: (f) => writeCheckpointFile(f, new Map([...checkpoint].filter(([k]) => k !== "model.diffusion_model.output_blocks.1.0.in_layers.2.weight"))),
      error: /lacks weights the unet graph needs/,
    },
    {
      name: "an extra key",
      make: (f) => writeCheckpointFile(f, new Map([...checkpoint, ["model.diffusion_model.input_blocks.1.0.extra_layers.0.weight", { dtype: "F32", shape: [2], values: new Float32Array(2) }]])),
      error: /has no place in the template's unet graph|cannot place/,
    },
    {
      name: "a key of no component",
      make: (f) => writeCheckpointFile(f, new Map([...checkpoint, ["something_else.weight", { dtype: "F32", shape: [2], values: new Float32Array(2) }]])),
      error: /a key no SD 2\.x component has: something_else\.weight/,
    },
    {
      name: "a truncated file",
      make: async (f) => {
        await writeCheckpointFile(f, checkpoint);
        const size = (await fs.stat(f)).size;
        await fs.truncate(f, size - 1000);
      },
      error: /is not a valid safetensors file .*truncated/,
    },
    {
      name: "a header that lies about offsets",
      make: async (f) => {
        await writeCheckpointFile(f, checkpoint);
        const bytes = await fs.readFile(f);
        const n = Number(bytes.readBigUInt64LE(0));
        const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")) as Record<string, { data_offsets: number[] }>;
        const [first, second] = Object.keys(header);
        header[second].data_offsets = header[first].data_offsets.slice();
        let json = Buffer.from(JSON.stringify(header));
        json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(json.length));
        await fs.writeFile(f, Buffer.concat([len, json, bytes.subarray(8 + n)]));
      },
      error: /is not a valid safetensors file \(.*(overlap|bytes for a)/,
    },
    {
      name: "an unknown architecture",
      make: (f) => writeCheckpointFile(f, new Map([...checkpoint].filter(([k]) => !k.startsWith("cond_stage_model.")))),
      error: /unknown architecture/,
    },
    {
      name: "an SD3 checkpoint",
      make: (f) => writeCheckpointFile(f, new Map([["model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", { dtype: "F32", shape: [2], values: new Float32Array(2) }]])),
      error: /Stable Diffusion 3 model, which Easel cannot import/,
    },
    {
      name: "a Flux checkpoint",
      make: (f) => writeCheckpointFile(f, new Map([["double_blocks.0.img_attn.qkv.weight", { dtype: "F32", shape: [2], values: new Float32Array(2) }]])),
      error: /a Flux model, which Easel cannot import/,
    },
    {
      name: "an SD 2.x checkpoint without --prediction",
      make: (f) => writeCheckpointFile(f, checkpoint),
      args: [],
      error: /add --prediction v or --prediction eps/,
    },
    {
      name: "an unknown --dtype",
      make: (f) => writeCheckpointFile(f, checkpoint),
      args: ["--prediction", "v", "--dtype", "bf16"],
      error: /--dtype must be fp16 or fp32/,
    },
    {
      name: "a --dtype conversion of a graph with an operator the converter does not know",
      make: (f) => writeCheckpointFile(f, checkpoint),
      args: ["--prediction", "v", "--dtype", "fp16"],
      // A real operator whose output type comes from a dtype attribute: the converter cannot follow it.
      template: async () => {
        const dir = path.join(work, "odd-op-template");
        await fs.rm(dir, { recursive: true, force: true });
        await copyDir(TEMPLATE, dir);
        await rewriteComponent(dir, "unet", (model) => {
          model.graph!.node!.push({ name: "/unet/noise", opType: "RandomNormalLike", input: ["sample"], output: ["easel_test_noise"] });
        });
        return dir;
      },
      error: /the template's unet graph uses the operator RandomNormalLike, which Easel's --dtype fp16 conversion cannot follow: give an fp16 template/,
    },
    {
      name: "a pickle .ckpt",
      make: (f) => fs.writeFile(f, Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00])),
      error: /pickle checkpoint, which Easel never loads .*convert it to \.safetensors/,
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} in one line and leaves no folder`, async () => {
      const file = path.join(work, c.name.includes("pickle") ? "bad.ckpt" : "bad.safetensors");
      await c.make(file);
      const before = await storeTree();
      const template = c.template ? await c.template() : TEMPLATE;
      const r = await runCli(["models", "import", file, "--template", template, ...(c.args ?? ["--prediction", "v"]), "--name", "bad"], { env: env() });
      assert.notEqual(r.code, 0);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], c.error);
      const now = await storeTree();
      assert.deepEqual(
        now.filter((p) => !before.includes(p) && p !== ".partial"),
        [],
      );
      assert.deepEqual((await fs.readdir(path.join(work, "home", "models", ".partial")).catch(() => [])), []);
    });
  }
});

describe("LDM -> diffusers key conversion follows the UNet config", () => {
  it("places SD 1.5's blocks (layers_per_block 2)", () => {
    assert.equal(unetKeyToDiffusers("input_blocks.4.1.proj_in.weight", 2), "down_blocks.1.attentions.0.proj_in.weight");
    assert.equal(unetKeyToDiffusers("input_blocks.3.0.op.weight", 2), "down_blocks.0.downsamplers.0.conv.weight");
    assert.equal(unetKeyToDiffusers("input_blocks.11.0.out_layers.3.bias", 2), "down_blocks.3.resnets.1.conv2.bias");
    assert.equal(unetKeyToDiffusers("output_blocks.2.1.conv.weight", 2), "up_blocks.0.upsamplers.0.conv.weight");
    assert.equal(unetKeyToDiffusers("output_blocks.5.2.conv.bias", 2), "up_blocks.1.upsamplers.0.conv.bias");
    assert.equal(unetKeyToDiffusers("output_blocks.5.1.transformer_blocks.0.attn2.to_k.weight", 2), "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k.weight");
    assert.equal(unetKeyToDiffusers("middle_block.2.emb_layers.1.weight", 2), "mid_block.resnets.1.time_emb_proj.weight");
    assert.equal(unetKeyToDiffusers("label_emb.0.2.weight", 2), "add_embedding.linear_2.weight");
  });
  it("places a one-layer layout differently (layers_per_block 1)", () => {
    assert.equal(unetKeyToDiffusers("input_blocks.3.1.proj_in.weight", 1), "down_blocks.1.attentions.0.proj_in.weight");
    assert.equal(unetKeyToDiffusers("input_blocks.2.0.op.weight", 1), "down_blocks.0.downsamplers.0.conv.weight");
    assert.equal(unetKeyToDiffusers("output_blocks.1.1.conv.weight", 1), "up_blocks.0.upsamplers.0.conv.weight");
  });
  it("numbers the VAE decoder's levels from the top", () => {
    assert.equal(vaeKeyToDiffusers("decoder.up.0.block.2.nin_shortcut.weight", 4), "decoder.up_blocks.3.resnets.2.conv_shortcut.weight");
    assert.equal(vaeKeyToDiffusers("decoder.up.3.upsample.conv.bias", 4), "decoder.up_blocks.0.upsamplers.0.conv.bias");
    assert.equal(vaeKeyToDiffusers("encoder.mid.attn_1.proj_out.weight", 4), "encoder.mid_block.attentions.0.to_out.0.weight");
    assert.equal(vaeKeyToDiffusers("decoder.norm_out.weight", 4), "decoder.conv_norm_out.weight");
  });
});
