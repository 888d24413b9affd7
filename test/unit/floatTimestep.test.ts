// Integer-timestep UNets (SD 2.x, LCM exports) get fractional Euler-family timesteps as floats:
// the engine re-declares the graph's `timestep` input float32 when the graph only casts it to float.
// Rounding to the nearest integer instead (the old behaviour) put the sd21v Euler-a img2img case
// 0.262 RGB levels off diffusers and a v-prediction Euler-a txt2img much further.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { Engine } from "../../extension/engine/engine";
import { findTimestepPatch, weightsResolveInFolder } from "../../extension/engine/onnx/floatTimestep";
import { TorchGenerator } from "../../extension/engine/random/torchGenerator";
import { ClipTokenizer } from "../../extension/engine/text/clipTokenizer";
import type { GenerateRequest } from "../../extension/engine/types";
import { caseRequest, conformanceCase, generateWith } from "../helpers/conformanceCases";
import {
  copyFixtureModel,
  declareInputAs,
  DIFFUSERS_EXTERNAL_DATA,
  externalizeWeights,
  makeVariantRoot,
  OPTIMUM_EXTERNAL_DATA,
  patchSchedulerConfig,
  rewriteComponent,
  symlinkIntoBlobs,
} from "../helpers/onnxVariants";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb, type Rgb } from "../helpers/pixels";

const { FLOAT, INT32, INT64 } = onnx.TensorProto.DataType;

let root: string;
before(async () => {
  root = await makeVariantRoot();
});
after(async () => {
  await fs.promises.rm(root, { recursive: true, force: true });
});

const unetFile = (dir: string) => path.join(dir, "unet", "model.onnx");

describe("findTimestepPatch", () => {
  it("finds the int64 timestep of the SD 2.x and LCM fixtures, nothing in a float-timestep UNet", async () => {
    for (const fixture of ["tiny-sd21v", "tiny-lcm"]) {
      const patch = await findTimestepPatch(unetFile(path.join(MODELS, fixture)));
      assert.ok(patch, fixture);
      assert.equal(patch.declared, INT64, fixture);
      assert.equal(fs.readFileSync(unetFile(path.join(MODELS, fixture)))[patch.offset], INT64, `${fixture}: the offset is the elem_type byte`);
    }
    assert.equal(await findTimestepPatch(unetFile(path.join(MODELS, "tiny-sd15"))), undefined);
  });

  it("takes an int32 timestep cast to float too", async () => {
    const dir = await copyFixtureModel("tiny-sd15", root);
    await rewriteComponent(dir, "unet", (m) => declareInputAs(m, "timestep", INT32));
    assert.equal((await findTimestepPatch(unetFile(dir)))?.declared, INT32);
  });

  it("leaves alone a graph that uses the integer other than through a Cast to float", async () => {
    const dir = await copyFixtureModel("tiny-sd21v", root);
    await rewriteComponent(dir, "unet", (m) => {
      // timestep also feeds an integer Add whose result is a graph output: a float input would change it.
      m.graph!.node!.push({ opType: "Add", name: "easel_test_add", input: ["timestep", "timestep"], output: ["twice"] });
      m.graph!.output!.push({ name: "twice", type: { tensorType: { elemType: INT64, shape: { dim: [{ dimParam: "batch" }] } } } });
    });
    assert.equal(await findTimestepPatch(unetFile(dir)), undefined);
    const castToInt = await copyFixtureModel("tiny-sd21v", root);
    await rewriteComponent(castToInt, "unet", (m) => {
      const cast = m.graph!.node!.find((n) => n.opType === "Cast" && n.name?.includes("time_proj"));
      assert.ok(cast);
      cast.attribute![0].i = INT32;
    });
    assert.equal(await findTimestepPatch(unetFile(castToInt)), undefined, "a Cast to another integer type");
  });

  it("gives up quietly on a file that is not an ONNX protobuf (ONNX Runtime reports it)", async () => {
    const file = path.join(root, "garbage.onnx");
    fs.writeFileSync(file, Buffer.from([0xff, 0xff, 0xff, 0x07, 0x02, 0x01]));
    assert.equal(await findTimestepPatch(file), undefined);
  });
});

