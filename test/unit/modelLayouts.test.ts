// The same weights in the other layouts real model repositories use: external weight files, fp16
// and int64 ports, static batch or size, other pipeline class names, no VAE encoder. The engine
// must read what each graph declares and give the image the fixture layout gives (and, with a
// conformance case's exact settings, the image diffusers made: mean |diff| <= 0.35, max <= 3).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { onnx } from "onnx-proto";
import { Engine } from "../../extension/engine/engine";
import { EaselError } from "../../extension/engine/errors";
import type { GenerateRequest } from "../../extension/engine/types";
import {
  type ComponentName,
  copyFixtureModel,
  declareInputAs,
  DIFFUSERS_EXTERNAL_DATA,
  externalizeWeights,
  makeVariantRoot,
  OPTIMUM_EXTERNAL_DATA,
  patchSchedulerConfig,
  portDims,
  portType,
  readGraph,
  removeComponent,
  rewriteComponent,
  setPipelineClass,
  symlinkIntoBlobs,
  textEncoderFixedBatch,
  textEncoderFloat16Ports,
  textEncoderInt64Ids,
  unetFixedBatch,
  unetFixedLatentSize,
  unetFloat16Ports,
  vaeDecoderFloat16Ports,
  vaeEncoderFloat16Ports,
  vaeEncoderLatentParameters,
  weightPlacement,
} from "../helpers/onnxVariants";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb, type Rgb } from "../helpers/pixels";
import { caseRequest, conformanceCase, type ConformanceCase } from "../helpers/conformanceCases";

const { INT32, INT64, FLOAT16 } = onnx.TensorProto.DataType;
const ALL_COMPONENTS: readonly ComponentName[] = ["text_encoder", "unet", "vae_decoder", "vae_encoder"];




const SD15_TXT2IMG = conformanceCase("sd15-default-20"); // PNDM, CFG 7.5, 64x64: float timestep
const SD15_IMG2IMG = conformanceCase("sd15-img2img-euler"); // uses vae_encoder
const TURBO = conformanceCase("turbo-1step"); // 1 step, no CFG: the cheapest full run
const LCM = conformanceCase("lcm-4step"); // int64 timestep, timestep_cond
const INPAINT = conformanceCase("inpaint-euler-8"); // 9-channel UNet, CFG

/** Loads a model folder on the CPU, generates once, disposes. */
async function generateWith(dir: string, request: GenerateRequest): Promise<{ image: Rgb; engine: Engine }> {
  const engine = await Engine.load(dir, { provider: "cpu" });
  try {
    const result = await engine.generate(request);
    assert.equal(result.images.length, 1);
    return { image: await readRgb(result.images[0].png), engine };
  } finally {
    await engine.dispose();
  }
}

/** What the unchanged fixture makes for a case's settings: computed once per case id, shared by the tests. */
const originals = new Map<string, Promise<Rgb>>();
function originalImage(c: ConformanceCase): Promise<Rgb> {
  let image = originals.get(c.id);
  if (!image) {
    image = generateWith(path.join(MODELS, c.model), caseRequest(c)).then((r) => r.image);
    originals.set(c.id, image);
  }
  return image;
}

async function assertMatchesDiffusers(image: Rgb, c: ConformanceCase): Promise<void> {
  const { mean, max } = pixelDiff(image, await readRgb(path.join(CONFORMANCE, "cases", `${c.id}.png`)));
  assert.ok(mean <= 0.35 && max <= 3, `vs diffusers ${c.id}: mean ${mean.toFixed(3)} max ${max}`);
}

async function assertBitIdentical(image: Rgb, c: ConformanceCase): Promise<void> {
  const { mean, max } = pixelDiff(image, await originalImage(c));
  assert.equal(max, 0, `vs the fixture layout: mean ${mean.toFixed(4)} max ${max}`);
}

/** Every variant is a fresh copy of a fixture under this temp folder, removed when the file's tests end. */
let root: string;
before(async () => {
  root = await makeVariantRoot();
});
after(async () => {
  await fs.promises.rm(root, { recursive: true, force: true });
});

