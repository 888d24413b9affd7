// The session options built for each provider, as onnxruntime-node 1.30 reads them (names checked
// against onnxruntime-common's typings and the Node binding's session_options_helper.cc), and the
// graph traits they depend on, read from model.onnx without loading it. Also the provider memory
// file: atomic, per device, and forgiving of damage.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { probeModelBytes } from "../../extension/engine/onnx/probeModel";
import { ProviderMemory, defaultMemoryFile, memoryFileIn } from "../../extension/engine/onnx/providerMemory";
import { COREML_FLAGS, coreMlFlags, readGraphTraits, serializesRuns, sessionOptions, webgpuGraphCapture } from "../../extension/engine/onnx/providerOptions";
import { copyFixtureModel, fixPortDims, makeVariantRoot, rewriteComponent, unetFixedBatch, unetFixedLatentSize, unetFloat16Ports } from "../helpers/onnxVariants";
import { MODELS } from "../helpers/paths";

const STATIC_FP32 = { staticShapes: true, fp16: false };
const DYNAMIC_FP16 = { staticShapes: false, fp16: true };

describe("session options per provider", () => {
  it("CPU: unchanged (sequential, no arena, no spinning, CPU only)", () => {
    const o = sessionOptions("cpu");
    assert.deepEqual(o.executionProviders, ["cpu"]);
    assert.equal(o.executionMode, "sequential");
    assert.equal(o.enableCpuMemArena, false);
    assert.equal(o.enableMemPattern, undefined);
    assert.deepEqual(o.extra, { session: { intra_op: { allow_spinning: "0" } } });
  });

  it("DirectML: memory pattern off, sequential execution, one run at a time per session", () => {
    const o = sessionOptions("dml", undefined, STATIC_FP32);
    assert.deepEqual(o.executionProviders, [{ name: "dml", deviceId: 0 }, "cpu"]);
    assert.equal(o.enableMemPattern, false);
    assert.equal(o.executionMode, "sequential");
    assert.equal(serializesRuns("dml"), true);
    for (const p of ["cpu", "webgpu", "cuda", "coreml"] as const) assert.equal(serializesRuns(p), false);
  });

  it("WebGPU: NHWC layout; graph capture only with static shapes and device-resident I/O (which Easel does not use)", () => {
    const o = sessionOptions("webgpu", "/weights", STATIC_FP32);
    assert.deepEqual(o.executionProviders, [{ name: "webgpu", preferredLayout: "NHWC" }, "cpu"]);
    assert.deepEqual(o.extra, { session: { intra_op: { allow_spinning: "0" }, model_external_initializers_file_folder_path: "/weights" } }, "no graph capture key");
    assert.equal(webgpuGraphCapture(STATIC_FP32), false, "CPU feeds: never captured");
    assert.equal(webgpuGraphCapture(STATIC_FP32, { deviceResidentIo: true }), true);
    assert.equal(webgpuGraphCapture({ staticShapes: false, fp16: false }, { deviceResidentIo: true }), false, "dynamic shapes: never");
    const captured = sessionOptions("webgpu", undefined, STATIC_FP32, { deviceResidentIo: true });
    assert.equal((captured.extra as Record<string, unknown>)["ep.webgpuexecutionprovider.enableGraphCapture"], "1");
  });

  it("Core ML: MLProgram for fp32 graphs, never for fp16 ones (wrong images in ORT 1.30 on macOS 15); static shapes when the graph has them", () => {
    assert.equal(coreMlFlags(STATIC_FP32), COREML_FLAGS.createMlProgram | COREML_FLAGS.onlyAllowStaticInputShapes);
    assert.equal(coreMlFlags(DYNAMIC_FP16), 0, "NeuralNetwork format, dynamic shapes");
    assert.equal(coreMlFlags({ staticShapes: true, fp16: true }), COREML_FLAGS.onlyAllowStaticInputShapes);
    assert.deepEqual(sessionOptions("coreml", undefined, DYNAMIC_FP16).executionProviders, [{ name: "coreml", coreMlFlags: 0 }, "cpu"]);
  });

  it("CUDA: device 0, the CPU for the rest", () => {
    assert.deepEqual(sessionOptions("cuda").executionProviders, [{ name: "cuda", deviceId: 0 }, "cpu"]);
  });

  it("the Node binding accepts every option object as built (CPU sessions with each provider's session-level options)", async () => {
    // Only the CPU runs here: the session-level options of each provider must still be valid for ONNX Runtime.
    for (const provider of ["dml", "webgpu", "coreml", "cuda"] as const) {
      const { executionProviders: _providers, ...rest } = sessionOptions(provider, undefined, STATIC_FP32);
      const session = await ort.InferenceSession.create(probeModelBytes(), { ...rest, executionProviders: ["cpu"] });
      await session.release();
    }
  });
});

