// LoRA merging on real ONNX graphs: the synthetic tiny model (external weights in weights.pb, MatMul
// weights stored transposed) with a kohya LoRA on attention, proj_in and a 3×3 LoCon convolution must
// make exactly the image of a copy of the model whose weights.pb the test merged itself (naive loops,
// onnx-proto to find the tensors); the PEFT spelling of the same LoRA the same image; switching the
// LoRA set back and forth on one engine gives each set's image again. A text-encoder LoRA is checked
// on a one-layer graph named as optimum's CLIPTextModel exports are (an anonymous MatMul weight).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { onnx } from "onnx-proto";
import { Engine } from "../../extension/engine/engine";
import { type LoraFile, loraMerge, openLora, planLoras, guessBase } from "../../extension/engine/lora/apply";
import { ldmToDiffusersKey, loraModules } from "../../extension/engine/lora/keys";
import { extractLoraTags } from "../../extension/engine/lora/promptTags";
import { a1111LoraHash } from "../../extension/engine/lora/hash";
import { graphWeightsOfBytes, moduleWeights, readGraphWeights } from "../../extension/engine/onnx/graphWeights";
import { patchedGraph, SPILL_KEEP, spillUsage } from "../../extension/engine/onnx/patchedGraph";
import { MERGED_WEIGHTS_FOLDER } from "../../extension/engine/hub/storePaths";
import { runCli } from "../helpers/runCli";
import { ModelSession } from "../../extension/engine/onnx/session";
import { sessionOptions } from "../../extension/engine/onnx/providerOptions";
import { infotextFields, parseInfotext } from "../../extension/engine/image/infotext";
import * as ort from "onnxruntime-node";
import { TINY } from "../bench/synth/configs";
import { buildModelFolder } from "../bench/synth/modelSet";
import { pixelDiff, readRgb, type Rgb } from "../helpers/pixels";
import { type TestTensor, writeSafetensors } from "../helpers/safetensorsFile";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-lora-"));
const base = path.join(tmp, "tiny");
const merged = path.join(tmp, "tiny-merged");
const kohya = path.join(tmp, "loras", "style.safetensors");
const peft = path.join(tmp, "peft.safetensors");
const WEIGHT = 0.7;

/** Deterministic values in [-0.25, 0.25). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) / 2;
  }
  return out;
}

interface TestModule {
  readonly path: string; // diffusers path (dots)
  readonly down: readonly number[];
  readonly up: readonly number[];
  readonly alpha?: number;
}

const MODULES: readonly TestModule[] = [
  { path: "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", down: [4, 32], up: [32, 4], alpha: 2 },
  { path: "down_blocks.0.attentions.0.proj_in", down: [4, 32], up: [32, 4] },
  { path: "down_blocks.0.resnets.0.conv1", down: [4, 32, 3, 3], up: [32, 4, 1, 1], alpha: 8 },
  { path: "mid_block.attentions.0.transformer_blocks.0.attn2.to_k", down: [2, 64], up: [64, 2], alpha: 1 },
];

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function loraTensors(format: "kohya" | "peft"): Record<string, TestTensor> {
  const out: Record<string, TestTensor> = {};
  MODULES.forEach((m, i) => {
    const down = { shape: m.down, data: values(numel(m.down), 11 + i) };
    const up = { shape: m.up, data: values(numel(m.up), 101 + i) };
    const stem = format === "kohya" ? `lora_unet_${m.path.replace(/\./g, "_")}` : `unet.${m.path}`;
    out[`${stem}.${format === "kohya" ? "lora_down" : "lora_A"}.weight`] = down;
    out[`${stem}.${format === "kohya" ? "lora_up" : "lora_B"}.weight`] = up;
    if (m.alpha !== undefined) out[`${stem}.alpha`] = { shape: [], data: Float32Array.of(m.alpha) };
  });
  return out;
}

/** Merges the LoRA into a copy of the model by hand: W += w·alpha/rank·up·down (MatMul weights are stored [in, out]). */
function mergeByHand(from: string, to: string, weight: number): void {
  fs.cpSync(from, to, { recursive: true });
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(to, "unet", "model.onnx")));
  const weightsFile = path.join(to, "unet", "weights.pb");
  const bytes = fs.readFileSync(weightsFile);
  MODULES.forEach((m, i) => {
    const tensor = model.graph!.initializer!.find((t) => t.name === `${m.path}.weight`);
    assert.ok(tensor, `${m.path}.weight in the synthetic UNet`);
    const offset = Number(tensor.externalData!.find((e) => e.key === "offset")?.value ?? "0");
    const dims = tensor.dims!.map(Number);
    const w = new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + numel(dims) * 4));
    const down = values(numel(m.down), 11 + i);
    const up = values(numel(m.up), 101 + i);
    const rank = m.down[0];
    const out = m.up[0];
    const inFlat = numel(m.down) / rank;
    const scale = (weight * (m.alpha ?? rank)) / rank;
    const conv = dims.length === 4;
    for (let o = 0; o < out; o++) {
      for (let j = 0; j < inFlat; j++) {
        let d = 0;
        for (let r = 0; r < rank; r++) d += up[o * rank + r] * down[r * inFlat + j];
        // Conv: [out, in, k, k] as PyTorch; a MatMul's weight is the Linear's transpose [in, out].
        w[conv ? o * inFlat + j : j * out + o] += scale * d;
      }
    }
    Buffer.from(w.buffer).copy(bytes, offset);
  });
  fs.writeFileSync(weightsFile, bytes);
}

