// The Studio's host logic with fake ports: what the panel sees for each webview message, without
// VS Code (the e2e tests prove the wiring to the real webview, engine and commands).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { EaselError } from "../../extension/engine/errors";
import type { ModelFamily } from "../../extension/engine/model/modelInfo";
import type { ProviderName } from "../../extension/engine/onnx/providers";
import { StudioController, type StudioImage, type StudioOutcome, type StudioPorts } from "../../extension/studio/studioController";
import type { ModelsState } from "../../extension/studio/studioModels";
import type { HostMessage, ModelsMessage, StudioForm, UpscalerOption } from "../../extension/protocol/studioMessages";
import type { StoredInputs } from "../../extension/generation/storedInputs";
import type { LoraListing } from "../../extension/studio/studioLoras";

const form: StudioForm = { prompt: "a lighthouse", negativePrompt: "", scheduler: "default", seedMode: "random", size: "default", batch: 1, strength: 0.75, seed: "", decoder: "default", tileable: false, hiresStrength: 0.5, background: "opaque" };
const geometry = { granularity: 8, defaultWidth: 512, defaultHeight: 512, presets: [] };

function modelsMessage(current: string, notForThisMachine = false): ModelsMessage {
  return {
    type: "models",
    current,
    geometry,
    defaults: {},
    models: [
      { spec: "tiny", label: "tiny", detail: "", source: "local", downloaded: true },
      { spec: "sd15", label: "SD 1.5", detail: "", source: "catalog", downloaded: false, notForThisMachine },
    ],
  };
}

/** A promise with its resolve/reject outside, to hold a fake's answer until the test lets it go. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A base64 PNG of the given size, black with a white square (a painted mask). */
async function maskPng(width: number, height: number): Promise<string> {
  const png = await sharp({ create: { width, height, channels: 3, background: "#000" } })
    .composite([{ input: { create: { width: 16, height: 16, channels: 3, background: "#fff" } }, left: 8, top: 8 }])
    .png()
    .toBuffer();
  return png.toString("base64");
}

const tick = () => new Promise((r) => setImmediate(r));

/** Lets queued promise callbacks run until `cond` holds (a bounded number of turns). */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !cond(); i++) await tick();
  assert.ok(cond(), what);
}

interface Fake {
  readonly ports: StudioPorts;
  readonly posted: HostMessage[];
  readonly calls: string[];
  generation: { form: StudioForm; signal: AbortSignal; done: ReturnType<typeof deferred<StudioOutcome>> } | undefined;
  probe: ReturnType<typeof deferred<ProviderName | undefined>>;
  knownRunsOn: ProviderName | undefined;
  images: Map<string, StudioImage>;
  download: { signal: AbortSignal; done: ReturnType<typeof deferred<void>> } | undefined;
  tokenizerDir: string | undefined;
  stored: Map<string, StoredInputs>;
  sizes: Map<string, { width: number; height: number }>;
  /** The hires fix's upscalers as the store has them now (a test may make reading them fail). */
  upscalers: () => UpscalerOption[];
  /** What the LoRA folders hold (read on every listing), the model's base, fast mode's state. */
  loras: LoraListing[];
  modelBase: string | undefined;
  /** The model's family as its folder tells it. */
  family: ModelFamily | undefined;
  /** How many times the folders were read. */
  listings: number;
  /** The fast-mode LoRAs the store holds. */
  fastDownloaded: Set<string>;
  /** easel.fastLora's choice for the family (the host's `chosen`). */
  fastSetting: string | undefined;
  /** The answer the fast-mode download offer gets. */
  acceptFastDownload: boolean;
}

