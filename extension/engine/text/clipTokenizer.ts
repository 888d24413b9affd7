// CLIP's tokenizer as diffusers runs it (transformers' fast CLIPTokenizer, padding="max_length",
// truncation=True): ids = BOS + the prompt's first (maxLength - 2) tokens + EOS, padded to maxLength
// with the folder's pad token (`<|endoftext|>` for SD 1.x, `!` = id 0 for SD 2.x and SD-Turbo).

import { EaselError } from "../errors";
import { BytePairEncoder } from "./bpe";
import { PreTokenizer } from "./pretokenize";
import { readTokenizerFiles } from "./tokenizerFiles";

export interface TokenizeResult {
  /** Always `maxLength` (77) ids: BOS, tokens, EOS, padding. */
  readonly ids: readonly number[];
  /** The prompt's own tokens, without BOS/EOS, before truncation. */
  readonly count: number;
  /** True when the prompt had more than maxLength - 2 tokens and the rest was dropped. */
  readonly truncated: boolean;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly maxLength: number;
  private readonly bpe: BytePairEncoder;
  private readonly preTokenizer: PreTokenizer;
  private readonly specialIds: ReadonlyMap<string, number>;

  private constructor(
    bpe: BytePairEncoder,
    preTokenizer: PreTokenizer,
    specialIds: ReadonlyMap<string, number>,
    ids: { bos: number; eos: number; pad: number },
    maxLength: number,
  ) {
    this.bpe = bpe;
    this.preTokenizer = preTokenizer;
    this.specialIds = specialIds;
    this.bosId = ids.bos;
    this.eosId = ids.eos;
    this.padId = ids.pad;
    this.maxLength = maxLength;
  }

  /** Reads a diffusers `tokenizer/` folder (vocab.json + merges.txt, or tokenizer.json). */
  static async load(tokenizerDir: string): Promise<ClipTokenizer> {
    const files = await readTokenizerFiles(tokenizerDir);
    const { vocab, special } = files;
    const idOf = (token: string): number => {
      const id = vocab.get(token);
      if (id === undefined) {
        throw new EaselError("model-invalid", `tokenizer token ${JSON.stringify(token)} is missing from the vocabulary in ${tokenizerDir}`);
      }
      return id;
    };
    const unkId = idOf(special.unk);
    // The tokens transformers splits out of the raw prompt: BOS, EOS and UNK (the pad token is not).
    const specialIds = new Map<string, number>();
    for (const token of [special.bos, special.eos, special.unk]) specialIds.set(token, idOf(token));
    return new ClipTokenizer(
      new BytePairEncoder(vocab, files.merges, unkId),
      new PreTokenizer([...specialIds.keys()]),
      specialIds,
      { bos: idOf(special.bos), eos: idOf(special.eos), pad: idOf(special.pad) },
      files.maxLength,
    );
  }

  /** The prompt's token ids, without BOS/EOS and without truncation. */
  tokenIds(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.preTokenizer.split(text)) {
      if (piece.kind === "special") {
        const id = this.specialIds.get(piece.text);
        if (id !== undefined) ids.push(id);
      } else {
        for (const id of this.bpe.encodeWord(piece.text)) ids.push(id);
      }
    }
    return ids;
  }

  /** `tokenizer(text, padding="max_length", max_length=maxLength, truncation=True).input_ids`. */
  encode(text: string): TokenizeResult {
    const tokens = this.tokenIds(text);
    const room = this.maxLength - 2;
    const kept = tokens.length > room ? tokens.slice(0, room) : tokens;
    const ids = new Array<number>(this.maxLength).fill(this.padId);
    ids[0] = this.bosId;
    for (let i = 0; i < kept.length; i++) ids[i + 1] = kept[i];
    ids[kept.length + 1] = this.eosId;
    return { ids, count: tokens.length, truncated: tokens.length > room };
  }
}
