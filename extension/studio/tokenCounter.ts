// Live token counts for the Studio's prompt fields, with the model's own CLIP tokenizer (loaded
// once per tokenizer folder and kept): how many tokens the text has and whether the text encoder
// will cut it (CLIP sees 75 between its start and end tokens).
import path from "node:path";
import { ClipTokenizer } from "../engine/text/clipTokenizer";

export interface TokenCount {
  readonly count: number;
  /** Tokens the text encoder sees. */
  readonly max: number;
  readonly truncated: boolean;
}

export class TokenCounter {
  private readonly tokenizers = new Map<string, Promise<ClipTokenizer>>();

  /** Counts with the tokenizer in `modelDir/tokenizer`; rejects when it cannot be read. */
  async count(modelDir: string, text: string): Promise<TokenCount> {
    const dir = path.join(modelDir, "tokenizer");
    let tokenizer = this.tokenizers.get(dir);
    if (!tokenizer) {
      tokenizer = ClipTokenizer.load(dir);
      this.tokenizers.set(dir, tokenizer);
      // A folder that fails now may be fixed later (a download finishing): do not cache the failure.
      tokenizer.catch(() => this.tokenizers.delete(dir));
    }
    const t = await tokenizer;
    const result = t.encode(text);
    return { count: result.count, max: t.maxLength - 2, truncated: result.truncated };
  }
}
