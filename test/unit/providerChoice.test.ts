// Provider choice a user can trust, with no GPU on this machine: probe answers, the adapter identity
// and GPU faults are injected. GPU "sessions" are real CPU sessions of the tiny models wrapped so
// they fail where a GPU would (creation, the first run, out of memory mid-generation); everything
// else (the engine, ComponentSessions, the memory file) is the real code.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { Engine } from "../../extension/engine/engine";
import { EaselError } from "../../extension/engine/errors";
import type { DeviceIdentity } from "../../extension/engine/onnx/deviceIdentity";
import { gpuPrecision, type ProviderDeps } from "../../extension/engine/onnx/providerChoice";
import { ProviderMemory } from "../../extension/engine/onnx/providerMemory";
import { checkProviderChoice, type PlatformId, type ProbeResult, type ProviderName } from "../../extension/engine/onnx/providers";
import type { OrtSession, SessionOpener } from "../../extension/engine/onnx/session";
import { copyFixtureModel, makeVariantRoot, rewriteComponent, unetFloat16Ports } from "../helpers/onnxVariants";
import { MODELS } from "../helpers/paths";

const SD15 = path.join(MODELS, "tiny-sd15");
const LINUX: PlatformId = { os: "linux", arch: "x64" };
const request = { prompt: "a lighthouse", steps: 3, guidance: 7.5, seed: 5n, width: 64, height: 64 } as const;

const device = (driver: string, vendor: "nvidia" | "amd" = "amd"): DeviceIdentity => ({
  adapters: [{ name: "Test GPU", vendor, driver }],
  key: JSON.stringify({ driver, vendor }),
});

/** Injected platform, probes and identity; `state.device` can change between loads (a driver update). */
function deps(memory: ProviderMemory, state: { device: DeviceIdentity }, probes: Partial<Record<ProviderName, ProbeResult>> = {}): Partial<ProviderDeps> {
  return {
    platform: LINUX,
    cudaProvisioned: () => false,
    probe: async (provider) => probes[provider] ?? { provider, ok: true, fp16: true },
    identity: () => state.device,
    memory,
  };
}

/** `create`: every creation of the component's session from the `from`-th on (default the first) fails. */
type Fault = { readonly at: "create"; readonly from?: number } | { readonly at: "run"; readonly run: number; readonly message: string };

/**
 * Opens every session on the CPU for real; sessions opened for `provider` fail as `fault` says
 * (the run count is per component, so `run: 1` is each graph's first run).
 */
class GpuFaults {
  readonly opened: { component: string; provider: ProviderName; options: ort.InferenceSession.SessionOptions; sample?: string }[] = [];
  constructor(
    private readonly provider: ProviderName,
    private fault: Fault | undefined,
    private readonly component = "unet",
  ) {}

  /** From now on (sessions already open included). */
  setFault(fault: Fault | undefined): void {
    this.fault = fault;
  }

  readonly open: SessionOpener = async (model, options, provider) => {
    const component = typeof model === "string" ? path.basename(path.dirname(model)) : "unet";
    this.opened.push({ component, provider, options });
    const targeted = provider === this.provider && component === this.component;
    const opens = this.opened.filter((o) => o.provider === provider && o.component === component).length;
    if (targeted && this.fault?.at === "create" && opens >= (this.fault.from ?? 1)) throw new Error("Could not find an implementation for GroupNorm(1) node with name 'gn0'");
    const real = typeof model === "string" ? await ort.InferenceSession.create(model, { ...options, executionProviders: ["cpu"] }) : await ort.InferenceSession.create(model, { ...options, executionProviders: ["cpu"] });
    const sample = real.inputMetadata.find((m) => m.name === "sample");
    this.opened[this.opened.length - 1].sample = sample?.isTensor ? sample.type : undefined;
    let runs = 0;
    const session: OrtSession = {
      inputMetadata: real.inputMetadata,
      outputMetadata: real.outputMetadata,
      run: async (feed) => {
        runs++;
        const fault = targeted ? this.fault : undefined;
        if (fault?.at === "run" && runs === fault.run) throw new Error(fault.message);
        return real.run(feed);
      },
      release: () => real.release(),
    };
    return session;
  };

  count(provider: ProviderName): number {
    return this.opened.filter((o) => o.provider === provider).length;
  }
}

