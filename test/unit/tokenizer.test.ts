import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";

import { EaselError } from "../../extension/engine/errors";
import { byteSymbols, BytePairEncoder, END_OF_WORD } from "../../extension/engine/text/bpe";
import { ClipTokenizer } from "../../extension/engine/text/clipTokenizer";
import { readTokenizerFiles, type TokenizerFiles } from "../../extension/engine/text/tokenizerFiles";

interface TokensCase {
  readonly text: string;
  readonly ids_eos_pad: readonly number[];
  readonly ids_bang_pad: readonly number[];
  readonly count: number;
}

const FIXTURES = path.resolve(__dirname, "../fixtures/conformance");
const SD15_DIR = path.join(FIXTURES, "models/tiny-sd15/tokenizer");
const SD21_DIR = path.join(FIXTURES, "models/tiny-sd21v/tokenizer");
const cases = JSON.parse(readFileSync(path.join(FIXTURES, "tokens.json"), "utf8")) as TokensCase[];

const BOS = 49406;
const EOS = 49407;

/** A scratch tokenizer folder holding the SD 1.5 vocab/merges and whatever else a test writes. */
function scratchDir(files: Record<string, string>, copy: readonly ("vocab.json" | "merges.txt")[] = ["vocab.json", "merges.txt"]): string {
  const dir = mkdtempSync(path.join(tmpdir(), "easel-tokenizer-"));
  for (const name of copy) writeFileSync(path.join(dir, name), readFileSync(path.join(SD15_DIR, name)));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

function isOneLineError(pattern: RegExp, code: "model-missing" | "model-invalid" = "model-invalid"): (err: unknown) => boolean {
  return (err: unknown) => err instanceof EaselError && err.code === code && !err.message.includes("\n") && pattern.test(err.message);
}

describe("ClipTokenizer against transformers' fast CLIPTokenizer (tokens.json)", () => {
  let sd15: ClipTokenizer;
  let sd21: ClipTokenizer;
  before(async () => {
    [sd15, sd21] = await Promise.all([ClipTokenizer.load(SD15_DIR), ClipTokenizer.load(SD21_DIR)]);
  });

  it("reads the special tokens and length from the folder", () => {
    assert.equal(sd15.bosId, BOS);
    assert.equal(sd15.eosId, EOS);
    assert.equal(sd15.padId, EOS);
    assert.equal(sd15.maxLength, 77);
    assert.equal(sd21.bosId, BOS);
    assert.equal(sd21.eosId, EOS);
    assert.equal(sd21.padId, 0);
    assert.equal(sd21.maxLength, 77);
  });

  for (const c of cases) {
    const label = c.text.length > 60 ? `${JSON.stringify(c.text.slice(0, 60))}...` : JSON.stringify(c.text);
    it(`${label} (${c.count} tokens)`, () => {
      const a = sd15.encode(c.text);
      assert.deepEqual(a.ids, c.ids_eos_pad, "SD 1.x ids (<|endoftext|> padding)");
      assert.equal(a.count, c.count);
      assert.equal(a.truncated, c.count > 75);
      const b = sd21.encode(c.text);
      assert.deepEqual(b.ids, c.ids_bang_pad, "SD 2.x ids (! padding)");
      assert.equal(b.count, c.count);
      assert.equal(b.truncated, c.count > 75);
    });
  }

  it("has both truncated and untruncated cases in the fixture", () => {
    assert.ok(cases.some((c) => c.count > 75));
    assert.ok(cases.some((c) => c.count <= 75));
  });

  it("encodes the empty prompt as BOS, EOS, padding", () => {
    for (const text of ["", "   ", "\t\n"]) {
      const r = sd15.encode(text);
      assert.equal(r.count, 0);
      assert.equal(r.truncated, false);
      assert.deepEqual(r.ids, [BOS, EOS, ...new Array<number>(75).fill(EOS)]);
      assert.deepEqual(sd21.encode(text).ids, [BOS, EOS, ...new Array<number>(75).fill(0)]);
    }
  });

  it("always returns maxLength ids, ending in EOS when truncated", () => {
    const r = sd15.encode("cat ".repeat(200));
    assert.equal(r.ids.length, 77);
    assert.equal(r.count, 200);
    assert.equal(r.truncated, true);
    assert.equal(r.ids[0], BOS);
    assert.equal(r.ids[76], EOS);
    const exact = sd21.encode("cat ".repeat(75));
    assert.equal(exact.count, 75);
    assert.equal(exact.truncated, false);
    assert.equal(exact.ids[76], EOS);
  });

  it("normalises: case, NFC, and any Unicode whitespace", () => {
    const plain = sd15.encode("a red apple");
    assert.deepEqual(sd15.encode("A RED Apple").ids, plain.ids);
    assert.deepEqual(sd15.encode("  a\u00a0red\u2003\u0085apple\n").ids, plain.ids);
    // "é" precomposed and decomposed tokenise the same.
    assert.deepEqual(sd15.encode("caf\u00e9").ids, sd15.encode("cafe\u0301").ids);
  });

  it("takes <|endoftext|> written in the prompt as the special token, but not the pad token '!'", () => {
    const r = sd15.encode("a<|endoftext|>b");
    assert.deepEqual(r.ids.slice(0, 5), [BOS, sd15.encode("a").ids[1], EOS, sd15.encode("b").ids[1], EOS]);
    assert.equal(r.count, 3);
    // "!" alone is the BPE token "!</w>" (256), not the pad token "!" (0).
    assert.deepEqual(sd21.encode("!").ids.slice(0, 3), [BOS, 256, EOS]);
  });

  // Reference ids from the tokenizers library (0.23) set up as transformers' CLIPConverter does, with
  // <|startoftext|>/<|endoftext|> as special added tokens; the prompt's own tokens, without BOS/EOS.
  const unicodeCases: readonly (readonly [string, readonly number[]])[] = [
    // Capital sigma lower-cases to σ everywhere (no final-sigma rule); Turkish dotted İ -> i + U+0307.
    ["\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0391\u03a3", [138, 113, 138, 119, 138, 119, 138, 115, 138, 121, 138, 117, 138, 118, 138, 361, 138, 109, 139, 481]],
    ["Stra\u00dfe \u0130stanbul", [1894, 127, 253, 324, 328, 16384, 11231]],
    // NEL and NBSP are whitespace, U+200B and U+FEFF are not (they stay as byte tokens).
    ["x\u0085y\u200bz\ufeffw\u00a0v\u3000u", [343, 344, 9844, 345, 171, 119, 379, 342, 341, 340]],
    ["a\u001cb\u001fc\u0000d\u007f", [320, 472, 321, 475, 322, 444, 323, 477]],
    ["\u00b2\u00b3 \u216b \u0663\u0664\u0665 \u00bd \uff10\uff11\uff12", [41175, 126, 367, 158, 227, 375, 149, 352, 149, 353, 149, 354, 33613, 171, 120, 494, 171, 120, 495, 171, 120, 496]],
    ["rock'n'roll it\u2019s don't I'LL 'S", [2172, 262, 333, 262, 3341, 585, 728, 503, 338, 847, 713, 328, 1342, 568]],
    ["e\u0301 a\u0308 n\u0303", [4166, 47276, 127, 365]],
    ["\ud83d\udc69\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 family \ud83c\udff3\ufe0f\u200d\ud83c\udf08 flag", [26304, 26304, 48938, 4244, 964, 355, 1315, 32610, 4859]],
    [
      "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\u4e2d\u6587\u5b57\u7b26\u3002\ud55c\uad6d\uc5b4",
      [39121, 44353, 34002, 252, 21575, 2429, 228, 47121, 32421, 486, 45262, 19759, 255, 29032, 229, 35751, 245, 163, 105, 355, 38000, 15197, 250, 31871, 255, 31625, 368],
    ],
    // Special tokens are split out of the raw text (case-sensitively); everything else is ordinary text.
    ["a<|endoftext|>b <|startoftext|>c <|ENDOFTEXT|> !<|endoftext|>!", [320, 49407, 321, 49406, 322, 27, 347, 40786, 4160, 91, 285, 256, 49407, 256]],
    ["hello\u2028world\u2029!", [3306, 1002, 256]],
    ["$100.00 & 50% off!!! :-) <3 #1 @home", [259, 272, 271, 271, 269, 271, 271, 261, 276, 271, 260, 1007, 995, 4223, 283, 274, 258, 272, 287, 1137]],
  ];
  for (const [text, expected] of unicodeCases) {
    it(`matches the tokenizers library on ${JSON.stringify(text)}`, () => {
      const r = sd15.encode(text);
      assert.equal(r.count, expected.length);
      assert.deepEqual(r.ids.slice(1, expected.length + 1), expected);
      assert.equal(r.ids[expected.length + 1], EOS);
    });
  }

  it("gives the same result for a repeated word (BPE cache)", () => {
    const once = sd15.encode("supercalifragilistic");
    const twice = sd15.encode("supercalifragilistic");
    assert.deepEqual(once, twice);
  });
});

/**
 * The reference BPE (CLIP's bpe() and transformers' slow tokenizer): rescan for the lowest-ranked
 * pair, merge all its occurrences left to right, repeat. Quadratic; the oracle for the fast one.
 */
function referenceBpe(word: string, ranks: ReadonlyMap<string, number>): string[] {
  let symbols = byteSymbols(word);
  if (symbols.length === 0) return [];
  symbols[symbols.length - 1] += END_OF_WORD;
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < symbols.length - 1; i++) {
      const rank = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
    }
    if (best < 0) return symbols;
    const [left, right] = [symbols[best], symbols[best + 1]];
    const merged: string[] = [];
    for (let i = 0; i < symbols.length; i++) {
      if (i < symbols.length - 1 && symbols[i] === left && symbols[i + 1] === right) merged.push(left + right), i++;
      else merged.push(symbols[i]);
    }
    symbols = merged;
  }
}

