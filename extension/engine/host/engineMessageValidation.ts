// Runtime checks for both directions of the engine-process protocol, and its lists of message
// types (checked against the unions in engineRequests.ts and engineEvents.ts at compile time).
import { EASEL_ERROR_CODES } from "../errors";
import { MODEL_FAMILIES } from "../model/modelInfo";
import { PROVIDER_NAMES } from "../onnx/providers";
import { OUTPAINT_FILLS, type OutpaintRequest } from "../pipeline/outpaint";
import { SCHEDULER_CHOICES, SCHEDULER_NAMES } from "../schedulers/scheduler";
import { TIMESTEP_SPACINGS } from "../schedulers/betas";
import { type AppliedLora, DECODERS, type HiresRequest, type LoraRequest } from "../types";
import { MATTE_OUTPUTS, type MatteSpec, TRANSPARENT_FORMATS } from "../matte/backgroundRemoval";
import { PROMPT_SYNTAXES } from "../text/a1111Prompt";
import { UPSCALE_OVERLAP, UPSCALE_SCALES, UPSCALE_TILE } from "../upscale/upscaleImage";
import type { EngineEvent, WireImage } from "./engineEvents";
import type { EngineRequest, EngineSettings, WireGenerateRequest } from "./engineRequests";
import {
  big, bool, bytes, type Fields, int, num, object, oneOf, optBig, optBool, optBytes, optInt, optNum, optOneOf, optStr, ProtocolError, str,
} from "./validate";

/** Every request the engine process answers: exactly the `type`s of EngineRequest. */
export const ENGINE_REQUEST_TYPES = ["load", "unload", "generate", "cancel", "dispose", "providers", "removeBackground", "upscale"] as const satisfies readonly EngineRequest["type"][];
/** Every event the engine process sends: exactly the `type`s of EngineEvent. */
export const ENGINE_EVENT_TYPES = [
  "ready", "loadProgress", "loaded", "unloaded", "progress", "preview", "result", "error", "providers", "cutout", "notice", "upscaleProgress", "upscaled",
] as const satisfies readonly EngineEvent["type"][];
// A type added to a union but not to its list fails to compile here.
type Unlisted = Exclude<EngineRequest["type"], (typeof ENGINE_REQUEST_TYPES)[number]> | Exclude<EngineEvent["type"], (typeof ENGINE_EVENT_TYPES)[number]>;
const everyTypeListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyTypeListed;

const PROVIDERS = PROVIDER_NAMES.filter((p) => p !== "auto");
const STAGES = ["tokenize", "textEncoder", "vaeEncode", "unet", "scheduler", "preview", "vaeDecode", "png"] as const;

function settings(value: unknown): EngineSettings {
  const o = object(value, "settings");
  return {
    provider: oneOf(o, "provider", PROVIDER_NAMES, "settings"),
    previews: bool(o, "previews", "settings"),
    taesdDecoder: optStr(o, "taesdDecoder", "settings"),
    fastDecode: bool(o, "fastDecode", "settings"),
    modelStore: optStr(o, "modelStore", "settings"),
    loraFolders: optStrings(o, "loraFolders", "settings"),
    lowMemory: bool(o, "lowMemory", "settings"),
    idleUnloadMs: int(o, "idleUnloadMs", "settings"),
  };
}

function generateRequest(value: unknown): WireGenerateRequest {
  const o = object(value, "request");
  return {
    prompt: str(o, "prompt", "request"),
    negativePrompt: optStr(o, "negativePrompt", "request"),
    scheduler: optOneOf(o, "scheduler", SCHEDULER_CHOICES, "request"),
    timestepSpacing: optOneOf(o, "timestepSpacing", TIMESTEP_SPACINGS, "request"),
    steps: optInt(o, "steps", "request"),
    guidance: optNum(o, "guidance", "request"),
    seed: optBig(o, "seed", "request"),
    width: optInt(o, "width", "request"),
    height: optInt(o, "height", "request"),
    batch: optInt(o, "batch", "request"),
    initImage: optBytes(o, "initImage", "request"),
    strength: optNum(o, "strength", "request"),
    decoder: optOneOf(o, "decoder", DECODERS, "request"),
    mask: optBytes(o, "mask", "request"),
    outpaint: o.outpaint === undefined ? undefined : outpaintRequest(o.outpaint),
    promptSyntax: optOneOf(o, "promptSyntax", PROMPT_SYNTAXES, "request"),
    loras: o.loras === undefined ? undefined : loraRequests(o.loras),
    fast: optBool(o, "fast", "request"),
    fastLora: optStr(o, "fastLora", "request"),
    tileable: optBool(o, "tileable", "request"),
    hires: o.hires === undefined ? undefined : hiresRequest(o.hires),
  };
}

