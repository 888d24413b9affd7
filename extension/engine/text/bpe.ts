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

  /**
   * The word's BPE tokens as strings (byte-level symbols, the last one ending in "</w>").
   *
   * The reference algorithm (CLIP's and transformers' slow tokenizer) rescans the word for its
   * lowest-ranked pair after every merge, which is quadratic in the word's length: a 30k-letter
   * "word" took 20 s. This gives the same tokens in O(n log n): the symbols form a linked list, every
   * adjacent pair with a rank sits in a min-heap, and each round takes ALL entries of the lowest rank
   * (one pair: ranks are per distinct pair) and merges them left to right, skipping entries a merge
   * of this round has consumed, exactly as the reference's left-to-right pass does. Pairs a merge
   * creates are pushed for later rounds; none can have the round's own rank (the merged symbol is
   * longer than either half), and a lower-ranked one waits for the next round, as in the reference.
   */
  bpe(word: string): string[] {
    const symbols = byteSymbols(word);
    const n = symbols.length;
    if (n === 0) return [];
    symbols[n - 1] += END_OF_WORD;
    // A merge folds the right symbol into the left one's slot, so slot 0 always heads the list.
    const next = new Int32Array(n); // [n] i32: the following live slot, -1 at the end
    const prev = new Int32Array(n); // [n] i32: the preceding live slot, -1 at the start
    const alive = new Uint8Array(n).fill(1); // [n] u8
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const rankAt = (i: number): number | undefined => (next[i] < 0 ? undefined : this.ranks.get(`${symbols[i]} ${symbols[next[i]]}`));
    const heap = new PairHeap();
    for (let i = 0; i < n - 1; i++) {
      const rank = rankAt(i);
      if (rank !== undefined) heap.push(rank, i);
    }
    const round: number[] = [];
    while (heap.size > 0) {
      const rank = heap.minRank();
      round.length = 0;
      while (heap.size > 0 && heap.minRank() === rank) round.push(heap.pop());
      round.sort((a, b) => a - b);
      for (const i of round) {
        // Stale: the slot was merged into its left neighbour, or its pair changed since it was pushed.
        if (!alive[i] || rankAt(i) !== rank) continue;
        const j = next[i];
        symbols[i] += symbols[j];
        alive[j] = 0;
        next[i] = next[j];
        if (next[j] >= 0) prev[next[j]] = i;
        const left = prev[i] >= 0 ? rankAt(prev[i]) : undefined;
        if (left !== undefined) heap.push(left, prev[i]);
        const right = rankAt(i);
        if (right !== undefined) heap.push(right, i);
      }
    }
    const out: string[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(symbols[i]);
    return out;
  }
}

/** A binary min-heap of (rank, slot) entries, ordered by rank (a round sorts its slots itself). */
class PairHeap {
  private readonly ranks: number[] = [];
  private readonly slots: number[] = [];

  get size(): number {
    return this.ranks.length;
  }

  minRank(): number {
    return this.ranks[0];
  }

  push(rank: number, slot: number): void {
    const { ranks, slots } = this;
    let i = ranks.length;
    ranks.push(rank);
    slots.push(slot);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (ranks[parent] <= rank) break;
      ranks[i] = ranks[parent];
      slots[i] = slots[parent];
      i = parent;
    }
    ranks[i] = rank;
    slots[i] = slot;
  }

  /** Removes the lowest-ranked entry and returns its slot. */
  pop(): number {
    const { ranks, slots } = this;
    const top = slots[0];
    const lastRank = ranks.pop()!;
    const lastSlot = slots.pop()!;
    const size = ranks.length;
    if (size === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && ranks[child + 1] < ranks[child]) child++;
      if (ranks[child] >= lastRank) break;
      ranks[i] = ranks[child];
      slots[i] = slots[child];
      i = child;
    }
    ranks[i] = lastRank;
    slots[i] = lastSlot;
    return top;
  }
}