/** CPU time, not wall time: the bound must hold on a machine busy with other work. */
function cpuMs<T>(work: () => T): { ms: number; value: T } {
  const before = process.cpuUsage();
  const value = work();
  const used = process.cpuUsage(before);
  return { ms: (used.user + used.system) / 1000, value };
}

describe("BPE on long words (linear, no deep recursion, same tokens)", () => {
  let files: TokenizerFiles;
  let tokenizer: ClipTokenizer;
  before(async () => {
    files = await readTokenizerFiles(SD15_DIR);
    tokenizer = await ClipTokenizer.load(SD15_DIR);
  });

  it("gives the reference algorithm's tokens on words built to merge in every order", () => {
    const ranks = new Map<string, number>();
    for (const [a, b] of files.merges) if (!ranks.has(`${a} ${b}`)) ranks.set(`${a} ${b}`, ranks.size);
    const bpe = new BytePairEncoder(files.vocab, files.merges, 0);
    // A fixed-seed LCG: alphabets small enough that pairs repeat and overlap (aaaa, abab, ...).
    let state = 12345;
    const random = (n: number): number => ((state = (state * 1103515245 + 12345) % 2147483648) % n);
    const alphabets = ["ab", "aeilnorst", "abcdefghijklmnopqrstuvwxyz", "ss!!..", "\u65e5\u672c\u8a9e\u4e2d", "\u00e9\u00e8a\u0301"];
    let checked = 0;
    for (const alphabet of alphabets) {
      const chars = [...alphabet];
      for (let k = 0; k < 150; k++) {
        let word = "";
        const length = 1 + random(40);
        for (let i = 0; i < length; i++) word += chars[random(chars.length)];
        assert.deepEqual(bpe.bpe(word), referenceBpe(word, ranks), JSON.stringify(word));
        checked++;
      }
    }
    for (const word of ["supercalifragilisticexpialidocious", "aaaaaaaaaaaaaaaaaaaaaaa", "mississippi", "photorealistic", "</w>x"]) {
      assert.deepEqual(bpe.bpe(word), referenceBpe(word, ranks), word);
    }
    assert.equal(checked, 900);
  });

  it("tokenizes a 30,000-letter word in well under a second (20 s with the quadratic merge)", () => {
    // Random letters: thousands of distinct pairs, so the reference rescans the word thousands of times.
    let state = 7;
    let word = "";
    for (let i = 0; i < 30000; i++) word += String.fromCharCode(97 + ((state = (state * 1103515245 + 12345) % 2147483648) % 26));
    const { ms, value: ids } = cpuMs(() => tokenizer.tokenIds(word));
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms of CPU`);
    assert.ok(ids.length > 1000 && ids.length < 30000);
  });

  it("tokenizes a 43,000-character CJK prompt (one pre-token word) without overflowing the stack", () => {
    let text = "";
    for (let i = 0; i < 43000; i++) text += String.fromCharCode(0x4e00 + ((i * 7919) % 20000));
    const { ms, value: r } = cpuMs(() => tokenizer.encode(text));
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms of CPU`);
    assert.ok(r.truncated && r.count > 43000, `count ${r.count}`);
    assert.equal(r.ids.length, 77);
  });
});

