import { test } from "node:test";
import assert from "node:assert/strict";
import sharp from "sharp";
import { encodePng, readPngParameters } from "../../extension/engine/image/encode";
import {
  findInfotextParams,
  formatInfotext,
  infotextFields,
  MAX_INFOTEXT_LENGTH,
  normalizeSeed,
  parseInfotext,
  quoteInfotextValue,
  unquoteInfotextValue,
  withBackgroundRemoval,
  type GenerationInfo,
} from "../../extension/engine/image/infotext";
import { insertPngText } from "../../extension/engine/image/pngChunks";
import { requestFromInfotext } from "../../extension/generation/requestFromInfotext";
import { galleryInfo } from "../../extension/studio/galleryInfo";

const base: GenerationInfo = {
  prompt: "a photograph of an astronaut riding a horse",
  negativePrompt: "blurry, lowres",
  steps: 20,
  sampler: "Euler a",
  karras: false,
  guidance: 7.5,
  seed: 42n,
  width: 512,
  height: 512,
  model: "stable-diffusion-v1-5",
  version: "easel-0.1.0",
};

test("formats a txt2img infotext exactly like A1111's create_infotext", () => {
  assert.equal(
    formatInfotext(base),
    "a photograph of an astronaut riding a horse\n" +
      "Negative prompt: blurry, lowres\n" +
      "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: stable-diffusion-v1-5, RNG: CPU, Version: easel-0.1.0",
  );
});

test("Karras, img2img, integral CFG and no negative prompt", () => {
  const text = formatInfotext({
    ...base,
    negativePrompt: "",
    sampler: "DPM++ 2M",
    karras: true,
    guidance: 7,
    seed: "18446744073709551615",
    width: 768,
    height: 512,
    denoisingStrength: 0.6,
  });
  assert.equal(
    text,
    "a photograph of an astronaut riding a horse\n" +
      "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 18446744073709551615, Size: 768x512, " +
      "Model: stable-diffusion-v1-5, Denoising strength: 0.6, RNG: CPU, Version: easel-0.1.0",
  );
  const parsed = parseInfotext(text);
  assert.equal(parsed.prompt, base.prompt);
  assert.equal(parsed.negativePrompt, "");
  assert.deepEqual(infotextFields(parsed), {
    steps: 20,
    sampler: "DPM++ 2M",
    karras: true,
    guidance: 7,
    seed: 18446744073709551615n,
    width: 768,
    height: 512,
    model: "stable-diffusion-v1-5",
    denoisingStrength: 0.6,
    taesd: false,
    maskBlur: undefined,
    tiling: false,
    hires: undefined,
    outpaint: undefined,
    rng: "CPU",
    version: "easel-0.1.0",
    loras: [],
    promptSyntax: "plain",
  });
});

test("a TAESD draft is written as A1111 writes its TAESD decode method, and read back", () => {
  const base: GenerationInfo = { prompt: "a boat", negativePrompt: "", steps: 4, sampler: "Euler", karras: false, guidance: 7, seed: 1n, width: 512, height: 512, model: "sd15", version: "easel-0.1.0" };
  const draft = formatInfotext({ ...base, taesd: true });
  assert.equal(draft.split("\n").at(-1), "Steps: 4, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512, Model: sd15, VAE Decoder: TAESD, RNG: CPU, Version: easel-0.1.0");
  assert.equal(infotextFields(parseInfotext(draft)).taesd, true);
  assert.doesNotMatch(formatInfotext(base), /VAE Decoder/);
  assert.equal(infotextFields(parseInfotext(formatInfotext(base))).taesd, false);
  // A1111's own value for the full VAE is "Full" (it writes nothing then, but reads it).
  assert.equal(infotextFields(parseInfotext("x\nSteps: 4, Sampler: Euler, CFG scale: 7, VAE Decoder: Full")).taesd, false);
});

