// SDXL and SDXL-Turbo (conformance rules 10-13): what the engine reads from the two-encoder
// graphs, the conditioning it builds (penultimate hidden states of both encoders, the second's
// pooled text_embeds, time_ids, zeros for an empty negative prompt), and the layouts real SDXL
// exports use. The conformance cases check the images against diffusers; these check each rule on
// its own, with the tiny SDXL graphs run directly as the reference where a rule is about tensors.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { Engine } from "../../extension/engine/engine";
import { EaselError } from "../../extension/engine/errors";
import { readPngParameters } from "../../extension/engine/image/encode";
import { latentPreviewRgb } from "../../extension/engine/image/preview";
import { readModelFolder } from "../../extension/engine/model/modelFolder";
import { describeModel, type ModelInfo } from "../../extension/engine/model/modelInfo";
import { ModelSession } from "../../extension/engine/onnx/session";
import { encodeConditioning, type TextEncoderRunner } from "../../extension/engine/pipeline/conditioning";
import { SCHEDULER_NAMES } from "../../extension/engine/schedulers/scheduler";
import { ClipTokenizer } from "../../extension/engine/text/clipTokenizer";
import { caseRequest, conformanceCase, type ConformanceCase, generateWith } from "../helpers/conformanceCases";
import {
  copyFixtureModel,
  declareOutputAs,
  fixPortDims,
  keepOutputs,
  makeVariantRoot,
  outputNames,
  portType,
  readGraph,
  removeComponent,
  rewriteComponent,
  scaleOutput,
  setPipelineClass,
  textEncoderFixedBatch,
  textEncoderFloat16Ports,
  unetFixedBatch,
  unetFloat16Ports,
  vaeDecoderFloat16Ports,
} from "../helpers/onnxVariants";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb, type Rgb } from "../helpers/pixels";

const { FLOAT16 } = onnx.TensorProto.DataType;
const SDXL = path.join(MODELS, "tiny-sdxl");
const SDXL_TURBO = path.join(MODELS, "tiny-sdxl-turbo");

const XL_CASE = conformanceCase("sdxl-euler-6"); // CFG 5, empty negative prompt (zeros), Euler
const XL_TURBO_CASE = conformanceCase("sdxl-turbo-2step"); // no CFG, trailing spacing


async function diffusersImage(c: ConformanceCase): Promise<Rgb> {
  return readRgb(path.join(CONFORMANCE, "cases", `${c.id}.png`));
}

function assertMatchesDiffusers(image: Rgb, want: Rgb, what: string): void {
  const { mean, max } = pixelDiff(image, want);
  assert.ok(mean <= 0.35 && max <= 3, `${what} vs diffusers: mean ${mean.toFixed(3)} max ${max}`);
}

let root: string;
before(async () => {
  root = await makeVariantRoot();
});
after(async () => {
  await fs.promises.rm(root, { recursive: true, force: true });
});

describe("SDXL model description", () => {
  it("tiny-sdxl: family sdxl, two encoders read at hidden_states.1 (of 0..2), the second's pooled text_embeds, its own defaults", async () => {
    const engine = await Engine.load(SDXL, { provider: "cpu" });
    try {
      const info = engine.info;
      assert.equal(info.family, "sdxl");
      assert.deepEqual(
        info.textEncoders.map((e) => [e.component, path.basename(e.tokenizerDir), e.hiddenOutput, e.width, e.pooledOutput]),
        [
          ["text_encoder", "tokenizer", "hidden_states.1", 32, undefined],
          ["text_encoder_2", "tokenizer_2", "hidden_states.1", 32, "text_embeds"],
        ],
      );
      assert.equal(info.textWidth, 64);
      assert.deepEqual(info.addedConditioning, { pooledWidth: 32, timeIdsWidth: 6 });
      assert.equal(info.forceZerosForEmptyPrompt, true);
      assert.equal(info.scalingFactor, 0.13025);
      // The UNet config's native size (16 latents × 8 = 128 here, 128 × 8 = 1024 for the real SDXL), guidance 5.
      assert.deepEqual(info.defaults, { width: 128, height: 128, steps: 25, guidance: 5 });
    } finally {
      await engine.dispose();
    }
  });

  it("tiny-sdxl-turbo: trailing spacing makes SDXL-Turbo: 512², 1 step, guidance 0", async () => {
    const engine = await Engine.load(SDXL_TURBO, { provider: "cpu" });
    try {
      assert.equal(engine.info.family, "sdxl-turbo");
      assert.deepEqual(engine.info.defaults, { width: 512, height: 512, steps: 1, guidance: 0 });
    } finally {
      await engine.dispose();
    }
  });
});

