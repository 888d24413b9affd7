// The Studio's form logic that needs no VS Code: size presets, the form ↔ request mapping (host
// side), the webview's reading of its fields, and gallery descriptions from infotext.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatInfotext, withBackgroundRemoval } from "../../extension/engine/image/infotext";
import { requestFromInfotext } from "../../extension/generation/requestFromInfotext";
import { parseStudioForm } from "../../extension/protocol/studioMessageValidation";
import type { StudioForm } from "../../extension/protocol/studioMessages";
import { formFromStored, formToRequest } from "../../extension/studio/formMapping";
import { galleryInfo } from "../../extension/studio/galleryInfo";
import { altTextForImage } from "../../extension/markdown/links";
import { asOwnParagraph } from "../../extension/markdown/links";
import { modelGeometry, sizePresets, snapSide } from "../../extension/engine/model/imageSizes";
import { choiceForSize, sizeFor } from "../../extension/studio/sizePresets";
import { applyPatch, DEFAULT_FORM, draftForm, type FormFields, fieldsFromForm, formFromFields, formFromSaved, outpaintProblem } from "../../webview/formValues";

const sd15 = modelGeometry(512, 512, 64);

describe("size presets", () => {
  it("keeps about the native pixel count, on the model's granularity", () => {
    assert.deepEqual(
      sizePresets(512, 512, 64).map((p) => `${p.id} ${p.width}x${p.height}`),
      ["1:1 512x512", "4:3 576x448", "3:4 448x576", "16:9 704x384", "9:16 384x704"],
    );
    assert.deepEqual(
      sizePresets(768, 768, 64).map((p) => `${p.id} ${p.width}x${p.height}`),
      ["1:1 768x768", "4:3 896x640", "3:4 640x896", "16:9 1024x576", "9:16 576x1024"],
    );
  });
  it("follows a finer granularity", () => {
    const fine = sizePresets(512, 512, 8);
    assert.deepEqual(fine.find((p) => p.id === "16:9"), { id: "16:9", width: 680, height: 384 });
    for (const p of fine) assert.equal(p.width % 8 + (p.height % 8), 0);
  });
  it("snaps sides into the engine's limits", () => {
    assert.equal(snapSide(10, 64), 64);
    assert.equal(snapSide(5000, 64), 2048);
    assert.equal(snapSide(100, 48), 96);
    assert.equal(snapSide(2047, 48), 2016);
  });
  it("maps choices to sizes and sizes back to choices", () => {
    assert.deepEqual(sizeFor("default", {}, sd15), {});
    assert.deepEqual(sizeFor("4:3", {}, sd15), { width: 576, height: 448 });
    assert.deepEqual(sizeFor("custom", { width: 640, height: 320 }, sd15), { width: 640, height: 320 });
    assert.equal(choiceForSize(704, 384, sd15), "16:9");
    assert.equal(choiceForSize(640, 320, sd15), "custom");
    assert.equal(choiceForSize(undefined, undefined, sd15), "default");
  });
});

const form: StudioForm = {
  ...DEFAULT_FORM,
  prompt: "a red boat",
  negativePrompt: "  ",
  scheduler: "dpmpp-2m-karras",
  steps: 30,
  guidance: 6,
  seedMode: "fixed",
  seed: "18446744073709551615",
  size: "16:9",
  batch: 2,
  strength: 0.4,
};