function fake(): Fake {
  const f: Fake = {
    posted: [],
    calls: [],
    generation: undefined,
    probe: deferred<ProviderName | undefined>(),
    knownRunsOn: undefined,
    images: new Map(),
    download: undefined,
    tokenizerDir: "/models/tiny",
    stored: new Map(),
    sizes: new Map(),
    upscalers: () => [{ name: "Lanczos", label: "Lanczos (no model)" }],
    loras: [],
    modelBase: "SD 1.x",
    listings: 0,
    family: undefined,
    fastDownloaded: new Set(),
    fastSetting: undefined,
    acceptFastDownload: true,
    ports: undefined as unknown as StudioPorts,
  };
  (f as { ports: StudioPorts }).ports = {
    post: (m) => f.posted.push(m),
    engine: {
      generate: (genForm, _geometry, signal) => {
        const done = deferred<StudioOutcome>();
        f.generation = { form: genForm, signal, done };
        signal.addEventListener("abort", () => done.reject(new EaselError("cancelled", "cancelled")));
        return done.promise;
      },
      get knownRunsOn() {
        return f.knownRunsOn;
      },
      runsOn: () => f.probe.promise,
      countTokens: async (_dir, text) => {
        if (text === "boom") throw new Error("tokenizer unreadable");
        return { count: text.split(" ").length, max: 75, truncated: false, chunks: 1, chunkCount: text.split(" ").length, syntax: "plain" };
      },
      warn: (line) => f.calls.push(`warn ${line}`),
    },
    settings: {
      init: () => ({ schedulers: [], limits: { maxSteps: 150, maxGuidance: 30, maxBatch: 8, minSide: 64, maxSide: 2048, maxSeed: "18446744073709551615" }, previews: true }),
      models: async (runsOn): Promise<ModelsState> => {
        const message = modelsMessage("tiny", runsOn === "cpu");
        return { message: { ...message, geometry: { ...message.geometry, family: f.family } }, dir: "/models/tiny", tokenizerDir: f.tokenizerDir };
      },
      upscalers: async () => f.upscalers(),
    },
    commands: {
      chooseModel: async () => void f.calls.push("chooseModel"),
      downloadModel: (spec, signal, report) => {
        f.calls.push(`download ${spec}`);
        report({ type: "download", spec, state: "running", line: "starting…" });
        const done = deferred<void>();
        f.download = { signal, done };
        signal.addEventListener("abort", () => done.reject(new EaselError("cancelled", "download cancelled")));
        return done.promise;
      },
      setModel: async (spec) => void f.calls.push(`setModel ${spec}`),
      pickInitImage: async () => ({ id: "file:///ws/a.png", name: "a.png", thumb: "t" }),
      gallery: async () => ({ items: [], folders: ["assets/generated"] }),
      galleryImage: (id) => f.images.get(id),
      storedInputs: async (id) => f.stored.get(id) ?? {},
      imageSize: async (image) => f.sizes.get(image.id) ?? assert.fail(`no size for ${image.id}`),
      galleryCommand: async (action, id) => {
        f.calls.push(`${action} ${id}`);
        return action === "insert" ? "Inserted into a.md" : undefined;
      },
      errorAction: async (action) => void f.calls.push(`errorAction ${action}`),
    },
    loras: {
      list: async () => {
        f.listings += 1;
        return { loras: [...f.loras], folders: ["/loras", "/store/loras"] };
      },
      modelBase: async () => f.modelBase,
      fast: async (family) =>
        family === "sdxl" || family === undefined
          ? {
              available: true,
              choices: [
                { id: "lcm-lora-sdxl", lora: "LCM-LoRA for SDXL", license: "CreativeML Open RAIL++-M", scheduler: "lcm", steps: 4, guidance: 1, downloaded: f.fastDownloaded.has("lcm-lora-sdxl") },
                { id: "sdxl-lightning-4step", lora: "SDXL-Lightning 4-step LoRA", license: "CreativeML Open RAIL++-M", scheduler: "euler", timestepSpacing: "trailing", steps: 4, guidance: 0, downloaded: f.fastDownloaded.has("sdxl-lightning-4step") },
              ],
              chosen: f.fastSetting ?? "lcm-lora-sdxl",
            }
          : { available: false, reason: `this model is ${family}` },
      ensureFastLora: async (family, id) => {
        f.calls.push(`ensureFastLora ${family} ${id}`);
        if (f.acceptFastDownload) f.fastDownloaded.add(id);
        return f.acceptFastDownload;
      },
      promptSyntax: () => "a1111",
      weightLimit: 10,
    },
  };
  return f;
}