const graphFile = (dir: string, component: ComponentName) => path.join(dir, component, "model.onnx");

describe("external weights", () => {
  it("diffusers converter style: every initializer in weights.pb; bit-identical, and as diffusers made it", async () => {
    const dir = await copyFixtureModel("tiny-sd15", root);
    for (const component of ALL_COMPONENTS) {
      const moved = await externalizeWeights(dir, component, DIFFUSERS_EXTERNAL_DATA);
      const placement = weightPlacement(await readGraph(graphFile(dir, component)));
      assert.deepEqual(placement, { external: moved, inline: 0, inlineBytes: 0 }, component);
    }
    // What is left in model.onnx is structure (and Constant nodes): the weights must come from weights.pb.
    assert.ok(fs.statSync(graphFile(dir, "unet")).size < fs.statSync(path.join(dir, "unet", "weights.pb")).size);
    const { image } = await generateWith(dir, caseRequest(SD15_TXT2IMG));
    await assertBitIdentical(image, SD15_TXT2IMG);
    await assertMatchesDiffusers(image, SD15_TXT2IMG);
  });

  it("optimum style: model.onnx_data, 4 KiB-aligned, small tensors inline, Constant tensors moved; bit-identical img2img", async () => {
    const dir = await copyFixtureModel("tiny-sd15", root);
    for (const component of ALL_COMPONENTS) {
      const moved = await externalizeWeights(dir, component, OPTIMUM_EXTERNAL_DATA);
      const placement = weightPlacement(await readGraph(graphFile(dir, component)));
      assert.ok(placement.external > 0 && placement.inline > 0, `${component}: a mix of external and inline tensors`);
      if (component === "text_encoder") assert.ok(moved > placement.external, "the text encoder's large Constant tensors moved out too");
    }
    // img2img runs all four graphs, vae_encoder included.
    const { image } = await generateWith(dir, caseRequest(SD15_IMG2IMG));
    await assertBitIdentical(image, SD15_IMG2IMG);
    await assertMatchesDiffusers(image, SD15_IMG2IMG);
  });

  it("the Hugging Face cache layout: every file a symlink into blobs/, weights found beside the symlinked graph", async () => {
    const dir = await copyFixtureModel("tiny-turbo", root);
    await externalizeWeights(dir, "unet", DIFFUSERS_EXTERNAL_DATA);
    await externalizeWeights(dir, "text_encoder", OPTIMUM_EXTERNAL_DATA);
    await symlinkIntoBlobs(dir);
    assert.ok(fs.lstatSync(path.join(dir, "unet", "weights.pb")).isSymbolicLink());
    const { image } = await generateWith(dir, caseRequest(TURBO));
    await assertBitIdentical(image, TURBO);
  });

  it("a missing weights file is one model-invalid error naming the graph and its external weights", async () => {
    const dir = await copyFixtureModel("tiny-turbo", root);
    await externalizeWeights(dir, "unet", DIFFUSERS_EXTERNAL_DATA);
    fs.rmSync(path.join(dir, "unet", "weights.pb"));
    await assert.rejects(Engine.load(dir, { provider: "cpu" }), (e: unknown) => {
      assert.ok(e instanceof EaselError, String(e));
      assert.equal(e.code, "model-invalid");
      assert.match(e.message, /^unet\/model\.onnx could not be loaded .*missing its external weights/);
      return true;
    });
  });
});

