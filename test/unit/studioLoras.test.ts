// The Studio's LoRA parts without a page: the host's marks (base mismatch, problems), fast mode's
// line, a model folder's base; the page's `<lora:` completion and prompt-tag warnings; the form's
// LoRA weights and quality.
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { readModelFolder } from "../../extension/engine/model/modelFolder";
import type { LoraOption } from "../../extension/protocol/studioMessages";
import { checkChosenLoras, familyLoraBase, fastMode, folderLoraBase, loraOptions, missingLoras } from "../../extension/studio/studioLoras";
import { DEFAULT_FORM, draftForm, fieldsFromForm, formFromFields, formFromSaved } from "../../webview/formValues";
import { acceptCompletion, completionAt, completions, promptLoraNames, promptLoraWarnings } from "../../webview/loraTags";

const MODELS = path.join(import.meta.dirname, "..", "fixtures", "conformance", "models");

const options: LoraOption[] = [
  { name: "paper-cut", base: "SD 1.x" },
  { name: "pastel", base: "SD 1.x" },
  { name: "xl-style", base: "SDXL", unfit: "made for SDXL, and the model is SD 1.x: pick an SDXL model to use it" },
  { name: "old", problem: "a PyTorch pickle" },
  { name: "grumpy-paper", base: "SD 1.x" },
];

describe("Studio LoRAs: the host's marks", () => {
  it("marks a LoRA whose base is not the model's, never one whose base (or the model's) is unknown", () => {
    const listing = [
      { name: "a", file: "/l/a.safetensors", base: "SD 1.x" },
      { name: "b", file: "/l/b.safetensors", base: "SD 2.x" },
      { name: "c", file: "/l/c.safetensors", base: undefined },
      { name: "d", file: "/l/d.ckpt", base: undefined, problem: "pickle" },
    ];
    assert.deepEqual(loraOptions(listing, "SD 2.x"), [
      { name: "a", base: "SD 1.x", unfit: "made for SD 1.x, and the model is SD 2.x: pick an SD 1.x model to use it" },
      { name: "b", base: "SD 2.x" },
      { name: "c" },
      { name: "d", problem: "pickle" },
    ]);
    assert.equal(loraOptions(listing, undefined).filter((o) => o.unfit).length, 0);
  });

  it("checks the chosen LoRAs against the listing, and names those a restored image used that are not there", () => {
    assert.doesNotThrow(() => checkChosenLoras([{ name: "paper-cut", weight: 1 }], options));
    assert.throws(() => checkChosenLoras([{ name: "xl-style", weight: 1 }], options), /LoRA xl-style is made for SDXL, and the model is SD 1\.x/);
    assert.throws(() => checkChosenLoras([{ name: "old", weight: 1 }], options), /LoRA old cannot be used: a PyTorch pickle/);
    assert.throws(() => checkChosenLoras([{ name: "nope", weight: 1 }], options), /no LoRA named nope in the LoRA folders/);
    assert.deepEqual(missingLoras([{ name: "paper-cut", weight: 1 }, { name: "gone", weight: 0.5 }], options), ["gone"]);
  });

  it("fast mode: the catalog LoRA's sampler, steps and guidance, or why not", () => {
    const lcm = { id: "lcm-lora-sdv1-5", name: "LCM-LoRA for SD 1.5", license: { name: "CreativeML Open RAIL++-M" }, fast: { scheduler: "lcm", steps: 4, guidance: 1 } };
    const hyper = { id: "hyper-sd15-8step", name: "Hyper-SD 8-step LoRA for SD 1.5", license: { name: "CreativeML Open RAIL++-M" }, fast: { scheduler: "ddim", timestepSpacing: "trailing", steps: 8, guidance: 0 } };
    const both = [lcm, hyper];
    assert.deepEqual(fastMode("sd1", both, new Set(["hyper-sd15-8step"])), {
      available: true,
      choices: [
        { id: "lcm-lora-sdv1-5", lora: "LCM-LoRA for SD 1.5", license: "CreativeML Open RAIL++-M", scheduler: "lcm", steps: 4, guidance: 1, downloaded: false },
        { id: "hyper-sd15-8step", lora: "Hyper-SD 8-step LoRA for SD 1.5", license: "CreativeML Open RAIL++-M", scheduler: "ddim", timestepSpacing: "trailing", steps: 8, guidance: 0, downloaded: true },
      ],
      chosen: "lcm-lora-sdv1-5",
    });
    // easel.fastLora picks among them; one made for another family leaves the default.
    assert.equal((fastMode("sd1", both, new Set(), "hyper-sd15-8step") as { chosen: string }).chosen, "hyper-sd15-8step");
    assert.equal((fastMode("sd1", both, new Set(), "sdxl-lightning-4step") as { chosen: string }).chosen, "lcm-lora-sdv1-5");
    assert.match((fastMode("turbo", [], new Set()) as { reason: string }).reason, /already draws in a few steps \(turbo\)/);
    assert.match((fastMode("sd2", [], new Set()) as { reason: string }).reason, /exist for SD 1\.x and SDXL models, and this model is sd2/);
    assert.match((fastMode(undefined, [], new Set()) as { reason: string }).reason, /choose a model first/);
  });

  it("a model's base from its folder (the engine's rule), else from its family", async () => {
    // The tiny models' text encoders are 32 wide: the folder does not tell, SDXL's second encoder does.
    assert.equal(folderLoraBase(await readModelFolder(path.join(MODELS, "tiny-sd15"))), undefined);
    assert.equal(folderLoraBase(await readModelFolder(path.join(MODELS, "tiny-sdxl"))), "SDXL");
    assert.equal(folderLoraBase({ files: { text_encoder_2: undefined } as never, unetConfig: {}, textEncoderConfig: { hidden_size: 768 } }), "SD 1.x");
    assert.equal(folderLoraBase({ files: { text_encoder_2: undefined } as never, unetConfig: {}, textEncoderConfig: { hidden_size: 1024 } }), "SD 2.x");
    assert.deepEqual((["sd1", "sd2", "turbo", "lcm", "sdxl", "sdxl-turbo", undefined] as const).map(familyLoraBase), ["SD 1.x", "SD 2.x", "SD 2.x", undefined, "SDXL", "SDXL", undefined]);
  });
});

