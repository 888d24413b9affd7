// AUTOMATIC1111's prompt syntax: the parser (A1111's own doctests of parse_prompt_attention, then
// BREAK, escapes, unbalanced brackets), the 75-token chunker with comma backtracking, SD 2's "!"
// padding, and the "Original" emphasis' mean restore.
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { emphasize, promptChunks } from "../../extension/engine/pipeline/promptEncoding";
import { chunkPrompt, parsePromptAttention, type WeightedFragment } from "../../extension/engine/text/a1111Prompt";
import { ClipTokenizer } from "../../extension/engine/text/clipTokenizer";
import { CONFORMANCE_CASES } from "../helpers/conformanceCases";
import { MODELS } from "../helpers/paths";

const pairs = (fragments: WeightedFragment[]) => fragments.map((f) => ("break" in f ? ["BREAK", -1] : [f.text, f.weight]));

describe("parsePromptAttention", () => {
  it("A1111's doctests", () => {
    assert.deepEqual(pairs(parsePromptAttention("normal text")), [["normal text", 1.0]]);
    assert.deepEqual(pairs(parsePromptAttention("an (important) word")), [["an ", 1.0], ["important", 1.1], [" word", 1.0]]);
    assert.deepEqual(pairs(parsePromptAttention("(unbalanced")), [["unbalanced", 1.1]]);
    assert.deepEqual(pairs(parsePromptAttention("\\(literal\\]")), [["(literal]", 1.0]]);
    assert.deepEqual(pairs(parsePromptAttention("(unnecessary)(parens)")), [["unnecessaryparens", 1.1]]);
    assert.deepEqual(pairs(parsePromptAttention("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).")), [
      ["a ", 1.0],
      ["house", 1.5730000000000004],
      [" ", 1.1],
      ["on", 1.0],
      [" a ", 1.1],
      ["hill", 0.55],
      [", sun, ", 1.1],
      ["sky", 1.4641000000000006],
      [".", 1.1],
    ]);
  });

  it("nesting, square brackets, explicit weights", () => {
    assert.deepEqual(pairs(parsePromptAttention("((word))")), [["word", 1.1 * 1.1]]);
    assert.deepEqual(pairs(parsePromptAttention("[word]")), [["word", 1 / 1.1]]);
    assert.deepEqual(pairs(parsePromptAttention("[[word]]")), [["word", (1 / 1.1) * (1 / 1.1)]]);
    assert.deepEqual(pairs(parsePromptAttention("(word: 1.3 )")), [["word", 1.3]]);
    assert.deepEqual(pairs(parsePromptAttention("(a (b:0.5) c)")), [["a ", 1.1], ["b", 0.5 * 1.1], [" c", 1.1]]);
    assert.deepEqual(pairs(parsePromptAttention("(word:-0.5)")), [["word", -0.5]]);
  });

  it("escapes: \\( \\) \\[ \\] \\\\ are literal, a lone backslash disappears", () => {
    assert.deepEqual(pairs(parsePromptAttention("\\(a\\) \\[b\\] c\\\\d")), [["(a) [b] c\\d", 1.0]]);
    assert.deepEqual(pairs(parsePromptAttention("a\\b")), [["ab", 1.0]]);
    assert.deepEqual(pairs(parsePromptAttention("(\\(x\\))")), [["(x)", 1.1]]);
  });

  it("unbalanced brackets are text or apply to the end, never an error", () => {
    assert.deepEqual(pairs(parsePromptAttention("a ) b ] c")), [["a ) b ] c", 1.0]]);
    assert.deepEqual(pairs(parsePromptAttention("a [b (c")), [["a ", 1.0], ["b ", 1 / 1.1], ["c", (1 / 1.1) * 1.1]]);
    assert.deepEqual(pairs(parsePromptAttention("x:1.5) y")), [["x:1.5) y", 1.0]], "a weight with no ( open is text");
    assert.deepEqual(pairs(parsePromptAttention("a: b")), [["a: b", 1.0]]);
  });

  it("BREAK (a whole word in capitals) splits, with the spaces around it", () => {
    assert.deepEqual(pairs(parsePromptAttention("a BREAK b")), [["a", 1.0], ["BREAK", -1], ["b", 1.0]]);
    // A1111 multiplies its BREAK marker (weight -1) like any fragment, so inside brackets it stops
    // being a BREAK and is the word "BREAK" with weight -1.1: kept, to read prompts as A1111 does.
    assert.deepEqual(pairs(parsePromptAttention("(a BREAK b)")), [["a", 1.1], ["BREAK", -1 * 1.1], ["b", 1.1]]);
    assert.deepEqual(pairs(parsePromptAttention("BREAKFAST break éBREAK")), [["BREAKFAST break éBREAK", 1.0]]);
    assert.deepEqual(pairs(parsePromptAttention("BREAK a")), [["", 1.0], ["BREAK", -1], ["a", 1.0]]);
  });

  it("an empty prompt is one empty fragment", () => {
    assert.deepEqual(pairs(parsePromptAttention("")), [["", 1.0]]);
  });

  it("a weight that is not a number is one clear error", () => {
    assert.throws(() => parsePromptAttention("(a:1.2.3)"), /the prompt weight "1\.2\.3" in ":1\.2\.3\)" is not a number/);
  });
});