describe("SDXL conditioning (rules 10-12)", () => {
  let info: ModelInfo;
  let runners: TextEncoderRunner[];
  let sessions: ModelSession[];
  let tokenizers: ClipTokenizer[];
  let raw: ort.InferenceSession[];
  before(async () => {
    const folder = await readModelFolder(SDXL);
    sessions = [
      await ModelSession.create("text_encoder", path.join(SDXL, "text_encoder", "model.onnx"), "cpu"),
      await ModelSession.create("text_encoder_2", path.join(SDXL, "text_encoder_2", "model.onnx"), "cpu"),
    ];
    const unet = await ModelSession.create("unet", path.join(SDXL, "unet", "model.onnx"), "cpu");
    info = describeModel(folder, {
      textEncoder: sessions[0],
      textEncoder2: sessions[1],
      unet,
      vaeDecoder: { inputs: [], outputs: [] },
    });
    await unet.release();
    tokenizers = [await ClipTokenizer.load(path.join(SDXL, "tokenizer")), await ClipTokenizer.load(path.join(SDXL, "tokenizer_2"))];
    runners = info.textEncoders.map((use, i) => ({ use, tokenizer: tokenizers[i], run: (work) => work(sessions[i]) }));
    // The reference: the graphs run directly with onnxruntime, outputs read by name.
    raw = [
      await ort.InferenceSession.create(path.join(SDXL, "text_encoder", "model.onnx")),
      await ort.InferenceSession.create(path.join(SDXL, "text_encoder_2", "model.onnx")),
    ];
  });
  after(async () => {
    for (const s of sessions) await s.release();
    for (const s of raw) await s.release();
  });

  /** Every output of encoder `i` for one text, with its tokenizer's ids in the dtype the graph declares. */
  async function reference(i: number, text: string): Promise<Record<string, Float32Array>> {
    const ids = tokenizers[i].encode(text).ids;
    const input = i === 0 ? new ort.Tensor("int32", Int32Array.from(ids), [1, 77]) : new ort.Tensor("int64", BigInt64Array.from(ids, (v) => BigInt(v)), [1, 77]);
    const out = await raw[i].run({ input_ids: input });
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
  }

  /** Row `row`, position `pos`, channels [from, from + width) of a [rows,77,64] tensor. */
  const slice = (t: Float32Array, row: number, pos: number, from: number, width: number) => t.subarray((row * 77 + pos) * 64 + from, (row * 77 + pos) * 64 + from + width);

  it("each tokenizer pads with its own pad token (tokenizer: <|endoftext|>, tokenizer_2: !)", () => {
    const a = tokenizers[0].encode("a red fox").ids;
    const b = tokenizers[1].encode("a red fox").ids;
    assert.deepEqual(a.slice(0, 5), b.slice(0, 5), "the same BOS, tokens and EOS");
    assert.equal(a[76], 49407);
    assert.equal(b[76], 0);
  });

  it("the prompt embedding is hidden_states.{N-1} of encoder 1 and of encoder 2, concatenated; pooled is text_embeds of encoder 2", async () => {
    const prompt = "Happy vegetables waiting for dinner";
    const c = await encodeConditioning(info, runners, { prompt, negativePrompt: "", cfg: false, width: 64, height: 64, syntax: "plain" });
    assert.equal(c.hiddenStates.length, 77 * 64);
    const [one, two] = [await reference(0, prompt), await reference(1, prompt)];
    for (const pos of [0, 1, 5, 40, 76]) {
      assert.deepEqual(slice(c.hiddenStates, 0, pos, 0, 32), one["hidden_states.1"].subarray(pos * 32, pos * 32 + 32), `encoder 1, position ${pos}`);
      assert.deepEqual(slice(c.hiddenStates, 0, pos, 32, 32), two["hidden_states.1"].subarray(pos * 32, pos * 32 + 32), `encoder 2, position ${pos}`);
    }
    assert.deepEqual(c.added?.textEmbeds, two["text_embeds"]);
    // What the check tells apart: the last layer and the final-norm output are other tensors.
    assert.notDeepEqual(one["hidden_states.1"], one["hidden_states.2"]);
    assert.notDeepEqual(two["hidden_states.1"], two["last_hidden_state"]);
    assert.notDeepEqual(two["text_embeds"], one["pooler_output"]);
  });

  it("time_ids are [height, width, 0, 0, height, width] as float32, one row per batch entry", async () => {
    const c = await encodeConditioning(info, runners, { prompt: "x", negativePrompt: "blurry", cfg: true, width: 96, height: 64, syntax: "plain" });
    assert.deepEqual([...(c.added?.timeIds ?? [])], [64, 96, 0, 0, 64, 96, 64, 96, 0, 0, 64, 96]);
    assert.ok(c.added?.timeIds instanceof Float32Array);
    assert.equal(c.added?.textEmbeds.length, 2 * 32);
  });

  it("with CFG and force_zeros_for_empty_prompt, an empty negative prompt is zeros (embedding and pooled); otherwise it is encoded", async () => {
    const request = { prompt: "a lighthouse", cfg: true, width: 64, height: 64, syntax: "plain" } as const;
    const zeros = await encodeConditioning(info, runners, { ...request, negativePrompt: "" });
    assert.equal(zeros.hiddenStates.length, 2 * 77 * 64);
    assert.ok(zeros.hiddenStates.subarray(0, 77 * 64).every((v) => v === 0), "uncond embedding is zeros");
    assert.ok(zeros.added!.textEmbeds.subarray(0, 32).every((v) => v === 0), "uncond pooled is zeros");
    const prompt = await encodeConditioning(info, runners, { ...request, negativePrompt: "", cfg: false });
    assert.deepEqual(zeros.hiddenStates.subarray(77 * 64), prompt.hiddenStates, "the prompt row is the prompt's own encoding");

    // Without the flag (or with a non-empty negative prompt) the negative prompt is encoded.
    const encoded = await encodeConditioning({ ...info, forceZerosForEmptyPrompt: false }, runners, { ...request, negativePrompt: "" });
    const empty = [await reference(0, ""), await reference(1, "")];
    assert.deepEqual(slice(encoded.hiddenStates, 0, 3, 0, 32), empty[0]["hidden_states.1"].subarray(3 * 32, 4 * 32));
    assert.deepEqual(slice(encoded.hiddenStates, 0, 3, 32, 32), empty[1]["hidden_states.1"].subarray(3 * 32, 4 * 32));
    assert.deepEqual(encoded.added!.textEmbeds.subarray(0, 32), empty[1]["text_embeds"]);
    const negative = await encodeConditioning(info, runners, { ...request, negativePrompt: "blurry" });
    assert.ok(negative.hiddenStates.subarray(0, 77 * 64).some((v) => v !== 0));
  });

  // ---- The a1111 prompt syntax on SDXL (rules 17-20 per encoder): the reference below runs the
  // tiny encoders directly and applies the weights and the mean restore by hand, in float64.

  /** Every output of encoder `i` for one row of 77 ids, run directly. */
  async function referenceIds(i: number, ids: readonly number[]): Promise<Record<string, Float32Array>> {
    const input = i === 0 ? new ort.Tensor("int32", Int32Array.from(ids), [1, 77]) : new ort.Tensor("int64", BigInt64Array.from(ids, (v) => BigInt(v)), [1, 77]);
    const out = await raw[i].run({ input_ids: input });
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
  }

  /** A1111's emphasis: each position times its weight, then the whole chunk times mean(before) / mean(after). */
  function weightByHand(hidden: Float32Array, weights: readonly number[]): Float64Array {
    const width = hidden.length / weights.length; // [77,32] f32
    const weighted = Float64Array.from(hidden, (v, k) => v * weights[Math.floor(k / width)]);
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((sum, v) => sum + v, 0) / a.length;
    const ratio = mean(hidden) / mean(weighted);
    return weighted.map((v) => v * ratio);
  }

  function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
    assert.equal(actual.length, expected.length, `${what}: length`);
    let worst = 0;
    for (let k = 0; k < actual.length; k++) worst = Math.max(worst, Math.abs(actual[k] - expected[k]));
    assert.ok(worst < 1e-5, `${what}: off by ${worst}`);
  }

  /** Positions [from, from + count) of row `row` of a [rows,L,64] tensor, channels [channel, channel + 32). */
  function encoderPart(t: Float32Array, length: number, row: number, from: number, count: number, channel: number): Float32Array {
    const out = new Float32Array(count * 32);
    for (let p = 0; p < count; p++) out.set(t.subarray((row * length + from + p) * 64 + channel, (row * length + from + p) * 64 + channel + 32), p * 32);
    return out;
  }

  it("a1111 syntax: each encoder's hidden states are weighted and mean-restored on their own; the pooled text_embeds are unweighted", async () => {
    const ids = tokenizers.map((t) => t.encode("a red fox, blurry").ids);
    assert.equal(tokenizers[0].encode("a red fox, blurry").count, 5, "one token per word and comma");
    // BOS, a, (red:1.5), fox, ",", [blurry] = blurry ÷ 1.1, EOS and padding.
    const weights = Array.from({ length: 77 }, (_, p) => (p === 2 ? 1.5 : p === 5 ? 1 / 1.1 : 1));
    const c = await encodeConditioning(info, runners, { prompt: "a (red:1.5) fox, [blurry]", negativePrompt: "", cfg: false, width: 64, height: 64, syntax: "a1111" });
    assert.equal(c.textLength, 77);
    for (const i of [0, 1]) {
      const ref = await referenceIds(i, ids[i]);
      assertClose(encoderPart(c.hiddenStates, 77, 0, 0, 77, i * 32), weightByHand(ref["hidden_states.1"], weights), `encoder ${i + 1}`);
    }
    assertClose(c.added!.textEmbeds, (await referenceIds(1, ids[1]))["text_embeds"], "pooled");
    // The weights do change the embedding (against the same text read plainly).
    const plain = await encodeConditioning(info, runners, { prompt: "a red fox, blurry", negativePrompt: "", cfg: false, width: 64, height: 64, syntax: "plain" });
    assert.ok(maxDiff(plain.hiddenStates, c.hiddenStates) > 1e-3);
    assert.deepEqual(plain.added!.textEmbeds, c.added!.textEmbeds);
  });

  /** Largest absolute difference of two tensors. */
  function maxDiff(a: Float32Array, b: Float32Array): number {
    let worst = 0;
    for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]));
    return worst;
  }

  it("a1111 syntax: a prompt over 75 tokens is 2 chunks (154 positions) per encoder; the pooled comes from the first chunk; the zeroed or shorter negative is padded with the empty prompt", async () => {
    const prompt = "fox ".repeat(100);
    const fox = tokenizers[0].encode("fox").ids[1];
    const BOS = 49406;
    const EOS = 49407;
    // 100 tokens without a comma: 75 in the first chunk, 25 in the second, each chunk with its tokenizer's padding.
    const chunkIds = (t: ClipTokenizer, n: number) => [BOS, ...new Array<number>(n).fill(fox), EOS, ...new Array<number>(75 - n).fill(t.padId)];
    const refs = await Promise.all([0, 1].map(async (i) => ({
      first: await referenceIds(i, chunkIds(tokenizers[i], 75)),
      second: await referenceIds(i, chunkIds(tokenizers[i], 25)),
      empty: await referenceIds(i, tokenizers[i].encode("").ids),
      blurry: await referenceIds(i, tokenizers[i].encode("blurry").ids),
    })));
    const request = { prompt, cfg: true, width: 64, height: 64, syntax: "a1111" } as const;

    // force_zeros_for_empty_prompt: the negative's own chunk is zeros, the second is the empty prompt's.
    const zeroed = await encodeConditioning(info, runners, { ...request, negativePrompt: "" });
    assert.equal(zeroed.textLength, 154);
    assert.equal(zeroed.hiddenStates.length, 2 * 154 * 64);
    for (const i of [0, 1]) {
      const at = (row: number, from: number) => encoderPart(zeroed.hiddenStates, 154, row, from, 77, i * 32);
      assert.ok(at(0, 0).every((v) => v === 0), `encoder ${i + 1}: uncond chunk 1 is zeros`);
      assertClose(at(0, 77), refs[i].empty["hidden_states.1"], `encoder ${i + 1}: uncond chunk 2 is the empty prompt's`);
      assertClose(at(1, 0), refs[i].first["hidden_states.1"], `encoder ${i + 1}: prompt chunk 1`);
      assertClose(at(1, 77), refs[i].second["hidden_states.1"], `encoder ${i + 1}: prompt chunk 2`);
    }
    assert.ok(zeroed.added!.textEmbeds.subarray(0, 32).every((v) => v === 0), "uncond pooled is zeros");
    assertClose(zeroed.added!.textEmbeds.subarray(32), refs[1].first["text_embeds"], "the prompt's pooled is its first chunk's");
    assert.notDeepEqual(refs[1].first["text_embeds"], refs[1].second["text_embeds"], "the check tells the chunks apart");
    assert.deepEqual([...zeroed.added!.timeIds], [64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64]);

    // A one-chunk negative prompt: encoded, then padded with the empty prompt's chunk; its pooled is its own.
    const negative = await encodeConditioning(info, runners, { ...request, negativePrompt: "blurry" });
    for (const i of [0, 1]) {
      assertClose(encoderPart(negative.hiddenStates, 154, 0, 0, 77, i * 32), refs[i].blurry["hidden_states.1"], `encoder ${i + 1}: negative chunk 1`);
      assertClose(encoderPart(negative.hiddenStates, 154, 0, 77, 77, i * 32), refs[i].empty["hidden_states.1"], `encoder ${i + 1}: negative padding`);
    }
    assertClose(negative.added!.textEmbeds.subarray(0, 32), refs[1].blurry["text_embeds"], "negative pooled");
    // The plain syntax still cuts the same prompt to one chunk.
    const plain = await encodeConditioning(info, runners, { ...request, negativePrompt: "", syntax: "plain" });
    assert.equal(plain.textLength, 77);
  });
});