describe("Studio LoRAs: <lora: in the prompt", () => {
  it("completes the name being typed after <lora: (and <lyco:), starting matches first", () => {
    assert.deepEqual(completionAt("a cat <lora:pa", 14), { start: 12, partial: "pa" });
    assert.deepEqual(completionAt("a cat <lora:", 12), { start: 12, partial: "" });
    assert.deepEqual(completionAt("<lyco:x", 7), { start: 6, partial: "x" });
    assert.equal(completionAt("a cat <lora:pa:0.5", 18), undefined, "in the weight: nothing to complete");
    assert.equal(completionAt("a cat <lora:pa> more", 20), undefined);
    assert.equal(completionAt("a cat lora:pa", 13), undefined);
    assert.deepEqual(completions("pa", options).map((o) => o.name), ["paper-cut", "pastel", "grumpy-paper"], "unfit and unusable LoRAs are not offered");
    assert.deepEqual(completions("", options).map((o) => o.name), ["paper-cut", "pastel", "grumpy-paper"]);
    assert.deepEqual(completions("PAST", options).map((o) => o.name), ["pastel"]);
  });

  it("accepting writes <lora:NAME:1> and puts the caret after it; inside a closed tag its weight stays", () => {
    assert.deepEqual(acceptCompletion("a cat <lora:pa", 12, 14, "paper-cut"), { text: "a cat <lora:paper-cut:1>", caret: 24 });
    assert.deepEqual(acceptCompletion("<lora:pa, a cat", 6, 8, "pastel"), { text: "<lora:pastel:1>, a cat", caret: 15 });
    assert.deepEqual(acceptCompletion("<lora:pa:0.4> a cat", 6, 8, "pastel"), { text: "<lora:pastel:0.4> a cat", caret: 17 });
    assert.deepEqual(acceptCompletion("<lora:papxx> a cat", 6, 9, "paper-cut"), { text: "<lora:paper-cut:1> a cat", caret: 18 });
  });

  it("warns under the prompt about tags that would fail, or that the plain syntax reads as words", () => {
    const prompt = "a cat <lora:paper-cut:0.8> <lora:missing> <lyco:xl-style:1> <hypernet:x:1> <lora:old>";
    assert.deepEqual(promptLoraNames(prompt), ["paper-cut", "missing", "xl-style", "old"]);
    assert.deepEqual(promptLoraWarnings(prompt, options, "a1111", ["/loras"]), [
      "<lora:missing>: no LoRA named missing in /loras: the generation would fail. Check the name (Ctrl+Space after <lora: lists them) or Refresh.",
      "<lora:xl-style> is made for SDXL, and the model is SD 1.x: pick an SDXL model to use it.",
      "<lora:old> cannot be used: a PyTorch pickle",
    ]);
    assert.deepEqual(promptLoraWarnings("a cat <lora:paper-cut:1>", options, "a1111", []), []);
    assert.match(promptLoraWarnings("a cat <lora:paper-cut:1>", options, "plain", [])[0], /read only with easel\.promptSyntax set to a1111/);
    assert.deepEqual(promptLoraWarnings("a cat", options, "plain", []), []);
  });
});