describe("provider choice and fallback (injected probes and GPU faults)", () => {
  let root: string;
  let memory: ProviderMemory;
  let cpuImage: Uint8Array;
  before(async () => {
    root = await makeVariantRoot();
    const engine = await Engine.load(SD15, { provider: "cpu" });
    cpuImage = (await engine.generate(request)).images[0].png;
    await engine.dispose();
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const freshMemory = async () => {
    memory = new ProviderMemory(path.join(await fs.mkdtemp(path.join(root, "cache-")), "providers.json"));
    return memory;
  };

  it("a GPU session that fails at its first run falls back to the CPU at once, says why in one line, and is remembered", async () => {
    const state = { device: device("amdgpu 6.8") };
    const faults = new GpuFaults("webgpu", { at: "run", run: 1, message: "WebGPU validation error: Buffer allocation failed" });
    const notices: string[] = [];
    const engine = await Engine.load(SD15, { provider: "auto", providerDeps: deps(await freshMemory(), state), openSession: faults.open, onNotice: (l) => notices.push(l) });
    assert.equal(engine.provider, "webgpu", "the sessions were created on WebGPU");
    const result = await engine.generate(request);
    assert.equal(result.provider, "cpu");
    assert.ok(Buffer.from(result.images[0].png).equals(Buffer.from(cpuImage)), "the same image the CPU makes: the failed run left nothing behind");
    assert.deepEqual(notices, ["WebGPU failed at its first run on this model (WebGPU validation error: Buffer allocation failed): falling back to the CPU"]);
    assert.equal(engine.provider, "cpu");
    await engine.dispose();

    const verdict = JSON.parse(await fs.readFile(memory.file, "utf8")) as { entries: { provider: string; ok: boolean; reason: string; device: string }[] };
    assert.deepEqual(verdict.entries.map((e) => [e.provider, e.ok, e.reason]), [["webgpu", false, "WebGPU validation error: Buffer allocation failed"]]);

    // The next load skips WebGPU without creating a single session on it, and says why when asked.
    const again = new GpuFaults("webgpu", undefined);
    const second = await Engine.load(SD15, { provider: "auto", providerDeps: deps(memory, state), openSession: again.open });
    assert.equal(second.provider, "cpu");
    assert.equal(again.count("webgpu"), 0);
    assert.match(second.skippedProviders.find((s) => s.provider === "webgpu")?.reason ?? "", /^WebGPU validation error: Buffer allocation failed \(remembered from \d{4}-\d\d-\d\d until the model or the GPU driver changes\)$/);
    await second.dispose();
  });

  it("a driver change clears the memory: WebGPU is tried again, and remembered as good once it runs", async () => {
    const state = { device: device("amdgpu 6.8") };
    const mem = await freshMemory();
    const failing = new GpuFaults("webgpu", { at: "run", run: 1, message: "device lost" });
    const first = await Engine.load(SD15, { provider: "auto", providerDeps: deps(mem, state), openSession: failing.open });
    await first.generate(request);
    await first.dispose();
    assert.equal((await mem.lookup(await modelKeyOf(mem), "webgpu", state.device.key))?.ok, false);

    state.device = device("amdgpu 6.9");
    const fixed = new GpuFaults("webgpu", undefined);
    const engine = await Engine.load(SD15, { provider: "auto", providerDeps: deps(mem, state), openSession: fixed.open });
    assert.equal(engine.provider, "webgpu");
    assert.ok(fixed.count("webgpu") > 0);
    const result = await engine.generate(request);
    assert.equal(result.provider, "webgpu");
    await engine.dispose();
    const entries = (JSON.parse(await fs.readFile(mem.file, "utf8")) as { entries: { provider: string; ok: boolean; device: string }[] }).entries;
    assert.deepEqual(entries.map((e) => [e.provider, e.ok, e.device]), [["webgpu", true, state.device.key]], "the old driver's verdict is gone");
  });

  it("out of GPU memory mid-generation: one retryable line, the next generation runs on the CPU (remembered)", async () => {
    const state = { device: device("nvidia 550.54", "nvidia") };
    const mem = await freshMemory();
    const faults = new GpuFaults("webgpu", undefined);
    const engine = await Engine.load(SD15, { provider: "auto", providerDeps: deps(mem, state), openSession: faults.open });
    assert.equal((await engine.generate(request)).provider, "webgpu", "a first generation proves WebGPU");
    // The UNet's third run of the next generation (sessions are counted per component, first generation: 3 runs).
    faults.setFault({ at: "run", run: 5, message: "Failed to allocate memory for requested buffer of size 1073741824" });
    await assert.rejects(engine.generate(request), (e: unknown) => {
      assert.ok(e instanceof EaselError && e.code === "provider-unavailable" && e.retryable, String(e));
      assert.equal(
        e.message,
        "WebGPU ran out of GPU memory during this generation (Failed to allocate memory for requested buffer of size 1073741824): the next generation runs on the CPU (remembered until the model or the GPU driver changes)",
      );
      return true;
    });
    const next = await engine.generate(request);
    assert.equal(next.provider, "cpu");
    assert.ok(Buffer.from(next.images[0].png).equals(Buffer.from(cpuImage)));
    await engine.dispose();
    assert.equal((await mem.lookup(await modelKeyOf(mem), "webgpu", state.device.key))?.ok, false);
  });

  it("a missing kernel at session creation falls back while loading, in one line", async () => {
    const faults = new GpuFaults("webgpu", { at: "create" });
    const notices: string[] = [];
    const engine = await Engine.load(SD15, { provider: "auto", providerDeps: deps(await freshMemory(), { device: device("x") }), openSession: faults.open, onNotice: (l) => notices.push(l) });
    assert.equal(engine.provider, "cpu");
    assert.equal(notices.length, 1);
    assert.match(notices[0], /^WebGPU could not load this model \(unet\/model\.onnx uses the operator GroupNorm, which ONNX Runtime cannot run on WebGPU or the CPU: .*\): falling back to the CPU$/);
    await engine.dispose();
  });

  it("low-memory mode: a GPU that cannot create a session mid-generation falls back like a failed run", async () => {
    // Low-memory mode creates each session while loading (to read its ports), then again when used.
    const faults = new GpuFaults("webgpu", { at: "create", from: 2 });
    const notices: string[] = [];
    const engine = await Engine.load(SD15, { provider: "auto", lowMemory: true, providerDeps: deps(await freshMemory(), { device: device("x") }), openSession: faults.open, onNotice: (l) => notices.push(l) });
    assert.equal(engine.provider, "webgpu");
    const result = await engine.generate(request);
    assert.equal(result.provider, "cpu");
    assert.match(notices[0] ?? "", /^WebGPU failed at its first run on this model \(unet\/model\.onnx uses the operator GroupNorm.*\): falling back to the CPU$/);
    await engine.dispose();
  });

  it("a provider whose probe fails is skipped quietly (no notice), with its reason kept for --verbose", async () => {
    const notices: string[] = [];
    const faults = new GpuFaults("webgpu", undefined);
    const engine = await Engine.load(SD15, {
      provider: "auto",
      providerDeps: deps(await freshMemory(), { device: device("x") }, { webgpu: { provider: "webgpu", ok: false, reason: "Failed to get a WebGPU adapter" } }),
      openSession: faults.open,
      onNotice: (l) => notices.push(l),
    });
    assert.equal(engine.provider, "cpu");
    assert.deepEqual(notices, []);
    assert.deepEqual(engine.skippedProviders, [{ provider: "webgpu", ok: false, reason: "Failed to get a WebGPU adapter" }]);
    await engine.dispose();
  });

  it("a forced provider that fails at its first run is one line saying what to do, and nothing falls back", async () => {
    const faults = new GpuFaults("webgpu", { at: "run", run: 1, message: "device lost" });
    const engine = await Engine.load(SD15, { provider: "webgpu", providerDeps: deps(await freshMemory(), { device: device("x") }), openSession: faults.open });
    await assert.rejects(engine.generate(request), (e: unknown) => e instanceof EaselError && e.code === "provider-unavailable" && e.message === "WebGPU failed at its first run on this model (device lost): use --provider auto or cpu");
    await engine.dispose();
  });

  it("WebGPU without shader-f16 loads an fp16 model's fp32 variant, and refuses an fp16-only model so the next provider takes it", async () => {
    const dir = await copyFixtureModel("tiny-sd15", root);
    await fs.copyFile(path.join(dir, "unet", "model.onnx"), path.join(dir, "unet", "model.fp32.onnx"));
    await rewriteComponent(dir, "unet", (m) => unetFloat16Ports(m));
    const noF16 = { webgpu: { provider: "webgpu" as const, ok: true, fp16: false } };
    const faults = new GpuFaults("webgpu", undefined);
    const engine = await Engine.load(dir, { provider: "auto", providerDeps: deps(await freshMemory(), { device: device("x") }, noF16), openSession: faults.open });
    assert.equal(engine.provider, "webgpu");
    assert.ok(faults.opened.some((o) => o.provider === "webgpu" && o.component === "unet"), "the UNet opened on WebGPU");
    assert.equal(faults.opened.find((o) => o.provider === "webgpu" && o.component === "unet")?.sample, "float32", "the fp32 variant was loaded");
    assert.equal((await engine.generate(request)).provider, "webgpu");
    await engine.dispose();

    await fs.rm(path.join(dir, "unet", "model.fp32.onnx"));
    const notices: string[] = [];
    const fallback = await Engine.load(dir, { provider: "auto", providerDeps: deps(await freshMemory(), { device: device("x") }, noF16), openSession: new GpuFaults("webgpu", undefined).open, onNotice: (l) => notices.push(l) });
    assert.equal(fallback.provider, "cpu");
    assert.match(notices[0] ?? "", /^WebGPU could not load this model \(WebGPU runs fp32 only on this adapter .* no unet\/model\.fp32\.onnx beside it\): falling back to the CPU$/);
    await fallback.dispose();
  });
});

/** The one model key a fresh memory holds. */
async function modelKeyOf(memory: ProviderMemory): Promise<string> {
  const entries = (JSON.parse(await fs.readFile(memory.file, "utf8")) as { entries: { model: string }[] }).entries;
  assert.equal(new Set(entries.map((e) => e.model)).size, 1);
  return entries[0].model;
}

describe("precision and platform rules", () => {
  const probe = (fp16: boolean): ProbeResult => ({ provider: "webgpu", ok: true, fp16 });
  it("WebGPU runs fp16 only with shader-f16, and never for NVIDIA under Vulkan", () => {
    assert.equal(gpuPrecision("webgpu", { platform: LINUX }, device("nvidia 550", "nvidia"), probe(true)), "fp32");
    assert.equal(gpuPrecision("webgpu", { platform: LINUX }, device("amdgpu"), probe(true)), "fp16");
    assert.equal(gpuPrecision("webgpu", { platform: { os: "win32", arch: "x64" } }, device("31.0", "nvidia"), probe(true)), "fp16", "NVIDIA under D3D12 has shader-f16");
    assert.equal(gpuPrecision("webgpu", { platform: { os: "darwin", arch: "arm64" } }, device("macOS"), probe(false)), "fp32");
    assert.equal(gpuPrecision("dml", { platform: { os: "win32", arch: "x64" } }, device("31.0"), { provider: "dml", ok: true }), "fp16");
    assert.equal(gpuPrecision("cpu", { platform: LINUX }, device("x"), { provider: "cpu", ok: true }), undefined);
  });

  it("a provider this platform has no runtime for is one bad-argument line before anything loads", () => {
    const cases: [ProviderName, PlatformId, RegExp][] = [
      ["cuda", { os: "darwin", arch: "arm64" }, /^--provider cuda: CUDA is not available on macOS arm64 \(Easel runs CUDA on Linux x64 with an NVIDIA GPU\); use --provider auto or one of webgpu, coreml, cpu$/],
      ["dml", LINUX, /^--provider dml: DirectML is not available on Linux x64 \(DirectML exists only on Windows\); use --provider auto or one of cuda, webgpu, cpu$/],
      ["coreml", { os: "win32", arch: "x64" }, /^--provider coreml: Core ML is not available on Windows x64 .*one of dml, webgpu, cpu$/],
      ["webgpu", { os: "linux", arch: "arm64" }, /^--provider webgpu: WebGPU is not available on Linux arm64 .*one of cpu$/],
    ];
    for (const [provider, platform, message] of cases) {
      assert.throws(() => checkProviderChoice(provider, platform), (e: unknown) => e instanceof EaselError && e.code === "bad-argument" && message.test(e.message) && !e.message.includes("\n"));
    }
    for (const ok of ["auto", "cpu", "dml", "webgpu"] as const) checkProviderChoice(ok, { os: "win32", arch: "x64" });
    checkProviderChoice("cuda", LINUX);
  });
});