describe("SDXL generation", () => {
  let engine: Engine;
  before(async () => {
    engine = await Engine.load(SDXL, { provider: "cpu" });
  });
  after(() => engine.dispose());
  const base = { prompt: "a lighthouse at dusk", seed: 5n, width: 64, height: 64, steps: 4 } as const;

  it("runs every scheduler, with CFG, to a finite, non-flat image", async () => {
    for (const scheduler of SCHEDULER_NAMES) {
      const r = await engine.generate({ ...base, scheduler, guidance: 5 });
      const { data } = await readRgb(r.images[0].png);
      const distinct = new Set(data).size;
      assert.ok(distinct > 16, `${scheduler}: ${distinct} distinct values`);
      assert.equal(r.sampler, scheduler);
    }
  });

  it("CFG only above guidance 1 (rule 3): guidance 1 gives guidance 0's image, guidance 5 another", async () => {
    const image = async (guidance: number) => readRgb((await engine.generate({ ...base, scheduler: "euler", guidance })).images[0].png);
    const [g0, g1, g5] = [await image(0), await image(1), await image(5)];
    assert.equal(pixelDiff(g0, g1).max, 0);
    assert.ok(pixelDiff(g0, g5).mean > 1);
  });

  it("a non-square size runs (time_ids carry it) and the infotext says SDXL's parameters", async () => {
    const r = await engine.generate({ ...base, width: 96, height: 64, scheduler: "euler-a", guidance: 5, negativePrompt: "blurry" });
    assert.deepEqual([r.images[0].width, r.images[0].height], [96, 64]);
    const infotext = readPngParameters(r.images[0].png) ?? "";
    assert.match(infotext, /^a lighthouse at dusk\nNegative prompt: blurry\nSteps: 4, Sampler: Euler a, CFG scale: 5, Seed: 5, Size: 96x64, Model: tiny-sdxl,/);
    assert.equal(r.vaeDecoder, "vae_decoder/model.onnx");
  });

  it("a1111 syntax: a weighted prompt over 75 tokens runs (2 chunks, 154 text positions) and is recorded", async () => {
    const prompt = `a (lighthouse:1.3) at [dusk], ${"waves ".repeat(90)}`;
    const request = { ...base, prompt, scheduler: "euler", guidance: 5, promptSyntax: "a1111" } as const;
    // The fixture's UNet declares 77 text positions, as a static export would: a 2-chunk prompt is refused in one line.
    await assert.rejects(engine.generate(request), /exported for 77 text positions only, and the prompts need 154 \(2 chunks of 75 tokens\)/);
    // Real SDXL exports leave the sequence axis dynamic (optimum's sequence_length): there it runs.
    const dir = await copyFixtureModel("tiny-sdxl", root);
    await rewriteComponent(dir, "unet", (m) => fixPortDims(m, "encoder_hidden_states", { 1: "sequence_length" }));
    const dynamic = await Engine.load(dir, { provider: "cpu" });
    try {
      const long = await dynamic.generate(request);
      assert.match(readPngParameters(long.images[0].png) ?? "", /, Prompt syntax: a1111, /);
      const image = await readRgb(long.images[0].png);
      assert.ok(new Set(image.data).size > 16, "a finite, non-flat image");
      // The same text read plainly (cut at 75 tokens, brackets as written) is another image.
      const plain = await dynamic.generate({ ...request, promptSyntax: "plain" });
      assert.ok(pixelDiff(image, await readRgb(plain.images[0].png)).mean > 0.5);
      // A one-chunk prompt gives the fixture's own image: the rewrite changed only the declared axis.
      const short = { ...base, prompt: "a (lighthouse:1.3)", scheduler: "euler", guidance: 5, promptSyntax: "a1111" } as const;
      const [mine, fixture] = [await dynamic.generate(short), await engine.generate(short)];
      assert.equal(pixelDiff(await readRgb(mine.images[0].png), await readRgb(fixture.images[0].png)).max, 0);
    } finally {
      await dynamic.dispose();
    }
  });
});