test("a timestep spacing the request set is Easel's own `Timestep spacing` key, read back into the request; others are ignored", () => {
  const lightning = formatInfotext({ ...base, sampler: "Euler", steps: 4, guidance: 0, timestepSpacing: "trailing" });
  assert.equal(lightning.split("\n").at(-1), "Steps: 4, Sampler: Euler, Timestep spacing: trailing, CFG scale: 0, Seed: 42, Size: 512x512, Model: stable-diffusion-v1-5, RNG: CPU, Version: easel-0.1.0");
  assert.equal(infotextFields(parseInfotext(lightning)).timestepSpacing, "trailing");
  assert.deepEqual([requestFromInfotext(lightning).request.scheduler, requestFromInfotext(lightning).request.timestepSpacing], ["euler", "trailing"]);
  // Karras and a spacing are both written (each has its key); no spacing, no key and none recalled.
  assert.match(formatInfotext({ ...base, sampler: "DPM++ 2M", karras: true, timestepSpacing: "leading" }), /Schedule type: Karras, Timestep spacing: leading, CFG scale/);
  assert.doesNotMatch(formatInfotext(base), /Timestep spacing/);
  assert.equal("timestepSpacing" in requestFromInfotext(formatInfotext(base)).request, false);
  // A value Easel does not know (another tool's, a damaged file) is not passed on to the engine.
  assert.equal(infotextFields(parseInfotext("x\nSteps: 4, Sampler: Euler, Timestep spacing: sgm_uniform")).timestepSpacing, undefined);
});

test("round trip: multi-line prompt and negative prompt, quoted values, max seed", () => {
  const info: GenerationInfo = {
    prompt: "masterpiece, (best quality:1.2), a castle\non a hill at dusk\n\nwith fireflies — 蛍",
    negativePrompt: "lowres, bad anatomy\n(worst quality:1.4)",
    steps: 150,
    sampler: "PLMS",
    karras: false,
    guidance: 12.25,
    seed: 18446744073709551615n,
    width: 640,
    height: 448,
    model: 'C:\\models\\my "best", v2: final',
    denoisingStrength: 0.35,
    version: "easel-0.1.0",
  };
  const text = formatInfotext(info);
  const lastLine = text.split("\n").at(-1);
  assert.equal(
    lastLine,
    'Steps: 150, Sampler: PLMS, CFG scale: 12.25, Seed: 18446744073709551615, Size: 640x448, ' +
      'Model: "C:\\\\models\\\\my \\"best\\", v2: final", Denoising strength: 0.35, RNG: CPU, Version: easel-0.1.0',
  );
  const parsed = parseInfotext(text);
  assert.equal(parsed.prompt, info.prompt);
  assert.equal(parsed.negativePrompt, info.negativePrompt);
  assert.equal(parsed.params["Model"], info.model);
  assert.equal(parsed.params["Seed"], "18446744073709551615");
  const fields = infotextFields(parsed);
  assert.equal(fields.seed, 18446744073709551615n);
  assert.equal(fields.sampler, "PLMS");
  assert.equal(fields.karras, false);
  assert.equal(fields.guidance, 12.25);
  assert.equal(fields.denoisingStrength, 0.35);
  assert.equal(fields.width, 640);
  assert.equal(fields.height, 448);
  assert.equal(fields.model, info.model);
});

test("A1111's quote() rules, plus quoting where a bare value would not survive", () => {
  assert.equal(quoteInfotextValue("Euler a"), "Euler a");
  assert.equal(quoteInfotextValue("a, b"), '"a, b"');
  assert.equal(quoteInfotextValue("a: b"), '"a: b"');
  assert.equal(quoteInfotextValue("two\nlines"), '"two\\nlines"');
  assert.equal(quoteInfotextValue('say "hi"'), '"say \\"hi\\""');
  assert.equal(quoteInfotextValue("é — 猫"), "é — 猫"); // ensure_ascii=False: no \\u escapes
  assert.equal(quoteInfotextValue("é, 猫"), '"é, 猫"');
  assert.equal(quoteInfotextValue(" padded "), '" padded "');
  assert.equal(quoteInfotextValue(""), '""');
  for (const v of ["a, b", "a: b", "two\nlines", 'say "hi"', " padded ", "", 'back\\slash, "q"']) {
    assert.equal(unquoteInfotextValue(quoteInfotextValue(v)), v);
    const parsed = parseInfotext(`p\nSteps: 1, Sampler: Euler, Model: ${quoteInfotextValue(v)}, Version: x`);
    assert.equal(parsed.params["Model"], v, JSON.stringify(v));
    assert.equal(parsed.params["Version"], "x");
  }
  // Not valid JSON: left as written, like A1111's unquote().
  assert.equal(unquoteInfotextValue('"unterminated \\"'), '"unterminated \\"');
});

