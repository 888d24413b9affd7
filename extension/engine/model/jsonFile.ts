import fs from "node:fs/promises";
import { EaselError, firstLine } from "../errors";

export type JsonObject = Record<string, unknown>;

// Python's json.dumps writes float("inf") and float("nan") as the bare literals below, which JSON.parse
// refuses; diffusers saves DPMSolverMultistepScheduler's default lambda_min_clipped = -inf that way.
// Infinities become ±1e999 (read as ±Infinity, for the bounds checks to judge) and NaN the string
// "NaN", which any numeric field refuses.
const PYTHON_LITERALS: readonly (readonly [string, string])[] = [["-Infinity", "-1e999"], ["Infinity", "1e999"], ["NaN", '"NaN"']];

/** JSON.parse, also taking Python's NaN / Infinity / -Infinity literals outside strings. */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const patched = replacePythonLiterals(text);
    if (patched === text) throw error;
    try {
      return JSON.parse(patched);
    } catch {
      throw error;
    }
  }
}

function replacePythonLiterals(text: string): string {
  let out = "";
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    const literal = PYTHON_LITERALS.find(([python]) => text.startsWith(python, i));
    if (literal) {
      out += text.slice(last, i) + literal[1];
      i += literal[0].length - 1;
      last = i + 1;
    }
  }
  return out + text.slice(last);
}

/** Reads a JSON object file; `undefined` when the file is absent, a one-line error when it is malformed. */
export async function readJsonObject(file: string, what: string): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new EaselError("model-invalid", `cannot read ${what} (${firstLine(error)}): check the file's permissions`);
  }
  let value: unknown;
  try {
    value = parsePythonJson(text);
  } catch (error) {
    throw new EaselError("model-invalid", `${what} is not valid JSON (${firstLine(error)}): download or export the model again`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new EaselError("model-invalid", `${what} is not a JSON object: download or export the model again`);
  }
  return value as JsonObject;
}

/**
 * The values a numeric config field may take. Model folders come from anywhere, and JSON gives them any
 * number (`1e999` parses as Infinity), so every number read from one is checked against bounds set
 * generously around what real diffusers / transformers configs hold: a value outside them is a damaged
 * or hostile file, refused before it can allocate gigabytes or turn the image to NaN.
 */
export interface NumberRange {
  readonly min: number;
  readonly max: number;
  /** The bounds themselves are excluded (a beta must be above 0 and below 1). */
  readonly exclusive?: boolean;
  readonly integer?: boolean;
}

export function describeRange(range: NumberRange): string {
  const kind = range.integer ? "a whole number" : "a number";
  return range.exclusive ? `${kind} above ${range.min} and below ${range.max}` : `${kind} from ${range.min} to ${range.max}`;
}

export function inRange(value: unknown, range: NumberRange): value is number {
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  if (range.integer && !Number.isInteger(value)) return false;
  return range.exclusive ? value > range.min && value < range.max : value >= range.min && value <= range.max;
}

/** What a config value was, for an error message (numbers as JavaScript reads them: Infinity, 2000000000). */
export function describeValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return value === null ? "null" : typeof value;
}

export function configError(file: string, message: string): EaselError {
  return new EaselError("model-invalid", `${file}: ${message}: fix the file or download the model again`);
}

/** `value` when it lies in `range`, else a one-line error naming the file and the field. */
export function checkNumber(value: unknown, file: string, key: string, range: NumberRange): number {
  if (inRange(value, range)) return value;
  throw configError(file, `${key} must be ${describeRange(range)} (got ${describeValue(value)})`);
}

/** A numeric field of a config file: undefined when absent or null, an error when present but out of `range`. */
export function numberField(obj: JsonObject | undefined, key: string, file: string, range: NumberRange): number | undefined {
  const v = obj?.[key];
  return v === undefined || v === null ? undefined : checkNumber(v, file, key, range);
}

export function stringField(obj: JsonObject | undefined, key: string): string | undefined {
  const v = obj?.[key];
  return typeof v === "string" ? v : undefined;
}

export function arrayField(obj: JsonObject | undefined, key: string): readonly unknown[] | undefined {
  const v = obj?.[key];
  return Array.isArray(v) ? v : undefined;
}
