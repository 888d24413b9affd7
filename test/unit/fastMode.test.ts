// Fast mode: the catalog's LCM-LoRA for the model's family, found in the store where a pull puts it
// (here the public conformance LoRA stands in for it, at the catalog's pinned commit), merged with the
// LCM sampler, 4 steps and guidance 1; recorded so a recall makes the same image without fast mode.
// `easel models list` shows the store's LoRAs with the base model their keys suggest.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine } from "../../extension/engine/engine";
import { findCatalogLora } from "../../extension/engine/hub/catalog";
import { MANIFEST_NAME } from "../../extension/engine/hub/manifest";
import { ModelStore } from "../../extension/engine/hub/store";
import { infotextFields, parseInfotext } from "../../extension/engine/image/infotext";
import { readAssets } from "../../extension/engine/assets/lockfile";
import { a1111LoraHash } from "../../extension/engine/lora/hash";
import { storeLoraFolder } from "../../extension/engine/lora/library";
import { requestFromInfotext } from "../../extension/generation/requestFromInfotext";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { runCli } from "../helpers/runCli";
import { type TestTensor, writeSafetensors } from "../helpers/safetensorsFile";
import { createScheduler } from "../../extension/engine/schedulers";
import { parseEngineRequest } from "../../extension/engine/host/engineMessageValidation";

const home = fs.mkdtempSync(path.join(os.tmpdir(), "easel-fast-"));
const root = path.join(home, "models");
const LORA = path.join(CONFORMANCE, "cases", "lora-public.safetensors");

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * A tiny kohya-format LoRA for tiny-sdxl's cross-attention block (SDXL-Lightning's files are kohya
 * lora_unet_… pairs): [rank, in] down, [out, rank] up, on modules of down_blocks.1 and the mid block.
 */
function writeTinySdxlLora(file: string): void {
  const modules: Array<[string, number, number]> = [
    ["down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q", 32, 32],
    ["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k", 64, 32],
    ["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v", 64, 32],
    ["down_blocks.1.attentions.0.proj_in", 32, 32],
    ["mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0", 32, 32],
  ];
  const tensors: Record<string, TestTensor> = {};
  modules.forEach(([module, inDim, outDim], i) => {
    const stem = `lora_unet_${module.replace(/\./g, "_")}`;
    tensors[`${stem}.lora_down.weight`] = { shape: [4, inDim], data: values(4 * inDim, 7 + i) };
    tensors[`${stem}.lora_up.weight`] = { shape: [outDim, 4], data: values(outDim * 4, 70 + i) };
    tensors[`${stem}.alpha`] = { shape: [], data: Float32Array.of(4) };
  });
  writeSafetensors(file, tensors);
}

/** Puts `source` where pulling the catalog LoRA `id` would (its repo at its pinned commit in the store), with the manifest a pull writes. */
function placeInStore(id: string, source: string): void {
  const entry = findCatalogLora(id);
  assert.ok(entry?.revision, `${id} is pinned in the catalog`);
  const dir = ModelStore.open(root).folderFor(entry.repo, entry.revision);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(source, path.join(dir, entry.file));
  const manifest = { format: 1, repo: entry.repo, commit: entry.revision, revision: entry.revision, pulledAt: new Date().toISOString(), files: [{ path: entry.file, size: fs.statSync(source).size }] };
  fs.writeFileSync(path.join(dir, MANIFEST_NAME), JSON.stringify(manifest));
}

const XL_LORA = path.join(home, "tiny-sdxl-lora.safetensors");

before(() => {
  placeInStore("lcm-lora-sdv1-5", LORA);
  writeTinySdxlLora(XL_LORA);
  placeInStore("sdxl-lightning-4step", XL_LORA);
});
after(() => fs.rmSync(home, { recursive: true, force: true }));