const REQUEST = { prompt: "a red boat", negativePrompt: "", steps: 3, guidance: 5, seed: 7n, width: 64, height: 64, scheduler: "euler" as const };

async function image(engine: Engine, loras: ReadonlyArray<{ name: string; weight: number }> = [], prompt = REQUEST.prompt, promptSyntax: "plain" | "a1111" = "plain"): Promise<{ rgb: Rgb; infotext: string }> {
  const result = await engine.generate({ ...REQUEST, prompt, promptSyntax, loras });
  return { rgb: await readRgb(result.images[0].png), infotext: result.images[0].infotext };
}

before(() => {
  buildModelFolder(base, TINY, "base");
  fs.mkdirSync(path.dirname(kohya), { recursive: true });
  writeSafetensors(kohya, loraTensors("kohya"));
  writeSafetensors(peft, loraTensors("peft"));
  mergeByHand(base, merged, WEIGHT);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("LoRA merged into a model with external weights", () => {
  let plain: Rgb;
  let byHand: Rgb;
  before(async () => {
    const engine = await Engine.load(merged, { provider: "cpu" });
    try {
      byHand = (await image(engine)).rgb;
    } finally {
      await engine.dispose();
    }
  });

  it("makes the image of the weights merged by hand; PEFT keys the same; switching sets gives each set's image", async () => {
    const engine = await Engine.load(base, { provider: "cpu", loraFolders: [path.dirname(kohya)] });
    try {
      plain = (await image(engine)).rgb;
      const withLora = await image(engine, [{ name: kohya, weight: WEIGHT }]);
      const far = pixelDiff(plain, byHand);
      assert.ok(far.mean > 2, `the LoRA changes the image (mean ${far.mean})`);
      const near = pixelDiff(withLora.rgb, byHand);
      assert.ok(near.mean <= 0.05 && near.max <= 1, `mean ${near.mean} max ${near.max}`);

      const viaPeft = await image(engine, [{ name: peft, weight: WEIGHT }]);
      assert.deepEqual(pixelDiff(viaPeft.rgb, withLora.rgb), { mean: 0, max: 0 });

      // Two halves add up to the whole.
      const halves = await image(engine, [{ name: kohya, weight: WEIGHT / 2 }, { name: kohya, weight: WEIGHT / 2 }]);
      const sum = pixelDiff(halves.rgb, withLora.rgb);
      assert.ok(sum.max <= 1, `max ${sum.max}`);

      // Back to no LoRA: the model's own weights again, exactly.
      assert.deepEqual(pixelDiff((await image(engine)).rgb, plain), { mean: 0, max: 0 });

      // The a1111 tag finds the file by name in the LoRA folders, leaves the encoder's text as without it, and is recorded.
      const tagged = await image(engine, [], `${REQUEST.prompt} <lora:style:${WEIGHT}>`, "a1111");
      assert.deepEqual(pixelDiff(tagged.rgb, (await image(engine, [{ name: kohya, weight: WEIGHT }], REQUEST.prompt, "a1111")).rgb), { mean: 0, max: 0 });
      const hash = (await a1111LoraHash(kohya)).slice(0, 12);
      const parsed = parseInfotext(tagged.infotext);
      assert.equal(parsed.prompt, `${REQUEST.prompt} <lora:style:${WEIGHT}>`);
      assert.equal(parsed.params["Lora hashes"], `style: ${hash}`);
      assert.deepEqual(infotextFields(parsed).loras, []);

      // A LoRA named outside the prompt is recorded for recall under Easel's LoRAs key.
      const fields = infotextFields(parseInfotext(withLora.infotext));
      assert.deepEqual(fields.loras, [{ name: "style", weight: WEIGHT }]);
    } finally {
      await engine.dispose();
    }
  });
});

describe("LoRA on seamless tiling's graphs", () => {
  it("the tiled image of the LoRA is the tiled image of the weights merged by hand; without it, the plain tiled image", async () => {
    const tiled = { ...REQUEST, tileable: true };
    const rgbOf = async (engine: Engine, loras: ReadonlyArray<{ name: string; weight: number }> = []) => readRgb((await engine.generate({ ...tiled, loras })).images[0].png);
    const handEngine = await Engine.load(merged, { provider: "cpu" });
    let byHandTiled: Rgb;
    try {
      byHandTiled = await rgbOf(handEngine);
    } finally {
      await handEngine.dispose();
    }
    const engine = await Engine.load(base, { provider: "cpu" });
    try {
      const plainTiled = await rgbOf(engine);
      assert.ok(pixelDiff(plainTiled, byHandTiled).mean > 2, "the LoRA changes the tiled image");
      const withLora = await rgbOf(engine, [{ name: kohya, weight: WEIGHT }]);
      const near = pixelDiff(withLora, byHandTiled);
      assert.ok(near.mean <= 0.05 && near.max <= 1, `mean ${near.mean} max ${near.max}`);
      // The plain (untiled) image with the LoRA is another one: the tiled session really ran.
      assert.ok(pixelDiff((await image(engine, [{ name: kohya, weight: WEIGHT }])).rgb, withLora).mean > 0.5, "tiling changes the LoRA image");
      assert.deepEqual(pixelDiff(await rgbOf(engine), plainTiled), { mean: 0, max: 0 });
    } finally {
      await engine.dispose();
    }
  });
});

describe("patched graphs", () => {
  const file = () => path.join(base, "unet", "model.onnx");
  const feed = () => ({
    sample: new ort.Tensor("float32", values(4 * 8 * 8, 1), [1, 4, 8, 8]),
    timestep: new ort.Tensor("float32", Float32Array.of(500), [1]),
    encoder_hidden_states: new ort.Tensor("float32", values(77 * 64, 2), [1, 77, 64]),
  });
  const unetOutput = async (patched: { model: Uint8Array; weightsFolder: string | undefined }) => {
    const session = await ort.InferenceSession.create(patched.model, sessionOptions("cpu", patched.weightsFolder ?? path.dirname(file())));
    try {
      return (await session.run(feed()))[session.outputNames[0]].data as Float32Array;
    } finally {
      await session.release();
    }
  };
  const folderDigest = (dir: string) => {
    const hash = crypto.createHash("sha256");
    for (const name of fs.readdirSync(dir).sort()) hash.update(name).update(fs.readFileSync(path.join(dir, name)));
    return hash.digest("hex");
  };

  it("give the same UNet output with the patched tensors inline or spilled with the other weights into one merged file, which the same set reuses", async () => {
    const graph = await readGraphWeights(file());
    const lora = await openLora(kohya);
    const planFor = (weight: number) => planLoras([{ lora, unetWeight: weight, textWeight: weight }], { unet: graph }, { name: "tiny", base: undefined, unet: { blocks: 2, layersPerBlock: 1 } }).targets.get("unet")!;
    // The store's folder of merged weights, under an EASEL_HOME, so `easel models list` reports it.
    const home = path.join(tmp, "home");
    const spillDir = path.join(home, "models", MERGED_WEIGHTS_FOLDER);
    let produced = 0;
    const patchOf = (weight: number) => {
      const merge = loraMerge(graph, planFor(weight));
      return { ...merge, key: `w${weight}`, spillDir, write: (sink: (name: string, bytes: Uint8Array) => Promise<void>) => ((produced += 1), merge.write(sink)) };
    };
    assert.equal(patchOf(WEIGHT).replaced.size, MODULES.length);
    const modelBefore = folderDigest(path.dirname(file()));
    const bytes = fs.readFileSync(file());
    const inline = await patchedGraph(graph, bytes, patchOf(WEIGHT));
    assert.equal(inline.weightsFolder, undefined);
    const spilled = await patchedGraph(graph, bytes, patchOf(WEIGHT), { maxInlineGraph: 0 });
    assert.ok(spilled.weightsFolder && path.dirname(spilled.weightsFolder) === spillDir);
    assert.deepEqual(fs.readdirSync(spilled.weightsFolder).sort(), ["index.json", "weights.bin"]);
    // Every external weight now comes from the merged file: the graph names no other.
    const rewritten = await graphWeightsOfBytes(spilled.model, path.join(spilled.weightsFolder, "model.onnx"));
    const locations = new Set([...rewritten.initializers.values()].filter((t) => t.data?.external).map((t) => path.basename(t.data!.file)));
    assert.deepEqual([...locations], ["weights.bin"]);
    const [a, b] = [await unetOutput(inline), await unetOutput(spilled)];
    assert.deepEqual(a, b);
    assert.equal(produced, 2);
    // The same set again: the entry is reused, nothing merged.
    const again = await patchedGraph(graph, bytes, patchOf(WEIGHT), { maxInlineGraph: 0 });
    assert.equal(again.weightsFolder, spilled.weightsFolder);
    assert.equal(produced, 2);
    assert.deepEqual(await unetOutput(again), a);
    // Other weights are other entries; only the SPILL_KEEP most recent stay.
    const other = await patchedGraph(graph, bytes, patchOf(-0.4), { maxInlineGraph: 0 });
    assert.notDeepEqual(await unetOutput(other), a);
    await patchedGraph(graph, bytes, patchOf(0.2), { maxInlineGraph: 0 });
    assert.equal(fs.readdirSync(spillDir).length, SPILL_KEEP);
    assert.ok(!fs.existsSync(spilled.weightsFolder), "the least recently used entry was removed");
    const usage = await spillUsage(spillDir);
    assert.equal(usage.sets, SPILL_KEEP);
    const listed = await runCli(["models", "list", "--json"], { env: { EASEL_HOME: home } });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).mergedLoraWeights, { dir: spillDir, sets: SPILL_KEEP, bytes: usage.bytes });
    const text = await runCli(["models", "list"], { env: { EASEL_HOME: home } });
    assert.match(text.stdout, new RegExp(`Merged LoRA weights \\(.*\\):\\n  ${SPILL_KEEP} LoRA set\\(s\\)`));
    assert.equal(folderDigest(path.dirname(file())), modelBefore, "the model's files are never written");
  });

  it("a merge that fails leaves no entry behind, and a damaged entry is written again", async () => {
    const graph = await readGraphWeights(file());
    const lora = await openLora(kohya);
    const merge = loraMerge(graph, planLoras([{ lora, unetWeight: WEIGHT, textWeight: WEIGHT }], { unet: graph }, { name: "tiny", base: undefined, unet: { blocks: 2, layersPerBlock: 1 } }).targets.get("unet")!);
    const spillDir = path.join(tmp, "spill-fail");
    const bytes = fs.readFileSync(file());
    const failing = {
      ...merge,
      key: "k",
      spillDir,
      write: async (sink: (name: string, bytes: Uint8Array) => Promise<void>) => {
        let n = 0;
        await merge.write(async (name, values) => {
          if (++n === 2) throw new Error("disk went away");
          await sink(name, values);
        });
      },
    };
    await assert.rejects(patchedGraph(graph, bytes, failing, { maxInlineGraph: 0 }), /disk went away/);
    assert.deepEqual(fs.readdirSync(spillDir), []);
    const good = await patchedGraph(graph, bytes, { ...merge, key: "k", spillDir }, { maxInlineGraph: 0 });
    const expected = await unetOutput(good);
    fs.truncateSync(path.join(good.weightsFolder!, "weights.bin"), 100);
    const rewritten = await patchedGraph(graph, bytes, { ...merge, key: "k", spillDir }, { maxInlineGraph: 0 });
    assert.deepEqual(await unetOutput(rewritten), expected);
  });
});

