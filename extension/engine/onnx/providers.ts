import { spawn } from "node:child_process";
import { EaselError } from "../errors";
import { cudaSetupProblem, defaultCudaLocations, INSTALL_COMMAND, provisionedCudaFolder } from "../gpu/cudaInstall";
import { PRIME_FROM_ENV_SOURCE } from "../gpu/ortBinding";
import { ORT_ENVIRONMENT } from "./ortEnvironment";
import { probeModelBytes } from "./probeModel";

export const PROVIDER_NAMES = ["auto", "cpu", "webgpu", "dml", "cuda", "coreml"] as const;
export type ProviderChoice = (typeof PROVIDER_NAMES)[number];
export type ProviderName = Exclude<ProviderChoice, "auto">;

export function isProviderChoice(value: string): value is ProviderChoice {
  return (PROVIDER_NAMES as readonly string[]).includes(value);
}

const PROVIDER_LABELS: Readonly<Record<ProviderName, string>> = {
  cpu: "the CPU",
  cuda: "CUDA",
  dml: "DirectML",
  webgpu: "WebGPU",
  coreml: "Core ML",
};

/** How messages name a provider ("cannot run on the CPU"). */
export function providerLabel(provider: ProviderName): string {
  return PROVIDER_LABELS[provider];
}

/** The machine a choice is made for: tests inject another one ("`--provider cuda` on macOS"). */
export interface PlatformId {
  readonly os: NodeJS.Platform;
  readonly arch: string;
}

export function currentPlatform(): PlatformId {
  return { os: process.platform, arch: process.arch };
}

const OS_LABELS: Readonly<Partial<Record<NodeJS.Platform, string>>> = { win32: "Windows", darwin: "macOS", linux: "Linux" };

export function platformLabel(platform: PlatformId): string {
  return `${OS_LABELS[platform.os] ?? platform.os} ${platform.arch}`;
}

/**
 * The GPU providers onnxruntime-node 1.30's own binaries carry for a platform (read from its
 * package): win32 DirectML and WebGPU (Dawn on D3D12); darwin-arm64 Core ML and WebGPU (Metal);
 * linux-x64 WebGPU (Vulkan) in libonnxruntime.so.1, and CUDA only from the separate provider
 * libraries `easel gpu install cuda` puts beside it; linux-arm64 nothing but the CPU.
 */
export function platformGpuProviders(platform: PlatformId): readonly ProviderName[] {
  switch (platform.os) {
    case "win32":
      return ["dml", "webgpu"];
    case "darwin":
      return platform.arch === "arm64" ? ["webgpu", "coreml"] : [];
    case "linux":
      return platform.arch === "x64" ? ["cuda", "webgpu"] : [];
    default:
      return [];
  }
}

/**
 * What `auto` tries, best first, on each platform; CPU always closes the list. CUDA is tried only once
 * its provider libraries are provisioned: without them ONNX Runtime cannot even register it.
 */
export function autoCandidates(platform: PlatformId = currentPlatform(), cudaProvisioned = false): readonly ProviderName[] {
  switch (platform.os) {
    case "win32":
      return ["dml", "webgpu", "cpu"];
    case "darwin":
      // WebGPU (Metal) before Core ML: Core ML's MLProgram fp16 path gives wrong images in ORT 1.30 on
      // macOS 15, and its NeuralNetwork path leaves much of an SD graph to the CPU.
      return platform.arch === "arm64" ? ["webgpu", "coreml", "cpu"] : ["cpu"];
    case "linux":
      return platform.arch === "x64" ? [...(cudaProvisioned ? (["cuda"] as const) : []), "webgpu", "cpu"] : ["cpu"];
    default:
      return ["cpu"];
  }
}

/**
 * A provider this platform's ONNX Runtime does not ship is a wrong argument, refused in one line
 * before anything loads (`--provider dml` on Linux, `--provider cuda` on macOS).
 */
