// `easel doctor`: the report for any platform (injected probes, adapters and CUDA status), and the
// real command on this machine (no GPU: every GPU provider says why, and the CPU works).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { defaultCudaStatus, type DoctorDeps, formatDoctor, runDoctor } from "../../extension/engine/doctor";
import type { DeviceIdentity } from "../../extension/engine/onnx/deviceIdentity";
import { ProviderMemory } from "../../extension/engine/onnx/providerMemory";
import type { PlatformId, ProbeResult, ProviderName } from "../../extension/engine/onnx/providers";
import { runCli } from "../helpers/runCli";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-doctor-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function deps(platform: PlatformId, probes: Partial<Record<ProviderName, ProbeResult>>, device: DeviceIdentity, extra: Partial<DoctorDeps> = {}): DoctorDeps {
  return {
    env: { platform, cudaProvisioned: () => false, probe: async (p) => probes[p] ?? { provider: p, ok: false, reason: "not probed in this test" } },
    identity: () => device,
    cudaStatus: async () => ({ provisioned: false, detail: "not provisioned: run `easel gpu install cuda`" }),
    memory: undefined,
    ...extra,
  };
}

describe("easel doctor", () => {
  it("Windows: DirectML works, WebGPU fails with what to do; the adapter is named; auto uses DirectML", async () => {
    const report = await runDoctor(
      deps(
        { os: "win32", arch: "x64" },
        { dml: { provider: "dml", ok: true }, webgpu: { provider: "webgpu", ok: false, reason: "Failed to get a WebGPU adapter: No supported adapters" } },
        { adapters: [{ name: "AMD Radeon RX 6600", vendor: "amd", driver: "31.0.21921.1000" }], key: "k" },
      ),
    );
    assert.equal(report.autoUses, "dml");
    assert.deepEqual(formatDoctor(report), [
      "Easel GPU status on Windows x64",
      "",
      "adapter: AMD Radeon RX 6600 (driver 31.0.21921.1000)",
      "(onnxruntime-node does not report the adapter it uses: the names come from the operating system)",
      "",
      "CUDA     not on this platform: Easel runs CUDA on Linux x64 with an NVIDIA GPU",
      "DirectML works: created a session and ran it",
      "WebGPU   failed: Failed to get a WebGPU adapter: No supported adapters",
      "         to enable it: update the graphics driver (WebGPU runs on Direct3D 12)",
      "Core ML  not on this platform: Core ML exists only on macOS on Apple silicon",
      "CPU      works: always available",
      "",
      "auto tries DirectML, then WebGPU, then the CPU: it uses DirectML here (each model is still checked on its first run)",
    ]);
  });

  it("Linux with an NVIDIA GPU: CUDA not provisioned says how to install it, WebGPU works in fp32, remembered failures are counted", async () => {
    const memory = new ProviderMemory(path.join(tmp, "providers.json"));
    const device: DeviceIdentity = { adapters: [{ name: "NVIDIA GeForce RTX 3060", vendor: "nvidia", driver: "nvidia 550.54.14" }], key: "nv-550" };
    await memory.remember("some-model", "webgpu", "nv-550", { ok: false, reason: "out of memory" });
    await memory.remember("other-model", "webgpu", "nv-535", { ok: false, reason: "old driver" });
    const report = await runDoctor(deps({ os: "linux", arch: "x64" }, { webgpu: { provider: "webgpu", ok: true, fp16: false } }, device, { memory }));
    const lines = formatDoctor(report);
    assert.ok(lines.includes("adapter: NVIDIA GeForce RTX 3060 (driver nvidia 550.54.14)"));
    assert.ok(lines.includes("CUDA     not provisioned: run `easel gpu install cuda`"));
    assert.ok(lines.includes("         to enable it: run `easel gpu install cuda` (needs an NVIDIA GPU with CUDA 12 and cuDNN 9 installed)"));
    assert.ok(lines.includes("WebGPU   works: created a session and ran it; fp16: no, models run in fp32"));
    assert.ok(lines.includes("         remembered: failed 1 model(s) with this adapter and driver (tried again when either changes)"), "only this driver's verdicts");
    assert.equal(lines.at(-1), "auto tries WebGPU, then the CPU: it uses WebGPU here (each model is still checked on its first run)");
  });

  it("a provisioned CUDA (the installer's status, injected) is probed and put first", async () => {
    const report = await runDoctor(
      deps({ os: "linux", arch: "x64" }, { cuda: { provider: "cuda", ok: true } }, { adapters: [], key: "k" }, { cudaStatus: async () => ({ provisioned: true, detail: "installed" }) }),
    );
    assert.deepEqual(report.autoOrder, ["cuda", "webgpu", "cpu"]);
    assert.equal(report.autoUses, "cuda");
    assert.equal(report.providers.find((p) => p.provider === "cuda")?.state, "works");
  });

  it("macOS and linux-arm64", async () => {
    const mac = await runDoctor(deps({ os: "darwin", arch: "arm64" }, { coreml: { provider: "coreml", ok: true }, webgpu: { provider: "webgpu", ok: true, fp16: true } }, { adapters: [{ name: "Apple M2", vendor: "apple", driver: "macOS (Darwin 24.1.0)" }], key: "k" }));
    assert.deepEqual(mac.autoOrder, ["webgpu", "coreml", "cpu"]);
    assert.ok(formatDoctor(mac).includes("WebGPU   works: created a session and ran it; fp16: yes (shader-f16)"));
    const arm = await runDoctor(deps({ os: "linux", arch: "arm64" }, {}, { adapters: [], key: "k" }));
    assert.deepEqual(arm.autoOrder, ["cpu"]);
    assert.deepEqual(arm.providers.filter((p) => p.state !== "not on this platform").map((p) => p.provider), ["cpu"]);
  });

  it("the default CUDA status is the installer's: what to install (system libraries) or run (easel gpu install cuda)", async () => {
    if (process.platform === "linux" && process.arch === "x64") {
      const status = await defaultCudaStatus();
      assert.equal(status.provisioned, false, "this machine has no CUDA provider libraries");
      // With the NVIDIA driver and CUDA 12 / cuDNN 9 present: the install command; without (this VM): what is missing and how to get it.
      assert.match(status.detail, /^not provisioned(: run `easel gpu install cuda`$|, and the system lacks libcuda\.so\.1.*: .*install)/);
    }
  });

  it("the command on this machine: exit 0, every provider listed, the CPU works; --json parses; a stray argument is one error line", async () => {
    const env = { EASEL_HOME: path.join(tmp, "home") };
    const r = await runCli(["doctor"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Easel GPU status on \w+ \w+\n/);
    for (const name of ["CUDA", "DirectML", "WebGPU", "Core ML"]) assert.match(r.stdout, new RegExp(`^${name} +(works|failed|not provisioned|not on this platform)`, "m"));
    assert.match(r.stdout, /^CPU {6}works: always available$/m);
    assert.match(r.stdout, /^auto tries .*: it uses .* here/m);
    const json = await runCli(["doctor", "--json"], { env });
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as { providers: { provider: string; state: string }[]; autoUses: string };
    assert.deepEqual(parsed.providers.map((p) => p.provider), ["cuda", "dml", "webgpu", "coreml", "cpu"]);
    const bad = await runCli(["doctor", "now"], { env });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, "error: easel doctor takes no arguments (got \"now\"): run 'easel doctor' or 'easel doctor --json'\n");
  });
});