describe("chunkPrompt", () => {
  let sd15: ClipTokenizer;
  let sd21: ClipTokenizer;
  let cat: number;
  let dog: number;
  let comma: number;
  before(async () => {
    sd15 = await ClipTokenizer.load(path.join(MODELS, "tiny-sd15", "tokenizer"));
    sd21 = await ClipTokenizer.load(path.join(MODELS, "tiny-sd21v", "tokenizer"));
    [cat] = sd15.tokenIds("cat");
    [dog] = sd15.tokenIds("dog");
    [comma] = sd15.tokenIds(",");
    assert.deepEqual([sd15.tokenIds("cat").length, sd15.tokenIds("dog").length, sd15.tokenIds(",").length], [1, 1, 1]);
    assert.equal(sd15.padId, sd15.eosId);
    assert.notEqual(sd21.padId, sd21.eosId, "SD 2.x pads with !");
  });

  const BOS = 49406;
  const EOS = 49407;
  const body = (ids: readonly number[]) => ids.slice(1, ids.indexOf(EOS));

  it("an empty prompt is one chunk of BOS and EOS padding, all weights 1", () => {
    const { chunks, count } = chunkPrompt(sd15, "");
    assert.equal(count, 0);
    assert.equal(chunks.length, 1);
    assert.deepEqual(chunks[0].ids, [BOS, ...new Array<number>(76).fill(EOS)]);
    assert.deepEqual(chunks[0].weights, new Array<number>(77).fill(1));
  });

  it("weights follow their tokens; BOS, EOS and padding weigh 1", () => {
    const { chunks } = chunkPrompt(sd15, "a (cat:1.5) [dog]");
    assert.equal(chunks.length, 1);
    assert.deepEqual(chunks[0].ids.slice(0, 5), [BOS, ...sd15.tokenIds("a"), cat, dog, EOS]);
    assert.deepEqual(chunks[0].weights.slice(0, 5), [1, 1, 1.5, 1 / 1.1, 1]);
    assert.ok(chunks[0].weights.slice(4).every((w) => w === 1));
    assert.equal(chunks[0].ids.length, 77);
  });

  it("SD 2's pad token: every position after the first EOS is '!', weights unchanged", () => {
    const { chunks } = chunkPrompt(sd21, "(a:1.3) cat BREAK dog");
    assert.equal(chunks.length, 2);
    const a = sd21.tokenIds("a")[0];
    assert.deepEqual(chunks[0].ids.slice(0, 5), [BOS, a, sd21.tokenIds("cat")[0], EOS, sd21.padId]);
    assert.ok(chunks[0].ids.slice(4).every((id) => id === sd21.padId));
    assert.deepEqual(chunks[0].weights.slice(0, 4), [1, 1.3, 1, 1]);
    assert.deepEqual(chunks[1].ids.slice(0, 4), [BOS, sd21.tokenIds("dog")[0], EOS, sd21.padId]);
    // The plain syntax pads the same way (diffusers' tokenizer): the chunker agrees with it on a short prompt.
    assert.deepEqual(chunkPrompt(sd21, "a cat").chunks[0].ids, sd21.encode("a cat").ids);
    assert.deepEqual(chunkPrompt(sd15, "a cat").chunks[0].ids, sd15.encode("a cat").ids);
  });

  it("BREAK starts a new chunk, even at the start", () => {
    assert.deepEqual(chunkPrompt(sd15, "cat BREAK dog").chunks.map((c) => body(c.ids)), [[cat], [dog]]);
    assert.deepEqual(chunkPrompt(sd15, "BREAK dog").chunks.map((c) => body(c.ids)), [[], [dog]]);
    assert.deepEqual(chunkPrompt(sd15, "cat BREAK").chunks.map((c) => body(c.ids)), [[cat]], "nothing after the last BREAK: no empty chunk");
  });

  it("a full chunk is cut after its last comma when that comma is within the last 20 tokens", () => {
    // 70 cats, a comma (token 71), then dogs: the 76th token finds the chunk full with the comma 5 from its end.
    const prompt = `${"cat ".repeat(70)}, ${"dog ".repeat(10)}`;
    const { chunks, count } = chunkPrompt(sd15, prompt);
    assert.equal(count, 81);
    assert.equal(chunks.length, 2);
    assert.deepEqual(body(chunks[0].ids), [...new Array<number>(70).fill(cat), comma]);
    assert.deepEqual(body(chunks[1].ids), new Array<number>(10).fill(dog));
  });

  it("a comma exactly 20 tokens from the end still moves the words; 21 does not", () => {
    // Comma at index 55: 75 - 55 = 20 <= 20, so the 19 dogs after it move.
    const near = chunkPrompt(sd15, `${"cat ".repeat(55)}, ${"dog ".repeat(30)}`).chunks;
    assert.deepEqual(body(near[0].ids), [...new Array<number>(55).fill(cat), comma]);
    assert.deepEqual(body(near[1].ids), new Array<number>(30).fill(dog));
    // Comma at index 54: 21 from the end, the chunk is cut at 75 tokens.
    const far = chunkPrompt(sd15, `${"cat ".repeat(54)}, ${"dog ".repeat(30)}`).chunks;
    assert.deepEqual(body(far[0].ids), [...new Array<number>(54).fill(cat), comma, ...new Array<number>(20).fill(dog)]);
    assert.deepEqual(body(far[1].ids), new Array<number>(10).fill(dog));
  });

  it("moved words keep their weights", () => {
    const { chunks } = chunkPrompt(sd15, `${"cat ".repeat(70)}, (dog:1.4) dog dog dog dog dog`);
    assert.deepEqual(chunks[1].weights.slice(0, 4), [1, 1.4, 1, 1]);
    assert.deepEqual(chunks[0].weights.slice(70, 73), [1, 1, 1]);
  });

  it("a comma that lands as the 76th token opens the next chunk (no backtracking on it)", () => {
    const { chunks } = chunkPrompt(sd15, `${"cat ".repeat(75)}, dog`);
    assert.deepEqual(body(chunks[0].ids), new Array<number>(75).fill(cat));
    assert.deepEqual(body(chunks[1].ids), [comma, dog]);
  });

  it("a very long prompt: as many chunks as it takes, nothing truncated", () => {
    const { chunks, count } = chunkPrompt(sd15, "cat ".repeat(400));
    assert.equal(count, 400);
    assert.equal(chunks.length, 6);
    assert.deepEqual(chunks.map((c) => body(c.ids).length), [75, 75, 75, 75, 75, 25]);
    for (const c of chunks) assert.deepEqual([c.ids.length, c.weights.length, c.ids[0], c.ids[76]], [77, 77, BOS, EOS]);
    assert.equal(chunkPrompt(sd15, "cat ".repeat(75)).chunks.length, 1, "exactly 75 tokens fit one chunk");
    assert.equal(chunkPrompt(sd15, "cat ".repeat(76)).chunks.length, 2);
  });

  it("the public cases' chunk counts", () => {
    for (const c of CONFORMANCE_CASES.filter((x) => x.prompt_syntax === "a1111")) {
      assert.deepEqual([chunkPrompt(sd15, c.prompt).chunks.length, chunkPrompt(sd15, c.negative_prompt ?? "").chunks.length], c.chunks, c.id);
    }
  });

  it("the plain syntax is one truncated row with unit weights", () => {
    const rows = promptChunks(sd15, "(cat:1.5) ".repeat(100), "plain");
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0].ids, sd15.encode("(cat:1.5) ".repeat(100)).ids);
    assert.ok(rows[0].weights.every((w) => w === 1));
  });
});

