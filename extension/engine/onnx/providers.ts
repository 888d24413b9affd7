import { spawn } from "node:child_process";
import { EaselError } from "../errors";
import { cudaSetupProblem } from "../gpu/cudaInstall";
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

/** What `auto` tries, best first, on each platform; CPU always closes the list. */
export function autoCandidates(platform: NodeJS.Platform = process.platform): readonly ProviderName[] {
  switch (platform) {
    case "win32":
      return ["dml", "webgpu", "cpu"];
    case "darwin":
      return ["coreml", "webgpu", "cpu"];
    default:
      return ["cuda", "webgpu", "cpu"];
  }
}

export interface ProbeResult {
  readonly provider: ProviderName;
  readonly ok: boolean;
  /** Why a provider is not usable, in one line. */
  readonly reason?: string;
}

// A missing GPU runtime can abort the process from native code (no adapter, missing CUDA
// libraries), so each provider is first tried on a one-node model in a throwaway child process.
// It loads ONNX Runtime as its parent did (the CUDA folder's, when installed: gpu/ortBinding.ts).
const PROBE_SCRIPT = `
${PRIME_FROM_ENV_SOURCE}
const ort = require(process.env.EASEL_ORT_PATH);
(async () => {
  const model = Buffer.from(process.env.EASEL_PROBE_MODEL, "base64");
  const session = await ort.InferenceSession.create(model, { executionProviders: [process.env.EASEL_PROBE_EP] });
  const out = await session.run({ x: new ort.Tensor("float32", Float32Array.from([1, 2, 3, 4]), [4]) });
  process.exit(out.y.data[3] === 8 ? 0 : 3);
})().catch((e) => { process.stderr.write("\\nEASEL_PROBE_ERROR: " + String(e && e.message || e).split("\\n")[0] + "\\n"); process.exit(2); });
`;

const probeCache = new Map<ProviderName, Promise<ProbeResult>>();

export function probeProvider(provider: ProviderName, timeoutMs = 30_000): Promise<ProbeResult> {
  if (provider === "cpu") return Promise.resolve({ provider, ok: true });
  const platformOk =
    (provider === "dml" && process.platform === "win32") ||
    (provider === "coreml" && process.platform === "darwin") ||
    (provider === "cuda" && (process.platform === "linux" || process.platform === "win32")) ||
    provider === "webgpu";
  if (!platformOk) return Promise.resolve({ provider, ok: false, reason: `${provider} is not available on ${process.platform}` });
  const problem = provider === "cuda" && process.platform === "linux" && process.arch === "x64" ? cudaSetupProblem() : undefined;
  if (problem) return Promise.resolve({ provider, ok: false, reason: problem });
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
        EASEL_PROBE_MODEL: Buffer.from(probeModelBytes()).toString("base64"),
        EASEL_PROBE_EP: provider,
      },
      stdio: ["ignore", "ignore", "pipe"],
      windowsHide: true,
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ provider, ok: false, reason: e.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ provider, ok: true });
      else {
        resolve({ provider, ok: false, reason: probeFailureReason(stderr, code, signal) });
      }
    });
  });
}

function probeFailureReason(stderr: string, code: number | null, signal: NodeJS.Signals | null): string {
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).filter(Boolean);
  const marked = lines.find((l) => l.startsWith("EASEL_PROBE_ERROR: "));
  const text = marked?.slice("EASEL_PROBE_ERROR: ".length) ?? lines.at(-1) ?? (signal ? `probe ended by ${signal}` : `probe exited with code ${code}`);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

export interface ResolvedProvider {
  readonly provider: ProviderName;
  /** Providers `auto` tried and skipped, with the reason, for `--verbose` and the log. */
  readonly skipped: readonly ProbeResult[];
}

export async function resolveProvider(choice: ProviderChoice): Promise<ResolvedProvider> {
  if (choice !== "auto") {
    // Said as it is: "not available here (…)" around it would only repeat it.
    const cuda = choice === "cuda" && process.platform === "linux" && process.arch === "x64" ? cudaSetupProblem() : undefined;
    if (cuda) throw new EaselError("provider-unavailable", cuda);
    const probe = await probeProvider(choice);
    if (!probe.ok) {
      throw new EaselError(
        "provider-unavailable",
        `execution provider ${choice} is not available here (${probe.reason ?? "unknown reason"}): use --provider auto or cpu`,
      );
    }
    return { provider: choice, skipped: [] };
  }
  const skipped: ProbeResult[] = [];
  for (const candidate of autoCandidates()) {
    const probe = await probeProvider(candidate);
    if (probe.ok) return { provider: candidate, skipped };
    skipped.push(probe);
  }
  return { provider: "cpu", skipped };
}
