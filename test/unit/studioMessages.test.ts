// What the Studio webview may send: good messages pass through typed; a malformed one is refused
// with an error naming the field, whatever field is wrong.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { checkMaskFits, parseMask, parseStudioForm, parseWebviewMessage, pngSize } from "../../extension/protocol/studioMessageValidation";
import { MAX_MASK_PNG_BYTES, SDXL_SIZE_IDS, sdxlSize } from "../../extension/protocol/studioMessages";
import type { StudioForm } from "../../extension/protocol/studioMessages";
import { ProtocolError } from "../../extension/engine/host/validate";

const form: StudioForm = {
  prompt: "a lighthouse at dawn",
  negativePrompt: "",
  scheduler: "euler-a",
  steps: 20,
  guidance: 7.5,
  seedMode: "fixed",
  seed: "18446744073709551615",
  size: "custom",
  width: 640,
  height: 448,
  batch: 2,
  initImage: { id: "file:///ws/a.png", name: "a.png", thumb: "https://file+.vscode-resource/ws/a.png" },
  strength: 0.6,
  decoder: "taesd",
  tileable: true,
  hiresStrength: 0.5,
  background: "transparent",
};

function refuses(value: unknown, field: RegExp): void {
  assert.throws(() => parseWebviewMessage(value), (e: unknown) => e instanceof ProtocolError && field.test(e.message), `expected a ProtocolError matching ${field}`);
}

