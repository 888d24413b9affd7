// The ONNX sessions of one model. Normally each is created once and kept, so the second image pays
// no load; in low-memory mode only the component in use is loaded and released right after, so an
// 8 GB machine never holds the text encoder, UNet and VAE at once.
import type { ProviderName } from "./providers";
import { ModelSession, type PortInfo, type WeightPatch } from "./session";

export type SessionComponent = "text_encoder" | "text_encoder_2" | "unet" | "vae_decoder" | "vae_encoder" | "taesd_decoder";

export interface Ports {
  readonly inputs: readonly PortInfo[];
  readonly outputs: readonly PortInfo[];
}

export interface SessionHooks {
  /** Called as each component's session is created while the model loads. */
  readonly onProgress?: (component: SessionComponent, index: number, total: number) => void;
  /** Called for every ONNX session created (warm reuse creates none). */
  readonly onSessionCreated?: (component: SessionComponent) => void;
}

export class ComponentSessions {
  private readonly kept = new Map<SessionComponent, ModelSession>();
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
        const session = await this.create(component);
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
    const session = await this.create(component);
    if (this.lowMemory) await session.release();
    else this.kept.set(component, session);
  }

  has(component: SessionComponent): boolean {
    return this.portsOf.has(component);
  }

  ports(component: SessionComponent): Ports | undefined {
    return this.portsOf.get(component);
  }

  /** Runs `work` with the component's session, loading it first in low-memory mode. */
  async use<T>(component: SessionComponent, work: (session: ModelSession) => Promise<T>): Promise<T> {
    const kept = this.kept.get(component);
    if (kept) return work(kept);
    const session = await this.create(component);
    if (!this.lowMemory) {
      this.kept.set(component, session);
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
   * changed or dropped) loses its session and, unless in low-memory mode, gets a new one now, so the
   * switch costs its load here and the next generation none. A failure leaves no patches set.
   */
  async setWeightPatches(patches: ReadonlyMap<SessionComponent, () => Promise<WeightPatch>>): Promise<void> {
    const touched = new Set([...this.patches.keys(), ...patches.keys()]);
    this.patches = new Map(patches);
    try {
      for (const component of touched) {
        const kept = this.kept.get(component);
        if (kept) {
          this.kept.delete(component);
          await kept.release();
        }
        if (!this.lowMemory && this.files[component]) this.kept.set(component, await this.create(component));
      }
    } catch (error) {
      this.patches = new Map();
      throw error;
    }
  }

  async releaseAll(): Promise<void> {
    const sessions = [...this.kept.values()];
    this.kept.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }

  private async create(component: SessionComponent): Promise<ModelSession> {
    const file = this.files[component];
    if (!file) throw new Error(`${component} is not part of this model`);
    const patch = this.patches.get(component);
    const session = await ModelSession.create(component, file, this.provider, patch ? await patch() : undefined);
    this.portsOf.set(component, { inputs: session.inputs, outputs: session.outputs });
    this.hooks.onSessionCreated?.(component);
    return session;
  }
}
