// Runtime checks for what the Studio webview sends. The webview runs page script, so every message
// is treated like input from outside: the typed value is rebuilt field by field, ranges are
// checked, and anything malformed is refused with a ProtocolError naming the field.
import { MAX_BATCH, MAX_GUIDANCE, MAX_HIRES_SCALE, MAX_PROMPT_CHARS, MAX_SEED, MAX_SIDE, MAX_STEPS, MIN_SIDE } from "../engine/pipeline/resolveRequest";
import { SCHEDULER_CHOICES } from "../engine/schedulers/scheduler";
import {
  BACKGROUND_CHOICES, DECODER_CHOICES, ERROR_ACTION_IDS, GALLERY_ACTIONS, INIT_MODES, MAX_MASK_PNG_BYTES, MAX_STORED_THUMB_CHARS, MAX_STUDIO_LORAS, MAX_UPSCALER_NAME_CHARS, OUTPAINT_SIDE_NAMES,
  PROMPT_FIELDS, QUALITY_CHOICES, SEED_MODES, SIZE_CHOICES, type ImageRef, type OutpaintSides, type StudioForm, type StudioLora, type WebviewMessage,
} from "./studioMessages";
import { LORA_WEIGHT_LIMIT } from "../engine/lora/apply";
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

/** The matte threshold: in (0, 1), or 0 for soft edges (what a restore sends to clear it). */
function matte(o: Fields): number {
  const v = num(o, "matte", "form");
  if (!(v >= 0 && v < 1)) throw new ProtocolError("form.matte must be at least 0 and below 1");
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
  const stored = o.stored === undefined ? false : bool(o, "stored", what);
  // A stored starting image is shown from a data: URL the host sent; anything else from a webview URI.
  const thumb = text(o, "thumb", what, stored ? MAX_STORED_THUMB_CHARS : MAX_ID_CHARS);
  return { id: id(o, "id", what), name: text(o, "name", what, MAX_ID_CHARS), thumb, ...(stored ? { stored: true } : {}) };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A PNG's width and height from its IHDR chunk (which the format puts first), or undefined for anything that is not a PNG. */
export function pngSize(bytes: Uint8Array): { readonly width: number; readonly height: number } | undefined {
  if (bytes.length < 24 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]) !== "IHDR") return undefined;
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * The mask the page drew, as sent (base64 PNG): decodable, at most MAX_MASK_PNG_BYTES, a PNG by its
 * signature, with sides the engine accepts. Whether it fits the starting image is checkMaskFits'.
 */
export function parseMask(value: string, what = "form.mask"): { readonly png: Uint8Array; readonly width: number; readonly height: number } {
  if (value.length > Math.ceil(MAX_MASK_PNG_BYTES / 3) * 4) throw new ProtocolError(`${what} is over ${MAX_MASK_PNG_BYTES / (1024 * 1024)} MiB: clear the mask and paint it again`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw new ProtocolError(`${what} must be a base64 PNG`);
  const png = Uint8Array.from(Buffer.from(value, "base64"));
  const size = pngSize(png);
  if (!size) throw new ProtocolError(`${what} is not a PNG (no PNG signature and IHDR): paint the mask again`);
  if (size.width < MIN_SIDE || size.width > MAX_SIDE || size.height < MIN_SIDE || size.height > MAX_SIDE) {
    throw new ProtocolError(`${what} is ${size.width}×${size.height}: each side must be from ${MIN_SIDE} to ${MAX_SIDE} pixels`);
  }
  return { png, ...size };
}

/** Refuses a mask whose size is not the starting image's (the engine would stretch it away from what was painted). */
export function checkMaskFits(mask: { readonly width: number; readonly height: number }, image: { readonly width: number; readonly height: number }): void {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new ProtocolError(`the mask is ${mask.width}×${mask.height} but the starting image is ${image.width}×${image.height}: clear the mask and paint it again`);
  }
}