describe("SDXL previews", () => {
  it("map SDXL latents to RGB with SDXL's coefficients and bias, not SD's", () => {
    const latents = new Float32Array([1, 0, 0, 0]); // [1,4,1,1] f32: channel 0 only
    assert.deepEqual([...latentPreviewRgb(latents, 1, 1, "sdxl")], [188, 179, 183]); // ((0.3651 + 0.1084 + 1) / 2) × 255, …
    assert.deepEqual([...latentPreviewRgb(latents, 1, 1, "sd")], [165, 154, 154]);
  });
});

describe("SDXL layouts", () => {
  let original: Promise<Rgb> | undefined;
  const originalImage = () => (original ??= generateWith(SDXL, caseRequest(XL_CASE)));

  it("both ONNX class names (optimum's ORT…, diffusers' Onnx…) and the Img2Img and PyTorch names give the same image", async () => {
    assertMatchesDiffusers(await originalImage(), await diffusersImage(XL_CASE), "tiny-sdxl");
    for (const className of ["OnnxStableDiffusionXLPipeline", "ORTStableDiffusionXLImg2ImgPipeline", "StableDiffusionXLPipeline"]) {
      const dir = await copyFixtureModel("tiny-sdxl", root);
      await setPipelineClass(dir, className);
      assert.equal(pixelDiff(await generateWith(dir, caseRequest(XL_CASE)), await originalImage()).max, 0, className);
    }
  });

  it("reads the encoders' outputs by name, in the order real optimum exports list them", async () => {
    const dir = await copyFixtureModel("tiny-sdxl", root);
    const layers = ["hidden_states.0", "hidden_states.1", "hidden_states.2"];
    // optimum: CLIPTextModel → last_hidden_state, pooler_output, hidden_states.*; here also the
    // projection model's text_embeds after last_hidden_state (the fixture lists it first).
    await rewriteComponent(dir, "text_encoder", (m) => keepOutputs(m, ["last_hidden_state", "pooler_output", ...layers]));
    await rewriteComponent(dir, "text_encoder_2", (m) => keepOutputs(m, ["last_hidden_state", "text_embeds", ...layers]));
    assert.deepEqual(outputNames(await readGraph(path.join(dir, "text_encoder_2", "model.onnx"))), ["last_hidden_state", "text_embeds", ...layers]);
    assert.equal(pixelDiff(await generateWith(dir, caseRequest(XL_CASE)), await originalImage()).max, 0);
  });

  it("counts the layers from the encoder's config (num_hidden_layers), not from the outputs an export kept", async () => {
    // An export that kept only the layer the pipeline reads: the highest index declared is 1, but
    // the config says 2 layers, so hidden_states.1 is still the penultimate one.
    const dir = await copyFixtureModel("tiny-sdxl", root);
    await rewriteComponent(dir, "text_encoder_2", (m) => keepOutputs(m, ["text_embeds", "last_hidden_state", "hidden_states.1"]));
    assert.equal(pixelDiff(await generateWith(dir, caseRequest(XL_CASE)), await originalImage()).max, 0);
  });

  it("refuses, in one line, an encoder without hidden states, a missing second encoder or tokenizer, and the refiner", async () => {
    const noLayers = await copyFixtureModel("tiny-sdxl", root);
    await rewriteComponent(noLayers, "text_encoder_2", (m) => keepOutputs(m, ["text_embeds", "last_hidden_state"]));
    await assert.rejects(Engine.load(noLayers, { provider: "cpu" }), (e: unknown) => e instanceof EaselError && e.code === "model-invalid" && /text_encoder_2\/model\.onnx has outputs \[text_embeds, last_hidden_state\], without hidden_states\.1 \(the penultimate of its 2 layers\): SDXL needs each layer's hidden states/.test(e.message));

    const noEncoder = await copyFixtureModel("tiny-sdxl", root);
    await removeComponent(noEncoder, "text_encoder_2");
    await assert.rejects(readModelFolder(noEncoder), /is incomplete: missing text_encoder_2\/model\.onnx; download or export the model again/);

    const noTokenizer = await copyFixtureModel("tiny-sdxl", root);
    await fs.promises.rm(path.join(noTokenizer, "tokenizer_2"), { recursive: true });
    await assert.rejects(readModelFolder(noTokenizer), /is incomplete: missing tokenizer_2\/vocab\.json, tokenizer_2\/merges\.txt/);

    const refiner = await copyFixtureModel("tiny-sdxl", root);
    const indexFile = path.join(refiner, "model_index.json");
    const index = JSON.parse(fs.readFileSync(indexFile, "utf8")) as Record<string, unknown>;
    fs.writeFileSync(indexFile, JSON.stringify({ ...index, _class_name: "ORTStableDiffusionXLImg2ImgPipeline", text_encoder: [null, null], requires_aesthetics_score: true }));
    await assert.rejects(readModelFolder(refiner), (e: unknown) => e instanceof EaselError && e.code === "model-unsupported" && /the SDXL refiner/.test(e.message));

    // An SD UNet beside a second encoder: components of two models.
    const mixed = await copyFixtureModel("tiny-sd15", root);
    await fs.promises.cp(path.join(SDXL, "text_encoder_2"), path.join(mixed, "text_encoder_2"), { recursive: true });
    await fs.promises.cp(path.join(SDXL, "tokenizer_2"), path.join(mixed, "tokenizer_2"), { recursive: true });
    await assert.rejects(Engine.load(mixed, { provider: "cpu" }), /has text_encoder_2\/model\.onnx \(SDXL\) but the UNet takes no text_embeds/);
  });

  it("force_zeros_for_empty_prompt absent from model_index.json: true, as diffusers' SDXL pipeline defaults it", async () => {
    const dir = await copyFixtureModel("tiny-sdxl", root);
    const indexFile = path.join(dir, "model_index.json");
    const { force_zeros_for_empty_prompt: _dropped, ...index } = JSON.parse(fs.readFileSync(indexFile, "utf8")) as Record<string, unknown>;
    fs.writeFileSync(indexFile, JSON.stringify(index));
    assert.equal(pixelDiff(await generateWith(dir, caseRequest(XL_CASE)), await originalImage()).max, 0);
  });

  it("a fast-tokenizer export (tokenizer.json) of tokenizer_2, its pad token still from its config files", async () => {
    const dir = await copyFixtureModel("tiny-sdxl", root);
    const second = path.join(dir, "tokenizer_2");
    const vocab = JSON.parse(fs.readFileSync(path.join(second, "vocab.json"), "utf8")) as Record<string, number>;
    const merges = fs.readFileSync(path.join(second, "merges.txt"), "utf8").split("\n").slice(1).filter((l) => l.length > 0);
    fs.writeFileSync(path.join(second, "tokenizer.json"), JSON.stringify({ model: { type: "BPE", vocab, merges } }));
    fs.rmSync(path.join(second, "vocab.json"));
    fs.rmSync(path.join(second, "merges.txt"));
    // A non-empty negative prompt, so both rows are really tokenized (and padded with "!").
    const request = { ...caseRequest(XL_CASE), negativePrompt: "blurry" };
    assert.equal(pixelDiff(await generateWith(dir, request), await generateWith(SDXL, request)).max, 0);
  });

  it("force_zeros_for_empty_prompt false: the empty negative prompt is encoded, which changes the image", async () => {
    const dir = await copyFixtureModel("tiny-sdxl", root);
    const indexFile = path.join(dir, "model_index.json");
    fs.writeFileSync(indexFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(indexFile, "utf8")), force_zeros_for_empty_prompt: false }));
    const encoded = await generateWith(dir, caseRequest(XL_CASE));
    assert.ok(pixelDiff(encoded, await originalImage()).mean > 0.35, "diffusers' image (zeros) is not what encoding \"\" gives");
    // No CFG (Turbo): nothing is zeroed, the flag changes nothing.
    const turbo = await copyFixtureModel("tiny-sdxl-turbo", root);
    const turboIndex = path.join(turbo, "model_index.json");
    fs.writeFileSync(turboIndex, JSON.stringify({ ...JSON.parse(fs.readFileSync(turboIndex, "utf8")), force_zeros_for_empty_prompt: false }));
    assertMatchesDiffusers(await generateWith(turbo, caseRequest(XL_TURBO_CASE)), await diffusersImage(XL_TURBO_CASE), "turbo without the flag");
  });

  it("fixed-batch exports: a batch-1 UNet and text encoders (CFG's rows one at a time), a batch-2 UNet without CFG (Turbo)", async () => {
    const one = await copyFixtureModel("tiny-sdxl", root);
    await rewriteComponent(one, "unet", (m) => unetFixedBatch(m, 1));
    await rewriteComponent(one, "text_encoder", (m) => textEncoderFixedBatch(m, 1));
    await rewriteComponent(one, "text_encoder_2", (m) => textEncoderFixedBatch(m, 1));
    // CFG with a non-empty negative prompt: two encoded rows, split for the batch-1 graphs.
    const request = { ...caseRequest(XL_CASE), negativePrompt: "blurry" };
    assert.equal(pixelDiff(await generateWith(one, request), await generateWith(SDXL, request)).max, 0);

    const two = await copyFixtureModel("tiny-sdxl-turbo", root);
    await rewriteComponent(two, "unet", (m) => unetFixedBatch(m, 2));
    assertMatchesDiffusers(await generateWith(two, caseRequest(XL_TURBO_CASE)), await diffusersImage(XL_TURBO_CASE), "batch-2 UNet");
  });

  it("fp16 ports everywhere (text_embeds and time_ids included) stay within fp16 rounding of diffusers", async () => {
    for (const c of [XL_CASE, XL_TURBO_CASE]) {
      const dir = await copyFixtureModel(c.model, root);
      await rewriteComponent(dir, "text_encoder", textEncoderFloat16Ports);
      await rewriteComponent(dir, "text_encoder_2", textEncoderFloat16Ports);
      await rewriteComponent(dir, "unet", unetFloat16Ports);
      await rewriteComponent(dir, "vae_decoder", vaeDecoderFloat16Ports);
      const unet = await readGraph(path.join(dir, "unet", "model.onnx"));
      for (const port of ["text_embeds", "time_ids"]) assert.equal(portType(unet, port), FLOAT16, port);
      assertMatchesDiffusers(await generateWith(dir, caseRequest(c)), await diffusersImage(c), `${c.id} fp16 ports`);
    }
  });

  it("img2img with a VAE encoder: runs int(steps × strength) steps, from the init image, with the SDXL conditioning", async () => {
    // tiny-sdxl ships no encoder; tiny-sd15's has the same architecture (a stand-in: only the plumbing is checked).
    const dir = await copyFixtureModel("tiny-sdxl", root);
    await fs.promises.cp(path.join(MODELS, "tiny-sd15", "vae_encoder"), path.join(dir, "vae_encoder"), { recursive: true });
    const engine = await Engine.load(dir, { provider: "cpu" });
    try {
      assert.equal(engine.info.canImg2Img, true);
      const initImage = fs.readFileSync(path.join(CONFORMANCE, "cases", "sd15-img2img-euler.init.png"));
      const steps: number[] = [];
      const request = { ...caseRequest(XL_CASE), initImage, strength: 0.5 };
      const a = await engine.generate(request, { onStep: (p) => steps.push(p.step) });
      assert.deepEqual(steps, [1, 2, 3], "int(6 × 0.5) steps");
      assert.match(a.images[0].infotext, /Denoising strength: 0\.5/);
      const b = await engine.generate(request);
      assert.equal(pixelDiff(await readRgb(a.images[0].png), await readRgb(b.images[0].png)).max, 0, "deterministic");
      const init = await readRgb(initImage);
      const txt2img = await readRgb((await engine.generate(caseRequest(XL_CASE))).images[0].png);
      const img = await readRgb(a.images[0].png);
      assert.ok(pixelDiff(img, init).mean < pixelDiff(txt2img, init).mean, "closer to the init image than txt2img is");
    } finally {
      await engine.dispose();
    }
  });
});

