// Which provider a model runs on here, decided on the model itself: a provider that passes its
// one-node probe (providers.ts) must still create the model's sessions and run them once before it
// is trusted. A creation error, a first-run error (a missing kernel, out of memory) or a later
// out-of-memory sends the model to the next provider with one line saying why, and the verdict is
// remembered per model + provider + adapter/driver (providerMemory.ts) until one of them changes.
// Everything outside the engine (platform, probes, adapter identity, memory) is injected.
import { promises as fs } from "node:fs";
import path from "node:path";
import { EaselError, firstLine } from "../errors";
import { type DeviceIdentity, machineIdentity } from "./deviceIdentity";
import { ProviderMemory } from "./providerMemory";
import {
  candidatesFor,
  type ProbeResult,
  type ProviderChoice,
  type ProviderEnvironment,
  providerLabel,
  type ProviderName,
  realProviderEnvironment,
  unavailableError,
} from "./providers";

export interface ProviderDeps extends ProviderEnvironment {
  readonly identity: () => DeviceIdentity;
  /** Undefined: nothing is remembered (each load probes again). */
  readonly memory: ProviderMemory | undefined;
}

export function realProviderDeps(overrides: Partial<ProviderDeps> = {}): ProviderDeps {
  const env = realProviderEnvironment();
  return { ...env, identity: () => machineIdentity(env.platform), memory: ProviderMemory.open(), ...overrides };
}

/** The model as the memory knows it: its folder, and each graph's size and modification time. */
export async function modelIdentity(dir: string, files: readonly (string | undefined)[]): Promise<string> {
  const parts: string[] = [path.resolve(dir)];
  for (const file of files) {
    if (!file) continue;
    const stat = await fs.stat(file).catch(() => undefined);
    parts.push(`${path.relative(dir, file)}:${stat?.size ?? "?"}:${stat ? Math.round(stat.mtimeMs) : "?"}`);
  }
  return parts.join("|");
}

/** The precision a GPU provider runs graphs in here, which picks a model's fp16 or fp32 variant. */
export type Precision = "fp16" | "fp32";

/**
 * WebGPU runs fp16 only where the adapter has shader-f16 (the probe ran an fp16 graph on WebGPU
 * itself) and never for NVIDIA under Vulkan (Linux), where fp32 is used. DirectML, CUDA and Core ML
 * run fp16 graphs natively. Undefined for the CPU: the folder's model.onnx, as always.
 */
export function gpuPrecision(provider: ProviderName, env: Pick<ProviderEnvironment, "platform">, device: DeviceIdentity, probe: ProbeResult): Precision | undefined {
  if (provider === "cpu") return undefined;
  if (provider !== "webgpu") return "fp16";
  if (env.platform.os === "linux" && device.adapters.some((a) => a.vendor === "nvidia")) return "fp32";
  return probe.fp16 === true ? "fp16" : "fp32";
}

export interface Loaded<T> {
  readonly provider: ProviderName;
  readonly value: T;
  /** The provider already ran this model here (remembered), or is the CPU: a failure is no first-run failure. */
  readonly verified: boolean;
  /** The providers after this one, for a fallback. */
  readonly rest: readonly ProviderName[];
}

/** What a provider attempt gets: the probe's answer and the precision it should load the model in. */
export interface AttemptContext {
  readonly probe: ProbeResult;
  readonly precision: Precision | undefined;
}

export type Stage = "load" | "first run" | "generation";

const STAGE_WORDS: Readonly<Record<Stage, string>> = {
  load: "could not load this model",
  "first run": "failed at its first run on this model",
  generation: "failed during a generation",
};

/** One model's provider choice: what was tried, skipped and remembered. */
export class ProviderSelector {
  /** Providers passed over, with why, for `--verbose` and the log. */
  readonly skipped: ProbeResult[] = [];

  constructor(
    readonly choice: ProviderChoice,
    /** modelIdentity(...) */
    readonly model: string,
    private readonly deps: ProviderDeps,
    /** One line per fallback a user should know of. */
    private readonly notice: (line: string) => void = () => undefined,
  ) {}

  /** The candidates for the choice (a wrong one for this platform is refused here, in one line). */
  candidates(): readonly ProviderName[] {
    return candidatesFor(this.choice, this.deps);
  }

  get device(): DeviceIdentity {
    return this.deps.identity();
  }

  /**
   * Loads on the first candidate that works: probe, memory, then `attempt` (create the sessions).
   * The CPU's errors, and a forced provider's, are the caller's; a GPU candidate of `auto` that
   * fails is remembered and passed over.
   */
  async load<T>(candidates: readonly ProviderName[], attempt: (provider: ProviderName, context: AttemptContext) => Promise<T>): Promise<Loaded<T>> {
    const forced = this.choice !== "auto";
    for (let i = 0; i < candidates.length; i++) {
      const provider = candidates[i];
      const rest = candidates.slice(i + 1);
      if (provider === "cpu") {
        const probe: ProbeResult = { provider, ok: true, fp16: true };
        return { provider, value: await attempt(provider, { probe, precision: undefined }), verified: true, rest };
      }
      const probe = await this.deps.probe(provider);
      if (!probe.ok) {
        if (forced) throw unavailableError(provider, probe.reason);
        this.skipped.push(probe);
        continue;
      }
      const device = this.deps.identity();
      const remembered = await this.deps.memory?.lookup(this.model, provider, device.key);
      if (remembered && !remembered.ok && !forced) {
        this.skipped.push({ provider, ok: false, reason: `${remembered.reason ?? "it failed"} (remembered from ${remembered.at.slice(0, 10)} until the model or the GPU driver changes)` });
        continue;
      }
      try {
        const value = await attempt(provider, { probe, precision: gpuPrecision(provider, this.deps, device, probe) });
        return { provider, value, verified: remembered?.ok === true, rest };
      } catch (error) {
        if (error instanceof EaselError && error.code === "cancelled") throw error;
        const reason = firstLine(error);
        await this.remember(provider, { ok: false, reason });
        if (forced) throw error;
        this.fellBack(provider, "load", reason, rest[0] ?? "cpu");
      }
    }
    throw new EaselError("internal", "no provider left to try");
  }

  /** A GPU provider failed at `stage`: remembered, and said in one line when another takes over. */
  async failed(provider: ProviderName, stage: Stage, reason: string, next: ProviderName | undefined): Promise<void> {
    await this.remember(provider, { ok: false, reason });
    if (next) this.fellBack(provider, stage, reason, next);
  }

  /** A GPU provider ran a whole generation: trusted from now on (until the model or driver changes). */
  async succeeded(provider: ProviderName): Promise<void> {
    await this.remember(provider, { ok: true });
  }

  private fellBack(provider: ProviderName, stage: Stage, reason: string, next: ProviderName): void {
    this.skipped.push({ provider, ok: false, reason });
    this.notice(`${providerLabel(provider)} ${STAGE_WORDS[stage]} (${reason}): falling back to ${providerLabel(next)}`);
  }

  private async remember(provider: ProviderName, verdict: { ok: boolean; reason?: string }): Promise<void> {
    if (provider === "cpu") return;
    await this.deps.memory?.remember(this.model, provider, this.deps.identity().key, verdict);
  }
}