describe("LoRA keys and checks", () => {
  it("groups kohya, PEFT, diffusers-processor and LoCon keys into modules", () => {
    const { modules } = loraModules([
      "lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight",
      "lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight",
      "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight",
      "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight",
      "text_encoder_2.text_model.encoder.layers.1.mlp.fc1.lora_A.weight",
      "text_encoder_2.text_model.encoder.layers.1.mlp.fc1.lora_B.weight",
      "unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight",
      "unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight",
    ]);
    assert.deepEqual(
      modules.map((m) => `${m.target}:${m.key}`).sort(),
      [
        "text_encoder:text_model_encoder_layers_0_self_attn_q_proj",
        "text_encoder_2:text_model_encoder_layers_1_mlp_fc1",
        "unet:down_blocks_0_resnets_0_conv1",
        "unet:mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0",
      ],
    );
  });

  it("refuses LyCORIS types that are not a plain low-rank pair, by name", () => {
    assert.throws(() => loraModules(["lora_unet_x.hada_w1_a", "lora_unet_x.hada_w1_b"]), /LoHa/);
    assert.throws(() => loraModules(["lora_unet_x.lokr_w1", "lora_unet_x.lokr_w2"]), /LoKr/);
    assert.throws(() => loraModules(["lora_unet_x.lora_mid.weight", "lora_unet_x.lora_up.weight", "lora_unet_x.lora_down.weight"]), /CP decomposition/);
  });

  it("maps SDXL kohya (LDM) block names to diffusers paths from the layout", () => {
    const sdxl = { blocks: 3, layersPerBlock: 2 };
    assert.equal(ldmToDiffusersKey("input_blocks_4_1_transformer_blocks_0_attn1_to_q", sdxl), "down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q");
    assert.equal(ldmToDiffusersKey("input_blocks_8_1_proj_in", sdxl), "down_blocks_2_attentions_1_proj_in");
    assert.equal(ldmToDiffusersKey("middle_block_1_transformer_blocks_3_ff_net_2", sdxl), "mid_block_attentions_0_transformer_blocks_3_ff_net_2");
    assert.equal(ldmToDiffusersKey("output_blocks_2_1_transformer_blocks_0_attn2_to_k", sdxl), "up_blocks_0_attentions_2_transformer_blocks_0_attn2_to_k");
    assert.equal(ldmToDiffusersKey("input_blocks_1_0_in_layers_2", sdxl), "down_blocks_0_resnets_0_conv1");
    assert.equal(ldmToDiffusersKey("output_blocks_5_0_skip_connection", sdxl), "up_blocks_1_resnets_2_conv_shortcut");
    // SD 1.x's layout (layers_per_block 2 as well, 4 blocks): the same arithmetic, other numbers.
    assert.equal(ldmToDiffusersKey("output_blocks_11_1_proj_out", { blocks: 4, layersPerBlock: 2 }), "up_blocks_3_attentions_2_proj_out");
  });

  it("an SDXL LoRA on an SD 1.x model, and a LoRA that matches nothing, are one clear error", async () => {
    const file = path.join(tmp, "xl.safetensors");
    writeSafetensors(file, {
      "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": { shape: [4, 2048], data: new Float32Array(4 * 2048) },
      "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight": { shape: [640, 4], data: new Float32Array(640 * 4) },
    });
    const lora: LoraFile = await openLora(file);
    assert.equal(lora.base, "SDXL");
    const graph = await readGraphWeights(path.join(base, "unet", "model.onnx"));
    const use = [{ lora, unetWeight: 1, textWeight: 1 }];
    assert.throws(() => planLoras(use, { unet: graph }, { name: "sd15", base: "SD 1.x", unet: { blocks: 4, layersPerBlock: 2 } }), /LoRA xl is for SDXL models and sd15 is SD 1\.x/);
    assert.throws(() => planLoras(use, { unet: graph }, { name: "tiny", base: undefined, unet: { blocks: 2, layersPerBlock: 1 } }), /matches nothing in tiny: it seems to be for SDXL models/);
    assert.equal(guessBase(lora.tensors, lora.modules), "SDXL");
  });

  it("reads A1111 prompt tags: weight, separate te/unet weights, default 1; refuses weights outside -10..10", () => {
    const r = extractLoraTags("a cat <lora:one:0.5>, <lora:two> <lora:three:0.2:-1> <hypernet:x:1>");
    assert.equal(r.prompt, "a cat ,   <hypernet:x:1>");
    assert.deepEqual(r.tags, [
      { name: "one", textWeight: 0.5, unetWeight: 0.5 },
      { name: "two", textWeight: 1, unetWeight: 1 },
      { name: "three", textWeight: 0.2, unetWeight: -1 },
    ]);
    assert.throws(() => extractLoraTags("<lora:x:11>"), /outside -10\.\.10/);
    assert.throws(() => extractLoraTags("<lora:x:abc>"), /not a number/);
  });

  it("hashes as A1111 does: sha256 of the bytes after the header", async () => {
    const bytes = fs.readFileSync(kohya);
    const start = 8 + Number(bytes.readBigUInt64LE(0));
    assert.equal(await a1111LoraHash(kohya), crypto.createHash("sha256").update(bytes.subarray(start)).digest("hex"));
    // Metadata lives in the header: changing it keeps the hash.
    const withMeta = path.join(tmp, "meta.safetensors");
    writeSafetensors(withMeta, loraTensors("kohya"), { ss_output_name: "style" });
    assert.equal(await a1111LoraHash(withMeta), await a1111LoraHash(kohya));
  });
});

