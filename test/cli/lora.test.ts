// LoRA bad input through the CLI: one `error:` line on stderr, a non-zero exit, no image written.
// And a partial match: the image is made and the warning says how many modules matched.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { runCli } from "../helpers/runCli";
import { writeSafetensors } from "../helpers/safetensorsFile";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-lora-cli-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SD15 = path.join(MODELS, "tiny-sd15");
const PUBLIC_LORA = path.join(CONFORMANCE, "cases", "lora-public.safetensors");
const BASE_ARGS = ["generate", "--model", SD15, "--prompt", "a cat", "--steps", "1", "--width", "64", "--height", "64", "--seed", "1"];

function file(name: string, content: Buffer | string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, content);
  return f;
}

async function expectError(extra: readonly string[], pattern: RegExp): Promise<void> {
  const out = path.join(fs.mkdtempSync(path.join(tmp, "out-")), "image.png");
  const r = await runCli([...BASE_ARGS, ...extra, "--out", out]);
  assert.notEqual(r.code, 0, `expected failure, got exit 0: ${r.stdout}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.equal(fs.existsSync(out), false, "no image written");
}

describe("easel generate --lora: bad input", () => {
  it("a file that is not safetensors", () => expectError(["--lora", file("notes.safetensors", "hello, this is text and not a LoRA at all")], /is not a safetensors file .*give a LoRA in the \.safetensors format/));
  it("a pickle .ckpt / .pt is refused without unpickling", async () => {
    await expectError(["--lora", file("old.ckpt", Buffer.from("PK\x03\x04pickle"))], /PyTorch pickle \(\.ckpt\).*never unpickles: convert it to \.safetensors/);
    await expectError(["--lora", `${file("old.pt", Buffer.from("\x80\x02}q"))}:0.5`], /PyTorch pickle \(\.pt\)/);
  });
  it("a weight outside -10..10, or not a number", async () => {
    await expectError(["--lora", `${PUBLIC_LORA}:11`], /outside -10\.\.10/);
    await expectError(["--lora", `${PUBLIC_LORA}:-12.5`], /outside -10\.\.10/);
    await expectError(["--lora", `${PUBLIC_LORA}:strong`], /is not a number/);
  });
  it("a LoHa (LyCORIS) network", () => {
    const f = path.join(tmp, "loha.safetensors");
    const t = { shape: [4, 16], data: new Float32Array(64) };
    writeSafetensors(f, { "lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a": t, "lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_b": t });
    return expectError(["--lora", f], /LoHa .*plain low-rank LoRA and LoCon only/);
  });
  it("a LoRA whose keys match nothing in the model names the base model it seems to be for", () => {
    const f = path.join(tmp, "xl.safetensors");
    writeSafetensors(f, {
      "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight": { shape: [4, 2048], data: new Float32Array(4 * 2048) },
      "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight": { shape: [640, 4], data: new Float32Array(640 * 4) },
    });
    return expectError(["--lora", f], /matches nothing in tiny-sd15: it seems to be for SDXL models/);
  });
  it("a missing file, and a name not in any LoRA folder", async () => {
    await expectError(["--lora", path.join(tmp, "absent.safetensors")], /does not exist/);
    await expectError(["--prompt-syntax", "a1111", "--prompt", "a cat <lora:nowhere:1>", "--lora-folder", tmp], /no LoRA named nowhere/);
  });
});

describe("easel generate --lora: partial match", () => {
  it("makes the image and warns with the count", async () => {
    const f = path.join(tmp, "partial.safetensors");
    const down = { shape: [4, 16], data: new Float32Array(64).fill(0.01) };
    const up = { shape: [16, 4], data: new Float32Array(64).fill(0.01) };
    writeSafetensors(f, {
      "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight": down,
      "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight": up,
      "lora_unet_down_blocks_7_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight": down,
      "lora_unet_down_blocks_7_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight": up,
    });
    const out = path.join(tmp, "partial.png");
    const r = await runCli([...BASE_ARGS, "--lora", `${f}:0.5`, "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: LoRA partial: 1 of 2 modules matched this model; 1 were left out/);
    assert.ok(fs.existsSync(out));
  });
});