// Read through a function: a test sets these back to undefined, which TypeScript would otherwise narrow on.
const running = (f: Fake) => f.generation ?? assert.fail("no generation is running");
const downloading = (f: Fake) => f.download ?? assert.fail("no download is running");
const types = (f: Fake) => f.posted.map((m) => m.type);
const ofType = <T extends HostMessage["type"]>(f: Fake, type: T) => f.posted.filter((m): m is Extract<HostMessage, { type: T }> => m.type === type);

describe("Studio controller", () => {
  it("holds messages until the page is ready, then sends init, models, upscalers, the held ones and the gallery", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.restore("a red kite\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64", "kite.png");
    assert.deepEqual(f.posted, [], "nothing reaches a page that is not ready");
    await c.receive({ type: "ready" });
    assert.deepEqual(types(f), ["init", "models", "upscalers", "loras", "restoreForm", "gallery"]);
    const restored = ofType(f, "restoreForm")[0];
    assert.equal(restored.form.prompt, "a red kite");
    assert.equal(restored.source, "kite.png");
  });

  it("sends the hires fix's upscalers again when the models change; an unreadable store is a log line and the page goes on", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    assert.deepEqual(ofType(f, "upscalers")[0].upscalers.map((u) => u.name), ["Lanczos"]);
    f.upscalers = () => [{ name: "Lanczos", label: "Lanczos (no model)" }, { name: "Real-ESRGAN x4plus", label: "Real-ESRGAN x4plus · 4× super-resolution" }];
    await c.modelsChanged();
    assert.deepEqual(ofType(f, "upscalers")[1].upscalers.map((u) => u.name), ["Lanczos", "Real-ESRGAN x4plus"]);
    f.upscalers = () => {
      throw new Error("EACCES: store unreadable");
    };
    await c.receive({ type: "ready" });
    assert.equal(ofType(f, "upscalers").length, 2, types(f).join(" "));
    assert.ok(f.calls.some((l) => /could not list the upscalers: EACCES/.test(l)));
    assert.equal(types(f).at(-1), "gallery");
  });

  it("restores a hires image's scale, strength, steps and upscaler (A1111's keys)", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    await c.restore("a red kite\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64, Denoising strength: 0.35, Hires upscale: 2.5, Hires steps: 6, Hires upscaler: Real-ESRGAN x4plus", "kite.png");
    const form = ofType(f, "restoreForm")[0].form;
    assert.deepEqual([form.hiresScale, form.hiresStrength, form.hiresSteps, form.hiresUpscaler, form.strength], [2.5, 0.35, 6, "Real-ESRGAN x4plus", undefined]);
    // Without `Hires steps` (A1111 leaves it out for the first pass's): 0, so a step count set before is cleared.
    await c.restore("a kite\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64, Denoising strength: 0.5, Hires upscale: 2, Hires upscaler: Lanczos", "k2.png");
    const second = ofType(f, "restoreForm")[1].form;
    assert.deepEqual([second.hiresSteps, second.hiresUpscaler], [0, "Lanczos"]);
  });

  it("sends the picker at once and again, marked, when the provider probe answers", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    assert.equal(ofType(f, "models").length, 1);
    assert.equal(ofType(f, "models")[0].models[1].notForThisMachine, false, "not marked before the probe");
    f.probe.resolve("cpu");
    await until("the picker is sent again", () => ofType(f, "models").length === 2);
    const models = ofType(f, "models");
    assert.equal(models.length, 2, "re-sent after the probe");
    assert.equal(models[1].models[1].notForThisMachine, true);
  });

  it("runs one generation at a time, cancels it, and Try Again reruns the last form", async () => {
    const f = fake();
    f.knownRunsOn = "cpu";
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    const first = c.receive({ type: "generate", form });
    await until("the engine got the form", () => f.generation !== undefined);
    await c.receive({ type: "generate", form: { ...form, prompt: "another" } });
    assert.match(ofType(f, "notice").at(-1)?.text ?? "", /already running/);
    assert.equal(f.generation?.form.prompt, "a lighthouse", "the second did not start");
    await c.receive({ type: "cancel" });
    await first;
    assert.equal(types(f).at(-1), "cancelled", JSON.stringify(f.posted.slice(-2)));

    // A failure shows in place with its actions; Try Again runs the same form again.
    const again = c.receive({ type: "generate", form: { ...form, prompt: "third" } });
    await until("the third form reached the engine", () => f.generation?.form.prompt === "third");
    f.generation?.done.reject(new EaselError("model-invalid", "unet/model.onnx is missing"));
    await again;
    const failed = ofType(f, "failed").at(-1);
    assert.equal(failed?.error.code, "model-invalid");
    assert.deepEqual(failed?.error.actions.map((a) => a.id), ["chooseModel", "showLog"]);
    f.generation = undefined;
    const retry = c.receive({ type: "errorAction", action: "retry" });
    await until("Try Again ran the last form", () => f.generation?.form.prompt === "third");
    running(f).done.resolve({ images: [], seeds: ["42"], seconds: 1.5 });
    await retry;
    const done = ofType(f, "done").at(-1);
    assert.deepEqual(done?.seeds, ["42"]);
    await until("the gallery is sent again after the images are saved", () => types(f).at(-1) === "gallery");
  });

  it("a malformed generate is answered in place; any other malformed message is only logged", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    await c.receive({ type: "generate", form: { ...form, steps: 9999 } });
    assert.equal(ofType(f, "failed").at(-1)?.error.code, "bad-argument");
    const before = f.posted.length;
    await c.receive({ type: "galleryAction", action: "explode", id: "x" });
    assert.equal(f.posted.length, before, "nothing posted");
    assert.match(f.calls.at(-1) ?? "", /^warn Studio: ignored a malformed message/);
  });

  it("counts tokens with the model's tokenizer, and falls back when it cannot", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    await c.receive({ type: "countTokens", field: "prompt", text: "a red kite", seq: 3 });
    assert.deepEqual(ofType(f, "tokenCount").at(-1), { type: "tokenCount", field: "prompt", seq: 3, count: 3, max: 75, truncated: false, chunks: 1, chunkCount: 3, syntax: "plain" });
    await c.receive({ type: "countTokens", field: "negativePrompt", text: "boom", seq: 4 });
    assert.deepEqual(ofType(f, "tokenCount").at(-1), { type: "tokenCount", field: "negativePrompt", seq: 4, max: 75, truncated: false });
  });

  it("picking a model that is not downloaded downloads it first; Cancel puts the picker back", async () => {
    const f = fake();
    f.knownRunsOn = "cpu";
    f.probe.resolve("cpu");
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    const picking = c.receive({ type: "selectModel", spec: "sd15" });
    await until("the download started", () => f.download !== undefined);
    assert.deepEqual(f.calls, ["download sd15"]);
    assert.equal(ofType(f, "download").at(-1)?.state, "running");
    await c.receive({ type: "cancelDownload" });
    await picking;
    assert.equal(ofType(f, "download").at(-1)?.state, "cancelled");
    assert.equal(types(f).at(-1), "models", "the picker is put back on the model in use");
    assert.ok(!f.calls.includes("setModel sd15"));

    f.download = undefined;
    const again = c.receive({ type: "selectModel", spec: "sd15" });
    await until("the download started again", () => f.download !== undefined);
    downloading(f).done.resolve();
    await again;
    assert.equal(f.calls.at(-1), "setModel sd15");
    // A model that was not offered is refused by putting the picker back.
    await c.receive({ type: "selectModel", spec: "not-offered" });
    assert.equal(types(f).at(-1), "models");
  });

  it("gallery actions: a vanished image, use as init, restore, and the commands", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    await c.receive({ type: "galleryAction", action: "open", id: "gone" });
    assert.match(ofType(f, "notice").at(-1)?.text ?? "", /no longer in the gallery/);
    assert.equal(types(f).at(-1), "gallery", "the gallery is sent again");

    f.images.set("a", { ref: { id: "file:///ws/a.png", name: "a.png", thumb: "t" }, name: "a.png", infotext: "a cat\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64" });
    f.images.set("b", { ref: { id: "file:///ws/b.webp", name: "b.webp", thumb: "t" }, name: "b.webp" });
    await c.receive({ type: "galleryAction", action: "useAsInit", id: "a" });
    assert.equal(ofType(f, "initImage").at(-1)?.image?.name, "a.png");
    await c.receive({ type: "galleryAction", action: "restore", id: "a" });
    assert.equal(ofType(f, "restoreForm").at(-1)?.form.prompt, "a cat");
    await c.receive({ type: "galleryAction", action: "restore", id: "b" });
    assert.match(ofType(f, "notice").at(-1)?.text ?? "", /b\.webp carries no generation settings/);
    await c.receive({ type: "galleryAction", action: "insert", id: "a" });
    assert.equal(f.calls.at(-1), "insert a");
    assert.equal(ofType(f, "notice").at(-1)?.text, "Inserted into a.md");
    await c.receive({ type: "errorAction", action: "chooseModel" });
    assert.equal(f.calls.at(-1), "errorAction chooseModel");
    await c.receive({ type: "moreModels" });
    assert.equal(f.calls.at(-1), "chooseModel");
  });

  it("Inpaint Image… / Extend Image…: the image becomes the starting image with its editor", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    const image = { id: "file:///ws/photo.png", name: "photo.png", thumb: "t" };
    c.editImage(image, "inpaint");
    await c.receive({ type: "ready" });
    assert.deepEqual(ofType(f, "initImage").at(-1), { type: "initImage", image, mode: "inpaint" }, "held until the page is ready");
    c.editImage(image, "outpaint");
    assert.deepEqual(ofType(f, "initImage").at(-1), { type: "initImage", image, mode: "outpaint" });
  });

  it("an inpainting form reaches the engine only with a mask of the starting image's size", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    const initImage = { id: "file:///ws/photo.png", name: "photo.png", thumb: "t" };
    f.sizes.set(initImage.id, { width: 96, height: 64 });
    const inpaint = { ...form, initImage, initMode: "inpaint" as const, mask: await maskPng(64, 64) };
    await c.receive({ type: "generate", form: inpaint });
    assert.equal(f.generation, undefined, "a mask of another size never reaches the engine");
    const failed = ofType(f, "failed").at(-1);
    assert.match(failed?.error.message ?? "", /the mask is 64×64 but the starting image is 96×64: clear the mask and paint it again/);
    const fits = c.receive({ type: "generate", form: { ...inpaint, mask: await maskPng(96, 64) } });
    await until("the engine got the inpainting form", () => f.generation !== undefined);
    assert.equal(running(f).form.initMode, "inpaint");
    running(f).done.resolve({ images: [], seeds: ["1"], seconds: 1 });
    await fits;
    // A mask that is not a PNG is refused by the protocol, before anything is read.
    await c.receive({ type: "generate", form: { ...inpaint, mask: Buffer.from("GIF89a not a png at all").toString("base64") } });
    assert.match(ofType(f, "failed").at(-1)?.error.message ?? "", /form\.mask is not a PNG/);
  });

  it("restoring an inpainted or outpainted image brings back its stored starting image, mask and sides", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    const init = Buffer.from(await maskPng(64, 64), "base64");
    const mask = Buffer.from(await maskPng(64, 64), "base64");
    const base = "a red door\nSteps: 2, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, Denoising strength: 1, Prompt syntax: a1111";
    f.images.set("in", { ref: { id: "file:///ws/in.png", name: "in.png", thumb: "t" }, name: "in.png", infotext: `${base}, Mask blur: 0` });
    f.stored.set("in", { initImage: init, mask });
    await c.receive({ type: "galleryAction", action: "restore", id: "in" });
    const inpainted = ofType(f, "restoreForm").at(-1)?.form;
    assert.equal(inpainted?.initMode, "inpaint");
    assert.equal(inpainted?.mask, mask.toString("base64"));
    assert.deepEqual(inpainted?.initImage, { id: "in", name: "in.png: its starting image", thumb: `data:image/png;base64,${init.toString("base64")}`, stored: true });
    assert.deepEqual([inpainted?.seed, inpainted?.strength], ["5", 1]);

    f.images.set("out", { ref: { id: "file:///ws/out.png", name: "out.png", thumb: "t" }, name: "out.png", infotext: `${base}, Mask blur: 0, Outpaint: left 64 right 0 top 0 bottom 32 overlap 8 fill edge` });
    f.stored.set("out", { initImage: init });
    await c.receive({ type: "galleryAction", action: "restore", id: "out" });
    const outpainted = ofType(f, "restoreForm").at(-1)?.form;
    assert.equal(outpainted?.initMode, "outpaint");
    assert.deepEqual(outpainted?.outpaint, { left: 64, right: 0, top: 0, bottom: 32 });
    assert.equal(outpainted?.initImage?.stored, true);

    // Inpainted elsewhere (the CLI), without its inputs: the settings only, and a notice saying so.
    f.images.set("cli", { ref: { id: "file:///ws/cli.png", name: "cli.png", thumb: "t" }, name: "cli.png", infotext: `${base}, Mask blur: 0` });
    await c.receive({ type: "galleryAction", action: "restore", id: "cli" });
    assert.equal(ofType(f, "restoreForm").at(-1)?.form.initMode, undefined);
    assert.match(ofType(f, "notice").at(-1)?.text ?? "", /cli\.png does not carry the image it was inpainted from/);
  });

  describe("LoRAs and fast mode", () => {
    const sd15 = { name: "paper-cut", file: "/loras/paper-cut.safetensors", base: "SD 1.x" };
    const xl = { name: "xl-style", file: "/loras/xl/xl-style.safetensors", base: "SDXL" };
    const pickle = { name: "old", file: "/loras/old.ckpt", base: undefined, problem: "LoRA /loras/old.ckpt is a PyTorch pickle (.ckpt): convert it to .safetensors" };
    const unknownBase = { name: "mystery", file: "/store/loras/mystery.safetensors", base: undefined };

    it("lists the LoRAs with their base, marks those for another base and those with a problem", async () => {
      const f = fake();
      f.loras = [sd15, xl, pickle, unknownBase];
      const c = new StudioController(f.ports);
      await c.receive({ type: "ready" });
      const message = ofType(f, "loras").at(-1);
      assert.deepEqual(message?.folders, ["/loras", "/store/loras"]);
      assert.equal(message?.modelBase, "SD 1.x");
      assert.equal(message?.weightLimit, 10);
      assert.equal(message?.promptSyntax, "a1111");
      assert.deepEqual(message?.loras, [
        { name: "paper-cut", base: "SD 1.x" },
        { name: "xl-style", base: "SDXL", unfit: "made for SDXL, and the model is SD 1.x: pick an SDXL model to use it" },
        { name: "old", problem: pickle.problem },
        { name: "mystery" },
      ]);
      // A model whose folder does not tell its base marks nothing (the engine decides then).
      f.modelBase = undefined;
      await c.receive({ type: "refreshLoras" });
      assert.equal(ofType(f, "loras").at(-1)?.loras.some((o) => o.unfit !== undefined), false);
      assert.equal(ofType(f, "loras").at(-1)?.modelBase, undefined);
    });

    it("Refresh, a model change and a folder change read the folders again", async () => {
      const f = fake();
      const c = new StudioController(f.ports);
      await c.receive({ type: "ready" });
      assert.deepEqual(ofType(f, "loras").at(-1)?.loras, []);
      f.loras = [sd15];
      await c.receive({ type: "refreshLoras" });
      assert.deepEqual(ofType(f, "loras").at(-1)?.loras.map((o) => o.name), ["paper-cut"]);
      f.loras = [sd15, xl];
      await c.lorasChanged();
      assert.deepEqual(ofType(f, "loras").at(-1)?.loras.map((o) => o.name), ["paper-cut", "xl-style"]);
      const before = f.listings;
      await c.modelsChanged();
      assert.equal(f.listings, before + 1, "a model change reads the picker again (its base may differ)");
    });

    it("the chosen LoRAs reach the engine only when listed and fit for the model", async () => {
      const f = fake();
      f.loras = [sd15, xl, pickle];
      const c = new StudioController(f.ports);
      await c.receive({ type: "ready" });
      await c.receive({ type: "generate", form: { ...form, loras: [{ name: "xl-style", weight: 0.8 }] } });
      assert.equal(f.generation, undefined, "an SDXL LoRA never reaches an SD 1.x model");
      assert.equal(ofType(f, "failed").at(-1)?.error.message, "LoRA xl-style is made for SDXL, and the model is SD 1.x: pick an SDXL model to use it, or remove it");
      await c.receive({ type: "generate", form: { ...form, loras: [{ name: "old", weight: 1 }] } });
      assert.match(ofType(f, "failed").at(-1)?.error.message ?? "", /^LoRA old cannot be used: .*pickle/);

      // One that left the folder: the folders are read again once, the picker sent, then one line.
      const listings = f.listings;
      await c.receive({ type: "generate", form: { ...form, loras: [{ name: "gone", weight: 1 }] } });
      assert.equal(f.listings, listings + 1);
      assert.equal(types(f).at(-2), "loras");
      assert.match(ofType(f, "failed").at(-1)?.error.message ?? "", /^no LoRA named gone in the LoRA folders any more: press Refresh/);
      // One added since the last reading is found by that second reading.
      f.loras = [sd15, { ...sd15, name: "new-one" }];
      const ok = c.receive({ type: "generate", form: { ...form, loras: [{ name: "new-one", weight: -1.5 }, { name: "paper-cut", weight: 0.35 }] } });
      await until("the engine got the form", () => f.generation !== undefined);
      assert.deepEqual(running(f).form.loras, [{ name: "new-one", weight: -1.5 }, { name: "paper-cut", weight: 0.35 }]);
      running(f).done.resolve({ images: [], seeds: ["1"], seconds: 1 });
      await ok;
    });

    it("Restore brings back an image's LoRAs and weights, and says which the folders do not hold", async () => {
      const f = fake();
      f.loras = [sd15];
      const c = new StudioController(f.ports);
      await c.receive({ type: "ready" });
      const infotext = 'a paper boat <lora:tagged:0.5>\nSteps: 4, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, Prompt syntax: a1111, LoRAs: "paper-cut: 0.35, elsewhere: -1", Lora hashes: "paper-cut: 0123456789ab, elsewhere: ba9876543210, tagged: 00aa00aa00aa", Version: easel-0.1.0';
      f.images.set("boat", { ref: { id: "file:///ws/boat.png", name: "boat.png", thumb: "t" }, name: "boat.png", infotext });
      await c.receive({ type: "galleryAction", action: "restore", id: "boat" });
      const restored = ofType(f, "restoreForm").at(-1)?.form;
      assert.equal(restored?.prompt, "a paper boat <lora:tagged:0.5>", "prompt tags come back in the prompt");
      assert.deepEqual(restored?.loras, [{ name: "paper-cut", weight: 0.35 }, { name: "elsewhere", weight: -1 }]);
      assert.equal(restored?.quality, "normal");
      assert.equal(ofType(f, "notice").at(-1)?.text, "boat.png used a LoRA not in the LoRA folders: elsewhere. Put it in a folder of easel.loraFolders and press Refresh, or remove it.");
    });

    it("the protocol refuses paths, duplicates and weights out of range", async () => {
      const f = fake();
      const c = new StudioController(f.ports);
      await c.receive({ type: "ready" });
      for (const [loras, pattern] of [
        [[{ name: "../../secret.safetensors", weight: 1 }], /form\.loras\[0\]\.name must be a LoRA's name from the picker, not a path/],
        [[{ name: "a", weight: 1 }, { name: "a", weight: 2 }], /form\.loras\[1\]\.name: a is in the list twice/],
        [[{ name: "a", weight: 10.5 }], /form\.loras\[0\]\.weight must be from -10 to 10/],
        [[{ name: "a", weight: "1" }], /form\.loras\[0\]\.weight/],
      ] as const) {
        await c.receive({ type: "generate", form: { ...form, loras } });
        assert.match(ofType(f, "failed").at(-1)?.error.message ?? "", pattern);
      }
      assert.equal(f.generation, undefined);
    });

    it("Fast: says what it uses, offers the LoRA's download through the palette's path, and is refused where it does not apply", async () => {
      const f = fake();
      f.family = "sdxl";
      const c = new StudioController(f.ports);
      await c.receive({ type: "ready" });
      const shown = ofType(f, "loras").at(-1)?.fast;
      assert.ok(shown?.available);
      assert.deepEqual([shown.chosen, shown.choices.map((x) => [x.id, x.downloaded])], ["lcm-lora-sdxl", [["lcm-lora-sdxl", false], ["sdxl-lightning-4step", false]]]);

      // Declined: nothing runs, the page is told, the offer comes again next time.
      f.acceptFastDownload = false;
      await c.receive({ type: "generate", form: { ...form, quality: "fast" } });
      assert.equal(f.generation, undefined);
      assert.deepEqual(f.calls, ["ensureFastLora sdxl lcm-lora-sdxl"]);
      assert.deepEqual(types(f).slice(-2), ["cancelled", "notice"]);
      assert.match(ofType(f, "notice").at(-1)?.text ?? "", /Fast quality needs LCM-LoRA for SDXL: generate again to download it, or choose Normal/);

      // Accepted: downloaded, then the form goes to the engine with its quality; the picker's line is sent again.
      f.acceptFastDownload = true;
      const fast = c.receive({ type: "generate", form: { ...form, quality: "fast" } });
      await until("the engine got the fast form", () => f.generation !== undefined);
      assert.equal(running(f).form.quality, "fast");
      // The engine is told which LoRA (the family's default here), so a setting changed mid-way cannot change the picture.
      assert.equal(running(f).form.fastLora, "lcm-lora-sdxl");
      running(f).done.resolve({ images: [], seeds: ["1"], seconds: 1 });
      await fast;
      await until("fast mode shows as downloaded", () => {
        const m = ofType(f, "loras").at(-1)?.fast;
        return m?.available === true && m.choices[0].downloaded;
      });
      // Downloaded: no offer again.
      f.generation = undefined;
      const again = c.receive({ type: "generate", form: { ...form, quality: "fast" } });
      await until("the engine got it", () => f.generation !== undefined);
      running(f).done.resolve({ images: [], seeds: ["2"], seconds: 1 });
      await again;
      assert.deepEqual(f.calls, ["ensureFastLora sdxl lcm-lora-sdxl", "ensureFastLora sdxl lcm-lora-sdxl"]);

      // Another LoRA of the family, named by the form (a pick, a restored SDXL-Lightning image): that one is offered and used.
      f.generation = undefined;
      const lightning = c.receive({ type: "generate", form: { ...form, quality: "fast", fastLora: "sdxl-lightning-4step" } });
      await until("the engine got the Lightning form", () => f.generation !== undefined);
      assert.equal(running(f).form.fastLora, "sdxl-lightning-4step");
      running(f).done.resolve({ images: [], seeds: ["3"], seconds: 1 });
      await lightning;
      assert.equal(f.calls.at(-1), "ensureFastLora sdxl sdxl-lightning-4step");
      // easel.fastLora's choice is what a form naming none gets.
      f.fastSetting = "sdxl-lightning-4step";
      await c.modelsChanged();
      f.generation = undefined;
      const bySetting = c.receive({ type: "generate", form: { ...form, quality: "fast" } });
      await until("the engine got the setting's LoRA", () => f.generation !== undefined);
      assert.equal(running(f).form.fastLora, "sdxl-lightning-4step");
      running(f).done.resolve({ images: [], seeds: ["4"], seconds: 1 });
      await bySetting;
      // One made for another family: one line naming the ones that fit, nothing runs.
      f.generation = undefined;
      await c.receive({ type: "generate", form: { ...form, quality: "fast", fastLora: "lcm-lora-sdv1-5" } });
      assert.equal(f.generation, undefined);
      assert.equal(ofType(f, "failed").at(-1)?.error.message, "Fast quality: lcm-lora-sdv1-5 is not made for this model: choose one of lcm-lora-sdxl, sdxl-lightning-4step");

      // A family without a fast LoRA: one line, no offer.
      f.family = "sd2";
      await c.modelsChanged();
      assert.deepEqual(ofType(f, "loras").at(-1)?.fast, { available: false, reason: "this model is sd2" });
      f.generation = undefined;
      await c.receive({ type: "generate", form: { ...form, quality: "fast" } });
      assert.equal(f.generation, undefined);
      assert.equal(ofType(f, "failed").at(-1)?.error.message, "Fast quality: this model is sd2; choose Normal");
    });
  });

  it("after the panel closes nothing more is posted", async () => {
    const f = fake();
    const c = new StudioController(f.ports);
    await c.receive({ type: "ready" });
    const n = f.posted.length;
    c.dispose();
    await c.galleryChanged();
    await c.modelsChanged();
    assert.equal(f.posted.length, n);
  });
});
