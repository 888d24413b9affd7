// The synthetic-model builder (test/bench/synth) on its tiny configuration: the graphs load in
// onnxruntime-node with the names, types and dynamic dims of real exports, run at several sizes,
// keep every activation finite and normal, are byte-for-byte deterministic, and the FLOP counter
// counts what it should; at real size only the graph descriptions are built (no weights).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { MODELS } from "../helpers/paths";
import { Engine } from "../../extension/engine/engine";
import { checkActivations, uniformTensor } from "../bench/synth/check";
import { SD21, SDXL, TINY, TINY_XL } from "../bench/synth/configs";
import { denseFlops, GraphBuilder, product } from "../bench/synth/graph";
import { ALL_COMPONENTS, buildComponent, buildModelFolder, COMPONENTS, componentFlops, readStamp } from "../bench/synth/modelSet";
import { Xoshiro128 } from "../bench/synth/prng";
import { healthy } from "../bench/synth/stats";
import { writeModel } from "../bench/synth/write";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-synth-"));
const dir = path.join(tmp, "tiny");
before(() => {
  buildModelFolder(dir, TINY, "turbo");
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

async function session(component: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path.join(dir, component, "model.onnx"), { intraOpNumThreads: 1 });
}

describe("synthetic model graphs (tiny configuration)", () => {
  it("declare the inputs and outputs of real diffusers / optimum exports, with dynamic dims", async () => {
    const expected: Record<string, { inputs: unknown; outputs: unknown }> = {
      text_encoder: {
        inputs: [{ name: "input_ids", isTensor: true, type: "int32", shape: ["batch", 77] }],
        outputs: [
          { name: "last_hidden_state", isTensor: true, type: "float32", shape: ["batch", 77, 64] },
          { name: "pooler_output", isTensor: true, type: "float32", shape: ["batch", 64] },
        ],
      },
      unet: {
        inputs: [
          { name: "sample", isTensor: true, type: "float32", shape: ["batch", 4, "height", "width"] },
          { name: "timestep", isTensor: true, type: "float32", shape: ["batch"] },
          { name: "encoder_hidden_states", isTensor: true, type: "float32", shape: ["batch", "sequence", 64] },
        ],
        outputs: [{ name: "out_sample", isTensor: true, type: "float32", shape: ["batch", 4, "height", "width"] }],
      },
      vae_decoder: {
        inputs: [{ name: "latent_sample", isTensor: true, type: "float32", shape: ["batch", 4, "height", "width"] }],
        outputs: [{ name: "sample", isTensor: true, type: "float32", shape: ["batch", 3, "image_height", "image_width"] }],
      },
    };
    expected.taesd_decoder = expected.vae_decoder;
    for (const component of COMPONENTS) {
      const s = await session(component);
      try {
        assert.deepEqual({ inputs: s.inputMetadata, outputs: s.outputMetadata }, expected[component], component);
      } finally {
        await s.release();
      }
    }
  });

  it("run at any batch and latent size, with the right output shapes", async () => {
    const unet = await session("unet");
    const vae = await session("vae_decoder");
    const taesd = await session("taesd_decoder");
    try {
      for (const [batch, h, w] of [[1, 8, 8], [2, 16, 8]]) {
        const out = await unet.run({
          sample: uniformTensor([batch, 4, h, w], 1, "s"),
          timestep: new ort.Tensor("float32", new Float32Array(batch).fill(500), [batch]),
          encoder_hidden_states: uniformTensor([batch, 77, 64], 1, "e"),
        });
        assert.deepEqual(out.out_sample.dims, [batch, 4, h, w]);
        for (const decoder of [vae, taesd]) {
          const image = await decoder.run({ latent_sample: uniformTensor([batch, 4, h, w], 1, "l") });
          assert.deepEqual(image.sample.dims, [batch, 3, 8 * h, 8 * w]);
          assert.equal(image.sample.type, "float32");
        }
      }
    } finally {
      await Promise.all([unet.release(), vae.release(), taesd.release()]);
    }
  });

  it("keep every activation finite and normal (no NaN, Inf or denormal anywhere in the graph)", async () => {
    const checks = await checkActivations(dir, () => undefined, TINY, 64);
    assert.equal(checks.length, 4);
    for (const c of checks) {
      assert.ok(healthy(c.all), `${c.component}: ${JSON.stringify(c.all)}`);
      for (const [name, out] of Object.entries(c.outputs)) {
        assert.ok(out.stats.maxAbs < 100 && out.stats.maxAbs > 0.01, `${c.component}.${name} magnitude ${out.stats.maxAbs}`);
      }
    }
  });

  it("take an int64 timestep like optimum's exports when configured so", async () => {
    const g = buildComponent({ ...TINY, unet: { ...TINY.unet, timestepType: "int64" } }, "unet");
    const file = path.join(tmp, "unet-int64", "model.onnx");
    writeModel(g, path.dirname(file), 0);
    const s = await ort.InferenceSession.create(file);
    try {
      const port = s.inputMetadata.find((m) => m.name === "timestep");
      assert.ok(port?.isTensor && port.type === "int64");
      const out = await s.run({
        sample: uniformTensor([1, 4, 8, 8], 1, "s"),
        timestep: new ort.Tensor("int64", BigInt64Array.from([999n]), [1]),
        encoder_hidden_states: uniformTensor([1, 77, 64], 1, "e"),
      });
      assert.deepEqual(out.out_sample.dims, [1, 4, 8, 8]);
    } finally {
      await s.release();
    }
  });

  it("are deterministic: the same seed gives the same bytes, another seed other weights", () => {
    const again = path.join(tmp, "again");
    const other = path.join(tmp, "other");
    buildModelFolder(again, TINY, "turbo");
    buildModelFolder(other, TINY, "turbo", { seed: 1 });
    for (const component of COMPONENTS) {
      for (const file of ["model.onnx", "weights.pb"]) {
        assert.equal(sha(path.join(again, component, file)), sha(path.join(dir, component, file)), `${component}/${file}`);
      }
      assert.notEqual(sha(path.join(other, component, "weights.pb")), sha(path.join(dir, component, "weights.pb")));
    }
    assert.equal(readStamp(other)?.seed, 1);
  });

  it("make a model folder the engine loads as SD-Turbo, TAESD included", async () => {
    const engine = await Engine.load(dir, { provider: "cpu" });
    try {
      assert.equal(engine.info.family, "turbo");
      assert.equal(engine.info.textWidth, 64);
      assert.equal(engine.hasTaesd, true);
      let previews = 0;
      const result = await engine.generate({ prompt: "a cat", width: 64, height: 64, seed: 1n }, { fastDecode: true, onPreview: () => previews++ });
      assert.equal(previews, 1);
      assert.equal(result.images[0].width, 64);
    } finally {
      await engine.dispose();
    }
  });
});

describe("synthetic SDXL graphs (tiny configuration)", () => {
  const xl = path.join(tmp, "tiny-xl");
  before(() => {
    buildModelFolder(xl, TINY_XL, "sdxl");
  });

  it("declare the SDXL export's extra inputs and outputs", async () => {
    const ports = async (component: string) => {
      const s = await ort.InferenceSession.create(path.join(xl, component, "model.onnx"));
      try {
        return { inputs: s.inputNames, outputs: s.outputNames };
      } finally {
        await s.release();
      }
    };
    assert.deepEqual(await ports("unet"), { inputs: ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"], outputs: ["out_sample"] });
    assert.deepEqual(await ports("text_encoder"), { inputs: ["input_ids"], outputs: ["hidden_states.1", "last_hidden_state", "pooler_output"] });
    assert.deepEqual(await ports("text_encoder_2"), { inputs: ["input_ids"], outputs: ["hidden_states.1", "last_hidden_state", "text_embeds"] });
    const config = JSON.parse(fs.readFileSync(path.join(xl, "unet", "config.json"), "utf8")) as Record<string, unknown>;
    assert.deepEqual(config.down_block_types, ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"]);
    assert.deepEqual(config.up_block_types, ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]);
    assert.deepEqual(config.transformer_layers_per_block, [1, 2, 3]);
    assert.equal(config.projection_class_embeddings_input_dim, 24 + 6 * 8);
  });

  it("keep every activation finite and normal", async () => {
    const checks = await checkActivations(xl, () => undefined, TINY_XL, 64);
    assert.deepEqual(checks.map((c) => c.component), [...ALL_COMPONENTS]);
    for (const c of checks) assert.ok(healthy(c.all), `${c.component}: ${JSON.stringify(c.all)}`);
  });

  it("make a model folder the engine loads as SDXL and generates from, with CFG", async () => {
    const engine = await Engine.load(xl, { provider: "cpu" });
    try {
      assert.equal(engine.info.family, "sdxl");
      assert.equal(engine.info.textWidth, 80);
      const result = await engine.generate({ prompt: "a cat", negativePrompt: "blurry", width: 64, height: 64, steps: 2, guidance: 5, seed: 1n });
      assert.equal(result.images[0].width, 64);
    } finally {
      await engine.dispose();
    }
  });

  it("with a 9-channel UNet (SDXL inpainting), inpaints through the SDXL pipeline", async () => {
    const inpaint = path.join(tmp, "tiny-xl-inpaint");
    buildModelFolder(inpaint, { ...TINY_XL, unet: { ...TINY_XL.unet, inChannels: 9, outChannels: 4 } }, "sdxl");
    // Any VAE encoder of 4 latent channels serves: the tiny SD 1.5 inpainting model's.
    fs.cpSync(path.join(MODELS, "tiny-sd15-inpaint", "vae_encoder"), path.join(inpaint, "vae_encoder"), { recursive: true });
    const engine = await Engine.load(inpaint, { provider: "cpu" });
    try {
      assert.equal(engine.info.family, "sdxl");
      assert.equal(engine.info.inpainting, true);
      const init = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 40, b: 40 } } }).png().toBuffer();
      const mask = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 0, g: 0, b: 0 } } })
        .composite([{ input: { create: { width: 32, height: 64, channels: 3, background: { r: 255, g: 255, b: 255 } } }, left: 32, top: 0 }])
        .png()
        .toBuffer();
      const request = { prompt: "a cat", width: 64, height: 64, steps: 2, guidance: 5, seed: 1n, initImage: init, mask };
      const a = await engine.generate(request);
      const b = await engine.generate({ ...request, mask: await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer() });
      assert.equal(a.images[0].width, 64);
      // The mask is a UNet input: another mask, another image.
      const pixels = (png: Buffer) => sharp(png).raw().toBuffer();
      assert.notDeepEqual(await pixels(a.images[0].png), await pixels(b.images[0].png));
    } finally {
      await engine.dispose();
    }
  });

  it("puts the real-size SDXL components at diffusers' parameter counts", () => {
    const params = (c: (typeof ALL_COMPONENTS)[number]) => buildComponent(SDXL, c).weights.reduce((n, w) => n + product(w.dims), 0);
    // stabilityai/stable-diffusion-xl-base-1.0: UNet 2,567,463,684; CLIP ViT-L text 123,060,480; OpenCLIP bigG text + projection 694,659,840.
    assert.equal(params("unet"), 2567463684);
    assert.equal(params("text_encoder"), 123060480);
    assert.equal(params("text_encoder_2"), 694659840);
  });
});

