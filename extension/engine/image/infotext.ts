// AUTOMATIC1111's "infotext": the generation parameters stored in a PNG's `parameters` text chunk,
// which A1111's "PNG Info" tab, Civitai and most SD tools read back.
//
// Writing follows stable-diffusion-webui's `create_infotext` (modules/processing.py):
//
//   <prompt, possibly several lines>
//   Negative prompt: <negative prompt>            (only when it is non-empty)
//   Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 42, Size: 512x512,
//   Model: name, Denoising strength: 0.6, Prompt syntax: a1111, RNG: CPU, Version: easel-0.1.0  (one line)
//
// "Prompt syntax" (a1111 or plain) is Easel's own key: how the prompts were read, so a recalled
// image regenerates identically. A1111 has no such key (it always reads its syntax); when the key
// is missing, an Easel image was read plainly (versions before the key) and any other as a1111.
//
// joined with "\n" and then stripped of surrounding whitespace, like A1111's `.strip()`. Each value
// goes through A1111's `quote()` (modules/infotext_utils.py): a value containing ",", ":" or a newline
// is written as a JSON string (`json.dumps(v, ensure_ascii=False)`, which JSON.stringify matches for
// strings). We also quote values containing '"', leading/trailing whitespace, or that are empty:
// A1111's parser unquotes any "..." value, so this only makes the round trip exact where plain
// A1111 would lose or mangle the value.
//
// Numbers: A1111 writes Python's `str(value)`. Its UI sliders hand integral values over as ints, so
// real infotexts read "CFG scale: 7" and "CFG scale: 7.5" (the docstring sample of
// parse_generation_parameters shows "CFG scale: 7"); API calls that send 7.0 give "7.0". We write the
// shortest round-tripping decimal (JavaScript's Number#toString): 7 -> "7", 7.5 -> "7.5",
// 0.6 -> "0.6", which is the UI form and parses back identically in A1111.
//
// "Schedule type" appears only for Karras sigmas (A1111 ≥ 1.9 writes it for every sampler, with
// "Automatic" as its default; its parser assumes "Automatic" when the key is missing). "RNG: CPU"
// is always written: the engine's noise is torch's CPU generator, which A1111 records as RNG: CPU.
//
// Parsing follows `parse_generation_parameters`: the last line is the parameter line when A1111's
// regex finds at least 3 key/value pairs in it; lines before the first one starting with
// "Negative prompt:" are the prompt, the rest the negative prompt (each line stripped). That layout
// is ambiguous (a prompt line can look like the separator), so when a prompt would not read back
// exactly Easel also writes it as quoted "Prompt" and "Negative prompt" pairs, which A1111's parser
// lets override the lines (see PROMPT_KEY). Parsing is linear in the text's length, and files are
// read only up to MAX_INFOTEXT_LENGTH: both matter because the text comes from any PNG in a workspace.

import { wellFormedText } from "./pngChunks";

import { MAX_SEED } from "../random/torchGenerator";

import { OUTPAINT_FILLS, type OutpaintFill, type OutpaintSides } from "../pipeline/outpaint";

import { isPromptSyntax, type PromptSyntax } from "../text/a1111Prompt";

import { TIMESTEP_SPACINGS, type TimestepSpacing } from "../schedulers/betas";