describe("port dtypes", () => {
  // fp16 ports round every tensor crossing the boundary to half precision. Measured (x86-64, CPU
  // provider), fp16 vs fp32 image, mean |diff| / max in RGB levels: sd15 txt2img 0.027 / 1, img2img
  // 0.061 / 1, turbo 0.015 / 1, LCM 0.020 / 1. Mistakes at the boundary land far outside the bound:
  // halves decoded 1% too large give 0.54 / 5 (sd15) and 0.47 / 3 (turbo), an fp16 timestep off by
  // one 0.58 / 5, the next seed's noise 59 / 255. (Truncating instead of rounding halves stays within
  // 0.03-0.11: too small for these tiny models to show; float16.test.ts checks the rounding itself.)
  const FP16_MEAN = 0.15;
  const FP16_MAX = 2;

  async function fp16Variant(fixture: string, withEncoder: boolean): Promise<string> {
    const dir = await copyFixtureModel(fixture, root);
    await rewriteComponent(dir, "text_encoder", textEncoderFloat16Ports);
    await rewriteComponent(dir, "unet", unetFloat16Ports);
    await rewriteComponent(dir, "vae_decoder", vaeDecoderFloat16Ports);
    if (withEncoder) await rewriteComponent(dir, "vae_encoder", vaeEncoderFloat16Ports);
    return dir;
  }

  it("fp16 UNet / VAE / text-encoder ports around an fp32 graph (sd15: float timestep), txt2img and img2img", async () => {
    const dir = await fp16Variant("tiny-sd15", true);
    const unet = await readGraph(graphFile(dir, "unet"));
    for (const port of ["sample", "timestep", "encoder_hidden_states", "out_sample"]) assert.equal(portType(unet, port), FLOAT16, port);
    const engine = await Engine.load(dir, { provider: "cpu" });
    try {
      for (const c of [SD15_TXT2IMG, SD15_IMG2IMG]) {
        const r = await engine.generate(caseRequest(c));
        const { mean, max } = pixelDiff(await readRgb(r.images[0].png), await originalImage(c));
        assert.ok(mean < FP16_MEAN && max <= FP16_MAX, `${c.id} fp16 vs fp32: mean ${mean.toFixed(4)} max ${max}`);
        assert.ok(mean > 0, "the fp16 boundary really rounds (else this variant tests nothing)");
      }
      // The bound means something: a different starting noise is a different picture.
      const other = await originalImage({ ...SD15_TXT2IMG, id: "sd15-default-20 seed 43", seed: 43 });
      assert.ok(pixelDiff(other, await originalImage(SD15_TXT2IMG)).mean > 100 * FP16_MEAN);
    } finally {
      await engine.dispose();
    }
  });

  it("fp16 ports on turbo (float timestep, no CFG) and LCM (int64 timestep kept, fp16 timestep_cond)", async () => {
    for (const c of [TURBO, LCM]) {
      const dir = await fp16Variant(c.model, false);
      const { image } = await generateWith(dir, caseRequest(c));
      const { mean, max } = pixelDiff(image, await originalImage(c));
      assert.ok(mean < FP16_MEAN && max <= FP16_MAX, `${c.id} fp16 vs fp32: mean ${mean.toFixed(4)} max ${max}`);
    }
  });

  it("int64 input_ids with a Cast to int32 inside: bit-identical", async () => {
    const dir = await copyFixtureModel("tiny-sd15", root);
    await rewriteComponent(dir, "text_encoder", textEncoderInt64Ids);
    assert.equal(portType(await readGraph(graphFile(dir, "text_encoder")), "input_ids"), INT64);
    const { image } = await generateWith(dir, caseRequest(SD15_TXT2IMG));
    await assertBitIdentical(image, SD15_TXT2IMG);
    await assertMatchesDiffusers(image, SD15_TXT2IMG);
  });

  it("an int32 timestep gets the same (nearest) integer as an int64 one, fractional timesteps included", async () => {
    // Euler with linspace spacing over 5 steps: 999, 749.25, 499.5, 249.75, 0.
    const request: GenerateRequest = { prompt: "a lighthouse", scheduler: "euler", steps: 5, guidance: 0, seed: 3n, width: 64, height: 64 };
    const images: Rgb[] = [];
    for (const elemType of [INT32, INT64]) {
      const dir = await copyFixtureModel("tiny-sd15", root);
      await patchSchedulerConfig(dir, { timestep_spacing: "linspace" });
      await rewriteComponent(dir, "unet", (m) => declareInputAs(m, "timestep", elemType));
      images.push((await generateWith(dir, request)).image);
    }
    assert.equal(pixelDiff(images[0], images[1]).max, 0);
  });
});