function hiresRequest(value: unknown): HiresRequest {
  const what = "request.hires";
  const o = object(value, what);
  return { scale: num(o, "scale", what), strength: num(o, "strength", what), steps: optInt(o, "steps", what), upscaler: optStr(o, "upscaler", what) };
}

function optStrings(o: Fields, key: string, what: string): string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new ProtocolError(`${what}.${key} must be an array of strings`);
  return v as string[];
}

function loraRequests(value: unknown): LoraRequest[] {
  if (!Array.isArray(value)) throw new ProtocolError("request.loras must be an array");
  return value.map((item) => {
    const o = object(item, "request.loras[]");
    return { name: str(o, "name", "request.loras[]"), weight: num(o, "weight", "request.loras[]") };
  });
}

function outpaintRequest(value: unknown): OutpaintRequest {
  const what = "request.outpaint";
  const o = object(value, what);
  return {
    left: optInt(o, "left", what),
    right: optInt(o, "right", what),
    top: optInt(o, "top", what),
    bottom: optInt(o, "bottom", what),
    overlap: optInt(o, "overlap", what),
    fill: optOneOf(o, "fill", OUTPAINT_FILLS, what),
  };
}

function rgbTriple(o: Fields, key: string, what: string): readonly [number, number, number] {
  const v = o[key];
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === "number" && Number.isFinite(x))) throw new ProtocolError(`${what}.${key} must be three finite numbers`);
  return [v[0] as number, v[1] as number, v[2] as number];
}

function upscaler(value: unknown): { file: string; name: string } {
  const o = object(value, "upscaler");
  return { file: str(o, "file", "upscaler"), name: str(o, "name", "upscaler") };
}

function upscaleScale(o: Fields, what: string): (typeof UPSCALE_SCALES)[number] {
  const scale = int(o, "scale", what);
  const allowed: readonly number[] = UPSCALE_SCALES;
  if (!allowed.includes(scale)) throw new ProtocolError(`${what}.scale must be one of ${UPSCALE_SCALES.join(", ")}`);
  return scale as (typeof UPSCALE_SCALES)[number];
}

/** An optional whole number in [min, max] (an upscale's tile and overlap, the CLI's ranges). */
function intWithin(o: Fields, key: string, what: string, range: { readonly min: number; readonly max: number }): number | undefined {
  const v = optInt(o, key, what);
  if (v !== undefined && (v < range.min || v > range.max)) throw new ProtocolError(`${what}.${key} must be from ${range.min} to ${range.max}`);
  return v;
}

function remover(value: unknown): { file: string; spec: MatteSpec; name?: string } {
  const o = object(value, "remover");
  const s = object(o.spec, "remover.spec");
  const what = "remover.spec";
  return {
    file: str(o, "file", "remover"),
    name: optStr(o, "name", "remover"),
    spec: { inputSize: int(s, "inputSize", what), mean: rgbTriple(s, "mean", what), std: rgbTriple(s, "std", what), output: oneOf(s, "output", MATTE_OUTPUTS, what) },
  };
}

export function parseEngineRequest(value: unknown): EngineRequest {
  const o = object(value, "message");
  const type = str(o, "type", "message");
  switch (type) {
    case "load":
      return { type, id: int(o, "id", type), modelDir: str(o, "modelDir", type), settings: settings(o.settings) };
    case "unload":
      return { type, id: int(o, "id", type) };
    case "generate":
      return { type, id: int(o, "id", type), modelDir: str(o, "modelDir", type), settings: settings(o.settings), request: generateRequest(o.request) };
    case "cancel":
      return { type, id: int(o, "id", type) };
    case "dispose":
      return { type };
    case "providers":
      return { type, id: int(o, "id", type), choice: oneOf(o, "choice", PROVIDER_NAMES, type) };
    case "removeBackground":
      return {
        type, id: int(o, "id", type), settings: settings(o.settings), image: bytes(o, "image", type), remover: remover(o.remover),
        matte: optNum(o, "matte", type), format: oneOf(o, "format", TRANSPARENT_FORMATS, type),
      };
    case "upscale":
      return {
        type, id: int(o, "id", type), settings: settings(o.settings), image: bytes(o, "image", type), name: str(o, "name", type),
        scale: upscaleScale(o, type), upscaler: o.upscaler === undefined ? undefined : upscaler(o.upscaler),
        tile: intWithin(o, "tile", type, UPSCALE_TILE), overlap: intWithin(o, "overlap", type, UPSCALE_OVERLAP), wrap: optBool(o, "wrap", type),
      };
    default:
      throw new ProtocolError(`unknown request type "${type}": one of ${ENGINE_REQUEST_TYPES.join(", ")}`);
  }
}

