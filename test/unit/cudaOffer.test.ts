// The extension's CUDA offer, with fake dialogs, status and install: when it is made (Linux x64,
// provider auto/cuda, not installed, a driver), once per window, "Never" remembered, what is said
// when the CUDA 12 / cuDNN 9 libraries are missing, and what an install, a cancel or a failure do.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EaselError } from "../../extension/engine/errors";
import type { CudaInstallResult, CudaStatus } from "../../extension/engine/gpu/cudaInstall";
import type { ProviderChoice } from "../../extension/engine/onnx/providers";
import { type CudaOfferDeps, CudaOfferController, type OfferAnswer } from "../../extension/gpu/cudaOfferController";

const READY: CudaStatus = {
  supported: true,
  provisioned: false,
  folder: "/cache/easel/gpu/onnxruntime-node-1.30.0-linux-x64-cuda12",
  packageId: "Microsoft.ML.OnnxRuntime.Gpu.Linux",
  packageVersion: "1.30.0",
  sizeBytes: undefined,
  driver: true,
  missingSystemLibs: [],
  advice: "",
};

interface Fake {
  readonly deps: CudaOfferDeps;
  readonly asked: { message: string; answers: readonly OfferAnswer[] }[];
  readonly said: string[];
  readonly errors: unknown[];
  installs: number;
  restarts: number;
  never: boolean;
}

function fake(options: { status?: Partial<CudaStatus>; answer?: OfferAnswer; provider?: ProviderChoice; platform?: NodeJS.Platform; install?: () => Promise<CudaInstallResult>; lookupFails?: boolean } = {}): Fake {
  const f: Fake = {
    asked: [],
    said: [],
    errors: [],
    installs: 0,
    restarts: 0,
    never: false,
    deps: undefined as unknown as CudaOfferDeps,
  };
  const deps: CudaOfferDeps = {
    platform: options.platform ?? "linux",
    arch: "x64",
    providerSetting: () => options.provider ?? "auto",
    status: async () => ({ ...READY, ...options.status }),
    lookup: async () => {
      if (options.lookupFails) throw new EaselError("provider-unavailable", "cannot reach the NuGet feed");
      return { id: READY.packageId, version: "1.30.0", url: new URL("https://api.nuget.org/x.nupkg"), size: 251_300_000, sha512: "00" };
    },
    ask: async (message, answers) => {
      f.asked.push({ message, answers });
      return options.answer;
    },
    inform: (m) => f.said.push(m),
    showError: (e) => f.errors.push(e),
    install: async () => {
      f.installs++;
      return options.install ? options.install() : { status: "installed", folder: READY.folder, package: { id: READY.packageId, version: "1.30.0", url: new URL("https://x/y"), size: 1, sha512: "00" }, sizeBytes: 412_000_000 };
    },
    restartEngine: async () => {
      f.restarts++;
    },
    never: {
      get: () => f.never,
      set: async () => {
        f.never = true;
      },
    },
    log: () => undefined,
  };
  return Object.assign(f, { deps });
}

