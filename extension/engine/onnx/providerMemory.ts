// What each GPU provider did with a model on this machine, remembered so that `auto` does not try
// (and fail on) the same provider at every load: a provider that could not load or run the model
// is skipped until the model files, the adapter or its driver change (the device key), and one
// that ran a generation is trusted at its first run. A small JSON file in Easel's cache folder (the
// model store's root, beside its other records), written atomically; a missing or damaged file is
// an empty memory, never an error.
import { promises as fs } from "node:fs";
import path from "node:path";
import { defaultStoreRoot } from "../hub/storePaths";
import { writeFileAtomic } from "../image/atomicWrite";
import { PROVIDER_NAMES, type ProviderName } from "./providers";

export interface ProviderVerdict {
  readonly ok: boolean;
  /** Why it failed, in one line. */
  readonly reason?: string;
  /** When it was recorded (ISO 8601). */
  readonly at: string;
}

interface Entry extends ProviderVerdict {
  readonly model: string;
  readonly provider: ProviderName;
  readonly device: string;
}

const FORMAT = 1;
/** Enough for every model a user keeps; the oldest go first. */
const MAX_ENTRIES = 256;

const MEMORY_FILE = "providers.json";

/** `<model store>/providers.json`: the store's root is Easel's cache folder (EASEL_HOME, XDG_CACHE_HOME, easel.cacheFolder move it). */
export function memoryFileIn(storeRoot: string): string {
  return path.join(path.resolve(storeRoot), MEMORY_FILE);
}

export function defaultMemoryFile(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  return memoryFileIn(defaultStoreRoot(env, platform));
}

function isEntry(value: unknown): value is Entry {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.model === "string" &&
    typeof e.device === "string" &&
    typeof e.ok === "boolean" &&
    typeof e.at === "string" &&
    (e.reason === undefined || typeof e.reason === "string") &&
    (PROVIDER_NAMES as readonly unknown[]).includes(e.provider)
  );
}

export class ProviderMemory {
  constructor(readonly file: string) {}

  static open(file: string = defaultMemoryFile()): ProviderMemory {
    return new ProviderMemory(path.resolve(file));
  }

  private async entries(): Promise<Entry[]> {
    try {
      const parsed: unknown = JSON.parse(await fs.readFile(this.file, "utf8"));
      const list = typeof parsed === "object" && parsed !== null && (parsed as { format?: unknown }).format === FORMAT ? (parsed as { entries?: unknown }).entries : undefined;
      return Array.isArray(list) ? list.filter(isEntry) : [];
    } catch {
      return [];
    }
  }

  /** The verdict for this model on this provider with this adapter and driver, if there is one. */
  async lookup(model: string, provider: ProviderName, device: string): Promise<ProviderVerdict | undefined> {
    const found = (await this.entries()).find((e) => e.model === model && e.provider === provider && e.device === device);
    return found && { ok: found.ok, reason: found.reason, at: found.at };
  }

  /**
   * Records a verdict, replacing whatever was known for the model on that provider, under any
   * device: an entry for an older driver can never apply again. A cache folder that cannot be
   * written only costs the memory (the next load probes again).
   */
  async remember(model: string, provider: ProviderName, device: string, verdict: Omit<ProviderVerdict, "at">): Promise<void> {
    const kept = (await this.entries()).filter((e) => !(e.model === model && e.provider === provider));
    const entry: Entry = { model, provider, device, ok: verdict.ok, ...(verdict.reason === undefined ? {} : { reason: verdict.reason }), at: new Date().toISOString() };
    const entries = [...kept, entry].slice(-MAX_ENTRIES);
    try {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, Buffer.from(`${JSON.stringify({ format: FORMAT, entries }, null, 1)}\n`));
    } catch {
      // Read-only cache: the memory is an optimisation.
    }
  }

  /** Everything remembered for a provider on this device (for `easel doctor`). */
  async forDevice(provider: ProviderName, device: string): Promise<readonly (ProviderVerdict & { readonly model: string })[]> {
    return (await this.entries()).filter((e) => e.provider === provider && e.device === device).map((e) => ({ model: e.model, ok: e.ok, reason: e.reason, at: e.at }));
  }
}
