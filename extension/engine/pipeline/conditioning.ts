// What the UNet is conditioned on, from the prompts: every text encoder's hidden states
// (concatenated for SDXL's two), and SDXL's added conditioning (pooled embedding + time_ids).
import { EaselError } from "../errors";
import type { ModelInfo, TextEncoderUse } from "../model/modelInfo";
import type { ModelSession } from "../onnx/session";
import type { ClipTokenizer } from "../text/clipTokenizer";
import type { StageClock } from "./stageClock";
import { concatHiddenStates, encodeText, type EncodedText } from "./textEncoder";

/** A text encoder ready to run: how the model uses it, its tokenizer, and a way to its session. */
export interface TextEncoderRunner {
  readonly use: TextEncoderUse;
  readonly tokenizer: ClipTokenizer;
  readonly run: <T>(work: (session: ModelSession) => Promise<T>) => Promise<T>;
}

export interface Conditioning {
  readonly hiddenStates: Float32Array; // [cfg ? 2 : 1, L, D] f32: uncond first, as diffusers concatenates
  readonly textLength: number;
  readonly added: { readonly textEmbeds: Float32Array; readonly timeIds: Float32Array } | undefined; // [rows,P] f32, [rows,6] f32
}

export interface ConditioningRequest {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly cfg: boolean;
  readonly width: number;
  readonly height: number;
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
  const texts = r.cfg && !zeroUncond ? [r.negativePrompt, r.prompt] : [r.prompt];
  const encoded: EncodedText[] = [];
  for (const encoder of encoders) encoded.push(await encoder.run((session) => encodeText(encoder.use, encoder.tokenizer, session, texts, clock)));

  const textLength = encoders[0].tokenizer.maxLength;
  if (encoders.some((e) => e.tokenizer.maxLength !== textLength)) {
    throw new EaselError("model-invalid", `the tokenizers pad to different lengths (${encoders.map((e) => e.tokenizer.maxLength).join(", ")}): their embeddings cannot be concatenated; fix model_max_length in tokenizer_config.json`);
  }
  const widths = encoders.map((e) => e.use.width);
  let hiddenStates = concatHiddenStates(encoded.map((e) => e.hiddenStates), widths, texts.length, textLength); // [rows,L,ΣD] f32
  const pooledAt = encoders.findIndex((e) => e.use.pooledOutput !== undefined);
  let pooled = pooledAt >= 0 ? encoded[pooledAt].pooled : undefined; // [rows,P] f32
  if (zeroUncond) {
    hiddenStates = withZeroRowFirst(hiddenStates); // [2,L,ΣD] f32
    pooled = pooled && withZeroRowFirst(pooled); // [2,P] f32
  }
  const rows = r.cfg ? 2 : 1;
  if (!model.addedConditioning) return { hiddenStates, textLength, added: undefined };
  if (!pooled) throw new EaselError("internal", "SDXL conditioning without a pooled embedding");
  const timeIds = new Float32Array(rows * 6); // [rows,6] f32
  for (let row = 0; row < rows; row++) timeIds.set(sdxlTimeIds(r.width, r.height), row * 6);
  return { hiddenStates, textLength, added: { textEmbeds: pooled, timeIds } };
}

/** [1,…] → [2,…] with a row of zeros first (the unconditional row). */
function withZeroRowFirst(t: Float32Array): Float32Array {
  const out = new Float32Array(t.length * 2);
  out.set(t, t.length);
  return out;
}