describe("graph traits read from model.onnx", () => {
  let root: string;
  before(async () => {
    root = await makeVariantRoot();
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("the tiny UNet: dynamic batch and size, fp32; with fixed dims and fp16 ports: static, fp16", async () => {
    assert.deepEqual(await readGraphTraits(path.join(MODELS, "tiny-sd15", "unet", "model.onnx")), { staticShapes: false, fp16: false });
    const dir = await copyFixtureModel("tiny-sd15", root);
    await rewriteComponent(dir, "unet", (m) => {
      unetFixedBatch(m, 2);
      unetFixedLatentSize(m, 8, 8);
      unetFloat16Ports(m);
    });
    assert.deepEqual(await readGraphTraits(path.join(dir, "unet", "model.onnx")), { staticShapes: false, fp16: true }, "the text length is still symbolic");
    await rewriteComponent(dir, "unet", (m) => fixPortDims(m, "encoder_hidden_states", { 1: 77 }));
    assert.deepEqual(await readGraphTraits(path.join(dir, "unet", "model.onnx")), { staticShapes: true, fp16: true });
  });

  it("a one-node static graph, fp32 and fp16", async () => {
    for (const dtype of ["float32", "float16"] as const) {
      const file = path.join(root, `probe-${dtype}.onnx`);
      await fs.writeFile(file, probeModelBytes(dtype));
      assert.deepEqual(await readGraphTraits(file), { staticShapes: true, fp16: dtype === "float16" });
    }
  });

  it("a file that is not ONNX reads as an unknown graph (ONNX Runtime reports the damage)", async () => {
    const file = path.join(root, "junk.onnx");
    await fs.writeFile(file, Buffer.from("not a protobuf at all \xff\xff\xff"));
    assert.deepEqual(await readGraphTraits(file), { staticShapes: false, fp16: false });
  });
});

describe("provider memory", () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "easel-memory-"));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("lives in the model store's root, Easel's cache folder (EASEL_HOME, XDG_CACHE_HOME, easel.cacheFolder)", () => {
    assert.equal(defaultMemoryFile({ EASEL_HOME: "/data/easel" }, "linux"), path.resolve("/data/easel", "models", "providers.json"));
    assert.equal(defaultMemoryFile({ XDG_CACHE_HOME: "/xdg" }, "linux"), path.resolve("/xdg", "easel", "models", "providers.json"));
    assert.equal(memoryFileIn("/mnt/cache"), path.resolve("/mnt/cache", "providers.json"));
  });

  it("keeps one verdict per model and provider, replaced when the device changes, written atomically", async () => {
    const memory = new ProviderMemory(path.join(dir, "sub", "providers.json"));
    await memory.remember("m1", "webgpu", "driver-1", { ok: false, reason: "device lost" });
    await memory.remember("m2", "webgpu", "driver-1", { ok: true });
    assert.deepEqual(await memory.lookup("m1", "webgpu", "driver-1").then((v) => v && { ok: v.ok, reason: v.reason }), { ok: false, reason: "device lost" });
    assert.equal(await memory.lookup("m1", "webgpu", "driver-2"), undefined, "another driver knows nothing");
    await memory.remember("m1", "webgpu", "driver-2", { ok: true });
    assert.equal(await memory.lookup("m1", "webgpu", "driver-1"), undefined, "the old driver's verdict is gone");
    assert.equal((await memory.lookup("m2", "webgpu", "driver-1"))?.ok, true, "other models keep theirs");
    assert.deepEqual((await fs.readdir(path.dirname(memory.file))).filter((f) => f.endsWith(".tmp")), [], "no temporary file left");
  });

  it("a damaged file is an empty memory, and the next verdict replaces it", async () => {
    const memory = new ProviderMemory(path.join(dir, "damaged.json"));
    await fs.writeFile(memory.file, "{ not json");
    assert.equal(await memory.lookup("m", "dml", "d"), undefined);
    await memory.remember("m", "dml", "d", { ok: true });
    assert.equal((await memory.lookup("m", "dml", "d"))?.ok, true);
    await fs.writeFile(memory.file, JSON.stringify({ format: 1, entries: [{ model: "m", provider: "tpu", device: "d", ok: true, at: "x" }, 42] }));
    assert.equal(await memory.lookup("m", "dml", "d"), undefined, "entries that do not validate are dropped");
  });
});