describe("emphasize (A1111's Original emphasis)", () => {
  it("multiplies each position by its weight, then restores the chunk's mean", () => {
    const hidden = Float32Array.from([1, 2, 3, 4, -1, 0.5]); // [3 positions, width 2]
    const out = emphasize(hidden, [1, 2, 0.5]);
    // weighted: [1, 2, 6, 8, -0.5, 0.25], mean 16.75 / 6; original mean 9.5 / 6; ratio 9.5 / 16.75.
    const ratio = Math.fround(Math.fround(9.5 / 6) / Math.fround(16.75 / 6));
    const want = [1, 2, 6, 8, -0.5, 0.25].map((v) => Math.fround(v * ratio));
    assert.deepEqual(Array.from(out), want);
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
    assert.ok(Math.abs(mean(out) - mean(hidden)) < 1e-6);
  });

  it("weights are float32 (torch.asarray), and unit weights change nothing", () => {
    const hidden = Float32Array.from([0.3, -0.7, 1.1, 0.2]);
    assert.deepEqual(Array.from(emphasize(hidden, [1, 1])), Array.from(hidden));
    const out = emphasize(hidden, [1.1, 1]);
    const weighted = Math.fround(Math.fround(0.3) * Math.fround(1.1)); // not 0.3 * 1.1 in float64
    assert.ok(Math.abs(out[0] / out[2] - weighted / Math.fround(1.1)) < 1e-7);
  });
});

