import { parseArgs, type ParseArgsConfig } from "node:util";
import { badArgument, EaselError } from "../errors";
import { readImageFile } from "../image/readImageFile";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** parseArgs with strict flags, its errors turned into one line that points at --help. */
export function parseCommandArgs(command: string, args: readonly string[], options: Options, allowPositionals: boolean): ParsedArgs {
  try {
    const parsed = parseArgs({ args: [...args], options, allowPositionals, strict: true });
    return { values: parsed.values as ParsedArgs["values"], positionals: parsed.positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0].replace(/\.$/, "") : String(error);
    throw badArgument(`${message} (see 'easel ${command} --help')`);
  }
}

export function stringValue(values: ParsedArgs["values"], name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function integerValue(values: ParsedArgs["values"], name: string): number | undefined {
  const v = stringValue(values, name);
  if (v === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(v.trim())) throw badArgument(`--${name} must be a whole number (got "${v}")`);
  return Number(v);
}

export function numberValue(values: ParsedArgs["values"], name: string): number | undefined {
  const v = stringValue(values, name);
  if (v === undefined) return undefined;
  const n = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(n)) throw badArgument(`--${name} must be a finite number (got "${v}")`);
  return n;
}

/**
 * Reads an image file named on the command line: only a regular file up to MAX_IMAGE_FILE_BYTES,
 * refused before reading otherwise; a missing, special, huge or unreadable one is one clear line.
 */
export async function readImageArgument(file: string, what: string): Promise<Buffer> {
  try {
    return await readImageFile(file);
  } catch (error) {
    throw new EaselError("image-invalid", `${what}${error instanceof Error ? error.message : String(error)}`);
  }
}