describe("static shapes", () => {
  it("UNet and text encoder exported for batch 1: CFG runs its two halves one at a time, bit-identical", async () => {
    const dir = await copyFixtureModel("tiny-sd15", root);
    await rewriteComponent(dir, "unet", (m) => unetFixedBatch(m, 1));
    await rewriteComponent(dir, "text_encoder", (m) => textEncoderFixedBatch(m, 1));
    assert.deepEqual(portDims(await readGraph(graphFile(dir, "unet")), "sample"), [1, 4, "height", "width"]);
    assert.deepEqual(portDims(await readGraph(graphFile(dir, "text_encoder")), "input_ids"), [1, 77]);
    const { image, engine } = await generateWith(dir, caseRequest(SD15_TXT2IMG));
    assert.equal(engine.info.unetFixedBatch, 1);
    await assertBitIdentical(image, SD15_TXT2IMG);
    await assertMatchesDiffusers(image, SD15_TXT2IMG);
  });

  it("UNet exported for batch 2 (sized for CFG): CFG as usual, and a guidance-free model repeats its row", async () => {
    const sd15 = await copyFixtureModel("tiny-sd15", root);
    await rewriteComponent(sd15, "unet", (m) => unetFixedBatch(m, 2));
    await assertBitIdentical((await generateWith(sd15, caseRequest(SD15_TXT2IMG))).image, SD15_TXT2IMG);
    const turbo = await copyFixtureModel("tiny-turbo", root);
    await rewriteComponent(turbo, "unet", (m) => unetFixedBatch(m, 2));
    const { image } = await generateWith(turbo, caseRequest(TURBO));
    await assertBitIdentical(image, TURBO);
    await assertMatchesDiffusers(image, TURBO);
  });

  it("UNet exported for 8x8 latents: 64x64 by default and on request; 96x64 refused, naming 64x64", async () => {
    const dir = await copyFixtureModel("tiny-turbo", root);
    await rewriteComponent(dir, "unet", (m) => unetFixedLatentSize(m, 8, 8));
    const engine = await Engine.load(dir, { provider: "cpu" });
    try {
      assert.deepEqual(engine.info.fixedSize, { width: 64, height: 64 });
      assert.equal(engine.info.defaults.width, 64);
      assert.equal(engine.info.defaults.height, 64);
      const r = await engine.generate(caseRequest(TURBO));
      await assertBitIdentical(await readRgb(r.images[0].png), TURBO);
      const { width, height, ...rest } = caseRequest(TURBO);
      const byDefault = await engine.generate(rest);
      assert.deepEqual([byDefault.request.width, byDefault.request.height], [width, height]);
      await assert.rejects(engine.generate({ ...caseRequest(TURBO), width: 96 }), (e: unknown) => {
        assert.ok(e instanceof EaselError, String(e));
        assert.equal(e.code, "bad-argument");
        assert.match(e.message, /exported for 64x64/);
        return true;
      });
    } finally {
      await engine.dispose();
    }
  });
});