export interface GenerationInfo {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly steps: number;
  /** A1111's sampler label: "Euler a", "Euler", "DPM++ 2M", "DDIM", "PLMS", "LMS", "LCM", ... */
  readonly sampler: string;
  /** Karras sigmas: written as `Schedule type: Karras`. */
  readonly karras: boolean;
  /**
   * A timestep spacing the request set over the model's scheduler config (SDXL-Lightning's and
   * Hyper-SD's "trailing"): Easel's own key `Timestep spacing: trailing`. A1111 has no schedule type
   * that is diffusers' spacing (its "SGM Uniform" spaces fractional timesteps, and `Schedule type`
   * already carries Karras), so the exact value gets its own key.
   */
  readonly timestepSpacing?: TimestepSpacing;
  /** Classifier-free guidance scale ("CFG scale"). */
  readonly guidance: number;
  /** 0 .. 2^64-1, kept exact: a bigint, or a decimal string of digits. */
  readonly seed: bigint | string;
  readonly width: number;
  readonly height: number;
  /** Model name as shown to the user. */
  readonly model: string;
  /** img2img only. */
  readonly denoisingStrength?: number;
  /** A draft decoded by TAESD: written as A1111 does for its "TAESD" decode method, `VAE Decoder: TAESD`. */
  readonly taesd?: boolean;
  /**
   * Inpainting with a mask (written as A1111's `Mask blur`; Easel does not blur, so 0). The mask
   * itself cannot live in the text: whoever keeps the image keeps the mask beside it.
   */
  readonly maskBlur?: number;
  /** Outpainting: `Outpaint: left 64 right 0 top 0 bottom 0 overlap 8 fill edge` (Easel's own key). */
  readonly outpaint?: OutpaintSides;
  /** How the prompts were read: written as `Prompt syntax: a1111` or `Prompt syntax: plain`. */
  readonly promptSyntax?: PromptSyntax;
  /**
   * LoRAs applied: all of them in A1111's `Lora hashes: "name: 12 hex digits, …"`; those the request
   * named outside the prompt (CLI --lora, the Studio's picker, fast mode, a recalled image's request) also in Easel's `LoRAs: "name: weight, …"`
   * (prompt tags stay in the prompt, where A1111 keeps them).
   */
  readonly loras?: readonly InfotextLora[];
  /** Seamless tiling: written as A1111 does, `Tiling: True`. */
  readonly tiling?: boolean;
  /** Hires fix (A1111's keys `Hires upscale`, `Hires steps`, `Hires upscaler`; its strength is `denoisingStrength`). */
  readonly hires?: HiresInfo;
  /** e.g. "easel-0.1.0". */
  readonly version: string;
}

/**
 * Background removal after generation (`--transparent`, the Studio's toggle, `easel rembg` on an
 * Easel PNG): Easel's own keys `Background removal: <remover>` (the catalog id, or the .onnx file's
 * name) and `Matte threshold: <T>` (only with hard edges), added to the parameter line by
 * withBackgroundRemoval, so a recalled image is made transparent again the same way.
 */
export interface BackgroundRemovalInfo {
  readonly remover: string;
  readonly matte?: number;
}

const REMOVAL_KEY = "Background removal";
const MATTE_KEY = "Matte threshold";

export interface InfotextLora {
  readonly name: string;
  readonly hash: string;
  readonly unetWeight: number;
  readonly textWeight: number;
  readonly fromPrompt: boolean;
}

/** A hires fix as the infotext records it: `Hires steps` only when the second pass's steps were set (A1111). */
export interface HiresInfo {
  readonly scale: number;
  readonly steps?: number;
  /** `Lanczos`, or the super-resolution model's name. */
  readonly upscaler: string;
}

export interface ParsedInfotext {
  readonly prompt: string;
  readonly negativePrompt: string;
  /** Every key/value pair of the parameter line, unquoted; later duplicates win (as in A1111's dict). */
  readonly params: Readonly<Record<string, string>>;
}

