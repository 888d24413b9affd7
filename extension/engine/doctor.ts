// `easel doctor` and "Easel: Show GPU Status": what each execution provider said on this machine,
// the adapter the OS reports, what `auto` uses, what was remembered, and what to do to enable a
// provider that is missing. Pure Node (the extension shows the same lines in an output channel);
// everything it asks the machine is injected, so tests can be any platform.
import { cudaStatus as cudaInstallStatus } from "./gpu/cudaInstall";
import { type DeviceIdentity, machineIdentity } from "./onnx/deviceIdentity";
import { ProviderMemory } from "./onnx/providerMemory";
import {
  autoCandidates,
  type PlatformId,
  platformGpuProviders,
  platformLabel,
  type ProviderEnvironment,
  providerLabel,
  type ProviderName,
  realProviderEnvironment,
} from "./onnx/providers";

/** Whether the CUDA provider libraries are installed where ONNX Runtime loads them (linux-x64). */
export interface CudaProvisioning {
  readonly provisioned: boolean;
  /** One line: what is installed, or what to do. */
  readonly detail: string;
}

/** The CUDA installer's status check (`easel gpu install cuda` is another module's); injected here. */
export type CudaStatus = () => Promise<CudaProvisioning>;

/** The installer's own check (gpu/cudaInstall.ts): where the libraries are, or what to install or run. */
export const defaultCudaStatus: CudaStatus = async () => {
  const status = await cudaInstallStatus();
  if (status.provisioned) return { provisioned: true, detail: `${status.packageId} ${status.packageVersion} installed in ${status.folder}` };
  if (!status.supported) return { provisioned: false, detail: status.advice };
  if (status.missingSystemLibs.length > 0) return { provisioned: false, detail: `not provisioned, and the system lacks ${status.missingSystemLibs.join(", ")}: ${status.advice}` };
  return { provisioned: false, detail: "not provisioned: run `easel gpu install cuda`" };
};

export interface DoctorDeps {
  readonly env: ProviderEnvironment;
  readonly identity: () => DeviceIdentity;
  readonly cudaStatus: CudaStatus;
  readonly memory: ProviderMemory | undefined;
}

export function realDoctorDeps(overrides: Partial<DoctorDeps> = {}): DoctorDeps {
  const env = overrides.env ?? realProviderEnvironment();
  return { env, identity: () => machineIdentity(env.platform), cudaStatus: defaultCudaStatus, memory: ProviderMemory.open(), ...overrides };
}

export type ProviderState = "works" | "failed" | "not provisioned" | "not on this platform";

export interface ProviderReport {
  readonly provider: ProviderName;
  readonly state: ProviderState;
  /** What the provider (or the platform) said, one line. */
  readonly detail: string;
  /** WebGPU: whether it ran an fp16 graph itself (the adapter has shader-f16). */
  readonly fp16?: boolean;
  /** What to do to enable it, when it does not work. */
  readonly fix?: string;
  /** Models this provider failed on this adapter and driver, remembered. */
  readonly rememberedFailures: number;
}

export interface DoctorReport {
  readonly platform: PlatformId;
  readonly adapters: DeviceIdentity["adapters"];
  readonly providers: readonly ProviderReport[];
  /** What `auto` tries here, and the first that works. */
  readonly autoOrder: readonly ProviderName[];
  readonly autoUses: ProviderName;
}

const ORDER: readonly ProviderName[] = ["cuda", "dml", "webgpu", "coreml", "cpu"];

/** What to do when a provider the platform has did not work. */
function fixFor(provider: ProviderName, platform: PlatformId): string | undefined {
  switch (provider) {
    case "webgpu":
      return platform.os === "linux"
        ? "install your GPU's Vulkan driver (Mesa's vulkan drivers for AMD and Intel, NVIDIA's driver with its Vulkan ICD) and check that `vulkaninfo` lists the GPU"
        : platform.os === "win32"
          ? "update the graphics driver (WebGPU runs on Direct3D 12)"
          : "WebGPU needs macOS on Apple silicon with Metal; update macOS";
    case "dml":
      return "update the graphics driver: DirectML needs a DirectX 12 GPU";
    case "coreml":
      return "Core ML needs macOS on Apple silicon; update macOS";
    case "cuda":
      return "check that the NVIDIA driver, CUDA 12 and cuDNN 9 libraries load (`nvidia-smi`, `ldconfig -p | grep -E 'libcudart|libcudnn'`)";
    case "cpu":
      return undefined;
  }
}

