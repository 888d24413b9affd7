// The engine process for real: dist/engineHost.js forked by EngineClient, on the tiny models.
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { EaselError } from "../../extension/engine/errors";
import { EngineClient } from "../../extension/engineClient";
import type { EngineEvent } from "../../extension/engine/host/engineEvents";
import type { EngineSettings } from "../../extension/engine/host/engineRequests";
import { findCatalogDecoder } from "../../extension/engine/hub/catalog";
import { ModelStore } from "../../extension/engine/hub/store";
import { copyFixtureModel, multiplyOutput, rewriteComponent } from "../helpers/onnxVariants";
import { MODELS, ROOT } from "../helpers/paths";
import { placeStoreDecoder } from "../helpers/tinyTaesd";
import { runCli } from "../helpers/runCli";
import { writeSafetensors } from "../helpers/safetensorsFile";

const ENGINE = path.join(ROOT, "dist", "engineHost.js");
const SD15 = path.join(MODELS, "tiny-sd15");
const TURBO = path.join(MODELS, "tiny-turbo");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-engine-"));
const clients: EngineClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const BASE_SETTINGS: EngineSettings = { provider: "cpu", previews: true, fastDecode: false, lowMemory: false, idleUnloadMs: 0 };

function client(settings: Partial<EngineSettings> = {}, cancelGraceMs?: number): EngineClient {
  const c = new EngineClient({ enginePath: ENGINE, settings: () => ({ ...BASE_SETTINGS, ...settings }), cancelGraceMs });
  clients.push(c);
  return c;
}

