// What the UNet is conditioned on, from the prompts: every text encoder's hidden states
// (concatenated for SDXL's two), and SDXL's added conditioning (pooled embedding + time_ids).
//
// Each encoder reads the prompts in the request's syntax (promptEncoding.ts) with its own tokenizer
// and pad token: one truncated 77-id row (plain), or the weighted 75-token chunks (a1111), each
// chunk weighted and mean-restored on that encoder's own hidden states, as A1111 does for SDXL's
// two encoders. The encoders' states are then concatenated position by position (77·k positions);
// the pooled embedding is each prompt's first chunk's.
import { EaselError } from "../errors";
import type { ModelInfo, TextEncoderUse } from "../model/modelInfo";
import type { ModelSession } from "../onnx/session";
import type { PromptSyntax } from "../text/a1111Prompt";
import type { ClipTokenizer } from "../text/clipTokenizer";
import {
  encodeChunks,
  encodePromptPair,
  padChunks,
  promptChunks,
  promptPairChunks,
  type PromptPairChunks,
  type PromptPairEncoding,
  type TextEncoderRun,
} from "./promptEncoding";
import type { StageClock } from "./stageClock";
import { concatBatch } from "./tensorMath";
import { concatHiddenStates, textEncoderRun } from "./textEncoder";

/** A text encoder ready to run: how the model uses it, its tokenizer, and a way to its session. */
export interface TextEncoderRunner {
  readonly use: TextEncoderUse;
  readonly tokenizer: ClipTokenizer;
  readonly run: <T>(work: (session: ModelSession) => Promise<T>) => Promise<T>;
}

export interface Conditioning {
  readonly hiddenStates: Float32Array; // [cfg ? 2 : 1, L, D] f32: uncond first, as diffusers concatenates
  /** L: 77 per chunk (one chunk in the plain syntax). */
  readonly textLength: number;
  readonly added: { readonly textEmbeds: Float32Array; readonly timeIds: Float32Array } | undefined; // [rows,P] f32, [rows,6] f32
}

export interface ConditioningRequest {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly cfg: boolean;
  readonly width: number;
  readonly height: number;
  readonly syntax: PromptSyntax;
}

/**
 * SDXL's time_ids for one row: original size, crop top-left, target size, as diffusers'
 * `_get_add_time_ids` with its defaults (original = target = the requested size, no crop).
 */
export function sdxlTimeIds(width: number, height: number): number[] {
  return [height, width, 0, 0, height, width];
}

/**
 * diffusers' encode_prompt: with CFG the rows are [negative, prompt]. SDXL with
 * `force_zeros_for_empty_prompt` makes an empty negative prompt all zeros (hidden states and
 * pooled) instead of encoding "".
 */
export async function encodeConditioning(
  model: ModelInfo,
  encoders: readonly TextEncoderRunner[],
  r: ConditioningRequest,
  clock?: StageClock,
): Promise<Conditioning> {
  const zeroUncond = r.cfg && model.addedConditioning !== undefined && model.forceZerosForEmptyPrompt && r.negativePrompt === "";
  const blockLength = encoders[0].tokenizer.maxLength;
  if (encoders.some((e) => e.tokenizer.maxLength !== blockLength)) {
    throw new EaselError("model-invalid", `the tokenizers pad to different lengths (${encoders.map((e) => e.tokenizer.maxLength).join(", ")}): their embeddings cannot be concatenated; fix model_max_length in tokenizer_config.json`);
  }

  const encoded: PromptPairEncoding[] = [];
  for (const encoder of encoders) {
    const tokenize = (): PromptPairChunks =>
      zeroUncond ? { prompt: promptChunks(encoder.tokenizer, r.prompt, r.syntax) } : promptPairChunks(encoder.tokenizer, r.prompt, r.negativePrompt, r.cfg, r.syntax);
    const rows = clock ? clock.timeSync("tokenize", tokenize) : tokenize();
    const encode = () =>
      encoder.run(async (session) => {
        const run = textEncoderRun(encoder.use, session);
        const pair = await encodePromptPair(run, rows);
        return zeroUncond ? withZeroUncond(pair, run, encoder.tokenizer, r.syntax) : pair;
      });
    encoded.push(await (clock ? clock.time("textEncoder", encode) : encode()));
  }

  // Both of SDXL's tokenizers split the same tokens (only their padding differs), so the same chunks.
  const chunks = encoded[0].chunks;
  if (encoded.some((e) => e.chunks !== chunks)) {
    throw new EaselError("model-invalid", `the tokenizers split the prompt into different numbers of chunks (${encoded.map((e) => e.chunks).join(", ")}): tokenizer/ and tokenizer_2/ must share a vocabulary`);
  }
  const textLength = chunks * blockLength;
  const rows = r.cfg ? 2 : 1;
  const widths = encoders.map((e) => e.use.width);
  const hiddenStates = concatHiddenStates(encoded.map((e) => e.hiddenStates), widths, rows, textLength); // [rows,L,ΣD] f32
  if (!model.addedConditioning) return { hiddenStates, textLength, added: undefined };
  const pooledAt = encoders.findIndex((e) => e.use.pooledOutput !== undefined);
  const pooled = pooledAt >= 0 ? encoded[pooledAt].pooled : undefined; // [rows,P] f32
  if (!pooled) throw new EaselError("internal", "SDXL conditioning without a pooled embedding");
  const timeIds = new Float32Array(rows * 6); // [rows,6] f32
  for (let row = 0; row < rows; row++) timeIds.set(sdxlTimeIds(r.width, r.height), row * 6);
  return { hiddenStates, textLength, added: { textEmbeds: pooled, timeIds } };
}

/**
 * [prompt] → [zeros, prompt]: the forced-zero empty negative prompt is one chunk of zeros (pooled
 * zeros too); against a prompt of k chunks it is padded with the empty prompt's encoding, as any
 * shorter negative prompt is (A1111 zeroes the negative's own encoding, then pads it).
 */
async function withZeroUncond(pair: PromptPairEncoding, run: TextEncoderRun, tokenizer: ClipTokenizer, syntax: PromptSyntax): Promise<PromptPairEncoding> {
  const zeros = { hidden: new Float32Array(pair.hiddenStates.length / pair.chunks), chunks: 1 }; // [1,77,D] f32
  const uncond = pair.chunks > 1 ? padChunks(zeros, pair.chunks, await encodeChunks(run, promptChunks(tokenizer, "", syntax))) : zeros; // [1,77k,D] f32
  return {
    hiddenStates: concatBatch(uncond.hidden, pair.hiddenStates), // [2,77k,D] f32
    chunks: pair.chunks,
    pooled: pair.pooled && concatBatch(new Float32Array(pair.pooled.length), pair.pooled), // [2,P] f32
  };
}