export function checkProviderChoice(choice: ProviderChoice, platform: PlatformId = currentPlatform()): void {
  if (choice === "auto" || choice === "cpu" || platformGpuProviders(platform).includes(choice)) return;
  const where: Readonly<Record<Exclude<ProviderName, "cpu">, string>> = {
    dml: "DirectML exists only on Windows",
    coreml: "Core ML exists only on macOS on Apple silicon",
    cuda: "Easel runs CUDA on Linux x64 with an NVIDIA GPU",
    webgpu: "ONNX Runtime ships no WebGPU for this platform",
  };
  throw new EaselError("bad-argument", `--provider ${choice}: ${providerLabel(choice)} is not available on ${platformLabel(platform)} (${where[choice]}); use --provider auto or one of ${[...platformGpuProviders(platform), "cpu"].join(", ")}`);
}

export interface ProbeResult {
  readonly provider: ProviderName;
  readonly ok: boolean;
  /** Why a provider is not usable, in one line. */
  readonly reason?: string;
  /** Whether the provider ran a float16 graph itself (WebGPU: the adapter has shader-f16). */
  readonly fp16?: boolean;
}

/** Runs a provider on a one-node graph; injected in tests, a child process (below) for real. */
export type ProviderProbe = (provider: ProviderName) => Promise<ProbeResult>;

// A missing GPU runtime can abort the process from native code (no adapter, missing CUDA
// libraries), so each provider is first tried on a one-node model in a throwaway child process.
// It loads ONNX Runtime as its parent did (the CUDA folder's, when installed: gpu/ortBinding.ts).
// session.disable_cpu_ep_fallback makes a node the provider cannot take fail the session instead of
// quietly running on the CPU: the probe then says what the provider itself can run, in fp32 and fp16.
const PROBE_SCRIPT = `
${PRIME_FROM_ENV_SOURCE}
const ort = require(process.env.EASEL_ORT_PATH);
const options = { executionProviders: [process.env.EASEL_PROBE_EP], extra: { session: { disable_cpu_ep_fallback: "1" } } };
(async () => {
  const session = await ort.InferenceSession.create(Buffer.from(process.env.EASEL_PROBE_MODEL, "base64"), options);
  const out = await session.run({ x: new ort.Tensor("float32", Float32Array.from([1, 2, 3, 4]), [4]) });
  if (out.y.data[3] !== 8) process.exit(3);
  let fp16 = false;
  try {
    const half = await ort.InferenceSession.create(Buffer.from(process.env.EASEL_PROBE_MODEL16, "base64"), options);
    const y = (await half.run({ x: new ort.Tensor("float16", Uint16Array.from([0x3c00, 0x4000, 0x4200, 0x4400]), [4]) })).y.data[3];
    fp16 = y === 0x4800 || y === 8;
  } catch {}
  process.stdout.write("EASEL_PROBE_FP16: " + (fp16 ? "1" : "0") + "\\n");
  process.exit(0);
})().catch((e) => { process.stderr.write("\\nEASEL_PROBE_ERROR: " + String(e && e.message || e).split("\\n")[0] + "\\n"); process.exit(2); });
`;

/**
 * Whether the CUDA provider libraries are installed (linux-x64 only): `easel gpu install cuda` puts
 * them beside a private copy of ONNX Runtime's native folder, which this process then loads.
 */
export function cudaLibrariesPresent(platform: PlatformId = currentPlatform()): boolean {
  if (platform.os !== "linux" || platform.arch !== "x64") return false;
  return provisionedCudaFolder(defaultCudaLocations()) !== undefined;
}

const probeCache = new Map<ProviderName, Promise<ProbeResult>>();

/** The real probe, once per provider and process. */
export function probeProvider(provider: ProviderName, timeoutMs = 30_000): Promise<ProbeResult> {
  if (provider === "cpu") return Promise.resolve({ provider, ok: true, fp16: true });
  const platform = currentPlatform();
  if (!platformGpuProviders(platform).includes(provider)) {
    return Promise.resolve({ provider, ok: false, reason: `${providerLabel(provider)} is not available on ${platformLabel(platform)}` });
  }
  const cudaProblem = provider === "cuda" && !cudaLibrariesPresent(platform) ? (cudaSetupProblem() ?? "the CUDA provider libraries are not installed: run 'easel gpu install cuda'") : undefined;
  if (cudaProblem) return Promise.resolve({ provider, ok: false, reason: cudaProblem });
  let pending = probeCache.get(provider);
  if (!pending) {
    pending = runProbe(provider, timeoutMs);
    probeCache.set(provider, pending);
  }
  return pending;
}