describe("fast mode", () => {
  it("merges the family's LCM-LoRA with its sampler, steps and guidance, and a recall regenerates it", async () => {
    const engine = await Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu", modelStore: root });
    try {
      const fast = await engine.generate({ prompt: "a lighthouse", seed: 5n, width: 64, height: 64, fast: true });
      assert.equal(fast.sampler, "lcm");
      assert.equal(fast.request.steps, 4);
      assert.equal(fast.request.guidance, 1);
      const infotext = fast.images[0].infotext;
      const fields = infotextFields(parseInfotext(infotext));
      assert.deepEqual(fields.loras, [{ name: "lcm-lora-sdv1-5", weight: 1 }]);
      assert.match(parseInfotext(infotext).params["Lora hashes"] ?? "", /^lcm-lora-sdv1-5: [0-9a-f]{12}$/);
      assert.equal(fields.sampler, "LCM");

      const recalled = requestFromInfotext(infotext).request;
      const again = await engine.generate({ ...recalled, fast: undefined });
      assert.deepEqual(pixelDiff(await readRgb(again.images[0].png), await readRgb(fast.images[0].png)), { mean: 0, max: 0 });
      const plain = await engine.generate({ ...recalled, loras: [] });
      assert.ok(pixelDiff(await readRgb(plain.images[0].png), await readRgb(fast.images[0].png)).mean > 0, "the LoRA changes the image");
    } finally {
      await engine.dispose();
    }
  });

  it("generate --fast --record records fast mode and its LoRA; assets check finds it in the store and makes the same image", async () => {
    const ws = fs.mkdtempSync(path.join(home, "ws-"));
    const env = { EASEL_HOME: home };
    const made = await runCli(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "a lighthouse", "--seed", "5", "--width", "64", "--height", "64", "--fast", "--provider", "cpu", "--out", "fast.png", "--record"], { cwd: ws, env });
    assert.equal(made.code, 0, made.stderr);
    const g = (await readAssets(ws)).get("fast.png")?.generation;
    assert.equal(g?.fast, true);
    assert.deepEqual([g?.sampler, g?.steps, g?.guidance], ["lcm", 4, 1]);
    assert.deepEqual(g?.loras, [{ name: "lcm-lora-sdv1-5", hash: await a1111LoraHash(LORA), unetWeight: 1, textWeight: 1 }]);
    const ok = await runCli(["assets", "check", "--provider", "cpu"], { cwd: ws, env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, "ok fast.png\n");
  });

  it("says why a few-step model or an SD 2.x model has no fast mode", async () => {
    const turbo = await Engine.load(path.join(MODELS, "tiny-turbo"), { provider: "cpu", modelStore: root });
    try {
      await assert.rejects(turbo.generate({ prompt: "x", width: 64, height: 64, fast: true }), /already draws in a few steps \(turbo\): leave out fast mode/);
    } finally {
      await turbo.dispose();
    }
    const sd2 = await Engine.load(path.join(MODELS, "tiny-sd21v"), { provider: "cpu", modelStore: root });
    try {
      await assert.rejects(sd2.generate({ prompt: "x", width: 64, height: 64, fast: true }), /step-distillation LoRA \(LCM-LoRA, SDXL-Lightning, Hyper-SD\), which exist for SD 1\.x and SDXL models, and tiny-sd21v is sd2/);
    } finally {
      await sd2.dispose();
    }
  });
});