function outpaintSides(value: unknown): OutpaintSides {
  const o = object(value, "form.outpaint");
  const sides = Object.fromEntries(OUTPAINT_SIDE_NAMES.map((side) => [side, intIn(o, side, "form.outpaint", 0, MAX_SIDE)])) as Record<(typeof OUTPAINT_SIDE_NAMES)[number], number>;
  if (OUTPAINT_SIDE_NAMES.every((side) => sides[side] === 0)) throw new ProtocolError("form.outpaint must extend at least one side: give left, right, top or bottom some pixels");
  return sides;
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
    background: optOneOf(o, "background", BACKGROUND_CHOICES, "form") ?? "opaque",
    ...(o.matte === undefined ? {} : { matte: matte(o) }),
    ...hiresPass(o),
    ...initEdit(o),
    ...lorasAndQuality(o),
  };
}

/** The hires pass's steps (0: the first pass's) and upscaler, when the form has them (pages saved before they existed have neither). */
function hiresPass(o: Fields): Pick<StudioForm, "hiresSteps" | "hiresUpscaler"> {
  return {
    ...(o.hiresSteps === undefined ? {} : { hiresSteps: intIn(o, "hiresSteps", "form", 0, MAX_STEPS) }),
    ...(o.hiresUpscaler === undefined ? {} : { hiresUpscaler: text(o, "hiresUpscaler", "form", MAX_UPSCALER_NAME_CHARS) }),
  };
}

// ---- LoRAs and fast mode (issue 10)
const MAX_LORA_NAME_CHARS = 255;

/**
 * The picker's LoRAs: names as the LoRA folders list them (never a path: the engine reads a name
 * with a folder part or an extension as a file, and the page must not name files), each once,
 * weights in the engine's range.
 */
function studioLoras(value: unknown): StudioLora[] {
  if (!Array.isArray(value)) throw new ProtocolError("form.loras must be an array");
  if (value.length > MAX_STUDIO_LORAS) throw new ProtocolError(`form.loras holds ${value.length} LoRAs: at most ${MAX_STUDIO_LORAS} at once`);
  const seen = new Set<string>();
  return value.map((item, i) => {
    const what = `form.loras[${i}]`;
    const o = object(item, what);
    const name = id(o, "name", what);
    if (name.length > MAX_LORA_NAME_CHARS || /[/\\]|\.(safetensors|ckpt|pt|pth|bin)$/i.test(name) || name.trim() !== name) {
      throw new ProtocolError(`${what}.name must be a LoRA's name from the picker, not a path`);
    }
    if (seen.has(name)) throw new ProtocolError(`${what}.name: ${name} is in the list twice: remove one`);
    seen.add(name);
    const weight = num(o, "weight", what);
    if (!(weight >= -LORA_WEIGHT_LIMIT && weight <= LORA_WEIGHT_LIMIT)) throw new ProtocolError(`${what}.weight must be from -${LORA_WEIGHT_LIMIT} to ${LORA_WEIGHT_LIMIT}`);
    return { name, weight };
  });
}

function lorasAndQuality(o: Fields): Pick<StudioForm, "loras" | "quality" | "fastLora"> {
  const loras = o.loras === undefined ? [] : studioLoras(o.loras);
  const quality = optOneOf(o, "quality", QUALITY_CHOICES, "form") ?? "normal";
  // A catalog id (the host checks it is one of the model's fast-mode LoRAs before anything runs).
  const fastLora = o.fastLora === undefined || o.fastLora === "" ? undefined : id(o, "fastLora", "form");
  if (fastLora !== undefined && !/^[a-z0-9][a-z0-9-]{0,63}$/.test(fastLora)) throw new ProtocolError("form.fastLora must be a catalog id such as lcm-lora-sdv1-5");
  return { ...(loras.length > 0 ? { loras } : {}), ...(quality === "fast" ? { quality, ...(fastLora !== undefined ? { fastLora } : {}) } : {}) };
}

/** The starting image's mode with what it needs: a mask to inpaint, sides to outpaint, nothing for img2img. */
function initEdit(o: Fields): Pick<StudioForm, "initMode" | "mask" | "outpaint"> {
  const mode = optOneOf(o, "initMode", INIT_MODES, "form") ?? "img2img";
  if (mode === "img2img") return {};
  if (o.initImage === undefined) throw new ProtocolError(`form.initMode ${mode} needs a starting image: choose one first`);
  if (mode === "inpaint") {
    const mask = str(o, "mask", "form");
    parseMask(mask);
    return { initMode: mode, mask };
  }
  return { initMode: mode, outpaint: outpaintSides(o.outpaint) };
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
    case "refreshLoras":
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
