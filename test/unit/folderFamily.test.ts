// The family the Studio reads from a model folder before loading it (folderFamily) is the family
// the engine reads from the graphs once it is loaded (describeModel), for every tiny model.
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { Engine } from "../../extension/engine/engine";
import { readModelFolder } from "../../extension/engine/model/modelFolder";
import { folderFamily } from "../../extension/engine/model/modelInfo";
import { MODELS } from "../helpers/paths";

const EXPECTED = {
  "tiny-sd15": "sd1",
  "tiny-sd15-inpaint": "sd1",
  "tiny-sd21v": "sd2",
  "tiny-turbo": "turbo",
  "tiny-lcm": "lcm",
  "tiny-sdxl": "sdxl",
  "tiny-sdxl-turbo": "sdxl-turbo",
} as const;

describe("a model folder's family before loading", () => {
  for (const [name, family] of Object.entries(EXPECTED)) {
    it(`${name}: ${family}, as the loaded engine says`, async () => {
      const folder = await readModelFolder(path.join(MODELS, name));
      assert.equal(folderFamily(folder), family);
      const engine = await Engine.load(path.join(MODELS, name), { provider: "cpu" });
      try {
        assert.equal(engine.info.family, family);
      } finally {
        await engine.dispose();
      }
    });
  }

  it("SDXL's added conditioning without a second encoder folder (a UNet config saying text_time) is SDXL too", () => {
    const base = { files: { text_encoder: "t", text_encoder_2: undefined, unet: "u", vae_decoder: "v", vae_encoder: undefined }, schedulerConfig: {}, textEncoderConfig: undefined };
    assert.equal(folderFamily({ ...base, unetConfig: { addition_embed_type: "text_time" } }), "sdxl");
    assert.equal(folderFamily({ ...base, unetConfig: { addition_embed_type: null } }), "sd1");
    assert.equal(folderFamily({ ...base, unetConfig: {}, textEncoderConfig: { hidden_size: 1024 } }), "sd2");
  });
});
