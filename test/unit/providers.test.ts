// Provider probing must fail softly: a missing GPU runtime is a skipped candidate, never a crash.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { autoCandidates, platformProblem, probeProvider, resolveProvider } from "../../extension/engine/onnx/providers";
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
    await assert.rejects(resolveProvider(missing), (e: unknown) => e instanceof EaselError && e.code === "provider-unavailable" && /use --provider [a-z, ]*auto or cpu$/.test(e.message));
  });

  it("a provider the platform does not have is one line naming what to use there", () => {
    assert.equal(platformProblem("cuda", "darwin", "arm64"), "CUDA (--provider cuda) is offered on Linux x64 with an NVIDIA GPU only: on macOS use --provider coreml, webgpu, auto or cpu");
    assert.equal(platformProblem("dml", "linux", "x64"), "DirectML (--provider dml) runs on Windows only: on Linux use --provider cuda, webgpu, auto or cpu");
    assert.equal(platformProblem("cuda", "linux", "arm64"), "CUDA (--provider cuda) is offered on Linux x64 with an NVIDIA GPU only: on Linux use --provider webgpu, auto or cpu");
    assert.equal(platformProblem("cuda", "win32", "x64"), "CUDA (--provider cuda) is offered on Linux x64 with an NVIDIA GPU only: on Windows use --provider dml, webgpu, auto or cpu");
    assert.equal(platformProblem("coreml", "win32", "x64"), "Core ML (--provider coreml) runs on macOS only: on Windows use --provider dml, webgpu, auto or cpu");
    for (const [p, platform, arch] of [["cuda", "linux", "x64"], ["dml", "win32", "x64"], ["coreml", "darwin", "arm64"], ["webgpu", "linux", "arm64"]] as const) assert.equal(platformProblem(p, platform, arch), undefined);
  });

  it("counts physical cores for the CPU's intra-op threads", () => {
    const n = physicalCoreCount();
    assert.ok(Number.isInteger(n) && n >= 1 && n <= 1024);
  });
});