describe("engine protocol", () => {
  it("carries promptSyntax in a generate request, and refuses an unknown one", async () => {
    const { parseEngineRequest } = await import("../../extension/engine/host/engineMessageValidation");
    const settings = { provider: "cpu", previews: false, fastDecode: false, lowMemory: false, idleUnloadMs: 0 };
    const message = (request: Record<string, unknown>) => ({ type: "generate", id: 1, modelDir: "/m", settings, request });
    const parsed = parseEngineRequest(message({ prompt: "a (cat:1.2)", promptSyntax: "a1111" }));
    assert.equal(parsed.type === "generate" ? parsed.request.promptSyntax : undefined, "a1111");
    const absent = parseEngineRequest(message({ prompt: "a cat" }));
    assert.equal(absent.type === "generate" ? absent.request.promptSyntax : "missing", undefined);
    assert.throws(() => parseEngineRequest(message({ prompt: "a cat", promptSyntax: "comfy" })), /promptSyntax/);
  });
});

describe("encodePromptPair (real tiny-sd15 text encoder)", () => {
  it("pads whichever of prompt and negative prompt is shorter with the empty prompt's encoding", async () => {
    const { ModelSession } = await import("../../extension/engine/onnx/session");
    const { runTextEncoder } = await import("../../extension/engine/pipeline/textEncoder");
    const { encodeChunks, encodePromptPair, promptPairChunks } = await import("../../extension/engine/pipeline/promptEncoding");
    const tokenizer = await ClipTokenizer.load(path.join(MODELS, "tiny-sd15", "tokenizer"));
    const session = await ModelSession.create("text_encoder", path.join(MODELS, "tiny-sd15", "text_encoder", "model.onnx"), "cpu");
    try {
      const encode = async (rows: readonly (readonly number[])[]) => ({ hidden: (await runTextEncoder(session, rows, ["last_hidden_state"]))[0] });
      const long = `(cat:1.3) ${"dog ".repeat(80)}`;
      const block = 77 * 32; // tiny-sd15's text width is 32
      const longEnc = await encodeChunks(encode, chunkPrompt(tokenizer, long).chunks);
      const shortEnc = await encodeChunks(encode, chunkPrompt(tokenizer, "[cat]").chunks);
      const emptyEnc = await encodeChunks(encode, chunkPrompt(tokenizer, "").chunks);
      assert.equal(longEnc.chunks, 2);
      for (const [prompt, negative] of [[long, "[cat]"], ["[cat]", long]]) {
        const { hiddenStates, chunks } = await encodePromptPair(encode, promptPairChunks(tokenizer, prompt, negative, true, "a1111"));
        assert.equal(chunks, 2);
        assert.equal(hiddenStates.length, 2 * 2 * block, "[2, 154, 32]");
        const [neg, pos] = [hiddenStates.subarray(0, 2 * block), hiddenStates.subarray(2 * block)];
        const [longRow, shortRow] = prompt === long ? [pos, neg] : [neg, pos];
        assert.deepEqual(Array.from(longRow), Array.from(longEnc.hidden));
        assert.deepEqual(Array.from(shortRow.subarray(0, block)), Array.from(shortEnc.hidden));
        assert.deepEqual(Array.from(shortRow.subarray(block)), Array.from(emptyEnc.hidden), "the missing chunk is the empty prompt's");
      }
      // Weighted chunks differ from unweighted ones, and keep their mean.
      const plainCat = await encodeChunks(encode, chunkPrompt(tokenizer, "cat").chunks);
      const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
      assert.notDeepEqual(Array.from(shortEnc.hidden), Array.from(plainCat.hidden));
      assert.ok(Math.abs(mean(shortEnc.hidden) - mean(plainCat.hidden)) < 1e-6);
      // Without CFG only the prompt is encoded, however long the negative prompt.
      const alone = await encodePromptPair(encode, promptPairChunks(tokenizer, "[cat]", long, false, "a1111"));
      assert.deepEqual([alone.chunks, alone.hiddenStates.length], [1, block]);
    } finally {
      await session.release();
    }
  });
});

