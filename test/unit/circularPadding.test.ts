// Seamless tiling: the load-time rewrite that moves a Conv's padding into a wrap-around pad
// (extension/engine/onnx/circularPadding.ts), checked on tiny convolution networks against what
// circular padding means (the output of a rolled image is the rolled output, and far from the
// border nothing changes), and through the engine on tiny SD pipelines (external weights, an
// integer-timestep UNet, img2img, the plain and tiled sessions side by side).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { Engine } from "../../extension/engine/engine";
import { infotextFields, parseInfotext } from "../../extension/engine/image/infotext";
import { circularPaddingGraph } from "../../extension/engine/onnx/circularPadding";
import { ComponentSessions } from "../../extension/engine/onnx/componentSessions";
import { caseRequest, conformanceCase, generateWith } from "../helpers/conformanceCases";
import { copyFixtureModel, DIFFUSERS_EXTERNAL_DATA, externalizeWeights, makeVariantRoot } from "../helpers/onnxVariants";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { writeConvNet, type ConvSpec } from "../helpers/tinyConvNets";

const H = 12;
const W = 16;

/** [1,3,H,W] f32 */
function randomImage(seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: 3 * H * W }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5);
}

/** Rolls a [1,C,H,W] tensor by (dy, dx) with wrap-around. */
function roll(x: Float32Array, channels: number, dy: number, dx: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++) out[c * H * W + ((y + dy) % H) * W + ((xx + dx) % W)] = x[c * H * W + y * W + xx];
  return out;
}

