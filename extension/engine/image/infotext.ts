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
// "Negative prompt:" are the prompt, the rest the negative prompt (each line stripped).

import { isPromptSyntax, type PromptSyntax } from "../text/a1111Prompt";

export interface GenerationInfo {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly steps: number;
  /** A1111's sampler label: "Euler a", "Euler", "DPM++ 2M", "DDIM", "PLMS", "LMS", "LCM", ... */
  readonly sampler: string;
  /** Karras sigmas: written as `Schedule type: Karras`. */
  readonly karras: boolean;
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
  /** How the prompts were read: written as `Prompt syntax: a1111` or `Prompt syntax: plain`. */
  readonly promptSyntax?: PromptSyntax;
  /** e.g. "easel-0.1.0". */
  readonly version: string;
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
  readonly guidance?: number;
  readonly seed?: bigint;
  readonly width?: number;
  readonly height?: number;
  readonly model?: string;
  readonly denoisingStrength?: number;
  readonly rng?: string;
  readonly version?: string;
  /**
   * `Prompt syntax`; when the key is missing, `plain` for an Easel image (every Easel version before
   * the key existed read prompts plainly) and `a1111` for any other (A1111 always parses its syntax).
   */
  readonly promptSyntax: PromptSyntax;
}

const MAX_SEED = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------
// Python-compatible character classes (A1111's regexes run on Python `str`, so \w and \s are Unicode)

/** Python's str.isspace() set: what `\s` and `str.strip()` treat as whitespace. */
const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
/** Python's Unicode `\w`: letters, numbers, underscore. */
const PY_WORD = "[\\p{L}\\p{N}_]";

const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "gu");

/** Python's `str.strip()` with no argument. */
function pyStrip(s: string): string {
  return s.replace(PY_STRIP, "");
}

/**
 * A1111's re_param: `\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`, with Python's Unicode
 * \w and \s, and Python's `.` (anything but "\n").
 */
function paramRegex(): RegExp {
  return new RegExp(
    `${PY_SPACE}*(${PY_WORD}[\\p{L}\\p{N}_ \\-/]+):${PY_SPACE}*("(?:\\\\[^\\n]|[^\\\\"])+"|[^,]*)(?:,|$)`,
    "gu",
  );
}

function findParams(line: string): Array<[string, string]> {
  return Array.from(line.matchAll(paramRegex()), (m) => [m[1], m[2]]);
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

/** The infotext A1111 would write for these parameters (see the file comment for the exact rules). */
export function formatInfotext(p: GenerationInfo): string {
  const params: Array<[string, string]> = [
    ["Steps", formatPositiveInt("steps", p.steps)],
    ["Sampler", p.sampler],
  ];
  if (p.karras) params.push(["Schedule type", "Karras"]);
  params.push(
    ["CFG scale", formatNumber("CFG scale", p.guidance)],
    ["Seed", normalizeSeed(p.seed)],
    ["Size", `${formatPositiveInt("width", p.width)}x${formatPositiveInt("height", p.height)}`],
    ["Model", p.model],
  );
  if (p.denoisingStrength !== undefined) {
    params.push(["Denoising strength", formatNumber("denoising strength", p.denoisingStrength)]);
  }
  if (p.promptSyntax !== undefined) params.push(["Prompt syntax", p.promptSyntax]);
  params.push(["RNG", "CPU"], ["Version", p.version]);

  const paramLine = params.map(([k, v]) => `${k}: ${quoteInfotextValue(v)}`).join(", ");
  const negative = p.negativePrompt !== "" ? `\nNegative prompt: ${p.negativePrompt}` : "";
  return pyStrip(`${p.prompt}${negative}\n${paramLine}`);
}

// ---------------------------------------------------------------------------------------------
// Parsing

const NEGATIVE_PREFIX = "Negative prompt:";

/** A1111's `parse_generation_parameters`, without its UI defaults and without splitting "Size" into Size-1/Size-2. */
export function parseInfotext(text: string): ParsedInfotext {
  const lines = pyStrip(text).split("\n");
  let lastLine = lines.pop() ?? "";
  if (findParams(lastLine).length < 3) {
    lines.push(lastLine);
    lastLine = "";
  }

  let prompt = "";
  let negativePrompt = "";
  let doneWithPrompt = false;
  for (const raw of lines) {
    let line = pyStrip(raw);
    if (line.startsWith(NEGATIVE_PREFIX)) {
      doneWithPrompt = true;
      line = pyStrip(line.slice(NEGATIVE_PREFIX.length));
    }
    if (doneWithPrompt) negativePrompt += (negativePrompt === "" ? "" : "\n") + line;
    else prompt += (prompt === "" ? "" : "\n") + line;
  }

  // A null-prototype record: keys come from the file, and "__proto__" must stay an ordinary key.
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of findParams(lastLine)) {
    // A1111 indexes v[0] inside a try block, so an empty value raises and the key is skipped.
    if (value === "") continue;
    params[key] = unquoteInfotextValue(value);
  }
  return { prompt, negativePrompt, params };
}

function parseUint(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseFloatStrict(value: string | undefined): number | undefined {
  if (value === undefined || !/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function parseSeed(value: string | undefined): bigint | undefined {
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined;
  const n = BigInt(value);
  return n <= MAX_SEED ? n : undefined;
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
    guidance: parseFloatStrict(p["CFG scale"]),
    seed: parseSeed(p["Seed"]),
    width: size ? parseUint(size[1]) : undefined,
    height: size ? parseUint(size[2]) : undefined,
    model: p["Model"],
    denoisingStrength: parseFloatStrict(p["Denoising strength"]),
    rng: p["RNG"],
    version: p["Version"],
    promptSyntax: isPromptSyntax(p["Prompt syntax"]) ? p["Prompt syntax"] : (p["Version"] ?? "").startsWith("easel-") ? "plain" : "a1111",
  };
}