/** The well-known fields of a parsed infotext, typed. Absent or malformed values are undefined. */
export interface InfotextFields {
  readonly steps?: number;
  /** Sampler label with any legacy " Karras" suffix removed. */
  readonly sampler?: string;
  /** `Schedule type: Karras`, or a legacy sampler label ending in " Karras" ("DPM++ 2M Karras"). */
  readonly karras: boolean;
  /** Easel's `Timestep spacing` (absent: the model's own). */
  readonly timestepSpacing?: TimestepSpacing;
  readonly guidance?: number;
  readonly seed?: bigint;
  readonly width?: number;
  readonly height?: number;
  readonly model?: string;
  readonly denoisingStrength?: number;
  /** `VAE Decoder: TAESD` (A1111's TAESD decode method); anything else, or absent, is the full VAE. */
  readonly taesd: boolean;
  readonly maskBlur?: number;
  readonly outpaint?: OutpaintSides;
  /** `Tiling: True` (A1111's key). */
  readonly tiling: boolean;
  /** `Hires upscale` (with `Hires steps` and `Hires upscaler`); `denoisingStrength` is then the second pass's. */
  readonly hires?: HiresInfo;
  /** `Background removal` (with `Matte threshold`): the image was made transparent after generation. */
  readonly backgroundRemoval?: BackgroundRemovalInfo;
  readonly rng?: string;
  readonly version?: string;
  /**
   * `Prompt syntax`; when the key is missing, `plain` for an Easel image (every Easel version before
   * the key existed read prompts plainly) and `a1111` for any other (A1111 always parses its syntax).
   */
  readonly promptSyntax: PromptSyntax;
  /** Easel's `LoRAs` key: the LoRAs applied outside the prompt, with their weights. */
  readonly loras: ReadonlyArray<{ readonly name: string; readonly weight: number }>;
}

// ---------------------------------------------------------------------------------------------
// Python-compatible character classes (A1111's regexes run on Python `str`, so \w and \s are Unicode)
//
// Everything below scans by hand, in one pass: the text comes from files anyone can make, and
// backtracking regexes over it (A1111's re_param, or `\s+$` for strip) take quadratic time on a
// long last line, which froze the editor on a 15 KB PNG. Each function is O(length).

