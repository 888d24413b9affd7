// Every public conformance case (copied into test/fixtures/conformance), run through the built CLI
// with the arguments of the conformance kit's CLI contract, compared with the image diffusers made (mean |diff| <= 0.35, max <= 3 over RGB values).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { CONFORMANCE_CASES } from "../helpers/conformanceCases";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { runCli } from "../helpers/runCli";

const cases = CONFORMANCE_CASES;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-conformance-"));

describe("conformance with diffusers", () => {
  for (const c of cases) {
    it(c.id, async () => {
      const out = path.join(tmp, `${c.id}.png`);
      const args = [
        "generate", "--model", path.join(MODELS, c.model), "--prompt", c.prompt, "--negative-prompt", c.negative_prompt ?? "",
        "--scheduler", c.scheduler, "--steps", String(c.steps), "--guidance", String(c.guidance), "--seed", String(c.seed),
        "--width", String(c.width), "--height", String(c.height), "--out", out,
      ];
      if (c.init_image) args.push("--init-image", path.join(CONFORMANCE, "cases", c.init_image), "--strength", String(c.strength));
      if (c.mask_image) args.push("--mask", path.join(CONFORMANCE, "cases", c.mask_image));
      if (c.prompt_syntax) args.push("--prompt-syntax", c.prompt_syntax);
      for (const l of c.loras ?? []) args.push("--lora", `${path.join(CONFORMANCE, "cases", l.file)}:${l.weight}`);
      if (c.tileable) args.push("--tileable");
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      const got = await readRgb(out);
      const want = await readRgb(path.join(CONFORMANCE, "cases", `${c.id}.png`));
      const { mean, max } = pixelDiff(got, want);
      assert.ok(mean <= 0.35 && max <= 3, `mean ${mean.toFixed(3)} max ${max}`);
    });
  }
});