describe("text-encoder LoRA on a graph named as optimum's CLIPTextModel export", () => {
  it("patches the anonymous MatMul weight found through its node name, transposed", async () => {
    const width = 8;
    const w = values(width * width, 5); // stored [in, out] as torch.onnx stores a Linear's weight for MatMul
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: "", version: 17 }],
      graph: {
        name: "text_encoder",
        node: [{ opType: "MatMul", name: "/text_model/encoder/layers.0/self_attn/q_proj/MatMul", input: ["x", "onnx::MatMul_42"], output: ["y"] }],
        initializer: [{ name: "onnx::MatMul_42", dims: [width, width], dataType: 1, rawData: new Uint8Array(w.buffer.slice(0)) }],
        input: [{ name: "x", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: width }] } } } }],
        output: [{ name: "y", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: width }] } } } }],
      },
    });
    const file = path.join(tmp, "te", "model.onnx");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
    const loraFile = path.join(tmp, "te.safetensors");
    const down = values(2 * width, 6);
    const up = values(width * 2, 7);
    writeSafetensors(loraFile, {
      "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": { shape: [2, width], data: down, dtype: "F16" },
      "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight": { shape: [width, 2], data: up, dtype: "F16" },
      "lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha": { shape: [], data: Float32Array.of(1) },
    });
    const graph = await readGraphWeights(file);
    assert.deepEqual(moduleWeights(graph).get("text_model.encoder.layers.0.self_attn.q_proj"), { initializer: "onnx::MatMul_42", layout: "in-out" });
    const lora = await openLora(loraFile);
    const plan = planLoras([{ lora, unetWeight: 0, textWeight: -2 }], { text_encoder: graph }, { name: "m", base: undefined, unet: { blocks: 4, layersPerBlock: 2 } });
    const merge = loraMerge(graph, plan.targets.get("text_encoder")!);
    const session = await ModelSession.create("text_encoder", file, "cpu", { weights: { graph, ...merge, key: "te", spillDir: path.join(tmp, "spill-te") } });
    const x = values(width, 9);
    const y = (await session.run({ x: new ort.Tensor("float32", x, [1, width]) })).y.data as Float32Array;
    await session.release();
    // Expected: y = x · (W + s·(up·down)ᵀ), s = -2 · alpha / rank; the tolerance covers the fp16 rounding of up and down.
    const s = (-2 * 1) / 2;
    for (let o = 0; o < width; o++) {
      let expected = 0;
      for (let i = 0; i < width; i++) {
        let d = 0;
        for (let r = 0; r < 2; r++) d += up[o * 2 + r] * down[r * width + i];
        expected += x[i] * (w[i * width + o] + s * d);
      }
      assert.ok(Math.abs(y[o] - expected) < 2e-3, `y[${o}] ${y[o]} vs ${expected}`);
    }
  });
});

