// Easel's settings, resolved and checked in one place. In an untrusted workspace only the user's
// own (global) values count: a repository cannot point Easel at other models or folders.
import type { OutputMode } from "./assets/outputLocation";
import { loadCatalog } from "./engine/hub/catalog";
import { IMAGE_FORMATS, type ImageFormat } from "./engine/image/convert";
import { PROVIDER_NAMES, type ProviderChoice } from "./engine/onnx/providers";
import { MAX_GUIDANCE, MAX_SIDE, MAX_STEPS } from "./engine/pipeline/resolveRequest";
import { SCHEDULER_CHOICES, type SchedulerChoice } from "./engine/schedulers/scheduler";
import { PROMPT_SYNTAXES, type PromptSyntax } from "./engine/text/a1111Prompt";

export type { ImageFormat };

/**
 * easel.idleUnloadMinutes' maximum (a week; package.json says the same). Larger values are clamped:
 * the engine's idle timer is a setTimeout, which fires at once for delays over 2^31-1 ms (24.8 days).
 */
export const MAX_IDLE_UNLOAD_MINUTES = 10_080;

export interface EaselSettings {
  readonly model: string;
  readonly localModels: readonly string[];
  /** Folders of LoRA files (.safetensors) for `<lora:NAME:W>` and the Studio's picker. */
  readonly loraFolders: readonly string[];
  readonly cacheFolder: string;
  readonly provider: ProviderChoice;
  readonly output: { readonly folder: string; readonly location: OutputMode; readonly naming: string; readonly format: ImageFormat };
  readonly defaults: {
    readonly steps?: number;
    readonly guidance?: number;
    readonly scheduler: SchedulerChoice;
    readonly width?: number;
    readonly height?: number;
  };
  /** How Easel's own generations read prompts: AUTOMATIC1111's syntax (weights, BREAK, chunks) unless set to plain. */
  readonly promptSyntax: PromptSyntax;
  readonly previews: boolean;
  readonly idleUnloadMinutes: number;
  readonly lowMemory: boolean;
  readonly taesdDecoder: string;
  readonly fastDecode: boolean;
  /**
   * Fast mode's LoRA (a catalog id, easel.fastLora) for models of the family it is made for; models
   * of another family, and "" (the default), use their family's default (LCM-LoRA).
   */
  readonly fastLora: string;
}

/** What VS Code's WorkspaceConfiguration.inspect returns, reduced to what matters here. */
export interface SettingValues {
  readonly defaultValue?: unknown;
  readonly globalValue?: unknown;
  readonly workspaceValue?: unknown;
  readonly workspaceFolderValue?: unknown;
}

export type SettingSource = (key: string) => SettingValues | undefined;

function pick(source: SettingSource, key: string, trusted: boolean): unknown {
  const v = source(key);
  if (!v) return undefined;
  if (trusted) return v.workspaceFolderValue ?? v.workspaceValue ?? v.globalValue ?? v.defaultValue;
  return v.globalValue ?? v.defaultValue;
}

export function resolveSettings(source: SettingSource, trusted: boolean): EaselSettings {
  const get = (key: string) => pick(source, key, trusted);
  const str = (key: string, fallback: string) => {
    const v = get(key);
    return typeof v === "string" ? v : fallback;
  };
  const bool = (key: string, fallback: boolean) => {
    const v = get(key);
    return typeof v === "boolean" ? v : fallback;
  };
  const positiveInt = (key: string, max: number) => {
    const v = get(key);
    return typeof v === "number" && Number.isInteger(v) && v > 0 && v <= max ? v : undefined;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = get(key);
    return typeof v === "string" && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
  };
  const guidance = get("defaults.guidance");
  const idle = get("idleUnloadMinutes");
  const local = get("localModels");
  const loraFolders = get("loraFolders");
  return {
    model: str("model", "").trim(),
    localModels: Array.isArray(local) ? local.filter((x): x is string => typeof x === "string" && x.trim() !== "") : [],
    loraFolders: Array.isArray(loraFolders) ? loraFolders.filter((x): x is string => typeof x === "string" && x.trim() !== "") : [],
    cacheFolder: str("cacheFolder", "").trim(),
    provider: oneOf("provider", PROVIDER_NAMES, "auto"),
    output: {
      folder: str("output.folder", "assets/generated"),
      location: oneOf("output.location", ["workspace", "document"] as const, "workspace"),
      naming: str("output.naming", "${slug}-${seed}") || "${slug}-${seed}",
      format: oneOf("output.format", IMAGE_FORMATS, "png"),
    },
    defaults: {
      steps: positiveInt("defaults.steps", MAX_STEPS),
      guidance: typeof guidance === "number" && guidance >= 0 && guidance <= MAX_GUIDANCE ? guidance : undefined,
      scheduler: oneOf("defaults.scheduler", SCHEDULER_CHOICES, "default"),
      width: positiveInt("defaults.width", MAX_SIDE),
      height: positiveInt("defaults.height", MAX_SIDE),
    },
    promptSyntax: oneOf("promptSyntax", PROMPT_SYNTAXES, "a1111"),
    previews: bool("previews", true),
    idleUnloadMinutes: typeof idle === "number" && idle >= 0 ? Math.min(idle, MAX_IDLE_UNLOAD_MINUTES) : 10,
    lowMemory: bool("lowMemory", false),
    taesdDecoder: str("taesdDecoder", "").trim(),
    fastDecode: bool("fastDecode", false),
    fastLora: oneOf("fastLora", ["", ...(loadCatalog().loras ?? []).map((l) => l.id)], ""),
  };
}
