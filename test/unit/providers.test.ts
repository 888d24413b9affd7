// Provider probing must fail softly: a missing GPU runtime is a skipped candidate, never a crash.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { autoCandidates, probeProvider, resolveProvider } from "../../extension/engine/onnx/providers";
import { EaselError } from "../../extension/engine/errors";
import { physicalCoreCount } from "../../extension/engine/onnx/cpuCores";

describe("execution providers", () => {
  it("tries the platform's GPU providers first and closes with the CPU", () => {
    assert.deepEqual(autoCandidates("win32"), ["dml", "webgpu", "cpu"]);
    assert.deepEqual(autoCandidates("darwin"), ["coreml", "webgpu", "cpu"]);
    assert.deepEqual(autoCandidates("linux"), ["cuda", "webgpu", "cpu"]);
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
    assert.deepEqual(await probeProvider("cpu"), { provider: "cpu", ok: true });
  });

  it("a forced provider that is not there is a clear error", async () => {
    const missing = process.platform === "darwin" ? "dml" : "coreml";
    await assert.rejects(resolveProvider(missing), (e: unknown) => e instanceof EaselError && e.code === "provider-unavailable" && /use --provider auto or cpu/.test(e.message));
  });

  it("counts physical cores for the CPU's intra-op threads", () => {
    const n = physicalCoreCount();
    assert.ok(Number.isInteger(n) && n >= 1 && n <= 1024);
  });
});
