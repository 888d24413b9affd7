// The ONNX sessions of one model. Normally each is created once and kept, so the second image pays
// no load; in low-memory mode only the component in use is loaded and released right after, so an
// 8 GB machine never holds the text encoder, UNet and VAE at once.
//
// Seamless tiling runs the UNet and VAE graphs rewritten to pad circularly (circularPadding.ts): a
// second session per component, the "tiled" variant. Both variants are kept when the machine has
// the memory for a second copy of the component's weights (twice their size free, for the weights and
// the activations); otherwise loading one variant releases the other, and switching between plain
// and tiled generations reloads the UNet and VAE (their load time, see docs/benchmarks.md).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ProviderName } from "./providers";
import { firstLine } from "../errors";
import { ModelSession, type PortInfo, ProviderRunError, type SessionOpener } from "./session";
import type { WeightPatch } from "./patchedGraph";

export type SessionComponent = "text_encoder" | "text_encoder_2" | "unet" | "vae_decoder" | "vae_encoder" | "taesd_decoder";

/** A component's graph as it is, or rewritten so every 2-D convolution pads circularly. */
export type SessionVariant = "plain" | "tiled";

export interface Ports {
  readonly inputs: readonly PortInfo[];
  readonly outputs: readonly PortInfo[];
}

export interface SessionHooks {
  /** Called as each component's session is created while the model loads. */
  readonly onProgress?: (component: SessionComponent, index: number, total: number) => void;
  /** Called for every ONNX session created (warm reuse creates none). */
  readonly onSessionCreated?: (component: SessionComponent, variant: SessionVariant) => void;
  /** Bytes of memory free now (os.freemem; tests pass their own). */
  readonly freeMemory?: () => number;
  /** Creates the ONNX Runtime sessions (tests inject GPU faults here). */
  readonly openSession?: SessionOpener;
}

/** The bytes of the files in a graph's folder: its graph and external weights (an over-estimate where variants share it). */
function componentBytes(file: string): number {
  const dir = path.dirname(file);
  let total = 0;
  for (const name of fs.readdirSync(dir)) {
    const stat = fs.statSync(path.join(dir, name), { throwIfNoEntry: false });
    if (stat?.isFile()) total += stat.size;
  }
  return total;
}

const keyOf = (component: SessionComponent, variant: SessionVariant): string => (variant === "plain" ? component : `${component}#tiled`);

export class ComponentSessions {
  private readonly kept = new Map<string, ModelSession>();
  private readonly portsOf = new Map<SessionComponent, Ports>();
  /** Per component, how to compute its replaced weights (LoRA) when its session is created. */
  private patches = new Map<SessionComponent, () => Promise<WeightPatch>>();

  constructor(
    private files: Readonly<Partial<Record<SessionComponent, string>>>,
    readonly provider: ProviderName,
    readonly lowMemory: boolean,
    private readonly hooks: SessionHooks = {},
  ) {}

  /** Creates every session once (reading what each graph declares); low-memory mode releases them again. */
  async loadAll(): Promise<void> {
    const components = (Object.keys(this.files) as SessionComponent[]).filter((c) => this.files[c]);
    try {
      for (let i = 0; i < components.length; i++) {
        const component = components[i];
        this.hooks.onProgress?.(component, i, components.length);
        const session = await this.create(component, "plain");
        if (this.lowMemory) await session.release();
        else this.kept.set(component, session);
      }
    } catch (error) {
      await this.releaseAll();
      throw error;
    }
  }

  /** A component found only after the model loaded (the store's TAESD decoder for its family), loaded like the others. */
  async add(component: SessionComponent, file: string): Promise<void> {
    this.files = { ...this.files, [component]: file };
    const session = await this.create(component, "plain");
    if (this.lowMemory) await session.release();
    else this.kept.set(component, session);
  }

  has(component: SessionComponent): boolean {
    return this.portsOf.has(component);
  }

  ports(component: SessionComponent): Ports | undefined {
    return this.portsOf.get(component);
  }

  /** Runs `work` with the component's session (its tiled variant for seamless tiling), loading it first when it is not kept. */
  async use<T>(component: SessionComponent, work: (session: ModelSession) => Promise<T>, variant: SessionVariant = "plain"): Promise<T> {
    const key = keyOf(component, variant);
    const kept = this.kept.get(key);
    if (kept) return work(kept);
    if (!this.lowMemory) {
      const other = keyOf(component, variant === "plain" ? "tiled" : "plain");
      const otherSession = this.kept.get(other);
      if (otherSession && !this.roomForBoth(component)) {
        this.kept.delete(other);
        await otherSession.release();
      }
    }
    const session = await this.createDuringGeneration(component, variant);
    if (!this.lowMemory) {
      this.kept.set(key, session);
      return work(session);
    }
    try {
      return await work(session);
    } finally {
      await session.release();
    }
  }

  /**
   * Switches the components' weight patches (LoRA): every component whose patches change (set,
   * changed or dropped) loses its sessions (both variants) and, unless in low-memory mode, gets its
   * plain one again now, so the switch costs its load here and the next generation none (a tiled
   * variant is created when a tiled generation needs it). A failure leaves no patches set.
   */
  async setWeightPatches(patches: ReadonlyMap<SessionComponent, () => Promise<WeightPatch>>): Promise<void> {
    const touched = new Set([...this.patches.keys(), ...patches.keys()]);
    this.patches = new Map(patches);
    try {
      for (const component of touched) {
        for (const variant of ["plain", "tiled"] as const) {
          const key = keyOf(component, variant);
          const kept = this.kept.get(key);
          if (kept) {
            this.kept.delete(key);
            await kept.release();
          }
        }
        if (!this.lowMemory && this.files[component]) this.kept.set(keyOf(component, "plain"), await this.create(component, "plain"));
      }
    } catch (error) {
      this.patches = new Map();
      throw error;
    }
  }

  /** Whether a second variant of the component fits beside the first: twice its files' size free. */
  private roomForBoth(component: SessionComponent): boolean {
    const file = this.files[component];
    if (!file) return false;
    const free = (this.hooks.freeMemory ?? os.freemem)();
    return free > 2 * componentBytes(file);
  }

  /** Which variants of the component are loaded now (for tests and the log). */
  loaded(component: SessionComponent): SessionVariant[] {
    return (["plain", "tiled"] as const).filter((v) => this.kept.has(keyOf(component, v)));
  }

  async releaseAll(): Promise<void> {
    const sessions = [...this.kept.values()];
    this.kept.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }

  /**
   * Sessions created mid-generation (low-memory mode, a first tiled generation): a GPU that cannot
   * (out of memory) fails like a failed run, so the engine falls back to the next provider.
   */
  private async createDuringGeneration(component: SessionComponent, variant: SessionVariant): Promise<ModelSession> {
    try {
      return await this.create(component, variant);
    } catch (error) {
      if (this.provider === "cpu") throw error;
      throw new ProviderRunError(this.provider, component, firstLine(error));
    }
  }

  private async create(component: SessionComponent, variant: SessionVariant): Promise<ModelSession> {
    const file = this.files[component];
    if (!file) throw new Error(`${component} is not part of this model`);
    const patch = this.patches.get(component);
    const session = await ModelSession.create(component, file, this.provider, { circular: variant === "tiled", open: this.hooks.openSession, weights: patch ? await patch() : undefined, freshPatterns: true });
    this.portsOf.set(component, { inputs: session.inputs, outputs: session.outputs });
    this.hooks.onSessionCreated?.(component, variant);
    return session;
  }
}