function runProbe(provider: ProviderName, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", PROBE_SCRIPT], {
      env: {
        ...process.env,
        ...ORT_ENVIRONMENT,
        ELECTRON_RUN_AS_NODE: "1",
        EASEL_ORT_PATH: require.resolve("onnxruntime-node"),
        EASEL_PROBE_MODEL: Buffer.from(probeModelBytes("float32")).toString("base64"),
        EASEL_PROBE_MODEL16: Buffer.from(probeModelBytes("float16")).toString("base64"),
        EASEL_PROBE_EP: provider,
      },
      stdio: ["ignore", "pipe", "pipe"],
      windowsHide: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ provider, ok: false, reason: e.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ provider, ok: true, fp16: stdout.includes("EASEL_PROBE_FP16: 1") });
      else {
        resolve({ provider, ok: false, reason: probeFailureReason(stderr, code, signal) });
      }
    });
  });
}

function probeFailureReason(stderr: string, code: number | null, signal: NodeJS.Signals | null): string {
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).filter(Boolean);
  const marked = lines.find((l) => l.startsWith("EASEL_PROBE_ERROR: "));
  const raw = marked?.slice("EASEL_PROBE_ERROR: ".length) ?? lines.at(-1) ?? (signal ? `probe ended by ${signal}` : `probe exited with code ${code}`);
  // ORT's failed checks start with the source location and the condition ("…/webgpu_context.cc:136
  // onnxruntime::…<lambda()> adapter_result.status == … was false. Failed to get a WebGPU adapter: …"):
  // the sentence after them is what a user can act on.
  const text = raw.replace(/^\S+\.(?:cc|cpp|h):\d+ .*? was false\.\s*/, "");
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** What a provider choice depends on outside the engine: injected in tests. */
export interface ProviderEnvironment {
  readonly platform: PlatformId;
  readonly cudaProvisioned: () => boolean;
  readonly probe: ProviderProbe;
}

export function realProviderEnvironment(): ProviderEnvironment {
  const platform = currentPlatform();
  return { platform, cudaProvisioned: () => cudaLibrariesPresent(platform), probe: (p) => probeProvider(p) };
}

export interface ResolvedProvider {
  readonly provider: ProviderName;
  /** Providers `auto` tried and skipped, with the reason, for `--verbose` and the log. */
  readonly skipped: readonly ProbeResult[];
}

/** The providers a choice may end on, best first (a forced one alone). Refuses one this platform lacks. */
export function candidatesFor(choice: ProviderChoice, env: ProviderEnvironment): readonly ProviderName[] {
  checkProviderChoice(choice, env.platform);
  return choice === "auto" ? autoCandidates(env.platform, env.cudaProvisioned()) : [choice];
}

/** A forced provider that did not work: one line, with what to do. */
export function unavailableError(provider: ProviderName, reason: string | undefined): EaselError {
  // The installer's own line already says what to run (gpu/cudaInstall.ts): said as it is.
  if (provider === "cuda" && reason !== undefined && reason.includes(INSTALL_COMMAND)) return new EaselError("provider-unavailable", reason);
  const fix = provider === "cuda" && /not installed|easel gpu install/.test(reason ?? "") ? "run 'easel gpu install cuda', or use --provider auto or cpu" : "use --provider auto or cpu";
  return new EaselError("provider-unavailable", `execution provider ${provider} is not available here (${reason ?? "unknown reason"}): ${fix}`);
}

/**
 * Which provider passes its one-node probe, best first: what `auto` would try on a model. The
 * model-level checks (a first session and run, remembered per driver) are the engine's (providerChoice.ts).
 */
export async function resolveProvider(choice: ProviderChoice, env: ProviderEnvironment = realProviderEnvironment()): Promise<ResolvedProvider> {
  const candidates = candidatesFor(choice, env);
  const skipped: ProbeResult[] = [];
  for (const candidate of candidates) {
    const probe = candidate === "cpu" ? { provider: candidate, ok: true } : await env.probe(candidate);
    if (probe.ok) return { provider: candidate, skipped };
    if (choice !== "auto") throw unavailableError(candidate, probe.reason);
    skipped.push(probe);
  }
  return { provider: "cpu", skipped };
}