function appliedLoras(value: unknown): AppliedLora[] {
  if (!Array.isArray(value)) throw new ProtocolError("result.loras must be an array");
  return value.map((v) => {
    const o = object(v, "result.loras[]");
    const what = "result.loras[]";
    return { name: str(o, "name", what), file: str(o, "file", what), unetWeight: num(o, "unetWeight", what), textWeight: num(o, "textWeight", what), hash: str(o, "hash", what), fromPrompt: bool(o, "fromPrompt", what) };
  });
}

function stages(value: unknown): Record<(typeof STAGES)[number], number> {
  const o = object(value, "stages");
  const out = {} as Record<(typeof STAGES)[number], number>;
  for (const s of STAGES) out[s] = num(o, s, "stages");
  return out;
}

function images(value: unknown): WireImage[] {
  if (!Array.isArray(value)) throw new ProtocolError("result.images must be a list");
  return value.map((v: unknown, i: number) => {
    const o: Fields = object(v, `result.images[${i}]`);
    const what = `result.images[${i}]`;
    return { png: bytes(o, "png", what), seed: big(o, "seed", what), width: int(o, "width", what), height: int(o, "height", what), infotext: str(o, "infotext", what) };
  });
}

function skippedProviders(value: unknown): { provider: (typeof PROVIDERS)[number]; reason: string }[] {
  if (!Array.isArray(value)) throw new ProtocolError("providers.skipped must be a list");
  return value.map((v: unknown, i: number) => {
    const o: Fields = object(v, `providers.skipped[${i}]`);
    return { provider: oneOf(o, "provider", PROVIDERS, `providers.skipped[${i}]`), reason: str(o, "reason", `providers.skipped[${i}]`) };
  });
}

export function parseEngineEvent(value: unknown): EngineEvent {
  const o = object(value, "event");
  const type = str(o, "type", "event");
  switch (type) {
    case "ready":
      return { type, pid: int(o, "pid", type) };
    case "cutout":
      return { type, id: int(o, "id", type), image: bytes(o, "image", type), seconds: num(o, "seconds", type) };
    case "loadProgress":
      return { type, id: int(o, "id", type), component: str(o, "component", type), index: int(o, "index", type), total: int(o, "total", type) };
    case "loaded":
      return {
        type, id: int(o, "id", type), model: str(o, "model", type), family: oneOf(o, "family", MODEL_FAMILIES, type),
        provider: oneOf(o, "provider", PROVIDERS, type), seconds: num(o, "seconds", type),
      };
    case "unloaded":
      return { type, id: int(o, "id", type) };
    case "progress":
      return {
        type, id: int(o, "id", type), image: int(o, "image", type), images: int(o, "images", type),
        step: int(o, "step", type), steps: int(o, "steps", type), itPerSec: num(o, "itPerSec", type),
      };
    case "preview":
      return {
        type, id: int(o, "id", type), image: int(o, "image", type), step: int(o, "step", type),
        png: bytes(o, "png", type), width: int(o, "width", type), height: int(o, "height", type),
      };
    case "result":
      return {
        type, id: int(o, "id", type), images: images(o.images), sampler: oneOf(o, "sampler", SCHEDULER_NAMES, type),
        provider: oneOf(o, "provider", PROVIDERS, type), seconds: num(o, "seconds", type), stages: stages(o.stages),
        peakRssBytes: num(o, "peakRssBytes", type), sessionsCreated: int(o, "sessionsCreated", type),
        warnings: optStrings(o, "warnings", type) ?? [], loras: appliedLoras(o.loras),
      };
    case "error":
      return {
        type, id: optInt(o, "id", type), code: oneOf(o, "code", EASEL_ERROR_CODES, type), message: str(o, "message", type),
        retryable: bool(o, "retryable", type),
      };
    case "providers":
      return { type, id: int(o, "id", type), provider: oneOf(o, "provider", PROVIDERS, type), skipped: skippedProviders(o.skipped) };
    case "notice":
      return { type, id: int(o, "id", type), message: str(o, "message", type) };
    case "upscaleProgress":
      return { type, id: int(o, "id", type), pass: int(o, "pass", type), passes: int(o, "passes", type), tile: int(o, "tile", type), tiles: int(o, "tiles", type) };
    case "upscaled":
      return {
        type, id: int(o, "id", type), png: bytes(o, "png", type), width: int(o, "width", type), height: int(o, "height", type),
        upscaler: str(o, "upscaler", type), seconds: num(o, "seconds", type),
      };
    default:
      throw new ProtocolError(`unknown event type "${type}": one of ${ENGINE_EVENT_TYPES.join(", ")}`);
  }
}