describe("form → request", () => {
  it("maps every field, leaving empty ones to the settings and the model", () => {
    const r = formToRequest(form, sd15);
    assert.deepEqual(r, {
      prompt: "a red boat", negativePrompt: undefined, scheduler: "dpmpp-2m-karras", steps: 30, guidance: 6,
      seed: 18446744073709551615n, width: 704, height: 384, batch: 2, initImage: undefined, strength: undefined, decoder: undefined,
    });
    assert.equal(formToRequest({ ...form, decoder: "taesd" }, sd15).decoder, "taesd", "a draft");
    assert.equal(formToRequest({ ...form, decoder: "vae" }, sd15).decoder, "vae");
    const defaults = formToRequest({ ...DEFAULT_FORM, prompt: "x" }, sd15);
    assert.equal(defaults.scheduler, undefined);
    assert.equal(defaults.seed, undefined);
    assert.equal(defaults.width, undefined);
    assert.equal(defaults.steps, undefined);
  });
  it("sends the strength only with an init image", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const r = formToRequest(form, sd15, bytes);
    assert.equal(r.initImage, bytes);
    assert.equal(r.strength, 0.4);
  });
  it("sends the picker's LoRAs by name and weight, and Fast as request.fast; nothing when there are none", () => {
    const r = formToRequest({ ...form, loras: [{ name: "paper-cut", weight: 0.35 }, { name: "pastel", weight: -2 }], quality: "fast" }, sd15);
    assert.deepEqual(r.loras, [{ name: "paper-cut", weight: 0.35 }, { name: "pastel", weight: -2 }]);
    assert.equal(r.fast, true);
    const plain = formToRequest({ ...form, loras: [], quality: "normal" }, sd15);
    assert.equal("loras" in plain || "fast" in plain, false);
  });

  it("uses the custom size as given", () => {
    const r = formToRequest({ ...form, size: "custom", width: 320, height: 640 }, sd15);
    assert.deepEqual([r.width, r.height], [320, 640]);
  });
});