test("rejects seeds outside 0..2^64-1 and malformed numbers", () => {
  assert.equal(normalizeSeed("007"), "7");
  assert.equal(normalizeSeed(0n), "0");
  assert.throws(() => normalizeSeed("18446744073709551616"), RangeError);
  assert.throws(() => normalizeSeed(-1n), RangeError);
  assert.throws(() => normalizeSeed("-1"), RangeError);
  assert.throws(() => normalizeSeed("1e5"), RangeError);
  assert.throws(() => formatInfotext({ ...base, guidance: Number.NaN }), RangeError);
  assert.throws(() => formatInfotext({ ...base, steps: 2.5 }), RangeError);
  assert.throws(() => formatInfotext({ ...base, width: 0 }), RangeError);
});

test("parses a real A1111 1.10-style infotext", () => {
  const sample =
    "masterpiece, best quality, (1girl:1.2), looking at viewer, <lora:add_detail:0.8>\n" +
    "cherry blossoms, wind\n" +
    "Negative prompt: (worst quality, low quality:1.4), bad anatomy, watermark\n" +
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, Size: 512x768, " +
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.45, Clip skip: 2, " +
    'Hires upscale: 2, Hires upscaler: Latent, Lora hashes: "add_detail: 7c6bad76eb54", ' +
    'TI hashes: "easynegative: c74b4e810b03, bad-hands-5: aa7651be154c", Version: v1.10.1';
  const parsed = parseInfotext(sample);
  assert.equal(parsed.prompt, "masterpiece, best quality, (1girl:1.2), looking at viewer, <lora:add_detail:0.8>\ncherry blossoms, wind");
  assert.equal(parsed.negativePrompt, "(worst quality, low quality:1.4), bad anatomy, watermark");
  assert.deepEqual({ ...parsed.params }, {
    Steps: "28",
    Sampler: "DPM++ 2M",
    "Schedule type": "Karras",
    "CFG scale": "6.5",
    Seed: "3141592653",
    Size: "512x768",
    "Model hash": "6ce0161689",
    Model: "v1-5-pruned-emaonly",
    "Denoising strength": "0.45",
    "Clip skip": "2",
    "Hires upscale": "2",
    "Hires upscaler": "Latent",
    "Lora hashes": "add_detail: 7c6bad76eb54",
    "TI hashes": "easynegative: c74b4e810b03, bad-hands-5: aa7651be154c",
    Version: "v1.10.1",
  });
  assert.deepEqual(infotextFields(parsed), {
    steps: 28,
    sampler: "DPM++ 2M",
    karras: true,
    guidance: 6.5,
    seed: 3141592653n,
    width: 512,
    height: 768,
    model: "v1-5-pruned-emaonly",
    denoisingStrength: 0.45,
    taesd: false,
    maskBlur: undefined,
    tiling: false,
    hires: { scale: 2, steps: undefined, upscaler: "Latent" },
    outpaint: undefined,
    rng: undefined,
    version: "v1.10.1",
    loras: [],
    promptSyntax: "a1111",
  });
});

test("parses a pre-1.9 infotext where Karras is part of the sampler name (CRLF line ends)", () => {
  const sample =
    "a cozy cabin in the woods, snow\r\n" +
    "Negative prompt: people\r\n" +
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b\r\n";
  const parsed = parseInfotext(sample);
  assert.equal(parsed.prompt, "a cozy cabin in the woods, snow");
  assert.equal(parsed.negativePrompt, "people");
  const fields = infotextFields(parsed);
  assert.equal(fields.sampler, "DPM++ 2M");
  assert.equal(fields.karras, true);
  assert.equal(fields.guidance, 7);
  assert.equal(fields.seed, 965400086n);
  assert.equal(fields.model, undefined);
});