describe("fractional timesteps reach an integer-timestep UNet exactly", () => {
  it("sd21v Euler-a img2img (12 linspace steps: 908.18…) reproduces diffusers within rounding", async () => {
    const c = conformanceCase("sd21v-img2img-euler-a");
    const image = await generateWith(path.join(MODELS, c.model), caseRequest(c));
    const { mean, max } = pixelDiff(image, await readRgb(path.join(CONFORMANCE, "cases", `${c.id}.png`)));
    // Rounding the timestep gave mean 0.262, max 3.
    assert.ok(mean <= 0.01 && max <= 1, `mean ${mean.toFixed(4)} max ${max}`);
  });

  it("an int64-timestep copy of sd15 (external weights in every layout too) makes the float graph's image, bit for bit", async () => {
    // Euler with linspace spacing over 5 steps: 999, 749.25, 499.5, 249.75, 0.
    const request: GenerateRequest = { prompt: "a lighthouse", scheduler: "euler", steps: 5, guidance: 7, seed: 3n, width: 64, height: 64 };
    const float = await copyFixtureModel("tiny-sd15", root);
    await patchSchedulerConfig(float, { timestep_spacing: "linspace" });
    const want = await generateWith(float, request);
    // Loaded from bytes, the graph has no path of its own: its external weights must still be found
    // beside model.onnx, in either exporter's layout.
    for (const layout of ["inline", "weights.pb", "model.onnx_data", "inline, every file a symlink into blobs/"] as const) {
      const dir = await copyFixtureModel("tiny-sd15", root);
      await patchSchedulerConfig(dir, { timestep_spacing: "linspace" });
      await rewriteComponent(dir, "unet", (m) => declareInputAs(m, "timestep", INT64));
      if (layout === "weights.pb") await externalizeWeights(dir, "unet", DIFFUSERS_EXTERNAL_DATA);
      if (layout.startsWith("model.onnx_data")) await externalizeWeights(dir, "unet", OPTIMUM_EXTERNAL_DATA);
      if (layout.endsWith("blobs")) await symlinkIntoBlobs(dir);
      const patch = await findTimestepPatch(unetFile(dir));
      assert.equal(patch?.declared, INT64, layout);
      assert.deepEqual(patch.externalFiles, layout === "weights.pb" ? ["weights.pb"] : layout === "model.onnx_data" ? ["model.onnx_data"] : [], layout);
      const { mean, max } = pixelDiff(await generateWith(dir, request), want);
      assert.equal(max, 0, `${layout}: mean ${mean.toFixed(4)} max ${max}`);
    }
  });

  it("external weights symlinked into a Hugging Face cache's blobs/: loaded by path, the nearest integer timestep", async () => {
    // ONNX Runtime refuses weight files that resolve outside the graph's folder when the graph comes
    // from bytes; by path it follows the symlinks. The image is then close to, not exactly, the float one.
    const request: GenerateRequest = { prompt: "a lighthouse", scheduler: "euler", steps: 5, guidance: 7, seed: 3n, width: 64, height: 64 };
    const float = await copyFixtureModel("tiny-sd15", root);
    await patchSchedulerConfig(float, { timestep_spacing: "linspace" });
    const want = await generateWith(float, request);
    const dir = await copyFixtureModel("tiny-sd15", root);
    await patchSchedulerConfig(dir, { timestep_spacing: "linspace" });
    await rewriteComponent(dir, "unet", (m) => declareInputAs(m, "timestep", INT64));
    await externalizeWeights(dir, "unet", OPTIMUM_EXTERNAL_DATA);
    await symlinkIntoBlobs(dir);
    const patch = await findTimestepPatch(unetFile(dir));
    assert.deepEqual(patch?.externalFiles, ["model.onnx_data"]);
    assert.equal(await weightsResolveInFolder(unetFile(dir), patch.externalFiles), false);
    assert.equal(await weightsResolveInFolder(unetFile(dir), []), true);
    const { mean, max } = pixelDiff(await generateWith(dir, request), want);
    assert.ok(mean > 0 && mean < 0.35 && max <= 3, `mean ${mean.toFixed(4)} max ${max}`);
  });
});

// ---------------------------------------------------------------------------------------------
// v-prediction Euler ancestral txt2img has no diffusers image in the public cases, so each image is
// checked against an independent, from-scratch run of diffusers' EulerAncestralDiscreteScheduler
// (v0.35) written here in float64 straight from its source: its own schedule, sigmas, v-prediction
// x_0, sigma_up / sigma_down, one randn per step, driving ONNX Runtime directly on a copy of the
// UNet whose timestep input is declared float (made with onnx-proto, not the engine's byte patch).
// Shared with the engine: the tokenizer and torch's generator, each checked against references
// elsewhere (tokenizer.test.ts, random.test.ts).

function scaledLinearAlphasCumprod(betaStart: number, betaEnd: number, n: number): number[] {
  const out: number[] = [];
  let product = 1;
  for (let i = 0; i < n; i++) {
    const root = Math.fround(Math.sqrt(betaStart) + ((Math.sqrt(betaEnd) - Math.sqrt(betaStart)) * i) / (n - 1));
    product = Math.fround(product * Math.fround(1 - Math.fround(root * root)));
    out.push(product);
  }
  return out;
}

