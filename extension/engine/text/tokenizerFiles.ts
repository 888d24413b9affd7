// Reads a diffusers `tokenizer/` folder: vocab.json + merges.txt (or a tokenizer.json holding both),
// plus the optional special_tokens_map.json and tokenizer_config.json. Every problem is reported as a
// one-line EaselError ("model-missing" or "model-invalid") naming the file and what to do about it.

import { readFile } from "node:fs/promises";
import * as path from "node:path";

import { EaselError } from "../errors";
import { checkNumber, type NumberRange, parsePythonJson } from "../model/jsonFile";

/** What CLIP's slow tokenizer keeps of merges.txt (49152 - 256 - 2); the fast one is converted from it. */
export const CLIP_MERGE_LIMIT = 48894;
export const DEFAULT_MAX_LENGTH = 77;
/** Above this, model_max_length is transformers' "no limit" placeholder (int(1e30)), not a real length. */
const NO_LIMIT_PLACEHOLDER = 1e15;
const MAX_LENGTH: NumberRange = { min: 3, max: 2048, integer: true };

export interface TokenizerSpecialTokens {
  readonly bos: string;
  readonly eos: string;
  readonly unk: string;
  readonly pad: string;
}

export interface TokenizerFiles {
  readonly vocab: ReadonlyMap<string, number>;
  readonly merges: readonly (readonly [string, string])[];
  readonly special: TokenizerSpecialTokens;
  readonly maxLength: number;
}

const DEFAULT_SPECIAL: TokenizerSpecialTokens = {
  bos: "<|startoftext|>",
  eos: "<|endoftext|>",
  unk: "<|endoftext|>",
  pad: "<|endoftext|>",
};

const REDOWNLOAD = "re-download or re-convert the model's tokenizer folder";

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

function invalid(message: string): EaselError {
  return new EaselError("model-invalid", oneLine(message));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorCode(err: unknown): string | undefined {
  if (isRecord(err) && typeof err["code"] === "string") return err["code"];
  return undefined;
}

/** The file's text, or undefined when it does not exist. Other read errors are thrown as one line. */
async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const code = errorCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    const message = err instanceof Error ? err.message : String(err);
    throw invalid(`cannot read tokenizer file ${file}: ${message}`);
  }
}

function parseJson(file: string, text: string): unknown {
  try {
    return parsePythonJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw invalid(`tokenizer file ${file} is not valid JSON (${message}): ${REDOWNLOAD}`);
  }
}

function parseVocab(file: string, value: unknown): Map<string, number> {
  if (!isRecord(value)) {
    throw invalid(`tokenizer file ${file} must hold a JSON object of token -> id: ${REDOWNLOAD}`);
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(value)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw invalid(`tokenizer file ${file} gives token ${JSON.stringify(token)} the id ${JSON.stringify(id)}, not a non-negative integer: ${REDOWNLOAD}`);
    }
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw invalid(`tokenizer file ${file} has an empty vocabulary: ${REDOWNLOAD}`);
  return vocab;
}

/** merges.txt: an optional "#version" header, then one "left right" pair per line. */
function parseMergesText(file: string, text: string): [string, string][] {
  const merges: [string, string][] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (i === 0 && line.startsWith("#version")) continue;
    const parts = line.trim().split(/\s+/).filter((p) => p.length > 0);
    if (parts.length === 0) continue;
    if (parts.length !== 2) {
      throw invalid(`tokenizer file ${file} line ${i + 1} is not a "left right" merge pair: ${REDOWNLOAD}`);
    }
    merges.push([parts[0], parts[1]]);
  }
  if (merges.length === 0) throw invalid(`tokenizer file ${file} has no merges: ${REDOWNLOAD}`);
  return merges;
}

/** tokenizer.json's model.merges: "left right" strings (older files) or [left, right] pairs (newer). */
function parseMergesList(file: string, value: unknown): [string, string][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid(`tokenizer file ${file} has no model.merges list: ${REDOWNLOAD}`);
  }
  return value.map((entry: unknown, i): [string, string] => {
    if (typeof entry === "string") {
      const parts = entry.split(" ");
      if (parts.length === 2 && parts[0].length > 0 && parts[1].length > 0) return [parts[0], parts[1]];
    } else if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === "string" && typeof entry[1] === "string") {
      return [entry[0], entry[1]];
    }
    throw invalid(`tokenizer file ${file} model.merges[${i}] is not a merge pair: ${REDOWNLOAD}`);
  });
}