describe("CUDA offer", () => {
  it("offers once per window with the download's size; Install installs and restarts the engine", async () => {
    const f = fake({ answer: "Install" });
    const c = new CudaOfferController(f.deps);
    assert.equal(await c.maybeOffer(), "installed");
    assert.equal(f.asked.length, 1);
    assert.deepEqual(f.asked[0].answers, ["Install", "Not now", "Never"]);
    assert.match(f.asked[0].message, /Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux 1\.30\.0, 251 MB download, verified/);
    assert.equal(f.installs, 1);
    assert.equal(f.restarts, 1, "the engine process starts again to load the CUDA folder's runtime");
    assert.match(f.said[0], /CUDA is ready \(412 MB in \/cache\/easel\/gpu\//);
    assert.equal(await c.maybeOffer(), "already-asked");
    assert.equal(f.asked.length, 1);
  });

  it("Not now asks again in the next window; Never is remembered", async () => {
    const notNow = fake({ answer: "Not now" });
    assert.equal(await new CudaOfferController(notNow.deps).maybeOffer(), "declined");
    assert.equal(notNow.never, false);
    assert.equal(notNow.installs, 0);
    const never = fake({ answer: "Never" });
    assert.equal(await new CudaOfferController(never.deps).maybeOffer(), "declined");
    assert.equal(never.never, true);
    assert.equal(await new CudaOfferController(never.deps).maybeOffer(), "never", "a new window does not ask");
    assert.equal(never.asked.length, 1);
  });

  it("is not made off Linux x64, for other providers, when installed, or without an NVIDIA driver under auto", async () => {
    for (const [f, outcome] of [
      [fake({ platform: "darwin" }), "not-linux-x64"],
      [fake({ provider: "webgpu" }), "provider"],
      [fake({ provider: "cpu" }), "provider"],
      [fake({ status: { provisioned: true } }), "provisioned"],
      [fake({ status: { driver: false, advice: "CUDA needs the NVIDIA driver", missingSystemLibs: ["libcuda.so.1"] } }), "no-driver"],
    ] as const) {
      assert.equal(await new CudaOfferController(f.deps).maybeOffer(), outcome);
      assert.equal(f.asked.length, 0);
      assert.equal(f.installs, 0);
    }
  });

  it("with cuDNN missing it says what to install instead of downloading", async () => {
    const advice = "CUDA needs cuDNN 9 (libcudnn.so.9) not found by ldconfig, LD_LIBRARY_PATH or NVIDIA's pip wheels: install them with 'pip install nvidia-cudnn-cu12'";
    const f = fake({ status: { advice, missingSystemLibs: ["libcudnn.so.9"] }, answer: "Never" });
    assert.equal(await new CudaOfferController(f.deps).maybeOffer(), "told-missing");
    assert.deepEqual(f.asked[0].answers, ["Not now", "Never"]);
    assert.ok(f.asked[0].message.includes(advice));
    assert.equal(f.installs, 0);
    assert.equal(f.never, true);
    // Asked for explicitly (provider cuda, or the command): the same line, as an error.
    const cmd = fake({ status: { advice, missingSystemLibs: ["libcudnn.so.9"] } });
    assert.equal(await new CudaOfferController(cmd.deps).installNow(), "told-missing");
    assert.equal((cmd.errors[0] as EaselError).message, advice);
  });

  it("an explicit cuda setting without a driver is told what is missing", async () => {
    const f = fake({ provider: "cuda", status: { driver: false, advice: "CUDA needs the NVIDIA driver (libcuda.so.1 not found)" } });
    assert.equal(await new CudaOfferController(f.deps).maybeOffer(), "told-missing");
    assert.match(f.asked[0].message, /libcuda\.so\.1 not found/);
  });

  it("a feed that cannot be reached still offers, with the approximate size", async () => {
    const f = fake({ lookupFails: true });
    assert.equal(await new CudaOfferController(f.deps).maybeOffer(), "declined");
    assert.match(f.asked[0].message, /about 250 MB download/);
  });

  it("a cancelled install says nothing was installed; a failed one shows its error; neither restarts the engine", async () => {
    const cancelled = fake({ answer: "Install", install: async () => Promise.reject(new EaselError("cancelled", "CUDA install cancelled: nothing was installed")) });
    assert.equal(await new CudaOfferController(cancelled.deps).maybeOffer(), "cancelled");
    assert.deepEqual(cancelled.said, ["Easel: CUDA install cancelled: nothing was installed"]);
    assert.equal(cancelled.restarts, 0);
    const failed = fake({ answer: "Install", install: async () => Promise.reject(new EaselError("provider-unavailable", "the NuGet feed failed")) });
    assert.equal(await new CudaOfferController(failed.deps).maybeOffer(), "failed");
    assert.equal((failed.errors[0] as EaselError).message, "the NuGet feed failed");
    assert.equal(failed.restarts, 0);
  });

  it("two triggers at once make one offer", async () => {
    const f = fake({ answer: "Not now" });
    const c = new CudaOfferController(f.deps);
    const [a, b] = await Promise.all([c.maybeOffer(), c.maybeOffer()]);
    assert.equal(a, "declined");
    assert.equal(b, "declined");
    assert.equal(f.asked.length, 1);
  });

  it("the command on an installed machine says where", async () => {
    const f = fake({ status: { provisioned: true } });
    assert.equal(await new CudaOfferController(f.deps).installNow(), "provisioned");
    assert.match(f.said[0], /already installed \(\/cache\/easel\/gpu\//);
  });
});