describe("fast mode with another LoRA of the family (SDXL-Lightning, Hyper-SD)", () => {
  const XL = path.join(MODELS, "tiny-sdxl");

  it("runs SDXL-Lightning's recipe: euler, trailing timesteps, 4 steps, guidance 0, its LoRA; recorded, and a recall makes the same image", async () => {
    const engine = await Engine.load(XL, { provider: "cpu", modelStore: root });
    try {
      const fast = await engine.generate({ prompt: "a lighthouse", seed: 9n, width: 64, height: 64, fast: true, fastLora: "sdxl-lightning-4step" });
      assert.equal(fast.sampler, "euler");
      assert.deepEqual([fast.request.timestepSpacing, fast.request.steps, fast.request.guidance], ["trailing", 4, 0]);
      assert.deepEqual(fast.loras.map((l) => [l.name, l.unetWeight, l.hash]), [["sdxl-lightning-4step", 1, await a1111LoraHash(XL_LORA)]]);
      const infotext = fast.images[0].infotext;
      const params = parseInfotext(infotext).params;
      assert.deepEqual([params["Sampler"], params["Timestep spacing"], params["Steps"], params["CFG scale"]], ["Euler", "trailing", "4", "0"]);
      assert.match(params["Lora hashes"] ?? "", /^sdxl-lightning-4step: [0-9a-f]{12}$/);

      // Regenerate / the Studio's Restore read it back: the same sampler, spacing, steps, guidance and LoRA make the same pixels.
      const recalled = requestFromInfotext(infotext).request;
      assert.deepEqual([recalled.scheduler, recalled.timestepSpacing, recalled.steps, recalled.guidance, recalled.loras], ["euler", "trailing", 4, 0, [{ name: "sdxl-lightning-4step", weight: 1 }]]);
      const again = await engine.generate(recalled);
      assert.deepEqual(pixelDiff(await readRgb(again.images[0].png), await readRgb(fast.images[0].png)), { mean: 0, max: 0 });
      // Each part of the recipe shows: the model's own (leading) spacing, or no LoRA, makes another image.
      const leading = await engine.generate({ ...recalled, timestepSpacing: undefined });
      assert.ok(pixelDiff(await readRgb(leading.images[0].png), await readRgb(fast.images[0].png)).mean > 0, "the spacing changes the image");
      const plain = await engine.generate({ ...recalled, loras: [] });
      assert.ok(pixelDiff(await readRgb(plain.images[0].png), await readRgb(fast.images[0].png)).mean > 0, "the LoRA changes the image");
      // The default for SDXL is still LCM-LoRA (not downloaded here: the line says how to get it).
      await assert.rejects(engine.generate({ prompt: "x", width: 64, height: 64, fast: true }), /LCM-LoRA for SDXL is not downloaded: run 'easel models pull lcm-lora-sdxl'/);
    } finally {
      await engine.dispose();
    }
  });

  it("a fast-mode LoRA for another family, or one the catalog does not have, is one line naming those that fit", async () => {
    const sd15 = await Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu", modelStore: root });
    try {
      await assert.rejects(sd15.generate({ prompt: "x", width: 64, height: 64, fast: true, fastLora: "sdxl-lightning-4step" }), {
        message: "sdxl-lightning-4step is made for sdxl models and tiny-sd15 is sd1: use one of lcm-lora-sdv1-5, hyper-sd15-8step",
      });
      await assert.rejects(sd15.generate({ prompt: "x", width: 64, height: 64, fast: true, fastLora: "turbo-lora" }), /unknown fast-mode LoRA "turbo-lora" \(see 'easel models list'\): for tiny-sd15 \(sd1\) use one of lcm-lora-sdv1-5, hyper-sd15-8step/);
      await assert.rejects(sd15.generate({ prompt: "x", width: 64, height: 64, fastLora: "hyper-sd15-8step" }), /goes with fast mode/);
    } finally {
      await sd15.dispose();
    }
    const ws = fs.mkdtempSync(path.join(home, "ws-"));
    const r = await runCli(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "x", "--width", "64", "--height", "64", "--fast-lora", "sdxl-lightning-4step", "--provider", "cpu", "--out", "x.png"], { cwd: ws, env: { EASEL_HOME: home } });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr, "error: sdxl-lightning-4step is made for sdxl models and tiny-sd15 is sd1: use one of lcm-lora-sdv1-5, hyper-sd15-8step\n");
    assert.deepEqual(fs.readdirSync(ws), [], "nothing written");
  });

  it("generate --fast-lora --record records the LoRA, sampler and spacing; assets check makes the same image with them", async () => {
    const ws = fs.mkdtempSync(path.join(home, "ws-"));
    const env = { EASEL_HOME: home };
    const made = await runCli(["generate", "--model", path.join(MODELS, "tiny-sdxl"), "--prompt", "a lighthouse", "--seed", "5", "--width", "64", "--height", "64", "--fast-lora", "sdxl-lightning-4step", "--provider", "cpu", "--out", "fast.png", "--record"], { cwd: ws, env });
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /euler, 4 steps/);
    const g = (await readAssets(ws)).get("fast.png")?.generation;
    assert.deepEqual([g?.fast, g?.scheduler, g?.sampler, g?.timestepSpacing, g?.steps, g?.guidance], [true, "euler", "euler", "trailing", 4, 0]);
    assert.deepEqual(g?.loras?.map((l) => l.name), ["sdxl-lightning-4step"]);
    const ok = await runCli(["assets", "check", "--provider", "cpu"], { cwd: ws, env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, "ok fast.png\n");
  });

  it("--timestep-spacing sets the spacing for any sampler and is recorded; LCM refuses one; --help lists the fast-mode LoRAs from the catalog", async () => {
    const ws = fs.mkdtempSync(path.join(home, "ws-"));
    const r = await runCli(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "x", "--width", "64", "--height", "64", "--steps", "3", "--scheduler", "ddim", "--timestep-spacing", "trailing", "--provider", "cpu", "--out", "t.png"], { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    const info = await runCli(["info", "--json", path.join(ws, "t.png")]);
    assert.match(info.stdout, /Timestep spacing/);
    const bad = await runCli(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "x", "--timestep-spacing", "sgm_uniform", "--out", "u.png"], { cwd: ws });
    assert.equal(bad.stderr, 'error: unknown --timestep-spacing "sgm_uniform": use one of linspace, leading, trailing\n');
    const lcm = await runCli(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "x", "--width", "64", "--height", "64", "--steps", "2", "--scheduler", "lcm", "--timestep-spacing", "trailing", "--provider", "cpu", "--out", "l.png"], { cwd: ws });
    assert.notEqual(lcm.code, 0);
    assert.match(lcm.stderr, /^error: the LCM scheduler steps through its own distillation schedule/);
    assert.deepEqual(fs.readdirSync(ws), ["t.png"]);
    const help = await runCli(["generate", "--help"]);
    assert.match(help.stdout, /--fast-lora ID/);
    assert.match(help.stdout, /SD 1\.x: lcm-lora-sdv1-5, hyper-sd15-8step/);
    assert.match(help.stdout, /SDXL: lcm-lora-sdxl, sdxl-lightning-4step, sdxl-lightning-2step,\n +sdxl-lightning-8step, hyper-sdxl-8step\n/);
    assert.ok(help.stdout.split("\n").every((l) => l.length <= 110), "help lines stay narrow");
  });

  it("a request's spacing reaches the scheduler as diffusers' from_config(timestep_spacing=...) does, and crosses the engine process", () => {
    const xl = JSON.parse(fs.readFileSync(path.join(XL, "scheduler", "scheduler_config.json"), "utf8")) as Record<string, unknown>;
    const euler = createScheduler("euler", xl, { timestepSpacing: "trailing" });
    euler.setTimesteps(4);
    assert.deepEqual([...euler.timesteps], [999, 749, 499, 249]);
    const own = createScheduler("euler", xl);
    own.setTimesteps(4);
    assert.notDeepEqual([...own.timesteps], [999, 749, 499, 249], "the config says leading");
    // Hyper-SD's DDIM, trailing: np.round(np.arange(1000, 0, -1000 / 8)) - 1.
    const ddim = createScheduler("ddim", xl, { timestepSpacing: "trailing" });
    ddim.setTimesteps(8);
    assert.deepEqual([...ddim.timesteps], [999, 874, 749, 624, 499, 374, 249, 124]);
    const settings = { provider: "cpu", previews: false, fastDecode: false, lowMemory: false, idleUnloadMs: 0 };
    const wire = { type: "generate", id: 1, modelDir: "/m", settings, request: { prompt: "x", timestepSpacing: "trailing", fast: true, fastLora: "sdxl-lightning-4step" } };
    const parsed = parseEngineRequest(wire) as { request: { timestepSpacing?: string; fastLora?: string } };
    assert.deepEqual([parsed.request.timestepSpacing, parsed.request.fastLora], ["trailing", "sdxl-lightning-4step"]);
    assert.throws(() => parseEngineRequest({ ...wire, request: { prompt: "x", timestepSpacing: "sgm" } }), /timestepSpacing/);
  });
});