async function run(model: Uint8Array | string, x: Float32Array): Promise<Float32Array> {
  const session = typeof model === "string" ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ image: new ort.Tensor("float32", x, [1, 3, H, W]) });
    return out.upscaled.data as Float32Array;
  } finally {
    await session.release();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const THREE: readonly ConvSpec[] = [
  { name: "/conv_in/Conv", pad: 1 },
  { name: "/mid/resnets.0/conv1/Conv", pad: 1 },
  { name: "/conv_out/Conv", pad: 1 },
];

let root: string;
before(async () => {
  root = await makeVariantRoot();
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe("circular padding rewrite", () => {
  it("wraps every convolution with scope 'every': a rolled image gives the rolled output, the interior is unchanged", async () => {
    const file = await writeConvNet(path.join(root, "three.onnx"), { convs: THREE });
    const graph = await circularPaddingGraph(file, "test", "every");
    assert.equal(graph.wrapped, 3);
    const x = randomImage(1);
    const tiled = await run(graph.bytes, x);
    const plain = await run(file, x);
    // Translation on the torus: rolling the input rolls the output, exactly as circular padding makes it.
    assert.ok(maxDiff(await run(graph.bytes, roll(x, 3, 5, 7)), roll(tiled, 3, 5, 7)) < 1e-5);
    // The plain graph pads with zeros: the same roll changes its output beyond rounding.
    assert.ok(maxDiff(await run(file, roll(x, 3, 5, 7)), roll(plain, 3, 5, 7)) > 1e-3);
    // Three 3x3 convolutions see 3 pixels: farther from the border the two graphs agree.
    for (let c = 0; c < 3; c++)
      for (let y = 3; y < H - 3; y++)
        for (let xx = 3; xx < W - 3; xx++) assert.ok(Math.abs(tiled[c * H * W + y * W + xx] - plain[c * H * W + y * W + xx]) < 1e-5);
  });

  it("a tiled image's left edge continues its right edge (the seam)", async () => {
    const file = await writeConvNet(path.join(root, "seam.onnx"), { convs: [{ name: "/conv_in/Conv", pad: 1 }, { name: "/conv_out/Conv", pad: 1 }] });
    const graph = await circularPaddingGraph(file, "test");
    const x = randomImage(2);
    // Changing only the rightmost column of the input changes the leftmost column of the tiled
    // output (its neighbour across the seam) but never the plain one's.
    const changed = Float32Array.from(x);
    for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) changed[c * H * W + y * W + W - 1] += 1;
    const leftColumn = (t: Float32Array) => Float32Array.from({ length: 3 * H }, (_, i) => t[Math.floor(i / H) * H * W + (i % H) * W]);
    assert.ok(maxDiff(leftColumn(await run(graph.bytes, x)), leftColumn(await run(graph.bytes, changed))) > 1e-3);
    assert.equal(maxDiff(leftColumn(await run(file, x)), leftColumn(await run(file, changed))), 0);
    // And the image rolled by half its width has no seam in the middle: it is the tiled output of the rolled input.
    const tiled = await run(graph.bytes, x);
    assert.ok(maxDiff(roll(tiled, 3, 0, W / 2), await run(graph.bytes, roll(x, 3, 0, W / 2))) < 1e-5);
  });

  it("the default scope wraps the outer convolutions, found by name or (without names) by position", async () => {
    const named = await circularPaddingGraph(await writeConvNet(path.join(root, "named.onnx"), { convs: THREE }), "test");
    assert.deepEqual([named.wrapped, named.kept], [2, 1]);
    const unnamed = await circularPaddingGraph(await writeConvNet(path.join(root, "unnamed.onnx"), { convs: THREE, unnamed: true }), "test");
    assert.deepEqual([unnamed.wrapped, unnamed.kept], [2, 1]);
    // The rewritten graphs compute the same thing either way.
    const x = randomImage(3);
    assert.ok(maxDiff(await run(named.bytes, x), await run(unnamed.bytes, x)) < 1e-6);
  });

  it("leaves unpadded and unequally padded convolutions (a fused zero Pad) alone", async () => {
    const file = await writeConvNet(path.join(root, "asym.onnx"), { convs: [{ name: "/conv_in/Conv", pad: 0, pads: [0, 0, 1, 1] }, { name: "/x/Conv", pad: 1 }, { name: "/conv_out/Conv", pad: 0 }] });
    const graph = await circularPaddingGraph(file, "test", "every");
    assert.deepEqual([graph.wrapped, graph.kept], [1, 1]);
  });

  it("refuses a graph too old for Slice's inputs, or not a graph, in one line", async () => {
    const old = await writeConvNet(path.join(root, "old.onnx"), { convs: THREE, opset: 9 });
    await assert.rejects(circularPaddingGraph(old, "unet"), /^EaselError: seamless tiling needs unet\/model\.onnx exported at opset 10 or later \(it declares 9\)/);
    const junk = path.join(root, "junk.onnx");
    fs.writeFileSync(junk, "not a protobuf at all \u00ff\u00ff\u00ff");
    await assert.rejects(circularPaddingGraph(junk, "vae_decoder"), (e: Error) => /vae_decoder\/model\.onnx/.test(e.message) && !e.message.includes("\n"));
  });
});

describe("tiled generation", () => {
  it("records Tiling: True, and a tiled image differs from the plain one", async () => {
    const c = conformanceCase("tile-sd15-ddim-8");
    const engine = await Engine.load(path.join(MODELS, c.model), { provider: "cpu" });
    try {
      const tiled = await engine.generate(caseRequest(c));
      assert.equal(infotextFields(parseInfotext(tiled.images[0].infotext)).tiling, true);
      const plain = await engine.generate({ ...caseRequest(c), tileable: false });
      assert.equal(infotextFields(parseInfotext(plain.images[0].infotext)).tiling, false);
      assert.ok(pixelDiff(await readRgb(tiled.images[0].png), await readRgb(plain.images[0].png)).mean > 1);
    } finally {
      await engine.dispose();
    }
  });

  it("an external-weights UNet and VAE tile exactly like embedded ones", async () => {
    const c = conformanceCase("tile-sd15-ddim-8");
    const dir = await copyFixtureModel("tiny-sd15", root);
    for (const component of ["unet", "vae_decoder"] as const) await externalizeWeights(dir, component, DIFFUSERS_EXTERNAL_DATA);
    const got = await generateWith(dir, caseRequest(c));
    const want = await readRgb(path.join(CONFORMANCE, "cases", `${c.id}.png`));
    const { mean, max } = pixelDiff(got, want);
    assert.ok(mean <= 0.35 && max <= 3, `mean ${mean} max ${max}`);
  });

  it("tiles img2img and an integer-timestep UNet (SD 2.x), and changes the image", async () => {
    const c = conformanceCase("sd21v-img2img-euler-a");
    const plain = await generateWith(path.join(MODELS, c.model), caseRequest(c));
    const tiled = await generateWith(path.join(MODELS, c.model), { ...caseRequest(c), tileable: true });
    assert.ok(pixelDiff(plain, tiled).mean > 0.5);
  });

  it("keeps the plain and tiled sessions side by side when memory allows, else swaps them", async () => {
    const files = { unet: path.join(MODELS, "tiny-sd15", "unet", "model.onnx") };
    const created: string[] = [];
    for (const [free, expect] of [[Number.MAX_SAFE_INTEGER, ["plain", "tiled"]], [0, ["tiled"]]] as const) {
      const sessions = new ComponentSessions(files, "cpu", false, { freeMemory: () => free, onSessionCreated: (c, v) => created.push(`${c}:${v}`) });
      try {
        await sessions.loadAll();
        await sessions.use("unet", async () => undefined, "tiled");
        assert.deepEqual(sessions.loaded("unet"), expect);
      } finally {
        await sessions.releaseAll();
      }
    }
    assert.deepEqual(created, ["unet:plain", "unet:tiled", "unet:plain", "unet:tiled"]);
  });
});