describe("inpainting UNet layouts (9 input channels)", () => {
  it("exported for batch 1: CFG's halves one at a time, each with its mask and masked-image channels; bit-identical", async () => {
    const dir = await copyFixtureModel("tiny-sd15-inpaint", root);
    await rewriteComponent(dir, "unet", (m) => unetFixedBatch(m, 1));
    assert.deepEqual(portDims(await readGraph(graphFile(dir, "unet")), "sample").slice(0, 2), [1, 9]);
    const { image, engine } = await generateWith(dir, caseRequest(INPAINT));
    assert.equal(engine.info.unetFixedBatch, 1);
    await assertBitIdentical(image, INPAINT);
    await assertMatchesDiffusers(image, INPAINT);
  });

  it("exported for 8x8 latents and with fp16 ports: as diffusers made it", async () => {
    const dir = await copyFixtureModel("tiny-sd15-inpaint", root);
    await rewriteComponent(dir, "unet", (m) => {
      unetFixedLatentSize(m, 8, 8);
      unetFloat16Ports(m);
    });
    await assertMatchesDiffusers((await generateWith(dir, caseRequest(INPAINT))).image, INPAINT);
  });

  for (const className of ["OnnxStableDiffusionPipeline", "StableDiffusionInpaintPipeline"]) {
    it(`model_index.json naming ${className}: still an inpainting model (told from the UNet's 9 channels), bit-identical`, async () => {
      const dir = await copyFixtureModel("tiny-sd15-inpaint", root);
      await setPipelineClass(dir, className);
      const { image, engine } = await generateWith(dir, caseRequest(INPAINT));
      assert.equal(engine.info.inpainting, true);
      await assertBitIdentical(image, INPAINT);
    });
  }

  it("an encoder returning latent_parameters (SD 2.x layout): the noise is drawn before the masked image is sampled, as diffusers does", async () => {
    // At strength 1 diffusers draws the initial noise first, then samples the masked image's
    // latents; with a near-zero variance that sample is the mean, so the image must stay
    // diffusers' own. Sampling first would make the noise the second draw: another image.
    const dir = await copyFixtureModel("tiny-sd15-inpaint", root);
    await rewriteComponent(dir, "vae_encoder", (m) => vaeEncoderLatentParameters(m, -30));
    const { image, engine } = await generateWith(dir, caseRequest(INPAINT));
    assert.equal(engine.info.vaeEncoderOutput, "latent_parameters");
    await assertMatchesDiffusers(image, INPAINT);
    // A variance that matters moves the masked image's latents: the draw really is taken.
    const wide = await copyFixtureModel("tiny-sd15-inpaint", root);
    await rewriteComponent(wide, "vae_encoder", (m) => vaeEncoderLatentParameters(m, 0));
    assert.ok(pixelDiff((await generateWith(wide, caseRequest(INPAINT))).image, await originalImage(INPAINT)).max > 0);
  });

  it("no vae_encoder/: refused with one clear error, with or without a mask", async () => {
    const dir = await copyFixtureModel("tiny-sd15-inpaint", root);
    await removeComponent(dir, "vae_encoder");
    const engine = await Engine.load(dir, { provider: "cpu" });
    try {
      for (const request of [caseRequest(INPAINT), { prompt: "a cat", steps: 2, width: 64, height: 64 }]) {
        await assert.rejects(engine.generate(request), (e: unknown) => {
          assert.ok(e instanceof EaselError, String(e));
          assert.equal(e.code, "model-invalid");
          assert.match(e.message, /no vae_encoder\/model\.onnx, so it cannot inpaint/);
          return true;
        });
      }
    } finally {
      await engine.dispose();
    }
  });
});

describe("folder layout", () => {
  for (const className of ["ORTStableDiffusionPipeline", "StableDiffusionPipeline"]) {
    it(`model_index.json naming ${className}: the same image`, async () => {
      const dir = await copyFixtureModel("tiny-turbo", root);
      await setPipelineClass(dir, className);
      const { image, engine } = await generateWith(dir, caseRequest(TURBO));
      assert.equal(engine.folder.pipelineClass, className);
      await assertBitIdentical(image, TURBO);
      await assertMatchesDiffusers(image, TURBO);
    });
  }

  it("no vae_encoder/: txt2img as usual, img2img refused with one clear error", async () => {
    const dir = await copyFixtureModel("tiny-turbo", root);
    await removeComponent(dir, "vae_encoder");
    const engine = await Engine.load(dir, { provider: "cpu" });
    try {
      assert.equal(engine.info.canImg2Img, false);
      const r = await engine.generate(caseRequest(TURBO));
      await assertBitIdentical(await readRgb(r.images[0].png), TURBO);
      const initImage = fs.readFileSync(path.join(CONFORMANCE, "cases", SD15_IMG2IMG.init_image!));
      await assert.rejects(engine.generate({ ...caseRequest(TURBO), steps: 2, initImage, strength: 0.5 }), (e: unknown) => {
        assert.ok(e instanceof EaselError, String(e));
        assert.equal(e.code, "model-invalid");
        assert.match(e.message, /no vae_encoder\/model\.onnx/);
        return true;
      });
    } finally {
      await engine.dispose();
    }
  });
});
