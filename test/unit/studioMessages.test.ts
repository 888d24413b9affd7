// What the Studio webview may send: good messages pass through typed; a malformed one is refused
// with an error naming the field, whatever field is wrong.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseStudioForm, parseWebviewMessage } from "../../extension/protocol/studioMessageValidation";
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
};

function refuses(value: unknown, field: RegExp): void {
  assert.throws(() => parseWebviewMessage(value), (e: unknown) => e instanceof ProtocolError && field.test(e.message), `expected a ProtocolError matching ${field}`);
}

describe("Studio messages from the webview", () => {
  it("accepts every message type", () => {
    for (const type of ["ready", "cancel", "cancelDownload", "moreModels", "pickInitImage", "refreshGallery"] as const) {
      assert.deepEqual(parseWebviewMessage({ type }), { type });
    }
    assert.deepEqual(parseWebviewMessage({ type: "generate", form }), { type: "generate", form });
    assert.deepEqual(parseWebviewMessage({ type: "countTokens", field: "negativePrompt", text: "blurry", seq: 3 }), { type: "countTokens", field: "negativePrompt", text: "blurry", seq: 3 });
    assert.deepEqual(parseWebviewMessage({ type: "selectModel", spec: "sd15" }), { type: "selectModel", spec: "sd15" });
    assert.deepEqual(parseWebviewMessage({ type: "galleryAction", action: "delete", id: "file:///ws/x.png" }), { type: "galleryAction", action: "delete", id: "file:///ws/x.png" });
    assert.deepEqual(parseWebviewMessage({ type: "errorAction", action: "chooseModel" }), { type: "errorAction", action: "chooseModel" });
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
});
