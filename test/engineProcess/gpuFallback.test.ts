// A GPU running out of memory in the middle of a generation, seen from the engine process: the
// EngineHost (what dist/engineHost.js runs, driven in-process here so a GPU fault can be injected)
// answers the failing request with one retryable error line, stays up, and serves the next
// generation on the CPU, which the provider memory then remembers. The "GPU" is a real CPU session of
// the tiny model wrapped to fail as an out-of-memory GPU does; no GPU is needed.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import type { EngineEvent } from "../../extension/engine/host/engineEvents";
import { EngineHost } from "../../extension/engine/host/engineHost";
import type { EngineSettings } from "../../extension/engine/host/engineRequests";
import { ProviderMemory } from "../../extension/engine/onnx/providerMemory";
import type { OrtSession, SessionOpener } from "../../extension/engine/onnx/session";
import { MODELS } from "../helpers/paths";

const SD15 = path.join(MODELS, "tiny-sd15");
const SETTINGS: EngineSettings = { provider: "auto", previews: false, fastDecode: false, lowMemory: false, idleUnloadMs: 0 };
const request = { prompt: "a red boat", steps: 4, guidance: 7.5, seed: 9n, width: 64, height: 64 };

describe("engine process: out of GPU memory mid-generation", () => {
  const tmp = fs.mkdtemp(path.join(os.tmpdir(), "easel-gpu-fallback-"));
  after(async () => fs.rm(await tmp, { recursive: true, force: true }));

  it("fails that generation in one retryable line, survives, and runs the next one on the CPU (remembered)", async () => {
    const memory = new ProviderMemory(path.join(await tmp, "providers.json"));
    let unetRuns = 0;
    let oomAt = Infinity;
    // WebGPU sessions are real CPU sessions; the UNet's run number `oomAt` fails as Dawn reports an allocation failure.
    const open: SessionOpener = async (model, options, provider) => {
      const real = await (typeof model === "string" ? ort.InferenceSession.create(model, { ...options, executionProviders: ["cpu"] }) : ort.InferenceSession.create(model, { ...options, executionProviders: ["cpu"] }));
      const isUnet = real.inputNames.includes("sample") && real.inputNames.includes("encoder_hidden_states");
      const session: OrtSession = {
        inputMetadata: real.inputMetadata,
        outputMetadata: real.outputMetadata,
        run: async (feed) => {
          if (provider === "webgpu" && isUnet && ++unetRuns === oomAt) throw new Error("Failed to allocate memory for requested buffer of size 536870912 (out of memory)");
          return real.run(feed);
        },
        release: () => real.release(),
      };
      return session;
    };
    const events: EngineEvent[] = [];
    const waiters = new Map<number, (e: EngineEvent) => void>();
    const host = new EngineHost(
      (event) => {
        events.push(event);
        if ((event.type === "result" || event.type === "error") && event.id !== undefined) waiters.get(event.id)?.(event);
      },
      {
        providerDeps: {
          platform: { os: "linux", arch: "x64" },
          cudaProvisioned: () => false,
          probe: async (provider) => ({ provider, ok: true, fp16: true }),
          identity: () => ({ adapters: [{ name: "Test GPU", vendor: "amd", driver: "amdgpu 6.8" }], key: "amdgpu 6.8" }),
          memory,
        },
        openSession: open,
      },
    );
    const generate = (id: number) =>
      new Promise<EngineEvent>((resolve) => {
        waiters.set(id, resolve);
        host.handle({ type: "generate", id, modelDir: SD15, settings: SETTINGS, request });
      });

    const first = await generate(1);
    assert.equal(first.type, "result");
    assert.equal(first.type === "result" && first.provider, "webgpu");

    oomAt = unetRuns + 2; // the second step of the next generation
    const failed = await generate(2);
    assert.equal(failed.type, "error");
    if (failed.type !== "error") return;
    assert.equal(failed.code, "provider-unavailable");
    assert.equal(failed.retryable, true);
    assert.ok(!failed.message.includes("\n"));
    assert.match(failed.message, /^WebGPU ran out of GPU memory during this generation \(Failed to allocate memory .*\): the next generation runs on the CPU \(remembered until the model or the GPU driver changes\)$/);

    const next = await generate(3);
    assert.equal(next.type, "result", next.type === "error" ? next.message : "");
    assert.equal(next.type === "result" && next.provider, "cpu");
    assert.equal(next.type === "result" && next.images.length, 1);
    const remembered = JSON.parse(await fs.readFile(memory.file, "utf8")) as { entries: { provider: string; ok: boolean }[] };
    assert.deepEqual(remembered.entries.map((e) => [e.provider, e.ok]), [["webgpu", false]]);
    await host.dispose();
  });

  it("a first-run failure is a notice on the request's id, and the same request completes on the CPU", async () => {
    const memory = new ProviderMemory(path.join(await tmp, "first-run.json"));
    const open: SessionOpener = async (model, options, provider) => {
      const real = await (typeof model === "string" ? ort.InferenceSession.create(model, { ...options, executionProviders: ["cpu"] }) : ort.InferenceSession.create(model, { ...options, executionProviders: ["cpu"] }));
      return {
        inputMetadata: real.inputMetadata,
        outputMetadata: real.outputMetadata,
        run: async (feed) => {
          if (provider === "webgpu") throw new Error("WebGPU device lost");
          return real.run(feed);
        },
        release: () => real.release(),
      };
    };
    const events: EngineEvent[] = [];
    const done = new Promise<void>((resolve) => {
      const host = new EngineHost(
        (event) => {
          events.push(event);
          if (event.type === "result" || event.type === "error") void host.dispose().then(resolve);
        },
        {
          providerDeps: { platform: { os: "win32", arch: "x64" }, probe: async (provider) => ({ provider, ok: provider === "webgpu" }), identity: () => ({ adapters: [], key: "k" }), memory },
          openSession: open,
        },
      );
      host.handle({ type: "generate", id: 7, modelDir: SD15, settings: SETTINGS, request });
    });
    await done;
    const notices = events.filter((e) => e.type === "notice");
    assert.deepEqual(notices, [{ type: "notice", id: 7, message: "WebGPU failed at its first run on this model (WebGPU device lost): falling back to the CPU" }]);
    const result = events.find((e) => e.type === "result");
    assert.equal(result?.type === "result" && result.provider, "cpu");
  });
});