/** A special token as transformers writes it: a string, or an object with `content` (AddedToken). */
function tokenString(file: string, key: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (isRecord(value) && typeof value["content"] === "string") return value["content"];
  throw invalid(`tokenizer file ${file} has a malformed "${key}" (expected a string or {"content": ...}): ${REDOWNLOAD}`);
}

function readSpecial(file: string, json: Record<string, unknown>): Partial<Record<keyof TokenizerSpecialTokens, string>> {
  const out: Partial<Record<keyof TokenizerSpecialTokens, string>> = {};
  for (const key of ["bos", "eos", "unk", "pad"] as const) {
    const value = tokenString(file, `${key}_token`, json[`${key}_token`]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * model_max_length within MAX_LENGTH; transformers' "no limit" placeholders count as absent. A CLIP
 * text encoder has 77 positions (LongCLIP 248): far longer would only allocate ids the graph refuses.
 */
function readMaxLength(file: string, json: Record<string, unknown>): number | undefined {
  const value = json["model_max_length"];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && value > NO_LIMIT_PLACEHOLDER) return undefined;
  return checkNumber(value, file, "model_max_length", MAX_LENGTH);
}

async function readJsonObject(file: string): Promise<Record<string, unknown> | undefined> {
  const text = await readOptional(file);
  if (text === undefined) return undefined;
  const json = parseJson(file, text);
  if (!isRecord(json)) throw invalid(`tokenizer file ${file} must hold a JSON object: ${REDOWNLOAD}`);
  return json;
}

/** Loads and validates the tokenizer folder of a diffusers model. */
export async function readTokenizerFiles(tokenizerDir: string): Promise<TokenizerFiles> {
  const vocabFile = path.join(tokenizerDir, "vocab.json");
  const mergesFile = path.join(tokenizerDir, "merges.txt");
  const fastFile = path.join(tokenizerDir, "tokenizer.json");
  const configFile = path.join(tokenizerDir, "tokenizer_config.json");
  const specialFile = path.join(tokenizerDir, "special_tokens_map.json");

  const [vocabText, mergesText, config, specialMap] = await Promise.all([
    readOptional(vocabFile),
    readOptional(mergesFile),
    readJsonObject(configFile),
    readJsonObject(specialFile),
  ]);

  let vocab: Map<string, number>;
  let merges: [string, string][];
  let vocabSource = vocabFile;
  if (vocabText !== undefined && mergesText !== undefined) {
    vocab = parseVocab(vocabFile, parseJson(vocabFile, vocabText));
    // transformers reads merges.txt through the slow CLIPTokenizer, which keeps only the first 48894.
    merges = parseMergesText(mergesFile, mergesText).slice(0, CLIP_MERGE_LIMIT);
  } else {
    const fast = await readJsonObject(fastFile);
    if (fast === undefined) {
      const missing = vocabText === undefined ? vocabFile : mergesFile;
      throw new EaselError("model-missing", `tokenizer file ${missing} is missing (and there is no tokenizer.json): ${REDOWNLOAD}`);
    }
    const model = fast["model"];
    if (!isRecord(model) || (model["type"] !== undefined && model["type"] !== "BPE")) {
      throw invalid(`tokenizer file ${fastFile} does not hold a BPE model: ${REDOWNLOAD}`);
    }
    vocabSource = `${fastFile} (model.vocab)`;
    vocab = parseVocab(vocabSource, model["vocab"]);
    merges = parseMergesList(fastFile, model["merges"]);
  }

  // special_tokens_map.json overrides tokenizer_config.json, as in transformers' from_pretrained.
  const fromConfig = config === undefined ? {} : readSpecial(configFile, config);
  const fromMap = specialMap === undefined ? {} : readSpecial(specialFile, specialMap);
  const special: TokenizerSpecialTokens = { ...DEFAULT_SPECIAL, ...fromConfig, ...fromMap };
  for (const key of ["bos", "eos", "unk", "pad"] as const) {
    if (!vocab.has(special[key])) {
      const source = fromMap[key] !== undefined ? specialFile : fromConfig[key] !== undefined ? configFile : "the CLIP default";
      throw invalid(`tokenizer ${key} token ${JSON.stringify(special[key])} (from ${source}) is not in the vocabulary ${vocabSource}: ${REDOWNLOAD}`);
    }
  }

  const maxLength = (config === undefined ? undefined : readMaxLength(configFile, config)) ?? DEFAULT_MAX_LENGTH;
  return { vocab, merges, special, maxLength };
}
