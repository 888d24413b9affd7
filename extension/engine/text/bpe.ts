// Byte-level BPE as CLIP uses it: a word's UTF-8 bytes are mapped to printable characters (GPT-2's
// byte-to-unicode table), the last symbol carries the "</w>" end-of-word suffix, and adjacent pairs are
// merged lowest rank first (leftmost on ties) until no ranked pair remains.

export const END_OF_WORD = "</w>";

/** GPT-2's reversible byte -> character table: printable Latin-1 bytes map to themselves, the rest to U+0100.. */
function buildByteEncoder(): readonly string[] {
  const table: string[] = new Array<string>(256);
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + next++);
  }
  return table;
}

const BYTE_ENCODER = buildByteEncoder();
const utf8 = new TextEncoder();

/** The word's UTF-8 bytes as byte-level symbols, one per byte. */
export function byteSymbols(word: string): string[] {
  const bytes = utf8.encode(word);
  const symbols = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) symbols[i] = BYTE_ENCODER[bytes[i]];
  return symbols;
}

/** Largest number of cached words before the cache is emptied (prompts reuse few words). */
const CACHE_LIMIT = 20000;

export class BytePairEncoder {
  /** Merge rank by "left right" key. */
  private readonly ranks: Map<string, number>;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly unkId: number;
  private readonly cache = new Map<string, readonly number[]>();

  constructor(vocab: ReadonlyMap<string, number>, merges: readonly (readonly [string, string])[], unkId: number) {
    this.vocab = vocab;
    this.unkId = unkId;
    this.ranks = new Map();
    // Rank = position among the distinct pairs, as the tokenizers library numbers them (real merges
    // files have no duplicates).
    for (const [a, b] of merges) {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, this.ranks.size);
    }
  }

  /** Token ids of one pre-tokenised word (not a special token). Cached per word. */
  encodeWord(word: string): readonly number[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const ids = this.bpe(word).map((token) => this.vocab.get(token) ?? this.unkId);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  /** The word's BPE tokens as strings (byte-level symbols, the last one ending in "</w>"). */
  bpe(word: string): string[] {
    const symbols = byteSymbols(word);
    if (symbols.length === 0) return [];
    symbols[symbols.length - 1] += END_OF_WORD;
    while (symbols.length > 1) {
      let bestRank = Number.POSITIVE_INFINITY;
      let bestIndex = -1;
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestIndex = i;
        }
      }
      if (bestIndex < 0) break;
      // Merge every occurrence of the best pair, left to right, without overlaps.
      const left = symbols[bestIndex];
      const right = symbols[bestIndex + 1];
      const merged: string[] = [];
      let i = 0;
      while (i < symbols.length) {
        if (i < symbols.length - 1 && symbols[i] === left && symbols[i + 1] === right) {
          merged.push(left + right);
          i += 2;
        } else {
          merged.push(symbols[i]);
          i += 1;
        }
      }
      symbols.length = 0;
      symbols.push(...merged);
    }
    return symbols;
  }
}