describe("stored generation → form", () => {
  const info = {
    prompt: "a lighthouse, oil painting", negativePrompt: "blurry", steps: 12, sampler: "DPM++ 2M", karras: true, guidance: 5.5,
    seed: 987654321987654321n, width: 576, height: 448, model: "sd15", denoisingStrength: 0.55, version: "easel-0.1.0",
  };
  const infotext = formatInfotext(info);
  it("restores the settings with the seed fixed", () => {
    assert.deepEqual(formFromStored(requestFromInfotext(infotext), sd15), {
      prompt: "a lighthouse, oil painting", negativePrompt: "blurry", scheduler: "dpmpp-2m-karras", steps: 12, guidance: 5.5,
      seedMode: "fixed", seed: "987654321987654321", size: "4:3", strength: 0.55, decoder: "vae", tileable: false,
      // An image without LoRAs clears the picker (Generate makes the same picture).
      loras: [], quality: "normal", fastLora: "",
      background: "opaque", matte: 0,
    });
    // A draft restores as a draft.
    assert.equal(formFromStored(requestFromInfotext(formatInfotext({ ...info, taesd: true })), sd15).decoder, "taesd");
  });
  it("brings back the transparent toggle and the matte threshold, and clears them for an opaque image", () => {
    const cut = withBackgroundRemoval(infotext, { remover: "birefnet-lite", matte: 0.4 });
    const transparent = applyPatch({ ...DEFAULT_FORM, matte: 0.7 }, formFromStored(requestFromInfotext(cut), sd15));
    assert.deepEqual([transparent.background, transparent.matte], ["transparent", 0.4]);
    assert.equal(fieldsFromForm(transparent).matte, "0.4");
    const soft = applyPatch(transparent, formFromStored(requestFromInfotext(withBackgroundRemoval(infotext, { remover: "birefnet-lite" })), sd15));
    assert.deepEqual([soft.background, fieldsFromForm(soft).matte], ["transparent", ""]);
    const opaque = applyPatch(transparent, formFromStored(requestFromInfotext(infotext), sd15));
    assert.deepEqual([opaque.background, fieldsFromForm(opaque).matte], ["opaque", ""]);
  });
  it("keeps an unusual size as a custom one", () => {
    const patch = formFromStored({ request: { prompt: "x", width: 640, height: 320 }, masked: false }, sd15);
    assert.deepEqual([patch.size, patch.width, patch.height, patch.seedMode], ["custom", 640, 320, "random"]);
  });
  it("brings back the picker's LoRAs and weights (prompt tags stay in the prompt) and the Fast quality", () => {
    const loras = [
      { name: "paper-cut", hash: "a".repeat(64), unetWeight: 0.35, textWeight: 0.35, fromPrompt: false },
      { name: "pastel", hash: "b".repeat(64), unetWeight: -1.5, textWeight: -1.5, fromPrompt: false },
      { name: "tagged", hash: "c".repeat(64), unetWeight: 0.8, textWeight: 0.8, fromPrompt: true },
    ];
    const text = formatInfotext({ ...info, prompt: "a lighthouse <lora:tagged:0.8>", promptSyntax: "a1111", loras });
    assert.match(text, /Lora hashes: "paper-cut: aaaaaaaaaaaa, pastel: bbbbbbbbbbbb, tagged: cccccccccccc"/);
    const patch = formFromStored(requestFromInfotext(text), sd15);
    assert.equal(patch.prompt, "a lighthouse <lora:tagged:0.8>");
    assert.deepEqual(patch.loras, [{ name: "paper-cut", weight: 0.35 }, { name: "pastel", weight: -1.5 }]);
    assert.equal(patch.quality, "normal");
    const r = formToRequest(applyPatch(DEFAULT_FORM, patch), sd15);
    assert.deepEqual(r.loras, [{ name: "paper-cut", weight: 0.35 }, { name: "pastel", weight: -1.5 }]);
    assert.equal(r.fast, undefined);
    // A fast-mode image records LCM-LoRA under its catalog id: it comes back as the Fast quality.
    const fast = formatInfotext({ ...info, sampler: "LCM", karras: false, steps: 4, guidance: 1, loras: [{ ...loras[0], name: "lcm-lora-sdv1-5", unetWeight: 1, textWeight: 1 }] });
    const fastPatch = formFromStored(requestFromInfotext(fast), sd15);
    assert.deepEqual([fastPatch.quality, fastPatch.loras, fastPatch.scheduler, fastPatch.steps, fastPatch.guidance], ["fast", [], "lcm", 4, 1]);
    assert.equal(formToRequest(applyPatch(DEFAULT_FORM, fastPatch), sd15).fast, true);
    // An SDXL-Lightning image comes back as Fast with that LoRA (whatever easel.fastLora says) and its
    // sampler, steps and guidance; a normal image restored after it clears the LoRA.
    const lightning = formatInfotext({ ...info, sampler: "Euler", karras: false, timestepSpacing: "trailing", steps: 4, guidance: 0, loras: [{ ...loras[0], name: "sdxl-lightning-4step", unetWeight: 1, textWeight: 1 }] });
    const lightningForm = applyPatch(DEFAULT_FORM, formFromStored(requestFromInfotext(lightning), sd15));
    assert.deepEqual([lightningForm.quality, lightningForm.fastLora, lightningForm.scheduler, lightningForm.steps, lightningForm.guidance], ["fast", "sdxl-lightning-4step", "euler", 4, 0]);
    const again = formToRequest(lightningForm, sd15);
    assert.deepEqual([again.fast, again.fastLora, again.scheduler, again.steps, again.guidance, again.loras], [true, "sdxl-lightning-4step", "euler", 4, 0, undefined]);
    const cleared = applyPatch(lightningForm, formFromStored(requestFromInfotext(infotext), sd15));
    assert.deepEqual([cleared.quality, cleared.fastLora, formToRequest({ ...cleared, quality: "fast" }, sd15).fastLora], ["normal", "", undefined]);
  });
  it("round-trips through the request", () => {
    const restored = applyPatch(DEFAULT_FORM, formFromStored(requestFromInfotext(infotext), sd15));
    const r = formToRequest(restored, sd15);
    assert.deepEqual([r.prompt, r.negativePrompt, r.scheduler, r.steps, r.guidance, r.seed, r.width, r.height], ["a lighthouse, oil painting", "blurry", "dpmpp-2m-karras", 12, 5.5, 987654321987654321n, 576, 448]);
  });
});

