import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatInfotext,
  infotextFields,
  normalizeSeed,
  parseInfotext,
  quoteInfotextValue,
  unquoteInfotextValue,
  type GenerationInfo,
} from "../../extension/engine/image/infotext";

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
    rng: "CPU",
    version: "easel-0.1.0",
    promptSyntax: "plain",
  });
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
    rng: undefined,
    version: "v1.10.1",
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
