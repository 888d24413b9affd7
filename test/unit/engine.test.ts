// The long-lived Engine: what it reads from each model, session reuse, batches, cancellation.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine } from "../../extension/engine/engine";
import { EaselError } from "../../extension/engine/errors";
import { readPngParameters } from "../../extension/engine/image/encode";
import { MANIFEST_NAME } from "../../extension/engine/hub/manifest";
import { copyFixtureModel, makeVariantRoot } from "../helpers/onnxVariants";
import { MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";

describe("Engine model description", () => {
  const expected = {
    "tiny-sd15": { family: "sd1", textWidth: 32, timestepCondDim: undefined, vaeEncoderOutput: "latent_sample", defaults: { width: 512, height: 512, steps: 25, guidance: 7.5 } },
    "tiny-sd21v": { family: "sd2", textWidth: 48, timestepCondDim: undefined, vaeEncoderOutput: "latent_parameters", defaults: { width: 128, height: 128, steps: 25, guidance: 7.5 } },
    "tiny-turbo": { family: "turbo", textWidth: 48, timestepCondDim: undefined, vaeEncoderOutput: "latent_sample", defaults: { width: 512, height: 512, steps: 1, guidance: 0 } },
    "tiny-lcm": { family: "lcm", textWidth: 32, timestepCondDim: 256, vaeEncoderOutput: "latent_sample", defaults: { width: 512, height: 512, steps: 4, guidance: 8 } },
  } as const;
  for (const [name, want] of Object.entries(expected)) {
    it(name, async () => {
      const engine = await Engine.load(path.join(MODELS, name), { provider: "cpu" });
      try {
        const info = engine.info;
        assert.equal(info.family, want.family);
        assert.equal(info.textWidth, want.textWidth);
        assert.equal(info.timestepCondDim, want.timestepCondDim);
        assert.equal(info.vaeEncoderOutput, want.vaeEncoderOutput);
        assert.deepEqual(info.defaults, want.defaults);
        assert.equal(info.granularity, 16, "tiny UNets downsample once: 8 × 2");
        assert.equal(info.vaeScaleFactor, 8);
        assert.equal(info.scalingFactor, 0.18215);
        assert.equal(info.unetFixedBatch, undefined);
        assert.equal(engine.provider, "cpu");
      } finally {
        await engine.dispose();
      }
    });
  }
});

describe("Engine generation", () => {
  let engine: Engine;
  before(async () => {
    engine = await Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu" });
  });
  after(() => engine.dispose());
  const request = { prompt: "a lighthouse", steps: 4, width: 64, height: 64, scheduler: "euler" as const };

  it("serves many generations from one load, deterministically", async () => {
    const a = await engine.generate({ ...request, seed: 5n });
    const b = await engine.generate({ ...request, seed: 5n });
    assert.equal(a.images.length, 1);
    assert.equal(pixelDiff(await readRgb(a.images[0].png), await readRgb(b.images[0].png)).max, 0);
    assert.equal(a.sampler, "euler");
    assert.equal(readPngParameters(a.images[0].png), a.images[0].infotext);
  });

  it("reports every step of every image of a batch", async () => {
    const seen: string[] = [];
    const r = await engine.generate({ ...request, seed: 9n, batch: 2 }, { onStep: (p) => seen.push(`${p.image}:${p.step}/${p.steps}`) });
    assert.deepEqual(seen, ["0:1/4", "0:2/4", "0:3/4", "0:4/4", "1:1/4", "1:2/4", "1:3/4", "1:4/4"]);
    assert.deepEqual(r.images.map((i) => i.seed), [9n, 10n]);
  });

  it("stops between steps when cancelled and returns no image", async () => {
    const controller = new AbortController();
    await assert.rejects(
      engine.generate({ ...request, seed: 1n, steps: 10 }, { signal: controller.signal, onStep: (p) => p.step === 2 && controller.abort() }),
      (e: unknown) => e instanceof EaselError && e.code === "cancelled",
    );
    // The engine stays usable after a cancelled run.
    const r = await engine.generate({ ...request, seed: 1n });
    assert.equal(r.images.length, 1);
  });

  it("refuses a prompt that is not valid Unicode or too long before any step runs", async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ prompt: "a \ud800 cat" }, /^the prompt holds a lone UTF-16 surrogate \(\\uD800\) at character 3, which is not valid Unicode text: remove it/],
      [{ prompt: "a cat", negativePrompt: "blurry \udc00" }, /^the negative prompt holds a lone UTF-16 surrogate \(\\uDC00\) at character 8/],
      [{ prompt: "x".repeat(20_001) }, /^the prompt is 20001 characters; the limit is 20000 — /],
      [{ prompt: "a cat", negativePrompt: "y".repeat(20_001) }, /^the negative prompt is 20001 characters; the limit is 20000/],
    ];
    for (const [prompts, pattern] of cases) {
      let steps = 0;
      await assert.rejects(
        engine.generate({ ...request, ...prompts, seed: 1n }, { onStep: () => steps++ }),
        (e: unknown) => e instanceof EaselError && e.code === "bad-argument" && pattern.test(e.message),
      );
      assert.equal(steps, 0, "no model work before the error");
    }
    // Paired surrogates (emoji) and exactly 20000 characters are fine.
    const ok = await engine.generate({ ...request, prompt: `\ud83d\udc31 ${"z".repeat(19_997)}`, seed: 1n, steps: 1 });
    assert.equal(ok.images.length, 1);
  });

  it("tokenizes with the model's tokenizer", () => {
    const t = engine.tokenize("a photograph of an astronaut riding a horse");
    assert.equal(t.count, 8);
    assert.equal(t.ids.length, 77);
  });
});

describe("Engine model name from a hand-edited manifest", () => {
  it("ignores a manifest repo that is not a Hub repo id (a lone surrogate made every PNG unwritable)", async () => {
    const root = await makeVariantRoot();
    try {
      const dir = await copyFixtureModel("tiny-sd15", root);
      const manifest = { repo: "owner/\ud800name", commit: "0".repeat(40), revision: "main" };
      fs.writeFileSync(path.join(dir, MANIFEST_NAME), JSON.stringify(manifest));
      const engine = await Engine.load(dir, { provider: "cpu" });
      try {
        assert.equal(engine.info.name, "tiny-sd15");
        const r = await engine.generate({ prompt: "a lighthouse", steps: 1, width: 64, height: 64, seed: 1n });
        assert.match(r.images[0].infotext, /Model: tiny-sd15/);
      } finally {
        await engine.dispose();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