describe("easel models list", () => {
  it("shows the store's LoRAs with their base model, and the fast-mode LoRAs", async () => {
    const folder = storeLoraFolder(root);
    fs.mkdirSync(folder, { recursive: true });
    fs.copyFileSync(LORA, path.join(folder, "tiny-style.safetensors"));
    writeSafetensors(path.join(folder, "xl-detail.safetensors"), {
      "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": { shape: [4, 2048], data: new Float32Array(4 * 2048) },
      "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight": { shape: [640, 4], data: new Float32Array(640 * 4) },
    });
    fs.writeFileSync(path.join(folder, "old.ckpt"), "PK");
    const r = await runCli(["models", "list"], { env: { EASEL_HOME: home } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /lcm-lora-sdv1-5 +LCM-LoRA for SD 1\.5 .*\[downloaded\]/);
    assert.match(r.stdout, /tiny-style +base model unknown/);
    assert.match(r.stdout, /xl-detail +SDXL/);
    assert.match(r.stdout, /old +unusable: .*pickle/);
    const json = JSON.parse((await runCli(["models", "list", "--json"], { env: { EASEL_HOME: home } })).stdout) as { loras: Array<{ name: string; base: string | null }> };
    assert.deepEqual(json.loras.find((l) => l.name === "xl-detail")?.base, "SDXL");
  });
});