describe("Studio messages from the webview", () => {
  it("accepts every message type", () => {
    for (const type of ["ready", "cancel", "cancelDownload", "moreModels", "pickInitImage", "refreshGallery", "refreshLoras"] as const) {
      assert.deepEqual(parseWebviewMessage({ type }), { type });
    }
    assert.deepEqual(parseWebviewMessage({ type: "generate", form }), { type: "generate", form });
    assert.deepEqual(parseWebviewMessage({ type: "countTokens", field: "negativePrompt", text: "blurry", seq: 3 }), { type: "countTokens", field: "negativePrompt", text: "blurry", seq: 3 });
    assert.deepEqual(parseWebviewMessage({ type: "selectModel", spec: "sd15" }), { type: "selectModel", spec: "sd15" });
    assert.deepEqual(parseWebviewMessage({ type: "galleryAction", action: "delete", id: "file:///ws/x.png" }), { type: "galleryAction", action: "delete", id: "file:///ws/x.png" });
    assert.deepEqual(parseWebviewMessage({ type: "errorAction", action: "chooseModel" }), { type: "errorAction", action: "chooseModel" });
  });

  it("takes the picker's LoRAs and the quality; leaves both out when they say nothing", () => {
    const loras = [{ name: "paper-cut", weight: 0.35 }, { name: "sub folder name", weight: -10 }, { name: "x", weight: 10 }];
    assert.deepEqual(parseStudioForm({ ...form, loras, quality: "fast" }), { ...form, loras, quality: "fast" });
    const plain = parseStudioForm({ ...form, loras: [], quality: "normal" });
    assert.equal("loras" in plain || "quality" in plain, false);
    refuses({ type: "generate", form: { ...form, quality: "turbo" } }, /form\.quality/);
    // Fast mode's LoRA: a catalog id, kept with the Fast quality only ("" is the host's choice).
    assert.deepEqual(parseStudioForm({ ...form, quality: "fast", fastLora: "sdxl-lightning-4step" }), { ...form, quality: "fast", fastLora: "sdxl-lightning-4step" });
    assert.equal("fastLora" in parseStudioForm({ ...form, quality: "fast", fastLora: "" }), false);
    assert.equal("fastLora" in parseStudioForm({ ...form, quality: "normal", fastLora: "sdxl-lightning-4step" }), false);
    refuses({ type: "generate", form: { ...form, quality: "fast", fastLora: "../x.safetensors" } }, /form\.fastLora must be a catalog id/);
    refuses({ type: "generate", form: { ...form, loras: "paper-cut" } }, /form\.loras must be an array/);
    refuses({ type: "generate", form: { ...form, loras: [{ name: "", weight: 1 }] } }, /form\.loras\[0\]\.name must not be empty/);
    for (const name of ["a/b", "a\\b", "x.safetensors", "x.CKPT", " padded"]) refuses({ type: "generate", form: { ...form, loras: [{ name, weight: 1 }] } }, /not a path/);
    refuses({ type: "generate", form: { ...form, loras: [{ name: "a", weight: Number.NaN }] } }, /form\.loras\[0\]\.weight/);
    refuses({ type: "generate", form: { ...form, loras: [{ name: "a", weight: -10.01 }] } }, /from -10 to 10/);
    refuses({ type: "generate", form: { ...form, loras: Array.from({ length: 17 }, (_, i) => ({ name: `l${i}`, weight: 1 })) } }, /at most 16 at once/);
  });

  it("keeps only the declared fields", () => {
    const parsed = parseWebviewMessage({ type: "cancel", extra: "ignored" });
    assert.deepEqual(parsed, { type: "cancel" });
    const withExtra = parseStudioForm({ ...form, path: "/etc/passwd" });
    assert.equal("path" in withExtra, false);
  });

  it("leaves optional form fields out when absent", () => {
    const minimal = { prompt: "x", negativePrompt: "", scheduler: "default", seedMode: "random", seed: "", size: "default", batch: 1, strength: 0.6 };
    const parsed = parseStudioForm(minimal);
    assert.equal(parsed.steps, undefined);
    assert.equal(parsed.guidance, undefined);
    assert.equal(parsed.initImage, undefined);
    assert.equal(parsed.width, undefined);
    assert.equal(parsed.decoder, "default", "a page saved before the decoder choice leaves it to the setting");
    assert.equal(parsed.background, "opaque", "a page saved before the background choice keeps the background");
  });

  it("refuses what is not a message", () => {
    for (const bad of [null, undefined, "generate", 42, [], { type: 1 }]) refuses(bad, /message/);
    refuses({ type: "deleteEverything" }, /unknown Studio message type/);
  });

  it("refuses a malformed form, naming each field", () => {
    const cases: [Partial<Record<keyof StudioForm, unknown>>, RegExp][] = [
      [{ prompt: 5 }, /form\.prompt/],
      [{ prompt: "x".repeat(20_001) }, /form\.prompt must be at most/],
      [{ negativePrompt: null }, /form\.negativePrompt/],
      [{ scheduler: "heun" }, /form\.scheduler must be one of/],
      [{ steps: 0 }, /form\.steps must be from 1/],
      [{ steps: 151 }, /form\.steps/],
      [{ steps: 2.5 }, /form\.steps must be a whole number/],
      [{ steps: "20" }, /form\.steps must be a finite number/],
      [{ guidance: Number.NaN }, /form\.guidance/],
      [{ guidance: -1 }, /form\.guidance must be from 0/],
      [{ seedMode: "lucky" }, /form\.seedMode/],
      [{ seed: "12a" }, /form\.seed/],
      [{ seed: "18446744073709551616" }, /form\.seed/],
      [{ seed: "" }, /form\.seed .*when the seed is fixed/],
      [{ seed: 42 }, /form\.seed must be a string/],
      [{ size: "2:1" }, /form\.size/],
      [{ decoder: "fast" }, /form\.decoder must be one of/],
      [{ background: "checkerboard" }, /form\.background must be one of opaque, transparent/],
      [{ width: 32 }, /form\.width must be from 64/],
      [{ height: 4096 }, /form\.height/],
      [{ batch: 0 }, /form\.batch/],
      [{ batch: 65 }, /form\.batch/],
      [{ strength: 0 }, /form\.strength/],
      [{ strength: 1.5 }, /form\.strength/],
      [{ initImage: "file:///ws/a.png" }, /form\.initImage must be an object/],
      [{ initImage: { id: "", name: "a", thumb: "t" } }, /form\.initImage\.id must not be empty/],
      [{ initImage: { id: "x", name: 3, thumb: "t" } }, /form\.initImage\.name/],
    ];
    for (const [patch, field] of cases) refuses({ type: "generate", form: { ...form, ...patch } }, field);
    refuses({ type: "generate" }, /form must be an object/);
  });

  it("allows an empty seed only when it is random", () => {
    assert.equal(parseStudioForm({ ...form, seedMode: "random", seed: "" }).seed, "");
  });

  it("refuses malformed fields of the other messages", () => {
    refuses({ type: "countTokens", field: "title", text: "x", seq: 1 }, /countTokens\.field/);
    refuses({ type: "countTokens", field: "prompt", text: 1, seq: 1 }, /countTokens\.text/);
    refuses({ type: "countTokens", field: "prompt", text: "x", seq: -1 }, /countTokens\.seq/);
    refuses({ type: "countTokens", field: "prompt", text: "x" }, /countTokens\.seq/);
    refuses({ type: "selectModel", spec: "" }, /selectModel\.spec must not be empty/);
    refuses({ type: "selectModel" }, /selectModel\.spec/);
    refuses({ type: "galleryAction", action: "rename", id: "x" }, /galleryAction\.action/);
    refuses({ type: "galleryAction", action: "open" }, /galleryAction\.id/);
    refuses({ type: "galleryAction", action: "open", id: "x".repeat(5000) }, /galleryAction\.id must be at most/);
    refuses({ type: "errorAction", action: "format" }, /errorAction\.action/);
  });

  it("accepts SDXL's sizes as size choices, each naming its width and height", () => {
    for (const id of SDXL_SIZE_IDS) assert.equal(parseStudioForm({ ...form, size: id }).size, id);
    assert.deepEqual(sdxlSize("1216x832"), { width: 1216, height: 832 });
    for (const id of SDXL_SIZE_IDS) {
      const { width, height } = sdxlSize(id);
      assert.equal(width % 64 + (height % 64), 0, `${id}: both sides multiples of 64`);
      assert.ok(Math.abs(width * height - 1024 * 1024) / (1024 * 1024) < 0.05, `${id}: about a megapixel`);
    }
  });
});