describe("SDXL VAE precision (force_upcast)", () => {
  /** A copy whose vae_decoder/model.onnx overflows fp16 (pixels × 1e6 as float16 = ±inf), as SDXL's VAE does in fp16. */
  async function overflowingVae(forceUpcast: boolean, withFp32Variant: boolean): Promise<string> {
    const dir = await copyFixtureModel("tiny-sdxl", root);
    const decoder = path.join(dir, "vae_decoder");
    if (withFp32Variant) await fs.promises.copyFile(path.join(decoder, "model.onnx"), path.join(decoder, "model.fp32.onnx"));
    await rewriteComponent(dir, "vae_decoder", (m) => {
      scaleOutput(m, "sample", 1e6);
      declareOutputAs(m, "sample", FLOAT16);
    });
    const config = path.join(decoder, "config.json");
    fs.writeFileSync(config, JSON.stringify({ ...JSON.parse(fs.readFileSync(config, "utf8")), force_upcast: forceUpcast }));
    return dir;
  }

  it("decodes with vae_decoder/model.fp32.onnx when force_upcast is set, and says so in the result", async () => {
    const dir = await overflowingVae(true, true);
    const engine = await Engine.load(dir, { provider: "cpu" });
    try {
      const r = await engine.generate(caseRequest(XL_CASE));
      assert.equal(r.vaeDecoder, "vae_decoder/model.fp32.onnx");
      assertMatchesDiffusers(await readRgb(r.images[0].png), await diffusersImage(XL_CASE), "fp32 variant");
    } finally {
      await engine.dispose();
    }
  });

  it("refuses NaN or infinite pixels with what to do, instead of writing a black image", async () => {
    for (const [forceUpcast, variant] of [[true, false], [false, true]] as const) {
      const dir = await overflowingVae(forceUpcast, variant);
      await assert.rejects(
        generateWith(dir, caseRequest(XL_CASE)),
        (e: unknown) => e instanceof EaselError && e.code === "model-invalid" && /the VAE decoder produced NaN\/Inf pixels from finite latents: an fp16 VAE overflows .*use an fp32 vae_decoder/.test(e.message),
        `force_upcast ${forceUpcast}, fp32 variant ${variant}`,
      );
    }
  });
});
