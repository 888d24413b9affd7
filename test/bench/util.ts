// Shared bench helpers: the machine line, statistics, engine-like session options, time spent
// inside ONNX Runtime's run(), peak RSS, and the real-size synthetic models.
import { sessionOptions } from "../../extension/engine/onnx/providerOptions";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { physicalCoreCount } from "../../extension/engine/onnx/cpuCores";
import type { ProviderName } from "../../extension/engine/onnx/providers";
import { ROOT } from "../helpers/paths";
import type { Variant } from "./synth/configs";
import { ensureModelSet, readStamp, type SynthComponent } from "./synth/modelSet";

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const fixed = (x: number, digits = 0): string => x.toFixed(digits);
/**
 * Best and median of repeated timings. The machine may be shared: other processes only ever add
 * time, so the best run is the figure least distorted by them; the median shows how noisy it was.
 */
export const best = (xs: readonly number[]): number => Math.min(...xs);
export const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

let provider: ProviderName = "cpu";

/** The provider every subset runs on (`npm run bench -- --provider NAME`; default the CPU). */
export function benchProvider(): ProviderName {
  return provider;
}

export function setBenchProvider(name: ProviderName): void {
  provider = name;
}

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const ortVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "onnxruntime-node", "package.json"), "utf8")) as { version: string }).version;
  return `${new Date().toISOString().slice(0, 10)} — ${cpu}, ${os.availableParallelism()} logical / ${physicalCoreCount()} physical cores, ${gib(os.totalmem())} RAM, Node ${process.version}, onnxruntime-node ${ortVersion}, ${provider} EP`;
}

/** The engine's own session options on the bench's provider (providerOptions.ts), with what a bench row wants to try. */
export function engineOptions(overrides: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return { ...sessionOptions(provider), ...overrides };
}

export interface Runs {
  readonly ms: readonly number[];
  /** CPU time of this process over wall time × cores, per run: ≈ 100% when nothing else competed. */
  readonly cpuShare: readonly number[];
}

/** Wall time of `work` and this process's share of `threads` cores meanwhile. */
export async function cpuTimed<T>(work: () => Promise<T>, threads = physicalCoreCount()): Promise<{ value: T; ms: number; cpuShare: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = await work();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { value, ms, cpuShare: (used.user + used.system) / 1000 / (ms * threads) };
}

/** A run whose process had less than this share of the cores was slowed by other processes. */
export const CLEAN_SHARE = 0.9;

/**
 * Runs `work` `repeats` times after `warmup` untimed runs. On a shared machine, runs slowed by
 * other processes (CPU share under CLEAN_SHARE) are repeated, up to `repeats` extra runs.
 */
export async function timeRepeats(repeats: number, work: () => Promise<unknown>, warmup = 1, threads = physicalCoreCount()): Promise<Runs> {
  for (let i = 0; i < warmup; i++) await work();
  const ms: number[] = [];
  const cpuShare: number[] = [];
  for (let i = 0; i < 2 * repeats && cpuShare.filter((s) => s >= CLEAN_SHARE).length < repeats; i++) {
    const run = await cpuTimed(work, threads);
    ms.push(run.ms);
    cpuShare.push(run.cpuShare);
  }
  return { ms, cpuShare };
}

/** The fastest run, and its CPU share (low: contended even at its best, distrust the figure). */
export function bestRun(runs: Runs): { readonly ms: number; readonly cpuShare: number; readonly median: number; readonly count: number } {
  const i = runs.ms.indexOf(best(runs.ms));
  return { ms: runs.ms[i], cpuShare: runs.cpuShare[i], median: median(runs.ms), count: runs.ms.length };
}

export const percent = (share: number): string => `${(100 * share).toFixed(0)}%`;

type RunMethod = (this: ort.InferenceSession, ...args: unknown[]) => Promise<ort.InferenceSession.ReturnType>;

/**
 * Counts wall time inside every InferenceSession.run() of this process (the engine's sessions
 * included), by wrapping the method on the class: pipeline overhead = wall − this.
 */
export class RunTimer {
  ms = 0;
  calls = 0;
  private readonly proto = (ort.InferenceSession as unknown as { prototype: { run: RunMethod } }).prototype;
  private readonly original: RunMethod = this.proto.run;

  install(): this {
    const original = this.original;
    const timer = this;
    this.proto.run = async function (this: ort.InferenceSession, ...args: unknown[]) {
      const start = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        timer.ms += performance.now() - start;
        timer.calls++;
      }
    };
    return this;
  }

  reset(): void {
    this.ms = 0;
    this.calls = 0;
  }

  uninstall(): void {
    this.proto.run = this.original;
  }
}

type CreateMethod = (path: unknown, options?: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;

/**
 * Merges `overrides` into the options of every session created while installed (the engine's
 * included), to measure what a change to the engine's session options would do end to end.
 */
export function overrideSessionOptions(overrides: ort.InferenceSession.SessionOptions): () => void {
  const factory = ort.InferenceSession as unknown as { create: CreateMethod };
  const original = factory.create;
  factory.create = (path, options) => original.call(factory, path, { ...options, ...overrides });
  return () => {
    factory.create = original;
  };
}

/** Linux: the peak RSS since the last reset (VmHWM), resettable through /proc/self/clear_refs. */
export const peakRss = {
  reset(): boolean {
    try {
      fs.writeFileSync("/proc/self/clear_refs", "5");
      return true;
    } catch {
      return false;
    }
  },
  bytes(): number {
    try {
      const kb = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1];
      if (kb) return Number(kb) * 1024;
    } catch {
      // not Linux: the process-lifetime peak below
    }
    return process.resourceUsage().maxRSS * 1024;
  },
};

/** The cached real-size synthetic model folder (built on first use: ~30 s, ~5 GB). */
export function benchModel(variant: Variant): string {
  return ensureModelSet(variant, { log: (line) => console.error(line) });
}

/** Bytes of float weights the listed components hold (from the folder's build stamp). */
export function weightBytes(modelDir: string, components: readonly SynthComponent[]): number {
  const stamp = readStamp(modelDir);
  if (!stamp) throw new Error(`${modelDir} is not a synthetic bench model`);
  return components.reduce((n, c) => {
    const written = stamp.components[c];
    if (!written) throw new Error(`${modelDir} has no ${c}`);
    return n + written.weightBytes;
  }, 0);
}

/** Parses "256" / "512" (default `fallback`). */
export function sideArg(args: readonly string[], fallback: number): number {
  const side = args.map(Number).find((n) => Number.isInteger(n) && n > 0);
  if (side === undefined) return fallback;
  if (side % 64 !== 0) throw new Error(`size ${side}: use a multiple of 64 (256, 512)`);
  return side;
}
