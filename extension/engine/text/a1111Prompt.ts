// AUTOMATIC1111's prompt syntax (stable-diffusion-webui, modules/prompt_parser.py and
// modules/sd_hijack_clip.py), conformance rules 17-18:
//
//   (text) × 1.1   ((text)) × 1.21   [text] ÷ 1.1   (text:1.3) × 1.3   \( \) \[ \] \\ literal
//   an unclosed ( or [ weights everything after it; a stray ) or ] is literal text
//   BREAK (the word, in capitals) ends the chunk
//
// The weighted text is tokenized fragment by fragment and cut into chunks of 75 tokens; when a chunk
// fills, the text after its last comma moves to the next chunk if that comma is within the last 20
// tokens. Each chunk is BOS + 75 tokens (EOS-padded) + EOS, 77 ids with one weight each (1 for
// BOS, EOS and padding); with a pad token other than EOS (SD 2.x's "!") everything after the chunk's
// first EOS becomes the pad token.

import { badArgument } from "../errors";
import type { ClipTokenizer } from "./clipTokenizer";

/** `plain`: diffusers' own tokenization (one 77-id row, truncated); `a1111`: this file's syntax. */
export const PROMPT_SYNTAXES = ["a1111", "plain"] as const;
export type PromptSyntax = (typeof PROMPT_SYNTAXES)[number];

export function isPromptSyntax(value: unknown): value is PromptSyntax {
  return typeof value === "string" && (PROMPT_SYNTAXES as readonly string[]).includes(value);
}

/** A piece of the prompt and its weight; `break` marks a BREAK. */
export type WeightedFragment = { readonly text: string; readonly weight: number } | { readonly break: true };

const ROUND_MULTIPLIER = 1.1;
const SQUARE_MULTIPLIER = 1 / 1.1;

// A1111's re_attention, alternative by alternative: \( \) \[ \] \\ (escapes), a lone \, ( [,
// ":<number>)" closing a weight, ) ], a run of ordinary text, a lone ":".
const ATTENTION = /\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/g;
// re_break = \s*\bBREAK\b\s*, with Python's Unicode word boundary (A1111's regexes run on str).
const BREAK = /\s*(?<![\p{L}\p{N}_])BREAK(?![\p{L}\p{N}_])\s*/u;

/** A1111's `parse_prompt_attention`: the prompt as runs of text with their weights, equal neighbours merged. */
export function parsePromptAttention(text: string): WeightedFragment[] {
  // Working entries; BREAK is ["BREAK", -1] exactly as A1111 keeps it (so merging treats it alike).
  const res: Array<[string, number]> = [];
  const round: number[] = [];
  const square: number[] = [];
  const multiplyRange = (start: number, multiplier: number): void => {
    for (let p = start; p < res.length; p++) res[p][1] *= multiplier;
  };
  for (const m of text.matchAll(ATTENTION)) {
    const piece = m[0];
    const weight = m[1];
    if (piece.startsWith("\\")) {
      res.push([piece.slice(1), 1.0]);
    } else if (piece === "(") {
      round.push(res.length);
    } else if (piece === "[") {
      square.push(res.length);
    } else if (weight !== undefined && round.length > 0) {
      const value = Number(weight);
      // Python's float() refuses "." or "1.2.3" (A1111 then fails the whole generation).
      if (!Number.isFinite(value)) throw badArgument(`the prompt weight "${weight}" in "${piece}" is not a number: write it like (word:1.2)`);
      multiplyRange(round.pop()!, value);
    } else if (piece === ")" && round.length > 0) {
      multiplyRange(round.pop()!, ROUND_MULTIPLIER);
    } else if (piece === "]" && square.length > 0) {
      multiplyRange(square.pop()!, SQUARE_MULTIPLIER);
    } else {
      piece.split(BREAK).forEach((part, i) => {
        if (i > 0) res.push(["BREAK", -1]);
        res.push([part, 1.0]);
      });
    }
  }
  // Unclosed brackets apply to the end of the prompt (A1111 walks them in the order they opened).
  for (const pos of round) multiplyRange(pos, ROUND_MULTIPLIER);
  for (const pos of square) multiplyRange(pos, SQUARE_MULTIPLIER);
  if (res.length === 0) res.push(["", 1.0]);
  for (let i = 0; i + 1 < res.length; ) {
    if (res[i][1] === res[i + 1][1]) {
      res[i][0] += res[i + 1][0];
      res.splice(i + 1, 1);
    } else {
      i++;
    }
  }
  return res.map(([t, w]) => (t === "BREAK" && w === -1 ? { break: true } : { text: t, weight: w }));
}

/** One text-encoder row: 77 ids and the weight of each position. */
export interface PromptChunk {
  readonly ids: readonly number[];
  readonly weights: readonly number[];
}

export interface ChunkedPrompt {
  readonly chunks: readonly PromptChunk[];
  /** The prompt's own tokens, over all chunks (BOS, EOS and padding not counted). */
  readonly count: number;
}

/** Tokens a chunk holds between BOS and EOS (A1111's chunk_length). */
export const CHUNK_TOKENS = 75;
/** How far back from a full chunk's end a comma may be for the chunk to be cut after it (A1111's comma_padding_backtrack). */
export const COMMA_BACKTRACK = 20;

/** A1111's `tokenize_line`: the prompt's weighted tokens cut into 77-id chunks. */
export function chunkPrompt(tokenizer: ClipTokenizer, text: string): ChunkedPrompt {
  const fragments = parsePromptAttention(text);
  const commaIds = tokenizer.tokenIds(",");
  const comma = commaIds.length === 1 ? commaIds[0] : undefined;
  const chunks: PromptChunk[] = [];
  let tokens: number[] = [];
  let weights: number[] = [];
  let lastComma = -1;
  let count = 0;

  const nextChunk = (): void => {
    count += tokens.length;
    const ids = [tokenizer.bosId, ...tokens];
    const w = [1.0, ...weights];
    while (ids.length < CHUNK_TOKENS + 1) {
      ids.push(tokenizer.eosId);
      w.push(1.0);
    }
    ids.push(tokenizer.eosId);
    w.push(1.0);
    if (tokenizer.padId !== tokenizer.eosId) {
      const end = ids.indexOf(tokenizer.eosId);
      for (let i = end + 1; i < ids.length; i++) ids[i] = tokenizer.padId;
    }
    chunks.push({ ids, weights: w });
    tokens = [];
    weights = [];
    lastComma = -1;
  };

  for (const fragment of fragments) {
    if ("break" in fragment) {
      nextChunk();
      continue;
    }
    for (const token of tokenizer.tokenIds(fragment.text)) {
      if (token === comma) {
        lastComma = tokens.length;
      } else if (tokens.length === CHUNK_TOKENS && lastComma !== -1 && tokens.length - lastComma <= COMMA_BACKTRACK) {
        // The chunk is full and a comma is near its end: the words after the comma start the next chunk.
        const cut = lastComma + 1;
        const movedTokens = tokens.slice(cut);
        const movedWeights = weights.slice(cut);
        tokens = tokens.slice(0, cut);
        weights = weights.slice(0, cut);
        nextChunk();
        tokens = movedTokens;
        weights = movedWeights;
      }
      if (tokens.length === CHUNK_TOKENS) nextChunk();
      tokens.push(token);
      weights.push(fragment.weight);
    }
  }
  if (tokens.length > 0 || chunks.length === 0) nextChunk();
  return { chunks, count };
}