const NOT_HERE: Readonly<Record<Exclude<ProviderName, "cpu">, string>> = {
  cuda: "Easel runs CUDA on Linux x64 with an NVIDIA GPU",
  dml: "DirectML exists only on Windows",
  webgpu: "ONNX Runtime ships no WebGPU for this platform",
  coreml: "Core ML exists only on macOS on Apple silicon",
};

export async function runDoctor(deps: DoctorDeps = realDoctorDeps()): Promise<DoctorReport> {
  const { env } = deps;
  const device = deps.identity();
  const gpu = platformGpuProviders(env.platform);
  const cuda = gpu.includes("cuda") ? await deps.cudaStatus() : undefined;
  const providers: ProviderReport[] = [];
  for (const provider of ORDER) {
    const remembered = (await deps.memory?.forDevice(provider, device.key)) ?? [];
    const rememberedFailures = remembered.filter((v) => !v.ok).length;
    if (provider === "cpu") {
      providers.push({ provider, state: "works", detail: "always available", rememberedFailures });
    } else if (!gpu.includes(provider)) {
      providers.push({ provider, state: "not on this platform", detail: NOT_HERE[provider], rememberedFailures });
    } else if (provider === "cuda" && cuda && !cuda.provisioned) {
      providers.push({ provider, state: "not provisioned", detail: cuda.detail, fix: "run `easel gpu install cuda` (needs an NVIDIA GPU with CUDA 12 and cuDNN 9 installed)", rememberedFailures });
    } else {
      const probe = await env.probe(provider);
      providers.push(
        probe.ok
          ? { provider, state: "works", detail: "created a session and ran it", fp16: probe.fp16, rememberedFailures }
          : { provider, state: "failed", detail: probe.reason ?? "unknown reason", fix: fixFor(provider, env.platform), rememberedFailures },
      );
    }
  }
  const autoOrder = autoCandidates(env.platform, cuda?.provisioned === true);
  const autoUses = autoOrder.find((p) => providers.find((r) => r.provider === p)?.state === "works") ?? "cpu";
  return { platform: env.platform, adapters: device.adapters, providers, autoOrder, autoUses };
}

/** Column names ("the CPU" reads well in sentences, not in a table). */
const NAMES: Readonly<Record<ProviderName, string>> = { cuda: "CUDA", dml: "DirectML", webgpu: "WebGPU", coreml: "Core ML", cpu: "CPU" };

/** The report as text lines (the CLI prints them; the extension shows them in an output channel). */
export function formatDoctor(report: DoctorReport): string[] {
  const lines = [`Easel GPU status on ${platformLabel(report.platform)}`, ""];
  if (report.adapters.length === 0) lines.push("adapter: none reported by the operating system");
  for (const a of report.adapters) lines.push(`adapter: ${a.name}${a.driver ? ` (driver ${a.driver})` : ""}`);
  lines.push("(onnxruntime-node does not report the adapter it uses: the names come from the operating system)", "");
  for (const r of report.providers) {
    const precision = r.provider === "webgpu" && r.state === "works" ? `; fp16: ${r.fp16 ? "yes (shader-f16)" : "no, models run in fp32"}` : "";
    // A provisioning check words its own state ("not provisioned: run …").
    lines.push(`${NAMES[r.provider].padEnd(8)} ${r.state === "not provisioned" ? r.detail : `${r.state}: ${r.detail}`}${precision}`);
    if (r.fix) lines.push(`         to enable it: ${r.fix}`);
    if (r.rememberedFailures > 0) {
      lines.push(`         remembered: failed ${r.rememberedFailures} model(s) with this adapter and driver (tried again when either changes)`);
    }
  }
  lines.push("", `auto tries ${report.autoOrder.map(providerLabel).join(", then ")}: it uses ${providerLabel(report.autoUses)} here (each model is still checked on its first run)`);
  return lines;
}