describe("engine protocol", () => {
  it("carries loras, fast and loraFolders, and refuses malformed ones", async () => {
    const { parseEngineRequest } = await import("../../extension/engine/host/engineMessageValidation");
    const settings = { provider: "cpu", previews: false, fastDecode: false, lowMemory: false, idleUnloadMs: 0, loraFolders: ["/loras"] };
    const message = (request: Record<string, unknown>, s: Record<string, unknown> = settings) => ({ type: "generate", id: 1, modelDir: "/m", settings: s, request });
    const parsed = parseEngineRequest(message({ prompt: "a cat", loras: [{ name: "style", weight: -0.5 }], fast: true }));
    assert.ok(parsed.type === "generate");
    assert.deepEqual(parsed.request.loras, [{ name: "style", weight: -0.5 }]);
    assert.equal(parsed.request.fast, true);
    assert.deepEqual(parsed.settings.loraFolders, ["/loras"]);
    assert.throws(() => parseEngineRequest(message({ prompt: "a cat", loras: [{ name: "style" }] })), /weight/);
    assert.throws(() => parseEngineRequest(message({ prompt: "a cat", loras: "style" })), /loras must be an array/);
    assert.throws(() => parseEngineRequest(message({ prompt: "a cat", fast: "yes" })), /fast/);
    assert.throws(() => parseEngineRequest(message({ prompt: "a cat" }, { ...settings, loraFolders: [3] })), /loraFolders/);
  });
});
