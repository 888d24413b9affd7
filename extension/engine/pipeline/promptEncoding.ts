// Prompt -> text-encoder hidden states, in either prompt syntax (conformance rules 1-3 and 17-20).
//
// `plain` is diffusers' encode_prompt: one 77-id row per prompt, truncated after 75 tokens.
// `a1111` is AUTOMATIC1111's: the prompt's weighted chunks (text/a1111Prompt.ts) are encoded one by
// one, each chunk's hidden states multiplied by its tokens' weights and rescaled to the mean they
// had before ("Original" emphasis), and the chunks concatenated along the sequence (77·k positions).
// With CFG, the prompt and negative prompt get the same length: the shorter is padded with the
// empty prompt's encoding, one 77-position block per missing chunk.
//
// Everything here takes one tokenizer and one text encoder, so a pipeline with several (SDXL: both
// encoders, chunk by chunk, hidden states concatenated per position, the pooled embedding taken from
// the first chunk) calls it once per encoder: see conditioning.ts.

import { EaselError } from "../errors";
import { fround } from "../schedulers/numerics";
import { chunkPrompt, type PromptChunk, type PromptSyntax } from "../text/a1111Prompt";
import type { ClipTokenizer } from "../text/clipTokenizer";
import { concatBatch } from "./tensorMath";

/** One text encoder's output for a batch of 77-id rows. */
export interface EncoderOutput {
  readonly hidden: Float32Array; // [n,77,D] f32
  /** The projected pooled output, for encoders that have one (SDXL's second). */
  readonly pooled?: Float32Array; // [n,P] f32
}

/** Runs one text encoder on rows of ids (textEncoder.ts' textEncoderRun). */
export type TextEncoderRun = (rows: readonly (readonly number[])[]) => Promise<EncoderOutput>;

export interface PromptEncoding {
  readonly hidden: Float32Array; // [1,77k,D] f32
  /** Chunks (77-position blocks) in `hidden`. */
  readonly chunks: number;
  /** The first chunk's pooled output, when the encoder has one. */
  readonly pooled?: Float32Array; // [1,P] f32
}

/**
 * A1111's "Original" emphasis on one chunk: every position's hidden state times its token's weight
 * (float32, as torch.asarray makes it), then the chunk times mean(before) / mean(after).
 */
export function emphasize(hidden: Float32Array, weights: readonly number[]): Float32Array {
  const positions = weights.length;
  const width = hidden.length / positions;
  if (!Number.isInteger(width)) throw new EaselError("internal", `emphasis: ${hidden.length} values do not split into ${positions} positions`);
  let before = 0;
  for (const v of hidden) before += v;
  const out = new Float32Array(hidden.length); // [77,D] f32
  let after = 0;
  for (let p = 0; p < positions; p++) {
    const w = fround(weights[p]);
    for (let k = p * width; k < (p + 1) * width; k++) {
      out[k] = hidden[k] * w;
      after += out[k];
    }
  }
  const ratio = fround(fround(before / hidden.length) / fround(after / hidden.length));
  for (let k = 0; k < out.length; k++) out[k] = out[k] * ratio;
  return out;
}

/** The 77-id rows a prompt is encoded as: one truncated row (plain), or its weighted chunks (a1111). */
export function promptChunks(tokenizer: ClipTokenizer, text: string, syntax: PromptSyntax): readonly PromptChunk[] {
  if (syntax === "a1111") return chunkPrompt(tokenizer, text).chunks;
  const { ids } = tokenizer.encode(text);
  return [{ ids, weights: ids.map(() => 1) }];
}

/** Encodes `chunks` with one encoder run, weighting each chunk (unit-weight chunks come back as encoded). */
export async function encodeChunks(encode: TextEncoderRun, chunks: readonly PromptChunk[]): Promise<PromptEncoding> {
  const out = await encode(chunks.map((c) => c.ids));
  const rowSize = out.hidden.length / chunks.length;
  const hidden = new Float32Array(out.hidden.length); // [1,77k,D] f32
  chunks.forEach((chunk, i) => {
    const rows = out.hidden.subarray(i * rowSize, (i + 1) * rowSize); // [77,D] f32
    hidden.set(chunk.weights.every((w) => w === 1) ? rows : emphasize(rows, chunk.weights), i * rowSize);
  });
  const pooled = out.pooled?.slice(0, out.pooled.length / chunks.length);
  return { hidden, chunks: chunks.length, pooled };
}

/** `encoding` extended to `chunks` blocks with copies of the empty prompt's (one chunk) encoding. */
export function padChunks(encoding: PromptEncoding, chunks: number, empty: PromptEncoding): PromptEncoding {
  if (encoding.chunks >= chunks) return encoding;
  if (empty.chunks !== 1) throw new EaselError("internal", `the empty prompt encodes to ${empty.chunks} chunks, expected 1`);
  const block = empty.hidden.length;
  const hidden = new Float32Array(block * chunks); // [1,77k,D] f32
  hidden.set(encoding.hidden, 0);
  for (let c = encoding.chunks; c < chunks; c++) hidden.set(empty.hidden, c * block);
  return { ...encoding, hidden, chunks };
}

/** The rows of one image's prompts, tokenized (the caller times this apart from the encoder). */
export interface PromptPairChunks {
  readonly prompt: readonly PromptChunk[];
  /** With CFG only. */
  readonly negative?: readonly PromptChunk[];
  /** The empty prompt's rows, when prompt and negative differ in chunk count. */
  readonly empty?: readonly PromptChunk[];
}

export function promptPairChunks(tokenizer: ClipTokenizer, prompt: string, negativePrompt: string, cfg: boolean, syntax: PromptSyntax): PromptPairChunks {
  const positive = promptChunks(tokenizer, prompt, syntax);
  if (!cfg) return { prompt: positive };
  const negative = promptChunks(tokenizer, negativePrompt, syntax);
  return { prompt: positive, negative, empty: positive.length === negative.length ? undefined : promptChunks(tokenizer, "", syntax) };
}

export interface PromptPairEncoding {
  readonly hiddenStates: Float32Array; // [1|2,77k,D] f32: [negative, prompt] with CFG
  readonly chunks: number;
  /** Each prompt's first-chunk pooled output, in the same order, when the encoder has one. */
  readonly pooled?: Float32Array; // [1|2,P] f32
}

/**
 * The UNet's encoder_hidden_states for one image: [negative, prompt] with CFG (diffusers' order),
 * [prompt] without; both the same length (rule 20).
 */
export async function encodePromptPair(
  encode: TextEncoderRun,
  rows: PromptPairChunks,
): Promise<PromptPairEncoding> {
  const positive = await encodeChunks(encode, rows.prompt);
  if (!rows.negative) return { hiddenStates: positive.hidden, chunks: positive.chunks, pooled: positive.pooled };
  const negative = await encodeChunks(encode, rows.negative);
  const chunks = Math.max(positive.chunks, negative.chunks);
  const empty = rows.empty ? await encodeChunks(encode, rows.empty) : undefined;
  const [neg, pos] = empty ? [padChunks(negative, chunks, empty), padChunks(positive, chunks, empty)] : [negative, positive];
  if (neg.chunks !== pos.chunks) throw new EaselError("internal", "prompt and negative prompt differ in length and no empty prompt was given to pad with");
  const hiddenStates = concatBatch(neg.hidden, pos.hidden); // [2,77k,D] f32
  return { hiddenStates, chunks, pooled: neg.pooled && pos.pooled ? concatBatch(neg.pooled, pos.pooled) : undefined };
}