describe("gallery descriptions", () => {
  it("reads what the gallery shows from an image's parameters", () => {
    const text = formatInfotext({
      prompt: "a cat\nwith a hat", negativePrompt: "", steps: 25, sampler: "Euler a", karras: false, guidance: 7.5, seed: 42n,
      width: 512, height: 512, model: "sd15", version: "easel-0.1.0",
    });
    assert.deepEqual(galleryInfo(text), {
      prompt: "a cat\nwith a hat", negativePrompt: "", seed: "42", width: 512, height: 512, steps: 25, sampler: "Euler a",
      guidance: 7.5, model: "sd15", strength: undefined,
    });
  });
  it("names Karras sigmas and keeps A1111's own files readable", () => {
    const info = galleryInfo("a castle\nNegative prompt: fog\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1, Size: 768x512, Model hash: abc, Model: v1-5");
    assert.equal(info?.sampler, "DPM++ 2M Karras");
    assert.equal(info?.negativePrompt, "fog");
    assert.deepEqual([info?.width, info?.height, info?.model], [768, 512, "v1-5"]);
  });
  it("has nothing for empty text", () => {
    assert.equal(galleryInfo("   "), undefined);
  });
});

const ctx = { limits: { maxSteps: 150, maxGuidance: 100, maxBatch: 64, minSide: 64, maxSide: 2048, maxSeed: "18446744073709551615" }, granularity: 64, schedulers: ["default", "euler", "dpmpp-2m-karras"] };

function fields(patch: Partial<FormFields>): FormFields {
  return { ...fieldsFromForm({ ...DEFAULT_FORM, prompt: "a boat" }), ...patch };
}