test("a text without a parameter line is all prompt; a last line with < 3 pairs is prompt too", () => {
  const onlyPrompt = parseInfotext("  a cat\nstyle: watercolor, mood: calm  \n");
  assert.equal(onlyPrompt.prompt, "a cat\nstyle: watercolor, mood: calm");
  assert.equal(onlyPrompt.negativePrompt, "");
  assert.deepEqual(Object.keys(onlyPrompt.params), []);
  assert.equal(infotextFields(onlyPrompt).karras, false);

  const empty = parseInfotext("");
  assert.equal(empty.prompt, "");
  assert.deepEqual(Object.keys(empty.params), []);

  // Empty prompt: the text is just the parameter line, and it parses back.
  const text = formatInfotext({ ...base, prompt: "", negativePrompt: "" });
  assert.ok(text.startsWith("Steps: 20,"));
  const parsed = parseInfotext(text);
  assert.equal(parsed.prompt, "");
  assert.equal(infotextFields(parsed).steps, 20);
});

test("keys from the file cannot touch the object prototype; empty values are skipped like A1111", () => {
  const parsed = parseInfotext("p\nSteps: 1, Sampler: Euler, __proto__: polluted, constructor: x, Empty: , Seed: 5");
  assert.equal(Object.getPrototypeOf(parsed.params), null);
  assert.equal(parsed.params["__proto__"], "polluted");
  assert.equal(parsed.params["constructor"], "x");
  assert.equal("Empty" in parsed.params, false);
  assert.equal(parsed.params["Seed"], "5");
  assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
});

test("malformed numbers in a pasted infotext come back undefined rather than NaN", () => {
  const fields = infotextFields(
    parseInfotext("p\nSteps: twenty, Sampler: Euler, CFG scale: 7.5.1, Seed: -3, Size: 512 by 512, Denoising strength: 1e400"),
  );
  assert.equal(fields.steps, undefined);
  assert.equal(fields.guidance, undefined);
  assert.equal(fields.seed, undefined);
  assert.equal(fields.width, undefined);
  assert.equal(fields.height, undefined);
  assert.equal(fields.denoisingStrength, undefined);
  assert.equal(fields.sampler, "Euler");
});

// ---------------------------------------------------------------------------------------------
// Untrusted text: linear time, a read cap, and an exact round trip

