// Runtime checks for what the Studio webview sends. The webview runs page script, so every message
// is treated like input from outside: the typed value is rebuilt field by field, ranges are
// checked, and anything malformed is refused with a ProtocolError naming the field.
import { MAX_BATCH, MAX_GUIDANCE, MAX_HIRES_SCALE, MAX_PROMPT_CHARS, MAX_SEED, MAX_SIDE, MAX_STEPS, MIN_SIDE } from "../engine/pipeline/resolveRequest";
import { SCHEDULER_CHOICES } from "../engine/schedulers/scheduler";
import { DECODER_CHOICES, ERROR_ACTION_IDS, GALLERY_ACTIONS, PROMPT_FIELDS, SEED_MODES, SIZE_CHOICES, type ImageRef, type StudioForm, type WebviewMessage } from "./studioMessages";
import { bool, type Fields, int, num, object, oneOf, optInt, optOneOf, ProtocolError, str } from "../engine/host/validate";

const MAX_ID_CHARS = 4096;

function text(o: Fields, key: string, what: string, max: number): string {
  const v = str(o, key, what);
  if (v.length > max) throw new ProtocolError(`${what}.${key} must be at most ${max} characters`);
  return v;
}

function id(o: Fields, key: string, what: string): string {
  const v = text(o, key, what, MAX_ID_CHARS);
  if (v === "") throw new ProtocolError(`${what}.${key} must not be empty`);
  return v;
}

function intIn(o: Fields, key: string, what: string, min: number, max: number): number {
  const v = int(o, key, what);
  if (v < min || v > max) throw new ProtocolError(`${what}.${key} must be from ${min} to ${max}`);
  return v;
}

function numIn(o: Fields, key: string, what: string, min: number, max: number, openBelow: boolean): number {
  const v = num(o, key, what);
  if (!(openBelow ? v > min : v >= min) || v > max) throw new ProtocolError(`${what}.${key} must be ${openBelow ? "above" : "at least"} ${min} and at most ${max}`);
  return v;
}

function hiresScale(o: Fields): number | undefined {
  return o.hiresScale === undefined ? undefined : numIn(o, "hiresScale", "form", 1, MAX_HIRES_SCALE, true);
}

function optIntIn(o: Fields, key: string, what: string, min: number, max: number): number | undefined {
  return optInt(o, key, what) === undefined ? undefined : intIn(o, key, what, min, max);
}

function optNumIn(o: Fields, key: string, what: string, min: number, max: number): number | undefined {
  if (o[key] === undefined) return undefined;
  const v = num(o, key, what);
  if (v < min || v > max) throw new ProtocolError(`${what}.${key} must be from ${min} to ${max}`);
  return v;
}

function seedText(o: Fields, fixed: boolean): string {
  const v = text(o, "seed", "form", 20).trim();
  if (v === "" && !fixed) return "";
  if (!/^[0-9]+$/.test(v) || BigInt(v) > MAX_SEED) {
    throw new ProtocolError(`form.seed must be a whole number from 0 to ${MAX_SEED}${fixed ? " when the seed is fixed" : ""}`);
  }
  return v;
}

function imageRef(value: unknown, what: string): ImageRef {
  const o = object(value, what);
  return { id: id(o, "id", what), name: text(o, "name", what, MAX_ID_CHARS), thumb: text(o, "thumb", what, MAX_ID_CHARS) };
}

export function parseStudioForm(value: unknown): StudioForm {
  const o = object(value, "form");
  const seedMode = oneOf(o, "seedMode", SEED_MODES, "form");
  const strength = num(o, "strength", "form");
  if (strength <= 0 || strength > 1) throw new ProtocolError("form.strength must be above 0 and at most 1");
  return {
    prompt: text(o, "prompt", "form", MAX_PROMPT_CHARS),
    negativePrompt: text(o, "negativePrompt", "form", MAX_PROMPT_CHARS),
    scheduler: oneOf(o, "scheduler", SCHEDULER_CHOICES, "form"),
    steps: optIntIn(o, "steps", "form", 1, MAX_STEPS),
    guidance: optNumIn(o, "guidance", "form", 0, MAX_GUIDANCE),
    seedMode,
    seed: seedText(o, seedMode === "fixed"),
    size: oneOf(o, "size", SIZE_CHOICES, "form"),
    width: optIntIn(o, "width", "form", MIN_SIDE, MAX_SIDE),
    height: optIntIn(o, "height", "form", MIN_SIDE, MAX_SIDE),
    batch: intIn(o, "batch", "form", 1, MAX_BATCH),
    initImage: o.initImage === undefined ? undefined : imageRef(o.initImage, "form.initImage"),
    strength,
    // Absent from a page saved before the choice existed: the setting decides.
    decoder: optOneOf(o, "decoder", DECODER_CHOICES, "form") ?? "default",
    tileable: o.tileable === undefined ? false : bool(o, "tileable", "form"),
    ...(o.hiresScale === undefined ? {} : { hiresScale: hiresScale(o) }),
    hiresStrength: o.hiresStrength === undefined ? 0.5 : numIn(o, "hiresStrength", "form", 0, 1, true),
  };
}

export function parseWebviewMessage(value: unknown): WebviewMessage {
  const o = object(value, "message");
  const type = str(o, "type", "message");
  switch (type) {
    case "ready":
    case "cancel":
    case "cancelDownload":
    case "moreModels":
    case "pickInitImage":
    case "refreshGallery":
      return { type };
    case "generate":
      return { type, form: parseStudioForm(o.form) };
    case "countTokens":
      return {
        type, field: oneOf(o, "field", PROMPT_FIELDS, type), text: text(o, "text", type, MAX_PROMPT_CHARS),
        seq: intIn(o, "seq", type, 0, Number.MAX_SAFE_INTEGER),
      };
    case "selectModel":
      return { type, spec: id(o, "spec", type) };
    case "galleryAction":
      return { type, action: oneOf(o, "action", GALLERY_ACTIONS, type), id: id(o, "id", type) };
    case "errorAction":
      return { type, action: oneOf(o, "action", ERROR_ACTION_IDS, type) };
    default:
      throw new ProtocolError(`unknown Studio message type "${type}"`);
  }
}
