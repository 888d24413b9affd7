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
import { writeSafetensors } from "../helpers/safetensorsFile";

const home = fs.mkdtempSync(path.join(os.tmpdir(), "easel-fast-"));
const root = path.join(home, "models");
const LORA = path.join(CONFORMANCE, "cases", "lora-public.safetensors");

before(() => {
  const entry = findCatalogLora("lcm-lora-sdv1-5");
  assert.ok(entry?.revision, "the SD 1.5 LCM-LoRA is pinned in the catalog");
  const store = ModelStore.open(root);
  const dir = store.folderFor(entry.repo, entry.revision);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(LORA, path.join(dir, entry.file));
  const manifest = { format: 1, repo: entry.repo, commit: entry.revision, revision: entry.revision, pulledAt: new Date().toISOString(), files: [{ path: entry.file, size: fs.statSync(LORA).size }] };
  fs.writeFileSync(path.join(dir, MANIFEST_NAME), JSON.stringify(manifest));
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
      await assert.rejects(sd2.generate({ prompt: "x", width: 64, height: 64, fast: true }), /LCM-LoRA, which exists for SD 1\.x and SDXL models, and tiny-sd21v is sd2/);
    } finally {
      await sd2.dispose();
    }
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
