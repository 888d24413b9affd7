// Live token counts for the Studio's prompt fields, with the model's own CLIP tokenizer (loaded
// once per tokenizer folder and kept): how many tokens the text has and whether the text encoder
// will cut it (CLIP sees 75 between its start and end tokens), or, in AUTOMATIC1111's syntax, how
// many 75-token chunks it takes (nothing is cut).
import path from "node:path";
import { chunkPrompt, type PromptSyntax } from "../engine/text/a1111Prompt";
import { ClipTokenizer } from "../engine/text/clipTokenizer";
import { extractLoraTags } from "../engine/lora/promptTags";

export interface TokenCount {
  readonly count: number;
  /** Tokens the text encoder sees in one chunk. */
  readonly max: number;
  readonly truncated: boolean;
  /** 77-position blocks the prompt is encoded as: always 1 in the plain syntax. */
  readonly chunks: number;
  /** Tokens in the last chunk (A1111's "N/75" while typing); `count` in the plain syntax. */
  readonly chunkCount: number;
  readonly syntax: PromptSyntax;
}

export class TokenCounter {
  private readonly tokenizers = new Map<string, Promise<ClipTokenizer>>();

  /** Counts with the tokenizer in `modelDir/tokenizer`; rejects when it cannot be read. */
  async count(modelDir: string, text: string, syntax: PromptSyntax = "plain"): Promise<TokenCount> {
    const dir = path.join(modelDir, "tokenizer");
    let tokenizer = this.tokenizers.get(dir);
    if (!tokenizer) {
      tokenizer = ClipTokenizer.load(dir);
      this.tokenizers.set(dir, tokenizer);
      // A folder that fails now may be fixed later (a download finishing): do not cache the failure.
      tokenizer.catch(() => this.tokenizers.delete(dir));
    }
    const t = await tokenizer;
    const max = t.maxLength - 2;
    if (syntax === "a1111") {
      try {
        // `<lora:…>` tags are taken out before the encoder sees the prompt: they count for nothing.
        const { chunks, count } = chunkPrompt(t, extractLoraTags(text).prompt);
        // A chunk is BOS, its tokens, then EOS (and padding): the first EOS after BOS ends them.
        const last = chunks[chunks.length - 1].ids;
        const end = last.indexOf(t.eosId, 1);
        return { count, max, truncated: false, chunks: chunks.length, chunkCount: (end < 0 ? last.length : end) - 1, syntax };
      } catch {
        // A weight that is not a number (the generation will say so): count the text as written.
      }
    }
    const result = t.encode(text);
    return { count: result.count, max, truncated: result.truncated, chunks: 1, chunkCount: result.count, syntax: "plain" };
  }
}