/** A base64 PNG of the given size (black). */
async function png(width: number, height: number): Promise<string> {
  return (await sharp({ create: { width, height, channels: 3, background: "#000" } }).png().toBuffer()).toString("base64");
}

describe("inpainting and outpainting in the Studio form", () => {
  it("takes a mask only as a PNG (signature and IHDR), under the cap, with sides the engine accepts", async () => {
    const mask = await png(96, 64);
    const parsed = parseStudioForm({ ...form, initMode: "inpaint", mask });
    assert.deepEqual([parsed.initMode, parsed.mask], ["inpaint", mask]);
    assert.deepEqual(pngSize(Buffer.from(mask, "base64")), { width: 96, height: 64 });
    const cases: [unknown, RegExp][] = [
      [undefined, /form\.mask must be a string/],
      [Buffer.from("GIF89a....................").toString("base64"), /form\.mask is not a PNG/],
      ["not base64!", /form\.mask must be a base64 PNG/],
      ["A".repeat(Math.ceil(MAX_MASK_PNG_BYTES / 3) * 4 + 4), /form\.mask is over 16 MiB/],
      [await png(32, 64), /form\.mask is 32×64: each side must be from 64 to 2048/],
    ];
    for (const [value, message] of cases) refuses({ type: "generate", form: { ...form, initMode: "inpaint", mask: value } }, message);
    refuses({ type: "generate", form: { ...form, initImage: undefined, initMode: "inpaint", mask } }, /form\.initMode inpaint needs a starting image/);
    assert.deepEqual(parseMask(mask).png, Uint8Array.from(Buffer.from(mask, "base64")));
  });

  it("checks that the mask is the starting image's size", () => {
    assert.doesNotThrow(() => checkMaskFits({ width: 96, height: 64 }, { width: 96, height: 64 }));
    assert.throws(() => checkMaskFits({ width: 64, height: 96 }, { width: 96, height: 64 }), (e: unknown) => e instanceof ProtocolError && /the mask is 64×96 but the starting image is 96×64/.test(e.message));
  });

  it("takes outpainting's four sides, whole pixels, at least one of them", () => {
    const outpaint = { left: 64, right: 0, top: 0, bottom: 128 };
    assert.deepEqual(parseStudioForm({ ...form, initMode: "outpaint", outpaint }).outpaint, outpaint);
    refuses({ type: "generate", form: { ...form, initMode: "outpaint" } }, /form\.outpaint must be an object/);
    refuses({ type: "generate", form: { ...form, initMode: "outpaint", outpaint: { ...outpaint, left: -8 } } }, /form\.outpaint\.left must be from 0 to 2048/);
    refuses({ type: "generate", form: { ...form, initMode: "outpaint", outpaint: { ...outpaint, top: 1.5 } } }, /form\.outpaint\.top must be a whole number/);
    refuses({ type: "generate", form: { ...form, initMode: "outpaint", outpaint: { left: 0, right: 0, top: 0, bottom: 0 } } }, /must extend at least one side/);
    refuses({ type: "generate", form: { ...form, initMode: "paint" } }, /form\.initMode must be one of/);
    // img2img ignores a mask or sides left over from another mode.
    const img2img = parseStudioForm({ ...form, initMode: "img2img", mask: "junk", outpaint });
    assert.deepEqual([img2img.initMode, img2img.mask, img2img.outpaint], [undefined, undefined, undefined]);
  });

  it("a stored starting image (inside an inpainted PNG) is shown from a data: URL; other refs keep the short cap", () => {
    const thumb = `data:image/png;base64,${"A".repeat(10_000)}`;
    const parsed = parseStudioForm({ ...form, initImage: { id: "file:///ws/in.png", name: "in.png: its starting image", thumb, stored: true } });
    assert.deepEqual(parsed.initImage, { id: "file:///ws/in.png", name: "in.png: its starting image", thumb, stored: true });
    refuses({ type: "generate", form: { ...form, initImage: { id: "file:///ws/a.png", name: "a", thumb } } }, /form\.initImage\.thumb must be at most/);
    refuses({ type: "generate", form: { ...form, initImage: { id: "file:///ws/a.png", name: "a", thumb: "t", stored: "yes" } } }, /form\.initImage\.stored must be true or false/);
  });
});