describe("a UNet exported for 77 text positions only", () => {
  it("takes one-chunk prompts and refuses longer ones in one line, before any step", async () => {
    const fs = await import("node:fs/promises");
    const { Engine } = await import("../../extension/engine/engine");
    const { EaselError } = await import("../../extension/engine/errors");
    const { copyFixtureModel, fixPortDims, makeVariantRoot, rewriteComponent } = await import("../helpers/onnxVariants");
    const root = await makeVariantRoot();
    try {
      const dir = await copyFixtureModel("tiny-sd15", root);
      await rewriteComponent(dir, "unet", (m) => fixPortDims(m, "encoder_hidden_states", { 1: 77 }));
      const engine = await Engine.load(dir, { provider: "cpu" });
      try {
        const request = { steps: 1, guidance: 7, seed: 1n, width: 64, height: 64, promptSyntax: "a1111" as const };
        const ok = await engine.generate({ ...request, prompt: "a (cat:1.2)" });
        assert.equal(ok.images.length, 1);
        let steps = 0;
        await assert.rejects(engine.generate({ ...request, prompt: "a cat BREAK a dog" }, { onStep: () => steps++ }), (e: unknown) => {
          assert.ok(e instanceof EaselError);
          assert.equal(e.code, "bad-argument");
          assert.match(e.message, /exported for 77 text positions only, and the prompts need 154 \(2 chunks of 75 tokens\): shorten/);
          return true;
        });
        assert.equal(steps, 0);
      } finally {
        await engine.dispose();
      }
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe("pooled output (what SDXL's second encoder adds)", () => {
  it("each prompt's pooled embedding comes from its first chunk", async () => {
    const { ModelSession } = await import("../../extension/engine/onnx/session");
    const { encodePromptPair, promptPairChunks } = await import("../../extension/engine/pipeline/promptEncoding");
    const tokenizer = await ClipTokenizer.load(path.join(MODELS, "tiny-sd15", "tokenizer"));
    const session = await ModelSession.create("text_encoder", path.join(MODELS, "tiny-sd15", "text_encoder", "model.onnx"), "cpu");
    try {
      // tiny-sd15's CLIP text model also returns pooler_output [n, 32]: a real pooled output to carry.
      const run = async (rows: readonly (readonly number[])[]) => {
        const out = await session.run({ input_ids: new ort.Tensor("int32", Int32Array.from(rows.flat()), [rows.length, 77]) });
        return { hidden: (out.last_hidden_state as ort.Tensor).data as Float32Array, pooled: (out.pooler_output as ort.Tensor).data as Float32Array };
      };
      const long = `(cat:1.3) ${"dog ".repeat(80)}`;
      const rows = promptPairChunks(tokenizer, long, "x", true, "a1111");
      const { pooled, chunks } = await encodePromptPair(run, rows);
      assert.equal(chunks, 2);
      assert.ok(pooled);
      assert.equal(pooled.length, 2 * 32);
      const firstOf = async (ids: readonly number[]) => Array.from((await run([ids])).pooled);
      assert.deepEqual(Array.from(pooled.subarray(0, 32)), await firstOf(rows.negative![0].ids));
      assert.deepEqual(Array.from(pooled.subarray(32)), await firstOf(rows.prompt[0].ids));
    } finally {
      await session.release();
    }
  });
});