/** Milliseconds `fn` takes. */
function timed(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

/** Every reader of an infotext in the extension, as the gallery, hover, drop and Regenerate run them. */
function readEverything(text: string): void {
  infotextFields(parseInfotext(text));
  galleryInfo(text);
  requestFromInfotext(text);
}

// Shapes that made the old regex-based parser (or a regex on a parsed value) take quadratic time:
// seconds at 15 K characters, hours at 100 K. Each must now take well under the bound.
const SLOW_SHAPES: Array<[string, (n: number) => string]> = [
  ["a last line that is one long key without a colon", (n) => `a cat\nSteps: 1, Sampler: Euler, ${"a".repeat(n)}`],
  ["a long run of key characters and spaces", (n) => `a cat\nSteps: 1, Sampler: Euler, CFG scale: 7, ${"ab -/".repeat(n / 5)}`],
  ["a long run of inner whitespace (strip)", (n) => `x${" ".repeat(n)}y`],
  ["a long digit run in a number", (n) => `a cat\nSteps: 1, Sampler: Euler, CFG scale: ${"1".repeat(n)}x, Denoising strength: ${"2".repeat(n)}.`],
  ["a long run of spaces in the sampler", (n) => `a cat\nSteps: 1, Sampler: a${" ".repeat(n)}b, CFG scale: 7`],
  ["many unclosed quoted values", (n) => `a cat\nSteps: 1, ${'k: "\\", '.repeat(n / 8)}`],
];

for (const [name, make] of SLOW_SHAPES) {
  test(`linear time on untrusted text: ${name} (15 K and 100 K characters)`, () => {
    for (const n of [15_000, 100_000]) {
      const text = make(n);
      const ms = timed(() => readEverything(text));
      assert.ok(ms < 500, `${text.length} characters took ${ms.toFixed(0)} ms`);
    }
  });
}

test("a 15 KB PNG with a crafted parameters text is read and parsed in well under a second", async () => {
  const rgb = new Uint8Array(8 * 8 * 3);
  const plain = await sharp(rgb, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
  const png = insertPngText(plain, "parameters", `a cat\nSteps: 1, Sampler: Euler, ${"a".repeat(15_000)}`);
  assert.ok(png.length > 15_000 && png.length < 16_000);
  const ms = timed(() => {
    const text = readPngParameters(png);
    assert.ok(text !== undefined);
    readEverything(text);
  });
  assert.ok(ms < 500, `took ${ms.toFixed(0)} ms`);
});

test("parameters over MAX_INFOTEXT_LENGTH are refused with a reason, not parsed", async () => {
  const rgb = new Uint8Array(4 * 4 * 3);
  const plain = await sharp(rgb, { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer();
  const atCap = "p".repeat(MAX_INFOTEXT_LENGTH);
  assert.equal(readPngParameters(insertPngText(plain, "parameters", atCap)), atCap);
  for (const text of ["p".repeat(MAX_INFOTEXT_LENGTH + 1), "桜".repeat(MAX_INFOTEXT_LENGTH + 1), "p".repeat(4 * MAX_INFOTEXT_LENGTH)]) {
    assert.throws(
      () => readPngParameters(insertPngText(plain, "parameters", text)),
      (e: unknown) => e instanceof Error && /over .*(bytes|Easel reads)/.test(e.message) && !e.message.includes("\n"),
    );
  }
});

test("the pair scanner agrees with A1111's re_param on short random lines", () => {
  // The regex the parser used to run (a faithful port of A1111's re_param); fine on short lines.
  const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
  const reParam = new RegExp(`${PY_SPACE}*([\\p{L}\\p{N}_][\\p{L}\\p{N}_ \\-/]+):${PY_SPACE}*("(?:\\\\[^\\n]|[^\\\\"])+"|[^,]*)(?:,|$)`, "gu");
  const alphabet = ["a", "1", "_", " ", "-", "/", ":", ",", '"', "\\", "\t", "\u00a0", "é", "𝒜", "!", "\u3000"];
  let seed = 12345;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let t = 0; t < 20_000; t++) {
    let line = "";
    for (let i = next(24); i > 0; i--) line += alphabet[next(alphabet.length)];
    const want = Array.from(line.matchAll(reParam), (m) => [m[1], m[2]]);
    assert.deepEqual(findInfotextParams(line), want, JSON.stringify(line));
  }
});

test("prompts that look like the infotext's structure round-trip exactly", () => {
  const cases: Array<[string, string]> = [
    ["a cat\nNegative prompt: forged", ""],
    ["a cat\nNegative prompt: forged", "real negative"],
    ["Negative prompt: at the very start", "x"],
    ["a cat", "Negative prompt: inside the negative\nNegative prompt: twice"],
    ["a cat\nSteps: 1, Sampler: Euler, CFG scale: 7", ""],
    ["a cat", "Steps: 1, Sampler: Euler, CFG scale: 7"],
    ["windows\r\nline ends\r\n", "crlf\r\nnegative"],
    ["  leading and trailing spaces  ", "\ttabbed\t"],
    ["\n\nleading blank lines", "\nnegative after a blank line"],
    ["桜の木の下で — 🌸\u2028line separator", "ελληνικά, \"quoted\", back\\slash"],
    ["Prompt: \"a prompt-looking\" line\nlast", "Negative prompt:"],
    ["", "Negative prompt: only the negative"],
  ];
  for (const [prompt, negativePrompt] of cases) {
    const text = formatInfotext({ ...base, prompt, negativePrompt });
    const parsed = parseInfotext(text);
    assert.equal(parsed.prompt, prompt, JSON.stringify(text));
    assert.equal(parsed.negativePrompt, negativePrompt, JSON.stringify(text));
    // The parameter line is still the one Easel wrote.
    const fields = infotextFields(parsed);
    assert.equal(fields.steps, base.steps);
    assert.equal(fields.seed, 42n);
    assert.equal(fields.model, base.model);
  }
});

test("ambiguous prompts also go on the parameter line, where A1111's parser lets them override", () => {
  const text = formatInfotext({ ...base, prompt: "a cat\nNegative prompt: forged", negativePrompt: "" });
  const lines = text.split("\n");
  // The lines are still written as A1111 writes them, for tools that only show the text.
  assert.deepEqual(lines.slice(0, 2), ["a cat", "Negative prompt: forged"]);
  assert.match(lines[2], /, Prompt: "a cat\\nNegative prompt: forged", Negative prompt: ""$/);
  // An ordinary prompt's infotext stays exactly A1111's (no extra pairs).
  assert.doesNotMatch(formatInfotext(base), /Prompt: /);
  // A1111 sets Prompt / Negative prompt from the lines, then lets the parameter line's pairs win.
  const a1111 = parseInfotext("from the lines\nNegative prompt: neg lines\nSteps: 1, Sampler: Euler, CFG scale: 7, Prompt: \"from the pairs\"");
  assert.equal(a1111.prompt, "from the pairs");
  assert.equal(a1111.negativePrompt, "neg lines");
});

test("a lone UTF-16 surrogate never makes writing the metadata throw: it becomes U+FFFD", async () => {
  const info: GenerationInfo = { ...base, prompt: "half a pair \ud83c here", negativePrompt: "\udf38 low half", model: "m\ud800" };
  const text = formatInfotext(info);
  assert.ok(!/\p{Cs}/u.test(text), JSON.stringify(text));
  const parsed = parseInfotext(text);
  assert.equal(parsed.prompt, "half a pair \ufffd here");
  assert.equal(parsed.negativePrompt, "\ufffd low half");
  assert.equal(parsed.params["Model"], "m\ufffd");
  // Through the PNG writer as well, with the text given as is.
  const png = await encodePng(new Uint8Array(2 * 2 * 3), 2, 2, "lone \ud800 surrogate\nSteps: 1, Sampler: Euler, CFG scale: 7");
  assert.equal(readPngParameters(png), "lone \ufffd surrogate\nSteps: 1, Sampler: Euler, CFG scale: 7");
});

test("inpainting and outpainting: Mask blur and Easel's Outpaint key, written after the strength and read back", () => {
  const info: GenerationInfo = {
    prompt: "a beach",
    negativePrompt: "",
    steps: 20,
    sampler: "Euler",
    karras: false,
    guidance: 7.5,
    seed: 3n,
    width: 96,
    height: 64,
    model: "sd-inpaint",
    denoisingStrength: 1,
    maskBlur: 0,
    outpaint: { left: 16, right: 16, top: 0, bottom: 0, overlap: 8, fill: "edge" },
    version: "easel-0.1.0",
  };
  const text = formatInfotext(info);
  assert.equal(
    text,
    "a beach\nSteps: 20, Sampler: Euler, CFG scale: 7.5, Seed: 3, Size: 96x64, Model: sd-inpaint, Denoising strength: 1, Mask blur: 0, " +
      "Outpaint: left 16 right 16 top 0 bottom 0 overlap 8 fill edge, RNG: CPU, Version: easel-0.1.0",
  );
  const fields = infotextFields(parseInfotext(text));
  assert.equal(fields.maskBlur, 0);
  assert.deepEqual(fields.outpaint, info.outpaint);
  assert.equal(infotextFields(parseInfotext("p\nSteps: 1, Sampler: Euler, Seed: 1, Outpaint: left 1 right x")).outpaint, undefined);
  assert.throws(() => formatInfotext({ ...info, outpaint: { ...info.outpaint!, left: -1 } }), RangeError);
});

test("Prompt syntax: written when given, read back; a missing key means plain for Easel, a1111 for others", () => {
  for (const promptSyntax of ["a1111", "plain"] as const) {
    const text = formatInfotext({ ...base, promptSyntax });
    assert.match(text, new RegExp(`, Prompt syntax: ${promptSyntax}, RNG: CPU, `));
    assert.equal(infotextFields(parseInfotext(text)).promptSyntax, promptSyntax);
  }
  assert.doesNotMatch(formatInfotext(base), /Prompt syntax/);
  assert.equal(infotextFields(parseInfotext(formatInfotext(base))).promptSyntax, "plain", "an Easel image from before the key");
  const a1111 = "a (cat:1.2)\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Version: v1.10.1";
  assert.equal(infotextFields(parseInfotext(a1111)).promptSyntax, "a1111");
  const odd = "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Prompt syntax: comfy, Version: easel-0.2.0";
  assert.equal(infotextFields(parseInfotext(odd)).promptSyntax, "plain", "an unknown value counts as missing");
});

test("Tiling: True and the hires fix's keys are written as A1111 writes them and read back into a request", () => {
  const text = formatInfotext({
    prompt: "a brick wall",
    negativePrompt: "",
    steps: 20,
    sampler: "Euler",
    karras: false,
    guidance: 7,
    seed: 5n,
    width: 512,
    height: 512,
    model: "sd15",
    denoisingStrength: 0.55,
    hires: { scale: 2, steps: 10, upscaler: "Real-ESRGAN x4plus" },
    tiling: true,
    version: "easel-0.1.0",
  });
  assert.match(text, /Size: 512x512, Model: sd15, Denoising strength: 0\.55, Hires upscale: 2, Hires steps: 10, Hires upscaler: Real-ESRGAN x4plus, Tiling: True, /);
  const f = infotextFields(parseInfotext(text));
  assert.equal(f.tiling, true);
  assert.deepEqual(f.hires, { scale: 2, steps: 10, upscaler: "Real-ESRGAN x4plus" });
  const { request } = requestFromInfotext(text);
  assert.equal(request.tileable, true);
  assert.equal(request.strength, undefined);
  assert.deepEqual(request.hires, { scale: 2, strength: 0.55, steps: 10, upscaler: "Real-ESRGAN x4plus" });
  assert.equal(request.width, 512);
  // A1111's own form: no Hires steps (0 is "the same as the first pass"), an upscaler of its own.
  const a1111 = infotextFields(parseInfotext("x\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512, Denoising strength: 0.7, Hires upscale: 1.5, Hires steps: 0, Hires upscaler: Latent"));
  assert.deepEqual(a1111.hires, { scale: 1.5, steps: undefined, upscaler: "Latent" });
  assert.equal(infotextFields(parseInfotext("x\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Tiling: False")).tiling, false);
});

test("background removal is recorded on the parameter line (Background removal, Matte threshold) and read back for recall", () => {
  const text = formatInfotext({
    prompt: "a fox, sticker",
    negativePrompt: "",
    steps: 20,
    sampler: "Euler a",
    karras: false,
    guidance: 7,
    seed: 3n,
    width: 512,
    height: 512,
    model: "sd15",
    version: "easel-0.1.0",
  });
  const cut = withBackgroundRemoval(text, { remover: "birefnet-lite", matte: 0.5 });
  assert.equal(cut, `${text}, Background removal: birefnet-lite, Matte threshold: 0.5`);
  // Again (a cut-out cut out once more): the keys are replaced, not repeated; soft edges drop the threshold.
  assert.equal(withBackgroundRemoval(cut, { remover: "u2netp" }), `${text}, Background removal: u2netp`);
  assert.deepEqual(infotextFields(parseInfotext(cut)).backgroundRemoval, { remover: "birefnet-lite", matte: 0.5 });
  assert.equal(infotextFields(parseInfotext(text)).backgroundRemoval, undefined);
  const stored = requestFromInfotext(cut);
  assert.deepEqual(stored.backgroundRemoval, { remover: "birefnet-lite", matte: 0.5 });
  assert.equal(stored.request.prompt, "a fox, sticker");
  // A text with no parameter line is left as it is.
  assert.equal(withBackgroundRemoval("just a caption", { remover: "x" }), "just a caption");
  // A remover name with a comma is quoted, and reads back whole.
  assert.equal(infotextFields(parseInfotext(withBackgroundRemoval(text, { remover: "my, matte" }))).backgroundRemoval?.remover, "my, matte");
});