async function referenceEulerAncestralV(
  modelDir: string,
  floatUnet: string,
  request: { prompt: string; steps: number; guidance: number; seed: bigint; width: number; height: number },
): Promise<Rgb> {
  const config = JSON.parse(fs.readFileSync(path.join(modelDir, "scheduler", "scheduler_config.json"), "utf8")) as Record<string, number | string>;
  assert.equal(config.prediction_type, "v_prediction");
  assert.equal(config.beta_schedule, "scaled_linear");
  assert.equal(config.timestep_spacing, undefined, "EulerAncestral's own default spacing, linspace, applies");
  const n = Number(config.num_train_timesteps);
  const alphasCumprod = scaledLinearAlphasCumprod(Number(config.beta_start), Number(config.beta_end), n);
  const trainSigmas = alphasCumprod.map((a) => Math.sqrt((1 - a) / a));
  // linspace(0, n - 1, steps)[::-1] as float32; np.interp over the training sigmas; then a final 0.
  const timesteps = Array.from({ length: request.steps }, (_, i) =>
    Math.fround(request.steps === 1 ? 0 : ((n - 1) * i) / (request.steps - 1)),
  ).reverse();
  const sigmas = timesteps.map((t) => {
    const lo = Math.floor(t);
    const hi = Math.min(lo + 1, n - 1);
    return Math.fround(trainSigmas[lo] + (trainSigmas[hi] - trainSigmas[lo]) * (t - lo));
  });
  sigmas.push(0);

  const tokenizer = await ClipTokenizer.load(path.join(modelDir, "tokenizer"));
  const text = await ort.InferenceSession.create(path.join(modelDir, "text_encoder", "model.onnx"));
  const ids = [...tokenizer.encode("").ids, ...tokenizer.encode(request.prompt).ids];
  const hidden = (await text.run({ input_ids: new ort.Tensor("int32", Int32Array.from(ids), [2, 77]) })).last_hidden_state as ort.Tensor;
  await text.release();

  const unet = await ort.InferenceSession.create(floatUnet);
  const h = request.height / 8;
  const w = request.width / 8;
  const shape = [1, 4, h, w];
  const g = new TorchGenerator(request.seed);
  const sigmaMax = Math.max(...sigmas);
  let x = Array.from(g.randn(shape), (v) => v * sigmaMax); // [1,4,h,w] f64
  for (let i = 0; i < timesteps.length; i++) {
    const sigma = sigmas[i];
    const scaled = Float32Array.from(x, (v) => v / Math.sqrt(sigma * sigma + 1));
    const both = new Float32Array(scaled.length * 2); // [2,4,h,w] f32
    both.set(scaled, 0);
    both.set(scaled, scaled.length);
    const out = await unet.run({
      sample: new ort.Tensor("float32", both, [2, 4, h, w]),
      timestep: new ort.Tensor("float32", Float32Array.from([timesteps[i], timesteps[i]]), [2]),
      encoder_hidden_states: hidden,
    });
    const pred = (out.out_sample as ort.Tensor).data as Float32Array;
    const half = scaled.length;
    const v = Array.from({ length: half }, (_, k) => pred[k] + request.guidance * (pred[half + k] - pred[k]));
    const x0 = x.map((xv, k) => v[k] * (-sigma / Math.sqrt(sigma * sigma + 1)) + xv / (sigma * sigma + 1));
    const sigmaTo = sigmas[i + 1];
    const sigmaUp = Math.sqrt((sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
    const noise = g.randn(shape);
    x = x.map((xv, k) => xv + ((xv - x0[k]) / sigma) * (sigmaDown - sigma) + noise[k] * sigmaUp);
  }
  await unet.release();

  const vae = await ort.InferenceSession.create(path.join(modelDir, "vae_decoder", "model.onnx"));
  const decoded = await vae.run({ latent_sample: new ort.Tensor("float32", Float32Array.from(x, (v) => v / 0.18215), shape) });
  await vae.release();
  const pixels = (decoded.sample as ort.Tensor).data as Float32Array; // [1,3,H,W] f32
  const plane = request.width * request.height;
  const data = Buffer.alloc(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) data[p * 3 + c] = Math.round(Math.min(1, Math.max(0, pixels[c * plane + p] / 2 + 0.5)) * 255);
  }
  return { width: request.width, height: request.height, data };
}

describe("v-prediction Euler ancestral txt2img on tiny-sd21v, against an independent reference", () => {
  it("7, 12 and 25 steps, two seeds and sizes", async () => {
    const modelDir = path.join(MODELS, "tiny-sd21v");
    const floatUnet = path.join(root, "sd21v-float-timestep.onnx");
    const model = onnx.ModelProto.decode(fs.readFileSync(unetFile(modelDir)));
    const port = model.graph!.input!.find((p) => p.name === "timestep");
    port!.type!.tensorType!.elemType = FLOAT;
    fs.writeFileSync(floatUnet, onnx.ModelProto.encode(model).finish());

    const engine = await Engine.load(modelDir, { provider: "cpu" });
    try {
      for (const [steps, seed, width] of [[7, 5, 64], [12, 13, 64], [25, 99, 96]] as const) {
        const request = { prompt: "a red barn in a wheat field", steps, guidance: 7.5, seed: BigInt(seed), width, height: 64 };
        const got = await readRgb((await engine.generate({ ...request, scheduler: "euler-a", negativePrompt: "" })).images[0].png);
        const want = await referenceEulerAncestralV(modelDir, floatUnet, request);
        const { mean, max } = pixelDiff(got, want);
        // float64 here vs float32 there: a few values one level apart at most.
        assert.ok(mean <= 0.01 && max <= 1, `${steps} steps, seed ${seed}: mean ${mean.toFixed(4)} max ${max}`);
      }
    } finally {
      await engine.dispose();
    }
  });
});