describe("FLOP counter", () => {
  it("counts 2 FLOPs per multiply-add of convolutions and MatMuls", () => {
    const g = new GraphBuilder("count");
    const x = g.input("x", "float32", ["batch", 3, 8, 8], [1, 3, 8, 8]);
    const y = g.conv(x, g.weight("w", [4, 3, 3, 3], { kind: "uniform", std: 1, mean: 0 }), undefined, 1, 1);
    assert.deepEqual(y.shape, [1, 4, 8, 8]);
    assert.equal(g.flops.conv, 2 * 4 * 8 * 8 * 3 * 9);
    const s = g.conv(x, g.weight("w2", [4, 3, 3, 3], { kind: "uniform", std: 1, mean: 0 }), undefined, 2, 1);
    assert.deepEqual(s.shape, [1, 4, 4, 4]);
    assert.equal(g.flops.conv, 2 * 4 * 8 * 8 * 3 * 9 + 2 * 4 * 4 * 4 * 3 * 9);
    const a = g.input("a", "float32", ["b", 5, 6], [2, 5, 6]);
    g.matmul(a, g.weight("m", [6, 7], { kind: "uniform", std: 1, mean: 0 }), true);
    assert.equal(g.flops.linear, 2 * 2 * 5 * 6 * 7);
    const k = g.input("k", "float32", ["b", 3, 6, 9], [2, 3, 6, 9]);
    g.matmul(g.input("q", "float32", ["b", 3, 5, 6], [2, 3, 5, 6]), k, false);
    assert.equal(g.flops.attention, 2 * 2 * 3 * 5 * 6 * 9);
  });

  it("puts the real-size components within 10% of the published figures", () => {
    const params = (c: (typeof COMPONENTS)[number]) => buildComponent(SD21, c).weights.reduce((n, w) => n + product(w.dims), 0);
    // diffusers' parameter counts: SD 2.1 UNet 865.9 M, AutoencoderKL decoder + post_quant_conv 49.5 M, CLIP ViT-H text (23 layers) 340.4 M.
    assert.equal(Math.round(params("unet") / 1e5), 8659);
    assert.equal(Math.round(params("vae_decoder") / 1e5), 495);
    assert.equal(Math.round(params("text_encoder") / 1e5), 3404);
    const unet = componentFlops(SD21, "unet", 512);
    const vae = componentFlops(SD21, "vae_decoder", 512);
    assert.ok(Math.abs(unet / 0.8e12 - 1) < 0.1, `UNet ${unet / 1e9} GFLOP at 512²`);
    assert.ok(Math.abs(vae / 2.5e12 - 1) < 0.1, `VAE decoder ${vae / 1e9} GFLOP at 512²`);
    // Convolutions and linear layers alone: 339 GMAC, the figure usually quoted for the SD UNet at 512² (e.g. BK-SDM).
    const g = buildComponent(SD21, "unet", { batch: 1, height: 64, width: 64 });
    assert.ok(Math.abs((g.flops.conv + g.flops.linear) / 2 / 338.7e9 - 1) < 0.02);
    assert.equal(denseFlops(buildComponent(SD21, "unet", { batch: 2, height: 64, width: 64 }).flops), 2 * unet);
    assert.ok(componentFlops(SD21, "unet", 256) < unet / 4, "attention is quadratic in the pixels, the rest linear");
  });
});

describe("weight generator", () => {
  it("gives each tensor its own stream, uniform with the asked mean and deviation, never denormal", () => {
    const a = new Float32Array(100000);
    new Xoshiro128(0, "x").fillUniform(a, 0.02, 1);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    assert.ok(Math.abs(mean - 1) < 0.001 && Math.abs(std / 0.02 - 1) < 0.01, `${mean} ${std}`);
    const b = new Float32Array(8);
    const c = new Float32Array(8);
    new Xoshiro128(0, "x").fillUniform(b, 1);
    new Xoshiro128(0, "y").fillUniform(c, 1);
    assert.notDeepEqual(b, c);
    const tiny = new Float32Array(1000);
    new Xoshiro128(3, "small").fillUniform(tiny, 1e-20);
    assert.ok(tiny.every((v) => v !== 0 && Math.abs(v) > 1.2e-38));
  });
});
