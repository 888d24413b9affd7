// Pieces of checkpoint import that need no model: reading a node's module from its name, the
// safetensors header checks, and the progress lines the extension reads from the CLI.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { parseProgressLine, progressMessage } from "../../extension/engine/convert/importRecord";
import { scopeOfNode } from "../../extension/engine/convert/onnxWeights";
import { SafetensorsFile } from "../../extension/engine/convert/safetensors";
import { writeSafetensors } from "../helpers/ldmCheckpoint";

describe("checkpoint import pieces", () => {
  it("reads a node's module from its name, a ModuleList's doubled level once", () => {
    assert.equal(scopeOfNode("/unet/down_blocks.0/resnets.0/norm1/Mul"), "unet.down_blocks.0.resnets.0.norm1");
    assert.equal(scopeOfNode("/transformer/resblocks/resblocks.1/attn/Gemm"), "transformer.resblocks.1.attn");
    assert.equal(scopeOfNode("/text_model/encoder/layers.0/self_attn/q_proj/MatMul"), "text_model.encoder.layers.0.self_attn.q_proj");
    assert.equal(scopeOfNode("Identity_3"), undefined);
    assert.equal(scopeOfNode("/Add"), undefined);
  });

  it("reads tensors by offset, in F16 and F32, with the metadata", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "easel-st-"));
    try {
      const file = path.join(dir, "a.safetensors");
      await writeSafetensors(
        file,
        new Map([
          ["a", { dtype: "F16" as const, shape: [2, 2], values: new Float32Array([1, -2, 0.5, 65504]) }],
          ["b", { dtype: "F32" as const, shape: [3], values: new Float32Array([0.1, 0.2, 0.3]) }],
        ]),
        { "modelspec.prediction_type": "v" },
      );
      const st = await SafetensorsFile.open(file);
      try {
        assert.deepEqual([...(await st.readFloat32(st.tensors.get("a") ?? assert.fail()))], [1, -2, 0.5, 65504]);
        assert.deepEqual([...(await st.readFloat32(st.tensors.get("b") ?? assert.fail()))], [...new Float32Array([0.1, 0.2, 0.3])]);
        assert.equal(st.metadata["modelspec.prediction_type"], "v");
      } finally {
        await st.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("parses only the CLI's progress lines", () => {
    const p = parseProgressLine('{"progress":{"stage":"converting","component":"unet","bytes":500000000,"total":2000000000,"eta":75}}');
    assert.deepEqual(p, { stage: "converting", component: "unet", bytes: 500000000, total: 2000000000, eta: 75 });
    assert.equal(progressMessage(p ?? assert.fail()), "25% 500 MB/2.0 GB ETA 1:15 unet");
    assert.equal(parseProgressLine("error: something"), undefined);
    assert.equal(parseProgressLine('{"progress":{"stage":"x","bytes":1,"total":2}}'), undefined);
    assert.equal(parseProgressLine('{"progress":'), undefined);
  });
});