describe("ClipTokenizer files", () => {
  const dirs: string[] = [];
  const scratch = (files: Record<string, string>, copy?: readonly ("vocab.json" | "merges.txt")[]): string => {
    const dir = scratchDir(files, copy);
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("loads quickly", async () => {
    const start = performance.now();
    await ClipTokenizer.load(SD15_DIR);
    const ms = performance.now() - start;
    assert.ok(ms < 2000, `load took ${ms.toFixed(0)} ms of CPU`);
  });

  it("reports a missing folder or vocab.json in one line naming the file", async () => {
    await assert.rejects(ClipTokenizer.load(path.join(FIXTURES, "models/no-such-model/tokenizer")), isOneLineError(/vocab\.json.*missing/, "model-missing"));
    const dir = scratch({}, ["merges.txt"]);
    await assert.rejects(ClipTokenizer.load(dir), isOneLineError(new RegExp(`${escape(path.join(dir, "vocab.json"))}.*missing`), "model-missing"));
  });

  it("reports a missing merges.txt in one line naming the file", async () => {
    const dir = scratch({}, ["vocab.json"]);
    await assert.rejects(ClipTokenizer.load(dir), isOneLineError(/merges\.txt.*missing/, "model-missing"));
  });

  it("reports malformed files in one line naming the file", async () => {
    await assert.rejects(ClipTokenizer.load(scratch({ "vocab.json": "{not json" }, ["merges.txt"])), isOneLineError(/vocab\.json.*not valid JSON/));
    await assert.rejects(ClipTokenizer.load(scratch({ "vocab.json": "[1, 2]" }, ["merges.txt"])), isOneLineError(/vocab\.json/));
    await assert.rejects(ClipTokenizer.load(scratch({ "merges.txt": "#version: 0.2\na b c\n" }, ["vocab.json"])), isOneLineError(/merges\.txt line 2/));
    await assert.rejects(ClipTokenizer.load(scratch({ "tokenizer_config.json": "{\n\"pad_token\": \n" })), isOneLineError(/tokenizer_config\.json.*not valid JSON/));
    await assert.rejects(
      ClipTokenizer.load(scratch({ "special_tokens_map.json": JSON.stringify({ pad_token: 5 }) })),
      isOneLineError(/special_tokens_map\.json.*pad_token/),
    );
    await assert.rejects(
      ClipTokenizer.load(scratch({ "special_tokens_map.json": JSON.stringify({ pad_token: "<|notatoken|>" }) })),
      isOneLineError(/pad token.*special_tokens_map\.json.*not in the vocabulary/),
    );
  });

  it("accepts the pad token as a string or as {content}", async () => {
    const asObject = await ClipTokenizer.load(
      scratch({
        "special_tokens_map.json": JSON.stringify({
          bos_token: { content: "<|startoftext|>", lstrip: false, normalized: true, rstrip: false, single_word: false },
          eos_token: { content: "<|endoftext|>", lstrip: false, normalized: true, rstrip: false, single_word: false },
          pad_token: { content: "!", lstrip: false, normalized: true, rstrip: false, single_word: false },
        }),
      }),
    );
    assert.equal(asObject.padId, 0);
    assert.equal(asObject.bosId, BOS);
    const fromConfig = await ClipTokenizer.load(
      scratch({ "tokenizer_config.json": JSON.stringify({ pad_token: { __type: "AddedToken", content: "!" }, model_max_length: 77 }) }),
    );
    assert.equal(fromConfig.padId, 0);
  });

  it("lets special_tokens_map.json override tokenizer_config.json, and defaults to CLIP's tokens", async () => {
    const both = await ClipTokenizer.load(
      scratch({
        "tokenizer_config.json": JSON.stringify({ pad_token: "<|endoftext|>" }),
        "special_tokens_map.json": JSON.stringify({ pad_token: "!" }),
      }),
    );
    assert.equal(both.padId, 0);
    const bare = await ClipTokenizer.load(scratch({}));
    assert.equal(bare.padId, EOS);
    assert.equal(bare.maxLength, 77);
  });

  it("uses model_max_length, ignoring transformers' 'no limit' placeholder", async () => {
    const short = await ClipTokenizer.load(scratch({ "tokenizer_config.json": JSON.stringify({ model_max_length: 10 }) }));
    assert.equal(short.maxLength, 10);
    const r = short.encode("one two three four five six seven eight nine");
    assert.equal(r.ids.length, 10);
    assert.equal(r.count, 9);
    assert.equal(r.truncated, true);
    assert.equal(r.ids[9], EOS);
    const huge = await ClipTokenizer.load(scratch({ "tokenizer_config.json": JSON.stringify({ model_max_length: 1e30 }) }));
    assert.equal(huge.maxLength, 77);
    await assert.rejects(
      ClipTokenizer.load(scratch({ "tokenizer_config.json": JSON.stringify({ model_max_length: "77" }) })),
      isOneLineError(/tokenizer_config\.json.*model_max_length/),
    );
  });

  it("falls back to tokenizer.json when vocab.json and merges.txt are absent", async () => {
    const vocab = JSON.parse(readFileSync(path.join(SD15_DIR, "vocab.json"), "utf8")) as Record<string, number>;
    const merges = readFileSync(path.join(SD15_DIR, "merges.txt"), "utf8")
      .split("\n")
      .slice(1)
      .filter((l) => l.length > 0);
    const pairs = merges.map((l) => l.split(" "));
    const expected = cases.slice(0, 6);
    for (const mergeList of [merges, pairs]) {
      const dir = scratch({ "tokenizer.json": JSON.stringify({ model: { type: "BPE", vocab, merges: mergeList } }) }, []);
      const tok = await ClipTokenizer.load(dir);
      for (const c of expected) assert.deepEqual(tok.encode(c.text).ids, c.ids_eos_pad, c.text);
    }
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