describe("the webview's form fields", () => {
  it("reads text fields into a form", () => {
    const read = formFromFields(fields({ steps: " 20 ", guidance: "7.5", seedMode: "fixed", seed: "42", size: "custom", width: "640", height: "384", batch: "3" }), ctx);
    assert.ok("form" in read);
    assert.deepEqual(read.form, { ...DEFAULT_FORM, prompt: "a boat", steps: 20, guidance: 7.5, seedMode: "fixed", seed: "42", size: "custom", width: 640, height: 384, batch: 3, initImage: undefined });
  });
  it("checks a long pasted number in linear time", () => {
    const started = performance.now();
    const draft = draftForm(fields({ guidance: `${"7".repeat(100_000)}x`, strength: `${"1".repeat(100_000)}.` }), { ...DEFAULT_FORM, guidance: 5 });
    assert.equal(draft.guidance, 5);
    const ms = performance.now() - started;
    assert.ok(ms < 500, `took ${ms.toFixed(0)} ms`);
  });
  it("leaves empty optional fields to the defaults and drops a random seed's text", () => {
    const read = formFromFields(fields({ seedMode: "random", seed: "99" }), ctx);
    assert.ok("form" in read);
    assert.equal(read.form.steps, undefined);
    assert.equal(read.form.guidance, undefined);
    assert.equal(read.form.seed, "");
  });
  it("names the first field that is wrong", () => {
    const problem = (patch: Partial<FormFields>) => {
      const read = formFromFields(fields(patch), ctx);
      return "problem" in read ? read.problem.field : undefined;
    };
    assert.equal(problem({ prompt: "  " }), "prompt");
    assert.equal(problem({ scheduler: "heun" }), "scheduler");
    assert.equal(problem({ steps: "0" }), "steps");
    assert.equal(problem({ steps: "2.5" }), "steps");
    assert.equal(problem({ guidance: "lots" }), "guidance");
    assert.equal(problem({ guidance: "101" }), "guidance");
    assert.equal(problem({ batch: "65" }), "batch");
    assert.equal(problem({ seedMode: "fixed", seed: "" }), "seed");
    assert.equal(problem({ seedMode: "fixed", seed: "18446744073709551616" }), "seed");
    assert.equal(problem({ size: "custom", width: "600", height: "512" }), "width");
    assert.equal(problem({ size: "custom", width: "640", height: "4096" }), "height");
    assert.equal(problem({ strength: "2", initImage: { id: "i", name: "n", thumb: "t" } }), "strength");
    assert.equal(problem({ strength: "2" }), undefined, "strength only matters with an init image");
    assert.equal(problem({ background: "transparent", matte: "1" }), "matte");
    assert.equal(problem({ background: "transparent", matte: "hard" }), "matte");
    const hard = formFromFields(fields({ background: "transparent", matte: "0.5" }), ctx);
    assert.ok("form" in hard);
    assert.deepEqual([hard.form.background, hard.form.matte], ["transparent", 0.5]);
    // The host's validator takes the threshold, and 0 (a restore clearing it), never 1.
    assert.equal(parseStudioForm(JSON.parse(JSON.stringify(hard.form))).matte, 0.5);
    assert.throws(() => parseStudioForm({ ...JSON.parse(JSON.stringify(hard.form)), matte: 1 }), /form\.matte must be at least 0 and below 1/);
  });
  it("round-trips a form through its fields", () => {
    const read = formFromFields(fieldsFromForm({ ...form, negativePrompt: "fog", size: "custom", width: 640, height: 384 }), ctx);
    assert.ok("form" in read);
    assert.deepEqual(read.form, { ...form, negativePrompt: "fog", size: "custom", width: 640, height: 384, initImage: undefined });
  });
  it("produces forms the host's validator accepts", () => {
    for (const patch of [{}, { steps: "20", guidance: "0", seedMode: "fixed", seed: "0" }, { size: "custom", width: "2048", height: "64", batch: "64" }] as Partial<FormFields>[]) {
      const read = formFromFields(fields(patch), ctx);
      assert.ok("form" in read);
      const wire = JSON.parse(JSON.stringify(read.form));
      assert.deepEqual(JSON.parse(JSON.stringify(parseStudioForm(wire))), wire);
    }
  });
  it("sends the fast-mode LoRA picked with the Fast quality only, keeps it in the saved page state, and drops one that is not an id", () => {
    const fast = formFromFields(fields({ quality: "fast", fastLora: "sdxl-lightning-4step" }), ctx);
    assert.ok("form" in fast);
    assert.deepEqual([fast.form.quality, fast.form.fastLora], ["fast", "sdxl-lightning-4step"]);
    assert.deepEqual(parseStudioForm(JSON.parse(JSON.stringify(fast.form))).fastLora, "sdxl-lightning-4step");
    const normal = formFromFields(fields({ quality: "normal", fastLora: "sdxl-lightning-4step" }), ctx);
    assert.ok("form" in normal);
    assert.equal("fastLora" in normal.form, false);
    const hostsChoice = formFromFields(fields({ quality: "fast", fastLora: "" }), ctx);
    assert.ok("form" in hostsChoice);
    assert.equal("fastLora" in hostsChoice.form, false);
    assert.equal(formFromSaved({ quality: "fast", fastLora: "hyper-sd15-8step" }).fastLora, "hyper-sd15-8step");
    assert.equal(formFromSaved({ quality: "fast", fastLora: "../x" }).fastLora, undefined);
    assert.equal(fieldsFromForm(formFromSaved({ quality: "fast", fastLora: "hyper-sd15-8step" })).fastLora, "hyper-sd15-8step");
  });
  it("inpainting needs a painted mask; the form sends it with the mode", () => {
    const initImage = { id: "file:///ws/a.png", name: "a.png", thumb: "t" };
    const noMask = formFromFields(fields({ initImage, initMode: "inpaint", mask: undefined }), ctx);
    assert.ok("problem" in noMask);
    assert.deepEqual(noMask.problem, { field: "mask", message: "Paint the area to repaint on the image first (white is repainted)." });
    const read = formFromFields(fields({ initImage, initMode: "inpaint", mask: "iVBORw0K" }), ctx);
    assert.ok("form" in read);
    assert.deepEqual([read.form.initMode, read.form.mask, read.form.outpaint], ["inpaint", "iVBORw0K", undefined]);
    // Without a starting image the mode means nothing.
    const bare = formFromFields(fields({ initMode: "inpaint" }), ctx);
    assert.ok("form" in bare);
    assert.equal(bare.form.initMode, undefined);
  });
  it("outpainting: whole sides, at least one, and sizes on the model's granularity, said with what would fit", () => {
    const initImage = { id: "file:///ws/a.png", name: "a.png", thumb: "t" };
    const sides = (left: string, right = "0", top = "0", bottom = "0") => ({ left, right, top, bottom });
    const read = (outpaint: FormFields["outpaint"], initSize = { width: 512, height: 384 }) =>
      formFromFields(fields({ initImage, initMode: "outpaint", outpaint }), { ...ctx, initSize });
    const ok = read(sides("64", "64", "0", "128"));
    assert.ok("form" in ok);
    assert.deepEqual([ok.form.initMode, ok.form.outpaint], ["outpaint", { left: 64, right: 64, top: 0, bottom: 128 }]);
    const problemOf = (r: ReturnType<typeof read>) => ("problem" in r ? r.problem : undefined);
    assert.deepEqual(problemOf(read(sides("0"))), { field: "outpaint-left", message: "Give at least one side some pixels to extend the image by." });
    assert.equal(problemOf(read(sides("-8")))?.field, "outpaint-left");
    assert.equal(problemOf(read(sides("0", "x")))?.field, "outpaint-right");
    assert.deepEqual(problemOf(read(sides("100"))), {
      field: "outpaint-left",
      message: "Left + right makes the width 512 + 100 = 612, not a multiple of 64 as this model needs: make left + right add up to 64 or 128.",
    });
    assert.deepEqual(problemOf(read(sides("0", "0", "10"))), {
      field: "outpaint-top",
      message: "Top + bottom makes the height 384 + 10 = 394, not a multiple of 64 as this model needs: make top + bottom add up to 64.",
    });
    assert.match(problemOf(read(sides("1600")))?.message ?? "", /makes the width 512 \+ 1600 = 2112, over the 2048-pixel limit: extend by less/);
    assert.deepEqual(outpaintProblem({ width: 500, height: 512 }, { left: 12, right: 0, top: 0, bottom: 0 }, 64, ctx.limits), undefined, "500 + 12 = 512 fits");
  });
  it("inpainting and outpainting take the image's size: the size picker does not apply", () => {
    const initImage = new Uint8Array([1, 2, 3]);
    const mask = Buffer.from([137, 80, 78, 71]).toString("base64");
    const r = formToRequest({ ...form, size: "16:9", initImage: { id: "i", name: "n", thumb: "t" }, initMode: "inpaint", mask, strength: 1 }, sd15, initImage);
    assert.deepEqual([r.width, r.height, r.strength, r.outpaint], [undefined, undefined, 1, undefined]);
    assert.deepEqual(r.mask, new Uint8Array([137, 80, 78, 71]));
    const o = formToRequest({ ...form, size: "16:9", initImage: { id: "i", name: "n", thumb: "t" }, initMode: "outpaint", outpaint: { left: 64, right: 0, top: 0, bottom: 0 } }, sd15, initImage);
    assert.deepEqual([o.width, o.height, o.mask, o.outpaint], [undefined, undefined, undefined, { left: 64, right: 0, top: 0, bottom: 0 }]);
    // An SDXL size choice names its own width and height.
    const xl = modelGeometry(1024, 1024, 32, "sdxl");
    assert.deepEqual([formToRequest({ ...form, size: "1344x768" }, xl).width, formToRequest({ ...form, size: "1344x768" }, xl).height], [1344, 768]);
    assert.equal(choiceForSize(832, 1216, xl), "832x1216");
  });
  it("restores saved state defensively", () => {
    assert.deepEqual(formFromSaved(undefined), DEFAULT_FORM);
    assert.deepEqual(formFromSaved("junk"), DEFAULT_FORM);
    assert.equal(formFromSaved({ decoder: "taesd" }).decoder, "taesd");
    assert.equal(formFromSaved({ decoder: "turbo" }).decoder, "default", "an unknown saved choice falls back to the setting");
    assert.equal(formFromSaved({ background: "transparent" }).background, "transparent");
    assert.equal(formFromSaved({ background: "glass" }).background, "opaque");
    const saved = formFromSaved({ prompt: "kept", steps: "20", size: "2:1", batch: 4, initImage: { id: 1 } });
    assert.deepEqual([saved.prompt, saved.steps, saved.size, saved.batch, saved.initImage], ["kept", undefined, "default", 4, undefined]);
  });
  it("keeps a draft of a form that is not valid yet, field by field", () => {
    const previous = { ...DEFAULT_FORM, steps: 20, batch: 2 };
    const draft = draftForm(fields({ prompt: "", size: "16:9", steps: "2x", batch: "", guidance: "" , seedMode: "fixed", seed: "12" }), previous);
    assert.deepEqual([draft.prompt, draft.size, draft.steps, draft.batch, draft.guidance, draft.seedMode, draft.seed], ["", "16:9", 20, 2, undefined, "fixed", "12"]);
  });
  it("applies only the fields a patch has", () => {
    const patched = applyPatch({ ...DEFAULT_FORM, prompt: "old", steps: 20 }, { prompt: "new", steps: undefined });
    assert.deepEqual([patched.prompt, patched.steps], ["new", 20]);
  });
});