describe("Studio LoRAs: the form", () => {
  const ctx = { limits: { maxSteps: 150, maxGuidance: 30, maxBatch: 8, minSide: 64, maxSide: 2048, maxSeed: "18446744073709551615" }, granularity: 8, schedulers: ["default"] };
  const fields = (loras: { name: string; weight: string }[], quality = "normal") => ({ ...fieldsFromForm({ ...DEFAULT_FORM, prompt: "a boat" }), loras, quality });

  it("reads the weights as numbers within the host's limit, and the quality", () => {
    const read = formFromFields(fields([{ name: "paper-cut", weight: " 0.35 " }, { name: "pastel", weight: "-2" }], "fast"), ctx);
    assert.ok("form" in read);
    assert.deepEqual(read.form.loras, [{ name: "paper-cut", weight: 0.35 }, { name: "pastel", weight: -2 }]);
    assert.equal(read.form.quality, "fast");
    const plain = formFromFields(fields([]), ctx);
    assert.ok("form" in plain);
    assert.equal("loras" in plain.form || "quality" in plain.form, false, "nothing added to a form without LoRAs");
    for (const weight of ["", "x", "10.5", "-11"]) {
      const bad = formFromFields(fields([{ name: "pastel", weight }]), ctx);
      assert.ok("problem" in bad, weight);
      assert.equal(bad.problem.field, "loras");
      assert.match(bad.problem.message, /The weight of LoRA pastel must be a number from -10 to 10/);
    }
    const narrower = formFromFields(fields([{ name: "pastel", weight: "3" }]), { ...ctx, loraWeightLimit: 2 });
    assert.ok("problem" in narrower && /from -2 to 2/.test(narrower.problem.message));
  });

  it("survives a reload: saved, drafted (a weight being typed keeps the last), and damaged state", () => {
    const previous = { ...DEFAULT_FORM, loras: [{ name: "pastel", weight: 0.7 }] };
    const draft = draftForm(fields([{ name: "pastel", weight: "-" }, { name: "paper-cut", weight: "1.5" }], "fast"), previous);
    assert.deepEqual(draft.loras, [{ name: "pastel", weight: 0.7 }, { name: "paper-cut", weight: 1.5 }]);
    assert.equal(draft.quality, "fast");
    assert.deepEqual(formFromSaved({ loras: [{ name: "a", weight: 1 }, { name: "a", weight: 2 }, { name: 3 }, "x", { name: "b", weight: Infinity }], quality: "fast" }).loras, [{ name: "a", weight: 1 }]);
    assert.equal(formFromSaved({ quality: "turbo" }).quality, undefined);
    assert.deepEqual(fieldsFromForm({ ...DEFAULT_FORM, loras: [{ name: "a", weight: -0.25 }], quality: "fast" }).loras, [{ name: "a", weight: "-0.25" }]);
  });
});
