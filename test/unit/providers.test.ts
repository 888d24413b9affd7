// Provider probing must fail softly: a missing GPU runtime is a skipped candidate, never a crash.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { autoCandidates, probeProvider, type ProviderName, resolveProvider } from "../../extension/engine/onnx/providers";
import { EaselError } from "../../extension/engine/errors";
import { physicalCoreCount } from "../../extension/engine/onnx/cpuCores";

describe("execution providers", () => {
  it("tries the platform's GPU providers first and closes with the CPU", () => {
    assert.deepEqual(autoCandidates({ os: "win32", arch: "x64" }), ["dml", "webgpu", "cpu"]);
    assert.deepEqual(autoCandidates({ os: "win32", arch: "arm64" }), ["dml", "webgpu", "cpu"]);
    assert.deepEqual(autoCandidates({ os: "darwin", arch: "arm64" }), ["webgpu", "coreml", "cpu"]);
    assert.deepEqual(autoCandidates({ os: "linux", arch: "x64" }, true), ["cuda", "webgpu", "cpu"]);
    assert.deepEqual(autoCandidates({ os: "linux", arch: "x64" }, false), ["webgpu", "cpu"], "CUDA only once provisioned");
    assert.deepEqual(autoCandidates({ os: "linux", arch: "arm64" }, true), ["cpu"]);
  });

  it("auto settles on a provider that works and says why it skipped the others", async () => {
    const resolved = await resolveProvider("auto");
    const candidates = autoCandidates();
    const chosen = candidates.indexOf(resolved.provider);
    assert.ok(chosen >= 0);
    assert.deepEqual(resolved.skipped.map((s) => s.provider), candidates.slice(0, chosen));
    for (const s of resolved.skipped) {
      assert.equal(s.ok, false);
      assert.ok(s.reason && s.reason.length > 0 && !s.reason.includes("\n"), `one-line reason for ${s.provider}`);
    }
  });

  it("probes every provider without taking the process down", async () => {
    for (const p of ["cuda", "webgpu", "dml", "coreml"] as const) {
      const r = await probeProvider(p);
      assert.equal(r.provider, p);
      assert.equal(typeof r.ok, "boolean");
    }
    assert.deepEqual(await probeProvider("cpu"), { provider: "cpu", ok: true, fp16: true });
  });

  it("a forced provider whose probe fails is a clear error", async () => {
    const env = { platform: { os: "linux", arch: "x64" } as const, cudaProvisioned: () => false, probe: async (provider: ProviderName) => ({ provider, ok: false, reason: "Failed to get a WebGPU adapter" }) };
    await assert.rejects(resolveProvider("webgpu", env), (e: unknown) => e instanceof EaselError && e.code === "provider-unavailable" && /Failed to get a WebGPU adapter\): use --provider auto or cpu$/.test(e.message));
  });

  it("counts physical cores for the CPU's intra-op threads", () => {
    const n = physicalCoreCount();
    assert.ok(Number.isInteger(n) && n >= 1 && n <= 1024);
  });
});
