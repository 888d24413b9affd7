// The hires fix of a tileable image (engine.ts generateHires, upscale/upscaleImage.ts): the upscale
// between the passes wraps around, so the second pass starts from an image whose edges still meet,
// on the tiny SD 1.5 pipeline. The seam is measured as the step across the wrap-around edges over
// the step between neighbours inside (test/helpers/pixels.ts seamRatio).
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine } from "../../extension/engine/engine";
import { decodeImageRgb } from "../../extension/engine/image/decode";
import { encodePng } from "../../extension/engine/image/encode";
import { infotextFields, parseInfotext } from "../../extension/engine/image/infotext";
import { upscaleTo } from "../../extension/engine/upscale/upscaleImage";
import { MODELS } from "../helpers/paths";
import { seamRatio } from "../helpers/pixels";

let engine: Engine;
before(async () => {
  engine = await Engine.load(path.join(MODELS, "tiny-sd15"), { provider: "cpu" });
});
after(async () => {
  await engine.dispose();
});

const request = { prompt: "a stone wall", steps: 4, scheduler: "ddim" as const, width: 64, height: 64, tileable: true };

describe("hires fix of a tileable image", () => {
  it("upscales the first pass wrapped around: the seam stays as the inside, and the second pass starts from that image", async () => {
    for (const seed of [1n, 2n]) {
      const first = await decodeImageRgb((await engine.generate({ ...request, seed })).images[0].png);
      const hires = await engine.generate({ ...request, seed, hires: { scale: 2, strength: 0.5 } });
      const image = hires.images[0];
      assert.deepEqual([image.width, image.height], [128, 128]);
      const fields = infotextFields(parseInfotext(image.infotext));
      assert.equal(fields.tiling, true);
      assert.equal(fields.hires?.scale, 2);

      // The upscale between the passes: wrapped, its seam is the first pass's (which tiles); read
      // with clamped edges, as before, it was twice the inside's step.
      const wrapped = await upscaleTo(first, 128, 128, undefined, { wrap: true });
      const clamped = await upscaleTo(first, 128, 128, undefined);
      assert.ok(Math.abs(seamRatio(wrapped) - seamRatio(first)) < 0.15, `wrapped ${seamRatio(wrapped)}, first pass ${seamRatio(first)}`);
      assert.ok(seamRatio(clamped) > seamRatio(first) + 0.5, `clamped ${seamRatio(clamped)}, first pass ${seamRatio(first)}`);

      // The second pass is the tiled img2img of exactly the wrapped image, and its seam is the inside's.
      const second = await engine.generate({ ...request, seed, width: 128, height: 128, initImage: await encodePng(wrapped.rgb, 128, 128, ""), strength: 0.5 });
      const got = await decodeImageRgb(image.png);
      assert.deepEqual(got.rgb, (await decodeImageRgb(second.images[0].png)).rgb);
      assert.ok(seamRatio(got) < 1.5, `hires seam ${seamRatio(got)}`);
    }
  });
});
