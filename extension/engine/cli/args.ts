import { createReadStream } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { badArgument, EaselError, firstLine } from "../errors";
import { readImageFile } from "../image/readImageFile";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | readonly string[] | undefined>>;
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

/** A whole-number option; with `range`, one outside it is refused here, before it sizes anything. */
export function integerValue(values: ParsedArgs["values"], name: string, range?: { readonly min: number; readonly max: number }): number | undefined {
  const v = stringValue(values, name);
  if (v === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(v.trim())) throw badArgument(`--${name} must be a whole number (got "${v}")`);
  const n = Number(v);
  if (range && !(n >= range.min && n <= range.max)) throw badArgument(`--${name} must be a whole number from ${range.min} to ${range.max} (got ${v.trim()})`);
  return n;
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

/**
 * Reads a text option's file (`-`: standard input) as UTF-8, without its BOM and one final line
 * ending. At most enough bytes for `maxChars` characters are read (UTF-8 takes at most 3 bytes per
 * UTF-16 unit), so a wrong file is refused without reading it all; the exact limit is the caller's.
 */
export async function readTextArgument(file: string, what: string, maxChars: number): Promise<string> {
  const maxBytes = maxChars * 3 + 8; // + a BOM and a CRLF
  const source = file === "-" ? process.stdin : createReadStream(file, { start: 0, end: maxBytes });
  const from = file === "-" ? "standard input" : file;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      chunks.push(bytes);
      size += bytes.length;
      if (size > maxBytes) break;
    }
  } catch (error) {
    throw badArgument(`cannot read the ${what} from ${from} (${(error as NodeJS.ErrnoException).code ?? firstLine(error)}): check the path`);
  } finally {
    if (file !== "-") source.destroy();
  }
  if (size > maxBytes) {
    throw badArgument(`the ${what} in ${from} is over ${maxChars} characters (more than ${maxBytes} bytes); the limit is ${maxChars} — is it the right file?`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks, size));
  } catch {
    throw badArgument(`the ${what} in ${from} is not UTF-8 text: save it as UTF-8`);
  }
  return text.replace(/\r?\n$/, "");
}

/** A repeatable string option's values (none: empty). */
export function stringList(values: ParsedArgs["values"], name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? [...v] : [];
}