/** Python's str.isspace() set: what `\s` and `str.strip()` treat as whitespace. */
function isPySpace(code: number): boolean {
  return (
    (code >= 0x09 && code <= 0x0d) ||
    (code >= 0x1c && code <= 0x20) ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** Python's Unicode `\w` for one code point: letters, numbers, underscore. */
const PY_WORD_CHAR = /^[\p{L}\p{N}_]$/u;

function isPyWord(code: number): boolean {
  if (code < 0x80) {
    return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f;
  }
  return PY_WORD_CHAR.test(String.fromCodePoint(code));
}

/** A character of re_param's key tail `[\w \-/]`. */
function isKeyChar(code: number): boolean {
  return code === 0x20 || code === 0x2d || code === 0x2f || isPyWord(code);
}

/** Index after the code point at `i` (surrogate pairs are one code point, as in Python). */
function nextIndex(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return i + 2;
  }
  return i + 1;
}

function skipPySpace(s: string, i: number): number {
  while (i < s.length && isPySpace(s.charCodeAt(i))) i++;
  return i;
}

/** Python's `str.strip()` with no argument. */
function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isPySpace(s.charCodeAt(start))) start++;
  while (end > start && isPySpace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * `re_param.findall(line)` for A1111's re_param
 * `\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)` (Python's Unicode \w and \s, `.` is
 * anything but "\n"; `line` holds no "\n"), computed without backtracking. Why that gives the same
 * pairs as the regex:
 * - `\s` and `\w` share no character, so `\s*` always takes the whole run of whitespace.
 * - The key tail `[\w \-/]+` must be followed by ":", which is not in its class, so only the longest
 *   run can match. When that run is not followed by ":", every start inside it ends at the same
 *   run and fails the same way, or (starting on spaces) reaches the run's end exactly as a start
 *   there would: the search resumes at the run's end.
 * - The quoted value is deterministic (an escape pair or a character that is neither "\\" nor '"',
 *   up to the first unescaped quote), and must be non-empty and followed by "," or the end; when it
 *   is not, `[^,]*` always matches (up to the next comma or the end), so `\s*` never gives back.
 * Each quoted scan stops at the next unescaped quote, which is at latest the next value's opening
 * quote (preceded by ":" or whitespace, never by a backslash), so the whole scan is linear.
 */
export function findInfotextParams(line: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const n = line.length;
  let pos = 0;
  while (pos < n) {
    const keyStart = skipPySpace(line, pos);
    if (keyStart >= n) break;
    if (!isPyWord(line.codePointAt(keyStart) ?? 0)) {
      pos = keyStart + 1;
      continue;
    }
    const tailStart = nextIndex(line, keyStart);
    let keyEnd = tailStart;
    while (keyEnd < n && isKeyChar(line.codePointAt(keyEnd) ?? 0)) keyEnd = nextIndex(line, keyEnd);
    if (keyEnd === tailStart || keyEnd >= n || line.charCodeAt(keyEnd) !== 0x3a /* : */) {
      pos = keyEnd;
      continue;
    }
    const valueStart = skipPySpace(line, keyEnd + 1);
    let valueEnd = -1;
    if (line.charCodeAt(valueStart) === 0x22 /* " */) {
      let i = valueStart + 1;
      while (i < n) {
        const c = line.charCodeAt(i);
        if (c === 0x22) break;
        // A backslash always starts an escape pair (`[^\\"]` excludes it); one at the very end ends the scan unclosed.
        i += c === 0x5c /* \ */ && i + 1 < n ? 2 : 1;
      }
      const closed = i < n && line.charCodeAt(i) === 0x22 && i > valueStart + 1;
      if (closed && (i + 1 === n || line.charCodeAt(i + 1) === 0x2c /* , */)) valueEnd = i + 1;
    }
    if (valueEnd < 0) {
      const comma = line.indexOf(",", valueStart);
      valueEnd = comma < 0 ? n : comma;
    }
    out.push([line.slice(keyStart, keyEnd), line.slice(valueStart, valueEnd)]);
    pos = valueEnd < n && line.charCodeAt(valueEnd) === 0x2c ? valueEnd + 1 : valueEnd;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** A1111's `quote()`, extended to the cases where leaving the value bare would not round-trip. */
export function quoteInfotextValue(value: string): string {
  const needsQuotes =
    value === "" || /[,:\n\r"]/.test(value) || pyStrip(value) !== value;
  return needsQuotes ? JSON.stringify(value) : value;
}

/** A1111's `unquote()`: a value wrapped in double quotes is decoded as a JSON string, if it is one. */
export function unquoteInfotextValue(value: string): string {
  if (value.length === 0 || value[0] !== '"' || value[value.length - 1] !== '"') return value;
  try {
    const decoded: unknown = JSON.parse(value);
    return typeof decoded === "string" ? decoded : value;
  } catch {
    return value;
  }
}

function formatNumber(name: string, value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`Infotext ${name} must be a finite number, got ${value}.`);
  return String(value);
}

function formatPositiveInt(name: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`Infotext ${name} must be a positive integer, got ${value}.`);
  return String(value);
}

/** The seed as an exact decimal string; throws for anything outside 0 .. 2^64-1. */
export function normalizeSeed(seed: bigint | string): string {
  let value: bigint;
  if (typeof seed === "bigint") {
    value = seed;
  } else {
    if (!/^[0-9]+$/.test(seed)) throw new RangeError(`Seed must be a decimal integer, got ${JSON.stringify(seed)}.`);
    value = BigInt(seed);
  }
  if (value < 0n || value > MAX_SEED) throw new RangeError(`Seed must be between 0 and ${MAX_SEED}, got ${value}.`);
  return value.toString();
}

/**
 * Keys under which the prompt and negative prompt are repeated, quoted, on the parameter line when
 * the plain layout cannot carry them exactly. A prompt with a line starting "Negative prompt:" would
 * otherwise read back with that line (and everything after it) moved into the negative prompt, and
 * lines lose their surrounding whitespace ("\r" of CRLF included): A1111's layout is ambiguous.
 * A1111's own parse_generation_parameters sets res["Prompt"] and res["Negative prompt"] from the
 * lines first and then overwrites them with the parameter line's pairs, so these keys make A1111
 * read the exact text too (the same way it carries "Hires prompt"). Ordinary prompts never get them,
 * so their infotext stays exactly what A1111 writes; the lines are still written in full for tools
 * that only show the text.
 */
const PROMPT_KEY = "Prompt";
const NEGATIVE_KEY = "Negative prompt";

function layout(prompt: string, negativePrompt: string, params: ReadonlyArray<readonly [string, string]>): string {
  const paramLine = params.map(([k, v]) => `${k}: ${quoteInfotextValue(v)}`).join(", ");
  const negative = negativePrompt !== "" ? `\nNegative prompt: ${negativePrompt}` : "";
  return pyStrip(`${prompt}${negative}\n${paramLine}`);
}

/** The infotext A1111 would write for these parameters (see the file comment for the exact rules). */
export function formatInfotext(p: GenerationInfo): string {
  const prompt = wellFormedText(p.prompt);
  const negativePrompt = wellFormedText(p.negativePrompt);
  const params: Array<[string, string]> = [
    ["Steps", formatPositiveInt("steps", p.steps)],
    ["Sampler", wellFormedText(p.sampler)],
  ];
  if (p.karras) params.push(["Schedule type", "Karras"]);
  if (p.timestepSpacing !== undefined) params.push([SPACING_KEY, p.timestepSpacing]);
  params.push(
    ["CFG scale", formatNumber("CFG scale", p.guidance)],
    ["Seed", normalizeSeed(p.seed)],
    ["Size", `${formatPositiveInt("width", p.width)}x${formatPositiveInt("height", p.height)}`],
    ["Model", wellFormedText(p.model)],
  );
  if (p.denoisingStrength !== undefined) {
    params.push(["Denoising strength", formatNumber("denoising strength", p.denoisingStrength)]);
  }
  if (p.hires) {
    params.push(["Hires upscale", formatNumber("hires upscale", p.hires.scale)]);
    if (p.hires.steps !== undefined) params.push(["Hires steps", formatPositiveInt("hires steps", p.hires.steps)]);
    params.push(["Hires upscaler", wellFormedText(p.hires.upscaler)]);
  }
  if (p.tiling) params.push(["Tiling", "True"]);
  if (p.taesd) params.push(["VAE Decoder", "TAESD"]);
  if (p.maskBlur !== undefined) params.push(["Mask blur", formatNumber("mask blur", p.maskBlur)]);
  if (p.outpaint) params.push(["Outpaint", formatOutpaint(p.outpaint)]);
  if (p.promptSyntax !== undefined) params.push(["Prompt syntax", p.promptSyntax]);
  const extra = (p.loras ?? []).filter((l) => !l.fromPrompt);
  if (extra.length > 0) params.push([LORAS_KEY, extra.map((l) => `${loraLabel(l.name)}: ${l.unetWeight}`).join(", ")]);
  if (p.loras && p.loras.length > 0) params.push(["Lora hashes", p.loras.map((l) => `${loraLabel(l.name)}: ${l.hash.slice(0, 12)}`).join(", ")]);
  params.push(["RNG", "CPU"], ["Version", wellFormedText(p.version)]);

  const plain = layout(prompt, negativePrompt, params);
  const back = parseInfotext(plain);
  if (back.prompt === prompt && back.negativePrompt === negativePrompt) return plain;
  return layout(prompt, negativePrompt, [...params, [PROMPT_KEY, prompt], [NEGATIVE_KEY, negativePrompt]]);
}

const LORAS_KEY = "LoRAs";
const SPACING_KEY = "Timestep spacing";

/** A1111 drops ":" and "," from a LoRA's name in `Lora hashes` (they separate its entries). */
function loraLabel(name: string): string {
  return wellFormedText(name).replace(/[:,]/g, "");
}

/** `LoRAs: "name: 0.8, other: -1"` back into names and weights (malformed entries are skipped). */
function parseLoras(value: string | undefined): Array<{ name: string; weight: number }> {
  const out: Array<{ name: string; weight: number }> = [];
  for (const part of (value ?? "").split(",")) {
    const m = /^\s*(.+?):\s*(\S+)\s*$/.exec(part);
    const weight = m ? parseFloatStrict(m[2]) : undefined;
    if (m && weight !== undefined) out.push({ name: m[1], weight });
  }
  return out;
}

function formatOutpaint(o: OutpaintSides): string {
  const parts = (["left", "right", "top", "bottom", "overlap"] as const).map((k) => {
    if (!Number.isSafeInteger(o[k]) || o[k] < 0) throw new RangeError(`Infotext outpaint ${k} must be a whole number, got ${o[k]}.`);
    return `${k} ${o[k]}`;
  });
  return `${parts.join(" ")} fill ${o.fill}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const NEGATIVE_PREFIX = "Negative prompt:";

/**
 * The longest infotext Easel reads back from a file, in UTF-16 units: 256 Ki characters, a hundred
 * times a long A1111 infotext (a few thousand characters with LoRA hashes). A `parameters` text over
 * this is reported as unreadable instead of being parsed (see readPngParameters), which keeps the
 * work done on an untrusted file small even though parsing is linear.
 */
export const MAX_INFOTEXT_LENGTH = 256 * 1024;

/**
 * A1111's `parse_generation_parameters`, without its UI defaults and without splitting "Size" into
 * Size-1/Size-2. Like A1111, "Prompt" and "Negative prompt" pairs on the parameter line override the
 * text before it (Easel writes them when the text alone is ambiguous; see PROMPT_KEY). Linear time.
 */
export function parseInfotext(text: string): ParsedInfotext {
  const lines = pyStrip(text).split("\n");
  let lastLine = lines.pop() ?? "";
  const found = findInfotextParams(lastLine);
  if (found.length < 3) {
    lines.push(lastLine);
    lastLine = "";
  }

  const promptLines: string[] = [];
  const negativeLines: string[] = [];
  let doneWithPrompt = false;
  for (const raw of lines) {
    let line = pyStrip(raw);
    if (line.startsWith(NEGATIVE_PREFIX)) {
      doneWithPrompt = true;
      line = pyStrip(line.slice(NEGATIVE_PREFIX.length));
    }
    (doneWithPrompt ? negativeLines : promptLines).push(line);
  }

  // A null-prototype record: keys come from the file, and "__proto__" must stay an ordinary key.
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of lastLine === "" ? [] : found) {
    // A1111 indexes v[0] inside a try block, so an empty value raises and the key is skipped.
    if (value === "") continue;
    params[key] = unquoteInfotextValue(value);
  }
  return {
    prompt: params[PROMPT_KEY] ?? joinLines(promptLines),
    negativePrompt: params[NEGATIVE_KEY] ?? joinLines(negativeLines),
    params,
  };
}

/**
 * A1111's `s += ("" if s == "" else "\n") + line`, in linear time: no separator is added while the
 * text is still empty, so leading empty lines vanish ("Negative prompt:" alone on its line, say).
 */
function joinLines(lines: readonly string[]): string {
  let first = 0;
  while (first < lines.length && lines[first] === "") first++;
  return lines.slice(first).join("\n");
}

function parseUint(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

// No two parts of this pattern can match the same digits, so it never backtracks more than once per
// character (`[0-9]+\.?[0-9]*` could split a run of digits n ways: quadratic on a long bad value).
const FLOAT_PATTERN = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

function parseFloatStrict(value: string | undefined): number | undefined {
  if (value === undefined || !FLOAT_PATTERN.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function parseSeed(value: string | undefined): bigint | undefined {
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined;
  const n = BigInt(value);
  return n <= MAX_SEED ? n : undefined;
}

function parseOutpaint(value: string | undefined): OutpaintSides | undefined {
  const m = /^left ([0-9]+) right ([0-9]+) top ([0-9]+) bottom ([0-9]+) overlap ([0-9]+) fill ([a-z]+)$/.exec(value ?? "");
  if (!m || !(OUTPAINT_FILLS as readonly string[]).includes(m[6])) return undefined;
  const [left, right, top, bottom, overlap] = m.slice(1, 6).map(Number);
  return { left, right, top, bottom, overlap, fill: m[6] as OutpaintFill };
}

/** A1111 writes `Hires upscale` only for a hires fix; `Hires steps` only when set (absent or 0: the first pass's steps). */
function parseHires(p: Readonly<Record<string, string>>): HiresInfo | undefined {
  const scale = parseFloatStrict(p["Hires upscale"]);
  if (scale === undefined) return undefined;
  const steps = parseUint(p["Hires steps"]);
  return { scale, steps: steps === 0 ? undefined : steps, upscaler: p["Hires upscaler"] ?? "Lanczos" };
}

function parseBackgroundRemoval(p: Readonly<Record<string, string>>): BackgroundRemovalInfo | undefined {
  const remover = p[REMOVAL_KEY];
  if (remover === undefined) return undefined;
  const matte = parseFloatStrict(p[MATTE_KEY]);
  return { remover, ...(matte !== undefined && matte > 0 && matte < 1 ? { matte } : {}) };
}

/** Present only when recorded, so images without it read back exactly as before. */
const optionalRemoval = (removal: BackgroundRemovalInfo | undefined) => (removal ? { backgroundRemoval: removal } : {});

/**
 * The infotext with background removal recorded on its parameter line (any earlier removal keys
 * replaced). A text with no parameter line (not Easel's or A1111's) is returned as it is.
 */
export function withBackgroundRemoval(text: string, removal: BackgroundRemovalInfo): string {
  const stripped = pyStrip(text);
  const cut = stripped.lastIndexOf("\n");
  const head = cut < 0 ? "" : stripped.slice(0, cut + 1);
  const line = cut < 0 ? stripped : stripped.slice(cut + 1);
  const params = findInfotextParams(line);
  if (params.length < 3) return text;
  const kept = params.filter(([k]) => k !== REMOVAL_KEY && k !== MATTE_KEY);
  const added: Array<[string, string]> = [[REMOVAL_KEY, quoteInfotextValue(wellFormedText(removal.remover))]];
  if (removal.matte !== undefined) added.push([MATTE_KEY, formatNumber("matte threshold", removal.matte)]);
  // Before Easel's own trailing `Prompt`/`Negative prompt` pairs would be nicer, but A1111 reads the pairs in any order.
  return `${head}${[...kept, ...added].map(([k, v]) => `${k}: ${v}`).join(", ")}`;
}

const KARRAS_SUFFIX = " Karras";

/** Typed view of the fields Easel writes (and A1111 commonly writes). */
export function infotextFields(parsed: ParsedInfotext): InfotextFields {
  const p = parsed.params;
  const size = /^([0-9]+)x([0-9]+)$/.exec(p["Size"] ?? "");
  let sampler = p["Sampler"];
  const scheduleType = p["Schedule type"];
  let karras = scheduleType === "Karras";
  if (scheduleType === undefined && sampler !== undefined && sampler.endsWith(KARRAS_SUFFIX)) {
    // Before A1111 1.9 the schedule was part of the sampler name: "DPM++ 2M Karras".
    sampler = sampler.slice(0, -KARRAS_SUFFIX.length);
    karras = true;
  }
  return {
    steps: parseUint(p["Steps"]),
    sampler,
    karras,
    ...((TIMESTEP_SPACINGS as readonly string[]).includes(p[SPACING_KEY] ?? "") ? { timestepSpacing: p[SPACING_KEY] as TimestepSpacing } : {}),
    guidance: parseFloatStrict(p["CFG scale"]),
    seed: parseSeed(p["Seed"]),
    width: size ? parseUint(size[1]) : undefined,
    height: size ? parseUint(size[2]) : undefined,
    model: p["Model"],
    denoisingStrength: parseFloatStrict(p["Denoising strength"]),
    taesd: p["VAE Decoder"]?.toUpperCase() === "TAESD",
    maskBlur: parseFloatStrict(p["Mask blur"]),
    outpaint: parseOutpaint(p["Outpaint"]),
    tiling: p["Tiling"] === "True",
    hires: parseHires(p),
    ...optionalRemoval(parseBackgroundRemoval(p)),
    rng: p["RNG"],
    version: p["Version"],
    loras: parseLoras(p[LORAS_KEY]),
    promptSyntax: isPromptSyntax(p["Prompt syntax"]) ? p["Prompt syntax"] : (p["Version"] ?? "").startsWith("easel-") ? "plain" : "a1111",
  };
}
