// ONNX Runtime's memory patterns are cached by the XOR of the input dimensions, so square latents of
// different sizes share one; a session that meets such a collision is opened again (session.ts
// freshPatternFor) rather than running every later image without a fitting pattern.
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { ModelSession, openOrtSession, patternKey, type SessionOpener } from "../../extension/engine/onnx/session";
import { MODELS } from "../helpers/paths";

const file = path.join(MODELS, "tiny-sd15", "vae_decoder", "model.onnx");

function latents(height: number, width: number): ort.Tensor {
  const data = new Float32Array(4 * height * width);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.5;
  return new ort.Tensor("float32", data, [1, 4, height, width]); // [1,4,h,w] f32
}

describe("memory-pattern collisions", () => {
  it("keys shapes as ONNX Runtime does: every dimension XORed", () => {
    assert.equal(patternKey([[1, 4, 8, 8]]), patternKey([[1, 4, 64, 64]]));
    assert.equal(patternKey([[2, 4, 64, 64], [1], [2, 77, 768]]), patternKey([[2, 4, 128, 128], [1], [2, 77, 768]]));
    assert.notEqual(patternKey([[1, 4, 8, 8]]), patternKey([[1, 4, 8, 16]]));
  });

  it("opens the session again when a new shape collides with one it ran, never otherwise, and computes the same outputs", async () => {
    let opens = 0;
    const open: SessionOpener = (model, options, provider) => {
      opens += 1;
      return openOrtSession(model, options, provider);
    };
    const session = await ModelSession.create("vae_decoder", file, "cpu", { open, freshPatterns: true });
    const reference = await ort.InferenceSession.create(file);
    const input = session.inputs[0].name;
    try {
      const expected = [[8, 8, 1], [16, 16, 2], [16, 16, 2], [8, 16, 2], [8, 8, 3], [8, 16, 3]] as const;
      for (const [h, w, opened] of expected) {
        const x = latents(h, w);
        const out = (await session.run({ [input]: x }))[session.outputs[0].name].data as Float32Array;
        assert.equal(opens, opened, `after ${h}×${w}`);
        const want = (await reference.run({ [input]: x }))[reference.outputNames[0]].data as Float32Array;
        assert.deepEqual(out, want, `${h}×${w}`);
      }
    } finally {
      await session.release();
      await reference.release();
    }
  });

  it("leaves a session made without freshPatterns (an upscaler's) as it is", async () => {
    let opens = 0;
    const open: SessionOpener = (model, options, provider) => {
      opens += 1;
      return openOrtSession(model, options, provider);
    };
    const session = await ModelSession.create("vae_decoder", file, "cpu", { open });
    try {
      for (const side of [8, 16, 8]) await session.run({ [session.inputs[0].name]: latents(side, side) });
      assert.equal(opens, 1);
    } finally {
      await session.release();
    }
  });
});