const request = { prompt: "a lighthouse at dusk", negativePrompt: "blurry", scheduler: "euler-a" as const, steps: 6, guidance: 7.5, seed: 77n, width: 64, height: 64 };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("engine process", () => {
  it("streams progress and previews in step order, then the same bytes the CLI writes", async () => {
    const c = client();
    const events: string[] = [];
    const result = await c.generate(SD15, request, {
      onProgress: (e) => events.push(`progress ${e.step}/${e.steps}`),
      onPreview: (e) => {
        events.push(`preview ${e.step}`);
        assert.equal(e.width, 8);
        assert.deepEqual([...e.png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
      },
    });
    // Previews are encoded while the next step runs, so preview k may follow progress k + 1.
    assert.deepEqual(events.filter((e) => e.startsWith("progress")), [1, 2, 3, 4, 5, 6].map((s) => `progress ${s}/6`));
    assert.deepEqual(events.filter((e) => e.startsWith("preview")), [1, 2, 3, 4, 5, 6].map((s) => `preview ${s}`));
    for (let s = 1; s <= 6; s++) assert.ok(events.indexOf(`preview ${s}`) > events.indexOf(`progress ${s}/6`));
    assert.equal(result.images.length, 1);
    assert.equal(result.images[0].seed, 77n);
    assert.ok(result.peakRssBytes > 0);

    const out = path.join(tmp, "cli.png");
    const cli = await runCli(["generate", "--model", SD15, "--prompt", request.prompt, "--negative-prompt", "blurry", "--scheduler", "euler-a", "--steps", "6", "--guidance", "7.5", "--seed", "77", "--width", "64", "--height", "64", "--provider", "cpu", "--out", out]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(Buffer.from(result.images[0].png).equals(fs.readFileSync(out)), "byte-identical to the CLI's file");
  });

  it("passes a generation's warnings (a LoRA that matches the model in part) to the client with the images", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-warn-lora-"));
    try {
      const down = { shape: [4, 16], data: new Float32Array(64).fill(0.01) };
      const up = { shape: [16, 4], data: new Float32Array(64).fill(0.01) };
      writeSafetensors(path.join(dir, "half.safetensors"), {
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight": down,
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight": up,
        "lora_unet_down_blocks_7_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight": down,
        "lora_unet_down_blocks_7_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight": up,
      });
      const c = client({ previews: false, loraFolders: [dir] });
      const result = await c.generate(SD15, { ...request, steps: 1, loras: [{ name: "half", weight: 0.5 }] });
      assert.equal(result.images.length, 1);
      assert.equal(result.warnings.length, 1, JSON.stringify(result.warnings));
      assert.match(result.warnings[0], /1 of 2 modules matched this model/);
      const plain = await c.generate(SD15, { ...request, steps: 1 });
      assert.deepEqual(plain.warnings, []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("creates each ONNX session once over 20 generations", async () => {
    const c = client({ previews: false });
    let first = 0;
    for (let i = 0; i < 20; i++) {
      const r = await c.generate(TURBO, { prompt: `image ${i}`, seed: BigInt(i), width: 64, height: 64 });
      if (i === 0) first = r.sessionsCreated;
      assert.equal(r.sessionsCreated, first, `generation ${i} created no new session`);
    }
    assert.equal(first, 4, "text encoder, UNet, VAE decoder, VAE encoder");
  });

  it("cancels a 150-step generation at its first progress event, promptly and with no image", async () => {
    const c = client({ previews: false });
    const controller = new AbortController();
    // Timed from the cancel, not from the start: loading the model is not what is measured.
    let abortedAt = 0;
    let steps = 0;
    await assert.rejects(
      c.generate(SD15, { ...request, steps: 150, width: 256, height: 256 }, {
        signal: controller.signal,
        onProgress: () => {
          steps++;
          abortedAt ||= Date.now();
          controller.abort();
        },
      }),
      (e: unknown) => e instanceof EaselError && e.code === "cancelled",
    );
    assert.ok(steps <= 2, `stopped after ${steps} steps`);
    const took = Date.now() - abortedAt;
    assert.ok(abortedAt > 0 && took < 5000, `the cancel took ${took} ms`);
    const next = await c.generate(SD15, request);
    assert.equal(next.images.length, 1, "the engine serves the next request");
  });

  it("kills and restarts the engine when a cancel is not honoured within the grace period", async () => {
    // Loading a model cannot be interrupted, so a cancel sent while the engine starts and loads
    // is not answered within a 1 ms grace period: the client must kill the process instead.
    const c = client({ previews: false }, 1);
    const controller = new AbortController();
    const pending = c.generate(SD15, request, { signal: controller.signal });
    const pid = c.pid!;
    controller.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof EaselError && e.code === "cancelled");
    const r = await c.generate(SD15, request);
    assert.equal(r.images.length, 1);
    assert.notEqual(c.pid, pid, "a fresh engine process");
    assert.ok(!alive(pid), "the old one is gone");
  });

  it("rejects what was in flight when the engine dies, and the next request succeeds", async () => {
    const c = client({ previews: false });
    await c.load(SD15);
    const pid = c.pid!;
    const pending = c.generate(SD15, { ...request, steps: 150, width: 256, height: 256 }, { onProgress: (e) => e.step === 1 && process.kill(pid, "SIGKILL") });
    await assert.rejects(pending, (e: unknown) => e instanceof EaselError && e.retryable && /engine process stopped unexpectedly \(killed by SIGKILL/.test(e.message));
    const r = await c.generate(SD15, request);
    assert.equal(r.images.length, 1);
    assert.ok(!alive(pid));
  });

  it("restarts an idle engine for the next request (a new ONNX Runtime to load), and leaves a busy one alone", async () => {
    const c = client({ previews: false });
    await c.load(SD15);
    const first = c.pid!;
    assert.equal(await c.restartWhenIdle(), true);
    assert.ok(!alive(first), "the old process is gone");
    assert.equal(c.pid, undefined);
    const r = await c.generate(SD15, request);
    assert.equal(r.images.length, 1);
    const second = c.pid!;
    assert.notEqual(second, first);
    const busy = c.generate(SD15, { ...request, steps: 20 });
    assert.equal(await c.restartWhenIdle(), false, "a generation is running");
    assert.equal((await busy).images.length, 1);
    assert.equal(c.pid, second);
  });

  it("runs queued generations in order and cancels a queued one without running it", async () => {
    const c = client({ previews: false });
    const order: number[] = [];
    const controller = new AbortController();
    const a = c.generate(SD15, { ...request, seed: 1n }).then((r) => order.push(Number(r.images[0].seed)));
    const b = c.generate(SD15, { ...request, seed: 2n }, { signal: controller.signal });
    const d = c.generate(SD15, { ...request, seed: 3n }).then((r) => order.push(Number(r.images[0].seed)));
    controller.abort();
    await assert.rejects(b, (e: unknown) => e instanceof EaselError && e.code === "cancelled");
    await Promise.all([a, d]);
    assert.deepEqual(order, [1, 3]);
  });

  it("reloads after the idle timeout and after a model switch; low-memory mode gives the same image", async () => {
    const idle = client({ previews: false, idleUnloadMs: 100 });
    const first = await idle.generate(SD15, request);
    await new Promise((r) => setTimeout(r, 400));
    const second = await idle.generate(SD15, request);
    assert.equal(second.sessionsCreated, first.sessionsCreated * 2, "unloaded when idle, loaded again");
    const switched = await idle.generate(TURBO, { prompt: "x", seed: 1n, width: 64, height: 64 });
    assert.equal(switched.sessionsCreated, first.sessionsCreated * 3);

    const low = client({ previews: false, lowMemory: true });
    const lowResult = await low.generate(SD15, request);
    assert.ok(Buffer.from(lowResult.images[0].png).equals(Buffer.from(first.images[0].png)));
    const again = await low.generate(SD15, request);
    assert.ok(again.sessionsCreated > lowResult.sessionsCreated, "low-memory mode loads each component per use");
  });

  it("keeps the model loaded with an idle time past setTimeout's limit (35,792 minutes > 2^31-1 ms)", async () => {
    const c = client({ previews: false, idleUnloadMs: 35_792 * 60_000 });
    const first = await c.generate(SD15, { ...request, steps: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await c.generate(SD15, { ...request, steps: 1 });
    assert.equal(second.sessionsCreated, first.sessionsCreated, "no unload after the first image");
  });

  it("says which provider runs here while a generation is running, without waiting for it", async () => {
    const c = client({ previews: false });
    // The first answer probes GPU providers in child processes (seconds on a loaded machine); the
    // one asked mid-generation must then come at once, not after the queued generation.
    const first = await c.providers("auto");
    assert.equal(first.provider, "cpu", "no GPU provider works on this machine");
    let stepsAtAnswer = -1;
    let steps = 0;
    let answered: Promise<void> | undefined;
    const generation = c.generate(SD15, { ...request, steps: 40, width: 128, height: 128 }, {
      onProgress: () => {
        steps++;
        // Asked at the first step; answered long before the 40th.
        answered ??= c.providers("auto").then((e) => {
          stepsAtAnswer = steps;
          assert.equal(e.provider, "cpu", "no GPU provider works on this machine");
          assert.ok(e.skipped.every((s) => s.reason.length > 0), "each skipped provider says why");
        });
      },
    });
    const result = await generation;
    await answered;
    assert.ok(stepsAtAnswer > 0 && stepsAtAnswer < 40, `answered at step ${stepsAtAnswer} of 40`);
    assert.equal(result.images.length, 1);
    assert.equal((await c.providers("cpu")).provider, "cpu");
    await assert.rejects(c.providers("cuda"), (e: unknown) => e instanceof EaselError && e.code === "provider-unavailable");
  });

  it("finds the store's TAESD decoder for the model's family: full-size previews, and a draft when the request asks", async () => {
    const store = ModelStore.open(path.join(tmp, "store"));
    const shipped = findCatalogDecoder("taesd");
    assert.ok(shipped?.revision);
    await placeStoreDecoder(store, shipped, shipped.revision, { diffusers: true });
    const c = client({ modelStore: store.root });
    const sizes: number[] = [];
    const draft = await c.generate(SD15, { ...request, steps: 2, decoder: "taesd" }, { onPreview: (e) => sizes.push(e.width) });
    assert.equal(sizes[0], 64, "the first preview is TAESD's, full size");
    assert.match(draft.images[0].infotext, /VAE Decoder: TAESD/);
    const full = await c.generate(SD15, { ...request, steps: 2, decoder: "vae" });
    assert.doesNotMatch(full.images[0].infotext, /VAE Decoder/);
    // Without the store (no decoder): a draft is refused with what to do.
    await assert.rejects(client().generate(SD15, { ...request, steps: 2, decoder: "taesd" }), /needs a TAESD decoder/);
  });

  it("reports a broken model folder as an error and stays up", async () => {
    const c = client();
    await assert.rejects(c.generate(path.join(tmp, "missing-model"), request), (e: unknown) => e instanceof EaselError && e.code === "model-missing");
    const r = await c.generate(SD15, request);
    assert.equal(r.images.length, 1);
  });

  it("reports a model that produces NaN/Inf as a failed generation with no image, and stays up", async () => {
    const dir = await copyFixtureModel("tiny-sd15", tmp);
    await rewriteComponent(dir, "unet", (model) => multiplyOutput(model, "out_sample", Infinity));
    const c = client();
    const steps: number[] = [];
    await assert.rejects(
      c.generate(dir, request, { onProgress: (e) => steps.push(e.step) }),
      (e: unknown) => e instanceof EaselError && e.code === "model-invalid" && /^the model produced NaN\/Inf at step 1 of 6: /.test(e.message),
    );
    assert.deepEqual(steps, [], "no step reported as done");
    const r = await c.generate(SD15, request);
    assert.equal(r.images.length, 1);
  });

  it("refuses a prompt holding a lone surrogate before loading any model", async () => {
    const c = client();
    const loads: string[] = [];
    // The model folder does not exist: the prompt's error, not the folder's, proves nothing was loaded first.
    await assert.rejects(
      c.generate(path.join(tmp, "no-model-here"), { ...request, prompt: "a \udfff lighthouse" }, { onLoadProgress: (e) => loads.push(e.component) }),
      (e: unknown) => e instanceof EaselError && e.code === "bad-argument" && /lone UTF-16 surrogate \(\\uDFFF\)/.test(e.message),
    );
    assert.deepEqual(loads, []);
  });

  it("stops the process on dispose, leaving no orphan", async () => {
    const c = client();
    await c.load(SD15);
    const pid = c.pid!;
    await c.dispose();
    assert.ok(!alive(pid));
    await assert.rejects(c.generate(SD15, request), /disposed/);
  });
});

describe("engine process protocol", () => {
  it("refuses a malformed message without dying, then serves a valid one", async () => {
    const child = fork(ENGINE, [], { serialization: "advanced", stdio: ["ignore", "ignore", "pipe", "ipc"] });
    const events: EngineEvent[] = [];
    const waitFor = (pred: (e: EngineEvent) => boolean) =>
      new Promise<EngineEvent>((resolve) => {
        const check = () => {
          const hit = events.find(pred);
          if (hit) resolve(hit);
          else setTimeout(check, 10);
        };
        check();
      });
    child.on("message", (m) => events.push(m as EngineEvent));
    try {
      await waitFor((e) => e.type === "ready");
      child.send({ type: "generate", id: 5, modelDir: SD15, settings: BASE_SETTINGS, request: { prompt: 42 } });
      child.send("not even an object");
      child.send({ type: "generate", id: 7, modelDir: SD15, settings: BASE_SETTINGS, request: { prompt: "ok", decoder: "fast" } });
      child.send({ type: "explode" });
      const error = await waitFor((e) => e.type === "error" && e.id === 5);
      assert.match(error.type === "error" ? error.message : "", /malformed request refused: request\.prompt must be a string/);
      const badDecoder = await waitFor((e) => e.type === "error" && e.id === 7);
      assert.match(badDecoder.type === "error" ? badDecoder.message : "", /malformed request refused: request\.decoder/);
      child.send({ type: "generate", id: 6, modelDir: SD15, settings: BASE_SETTINGS, request: { prompt: "ok", seed: 1n, steps: 2, width: 64, height: 64 } });
      const result = await waitFor((e) => e.type === "result" || (e.type === "error" && e.id === 6));
      assert.equal(result.type, "result");
      assert.equal(events.filter((e) => e.type === "error").length, 4);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("engine events the extension cannot read", () => {
  // A stand-in engine (a real one never sends these): for each job it answers `reply(job)`. This
  // is the case of an extension and an engine process from different builds.
  function standIn(reply: string): EngineClient {
    const script = path.join(tmp, `stand-in-${clients.length}.js`);
    fs.writeFileSync(
      script,
      `process.send({ type: "ready", pid: process.pid });
       process.on("message", (job) => { for (const e of (${reply})(job)) process.send(e); });`,
    );
    const c = new EngineClient({ enginePath: script, settings: () => BASE_SETTINGS });
    clients.push(c);
    return c;
  }

  it("a malformed event with a running job's id fails that job with a clear error, at once", { timeout: 20_000 }, async () => {
    const c = standIn(`(job) => [{ type: "progress", id: job.id, image: 0, images: 1, step: "one", steps: 2, itPerSec: 1 }]`);
    const started = Date.now();
    await assert.rejects(c.generate(SD15, request), (e: unknown) => e instanceof EaselError && /malformed "progress" event .*step/.test(e.message));
    assert.ok(Date.now() - started < 10_000);
  });

  it("an event of an unknown type with the job's id fails the job too; the next job still runs", { timeout: 20_000 }, async () => {
    const c = standIn(`(job) => job.request && job.request.prompt === "second"
      ? [{ type: "explode", id: job.id + 1000 }, { type: "error", id: job.id, code: "bad-argument", message: "stand-in says no", retryable: false }]
      : [{ type: "explode", id: job.id }]`);
    await assert.rejects(c.generate(SD15, request), /malformed "explode" event/);
    // An unreadable event for no job here is only logged; the job gets its own answer.
    await assert.rejects(c.generate(SD15, { ...request, prompt: "second" }), /stand-in says no/);
  });
});