describe("links inserted from the gallery", () => {
  it("take their alt text from the prompt, else the file name", () => {
    assert.equal(altTextForImage("a [red] boat\non a lake", "/ws/x.png"), "a \\[red\\] boat on a lake");
    assert.equal(altTextForImage(undefined, "/ws/assets/generated/old_harbour-map.webp"), "old harbour map");
    assert.equal(altTextForImage("  ", "/ws/sunset.png"), "sunset");
  });
  it("stand as their own paragraph", () => {
    assert.equal(asOwnParagraph("![a](b.png)", "", ""), "![a](b.png)");
    assert.equal(asOwnParagraph("![a](b.png)", "", "Text."), "![a](b.png)\n\n");
    assert.equal(asOwnParagraph("![a](b.png)", "Some text", ""), "\n\n![a](b.png)");
    assert.equal(asOwnParagraph("![a](b.png)", "Some ", "text"), "\n\n![a](b.png)\n\n");
  });
});

describe("tiling and the hires fix in the Studio", () => {
  it("reads the toggle and the hires fields, refuses a bad scale, and maps them to a request and back", () => {
    const read = formFromFields(fields({ tileable: true, hiresScale: "2", hiresStrength: "0.45" }), ctx);
    assert.ok("form" in read);
    assert.equal(read.form.tileable, true);
    assert.equal(read.form.hiresScale, 2);
    assert.equal(read.form.hiresStrength, 0.45);
    const bad = formFromFields(fields({ hiresScale: "5" }), ctx);
    assert.ok("problem" in bad && bad.problem.field === "hiresScale");
    const request = formToRequest(read.form, sd15);
    assert.equal(request.tileable, true);
    assert.deepEqual(request.hires, { scale: 2, strength: 0.45 });
    const info = { prompt: "bricks", negativePrompt: "", steps: 20, sampler: "Euler", karras: false, guidance: 7, seed: 3n, width: 512, height: 512, model: "sd15", version: "easel-0.1.0" };
    const text = formatInfotext({ ...info, tiling: true, denoisingStrength: 0.45, hires: { scale: 2, upscaler: "Lanczos" } });
    const restored = formFromStored(requestFromInfotext(text), sd15);
    assert.equal(restored.tileable, true);
    assert.equal(restored.hiresScale, 2);
    assert.equal(restored.hiresStrength, 0.45);
    assert.equal(galleryInfo(text)?.tiling, true);
  });

  it("carries the hires steps and upscaler: fields, the host's validator, the request, and back from an image's A1111 keys", () => {
    const read = formFromFields(fields({ hiresScale: "2", hiresStrength: "0.4", hiresSteps: "12", hiresUpscaler: "Real-ESRGAN x4plus" }), ctx);
    assert.ok("form" in read);
    assert.deepEqual([read.form.hiresSteps, read.form.hiresUpscaler], [12, "Real-ESRGAN x4plus"]);
    const wire = JSON.parse(JSON.stringify(read.form));
    assert.deepEqual(JSON.parse(JSON.stringify(parseStudioForm(wire))), wire);
    assert.throws(() => parseStudioForm({ ...wire, hiresSteps: 2.5 }), /form\.hiresSteps must be a whole number/);
    assert.throws(() => parseStudioForm({ ...wire, hiresSteps: 151 }), /form\.hiresSteps must be from 0 to 150/);
    assert.throws(() => parseStudioForm({ ...wire, hiresUpscaler: "x".repeat(201) }), /form\.hiresUpscaler must be at most 200 characters/);
    const request = formToRequest(read.form, sd15);
    assert.deepEqual(request.hires, { scale: 2, strength: 0.4, steps: 12, upscaler: "Real-ESRGAN x4plus" });
    // Empty steps and Automatic leave both to the engine (the first pass's steps; a downloaded model, else Lanczos).
    const auto = formFromFields(fields({ hiresScale: "2", hiresSteps: "", hiresUpscaler: "" }), ctx);
    assert.ok("form" in auto);
    assert.deepEqual(formToRequest(auto.form, sd15).hires, { scale: 2, strength: 0.5 });
    assert.equal(problemField(fields({ hiresScale: "2", hiresSteps: "1.5" })), "hiresSteps");
    assert.equal(problemField(fields({ hiresScale: "2", hiresSteps: "151" })), "hiresSteps");
    assert.equal(problemField(fields({ hiresSteps: "oops" })), undefined, "hires steps only matter with a hires scale");
    // The image's infotext (Hires upscale, Hires steps, Hires upscaler, Denoising strength) back into the form.
    const info = { prompt: "bricks", negativePrompt: "", steps: 20, sampler: "Euler", karras: false, guidance: 7, seed: 3n, width: 512, height: 512, model: "sd15", version: "easel-0.1.0" };
    const text = formatInfotext({ ...info, denoisingStrength: 0.4, hires: { scale: 2, steps: 12, upscaler: "Real-ESRGAN x4plus" } });
    assert.match(text, /Denoising strength: 0\.4, Hires upscale: 2, Hires steps: 12, Hires upscaler: Real-ESRGAN x4plus/);
    const restored = formFromStored(requestFromInfotext(text), sd15);
    assert.deepEqual([restored.hiresScale, restored.hiresStrength, restored.hiresSteps, restored.hiresUpscaler], [2, 0.4, 12, "Real-ESRGAN x4plus"]);
    // Regenerate / palette recall: the same request the form would send.
    assert.deepEqual(requestFromInfotext(text).request.hires, request.hires);
    assert.deepEqual(fieldsFromForm({ ...DEFAULT_FORM, ...restored }).hiresSteps, "12");
    // A saved page from before these fields existed, or damaged: the defaults.
    assert.deepEqual([formFromSaved({ hiresScale: 2 }).hiresSteps, formFromSaved({ hiresSteps: -3, hiresUpscaler: 7 }).hiresSteps, formFromSaved({ hiresUpscaler: 7 }).hiresUpscaler], [0, 0, ""]);
  });
});

function problemField(f: FormFields): string | undefined {
  const read = formFromFields(f, ctx);
  return "problem" in read ? read.problem.field : undefined;
}
