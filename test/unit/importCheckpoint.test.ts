// Pieces of checkpoint import that need no model: reading a node's module from its name, the
// safetensors header checks, and the progress lines the extension reads from the CLI.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { parseProgressLine, progressLine, progressMessage } from "../../extension/engine/convert/importRecord";
import { onnx } from "onnx-proto";
import { convertHfClip, convertOpenClip, convertUnet, type ParamMap } from "../../extension/engine/convert/ldmKeys";
import { planWeights } from "../../extension/engine/convert/onnxWeights";
import { scopeOfNode } from "../../extension/engine/onnx/graphWeights";
import { TINY } from "../bench/synth/configs";
import { buildComponent } from "../bench/synth/modelSet";
import { encodeModel } from "../bench/synth/write";
import { SafetensorsFile, type TensorEntry } from "../../extension/engine/model/safetensors";
import { unetToLdm, writeCheckpointFile } from "../helpers/ldmCheckpoint";

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
      await writeCheckpointFile(
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

  it("converts an OpenCLIP text tower to transformers' names for a CLIPTextModel graph, in_proj split in three", () => {
    const entry = (name: string, shape: number[]): TensorEntry => ({ name, dtype: "F16", shape, start: 0, end: shape.reduce((a, b) => a * b, 2) });
    const prefix = "cond_stage_model.model.";
    const entries = [
      entry(`${prefix}positional_embedding`, [77, 8]),
      entry(`${prefix}token_embedding.weight`, [10, 8]),
      entry(`${prefix}transformer.resblocks.0.attn.in_proj_weight`, [24, 8]),
      entry(`${prefix}transformer.resblocks.0.attn.in_proj_bias`, [24]),
      entry(`${prefix}transformer.resblocks.0.attn.out_proj.weight`, [8, 8]),
      entry(`${prefix}transformer.resblocks.0.ln_1.weight`, [8]),
      entry(`${prefix}transformer.resblocks.0.mlp.c_fc.weight`, [32, 8]),
      entry(`${prefix}transformer.resblocks.0.mlp.c_proj.bias`, [8]),
      entry(`${prefix}ln_final.bias`, [8]),
      entry(`${prefix}text_projection`, [8, 4]),
    ];
    const hf: ParamMap = new Map();
    convertOpenClip(entries, prefix, false, hf);
    assert.deepEqual([...hf.keys()].sort(), [
      "text_model.embeddings.position_embedding.weight",
      "text_model.embeddings.token_embedding.weight",
      "text_model.encoder.layers.0.layer_norm1.weight",
      "text_model.encoder.layers.0.mlp.fc1.weight",
      "text_model.encoder.layers.0.mlp.fc2.bias",
      "text_model.encoder.layers.0.self_attn.k_proj.bias",
      "text_model.encoder.layers.0.self_attn.k_proj.weight",
      "text_model.encoder.layers.0.self_attn.out_proj.weight",
      "text_model.encoder.layers.0.self_attn.q_proj.bias",
      "text_model.encoder.layers.0.self_attn.q_proj.weight",
      "text_model.encoder.layers.0.self_attn.v_proj.bias",
      "text_model.encoder.layers.0.self_attn.v_proj.weight",
      "text_model.final_layer_norm.bias",
      "text_projection.weight",
    ]);
    assert.deepEqual(hf.get("text_model.encoder.layers.0.self_attn.v_proj.weight")?.split, { index: 2, parts: 3 });
    assert.equal(hf.get("text_projection.weight")?.transpose, true);
    // An OpenCLIP-named graph keeps the names as they are.
    const kept: ParamMap = new Map();
    convertOpenClip(entries, prefix, true, kept);
    assert.ok(kept.has("transformer.resblocks.0.attn.in_proj_weight"));
    // SD 1.x's transformers keys lose only their prefix (older files lack the text_model level).
    const sd1: ParamMap = new Map();
    convertHfClip([entry("cond_stage_model.transformer.text_model.final_layer_norm.weight", [8]), entry("cond_stage_model.transformer.embeddings.token_embedding.weight", [10, 8])], "cond_stage_model.transformer.", sd1);
    assert.deepEqual([...sd1.keys()], ["text_model.final_layer_norm.weight", "text_model.embeddings.token_embedding.weight"]);
  });

  // The synthetic graphs (test/bench/synth) are named as transformers/diffusers exports are, with
  // MatMul weights [in,out] and GroupNorm's [C,1,1]; the text encoder without the `text_model.` scope.
  const torchShape = (name: string, dims: readonly number[]) => (dims.length === 2 && !name.includes("embedding") ? [dims[1], dims[0]] : dims.length === 3 ? [dims[0]] : [...dims]);
  const fake = (name: string, shape: readonly number[]): TensorEntry => ({ name, dtype: "F16", shape, start: 0, end: 2 * shape.reduce((a, b) => a * b, 1) });

  it("places an SD 1.x checkpoint's CLIP text encoder in a CLIPTextModel graph (named weights, transposed MatMuls)", () => {
    const g = buildComponent(TINY, "text_encoder");
    const prefix = "cond_stage_model.transformer.";
    const params: ParamMap = new Map();
    convertHfClip(g.weights.map((w) => fake(`${prefix}text_model.${w.name}`, torchShape(w.name, w.dims))), prefix, params);
    const plan = planWeights(onnx.ModelProto.decode(encodeModel(g)), new Map([...params].map(([k, v]) => [k, { shape: v.entry.shape }])));
    assert.deepEqual(plan.missing, []);
    assert.deepEqual([...params.keys()].filter((p) => !plan.used.has(p)), []);
    const q = plan.placements.find((p) => p.param === "text_model.encoder.layers.0.self_attn.to_q.weight"); // the synthetic graph names its projections as diffusers does
    assert.equal(q?.transposed, true);
    assert.equal(plan.placements.find((p) => p.param === "text_model.embeddings.token_embedding.weight")?.transposed, false);
  });

  it("places an LDM UNet in a diffusers UNet graph through the config's block arithmetic", () => {
    const g = buildComponent(TINY, "unet");
    const params: ParamMap = new Map();
    convertUnet(
      g.weights.map((w) => fake(unetToLdm(w.name, TINY.unet.layersPerBlock, (b) => b >= 1), torchShape(w.name, w.dims))),
      TINY.unet.layersPerBlock,
      params,
    );
    const plan = planWeights(onnx.ModelProto.decode(encodeModel(g)), new Map([...params].map(([k, v]) => [k, { shape: v.entry.shape }])));
    assert.deepEqual(plan.missing, []);
    assert.deepEqual([...params.keys()].filter((p) => !plan.used.has(p)), []);
    assert.equal(plan.placements.length, g.weights.length);
  });

  it("parses only the CLI's progress lines", () => {
    const p = parseProgressLine(progressLine({ stage: "converting", component: "unet", bytes: 500000000, total: 2000000000, eta: 75 }));
    assert.deepEqual(p, { stage: "converting", component: "unet", bytes: 500000000, total: 2000000000, eta: 75 });
    assert.equal(progressMessage(p ?? assert.fail()), "25% 500 MB/2.0 GB ETA 1:15 unet");
    assert.equal(parseProgressLine("error: something"), undefined);
    assert.equal(parseProgressLine('{"progress":{"stage":"x","bytes":1,"total":2}}'), undefined);
    assert.equal(parseProgressLine('{"progress":'), undefined);
  });
});
