// Each catalog entry's repository as its Hub listing shows it (the folders and side files the
// catalog's sources list, PyTorch weights beside the ONNX ones, external weight files by the
// exporter's name), hosted by the fake Hub with the tiny conformance weights: the pull fetches only
// the ONNX pipeline, and the folder gives diffusers' image (or, where the card rules the CPU out,
// is refused on the CPU with the catalog's reason). Pinned sizes and hashes are checked before
// anything is downloaded.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine } from "../../extension/engine/engine";
import { EaselError } from "../../extension/engine/errors";
import { type CatalogEntry, entryRevision, loadCatalog } from "../../extension/engine/hub/catalog";
import { pullModel } from "../../extension/engine/hub/pull";
import { conformanceCase } from "../helpers/conformanceCases";
import { copyFixtureModel, DIFFUSERS_EXTERNAL_DATA, externalizeWeights, makeVariantRoot, OPTIMUM_EXTERNAL_DATA } from "../helpers/onnxVariants";
import { CONFORMANCE } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { type FakeHub, hostFolder } from "./fakeHub";
import { fastOptions, startHub, tempStore } from "./helpers";

const catalog = loadCatalog().models;
/** A file beside the ONNX pipeline that a pull must leave on the Hub. */
const write = (dir: string, rel: string, content: string | Buffer = "not for Easel") => {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), content);
};

interface RepoShape {
  /** The tiny fixture standing in for the real weights. */
  readonly fixture: "tiny-sd15" | "tiny-lcm" | "tiny-turbo" | "tiny-sdxl" | "tiny-sdxl-turbo";
  /** The conformance case whose diffusers image the pulled folder must give. */
  readonly caseId: string;
  /** Makes the fixture copy look like the repository's listing. */
  readonly shape: (dir: string) => Promise<void>;
  /** Files of the listing that must not be fetched. */
  readonly skipped: readonly string[];
}

/** The PyTorch weights beside SDXL's ONNX folders. */
const XL_PYTORCH = [
  "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors", "text_encoder/model.safetensors",
  "text_encoder_2/model.safetensors", "text_encoder_2/model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors", "vae/config.json", "README.md",
];

async function shapeStabilityXl(dir: string, scheduler: string, extra: readonly string[]): Promise<void> {
  await externalizeWeights(dir, "unet", OPTIMUM_EXTERNAL_DATA);
  await externalizeWeights(dir, "text_encoder_2", OPTIMUM_EXTERNAL_DATA);
  const index = {
    _class_name: "StableDiffusionXLPipeline",
    _diffusers_version: "0.19.0.dev0",
    force_zeros_for_empty_prompt: true,
    scheduler: ["diffusers", scheduler],
    text_encoder: ["transformers", "CLIPTextModel"],
    text_encoder_2: ["transformers", "CLIPTextModelWithProjection"],
    tokenizer: ["transformers", "CLIPTokenizer"],
    tokenizer_2: ["transformers", "CLIPTokenizer"],
    unet: ["diffusers", "UNet2DConditionModel"],
    vae: ["diffusers", "AutoencoderKL"],
  };
  write(dir, "model_index.json", JSON.stringify(index, null, 2));
  for (const rel of [...XL_PYTORCH, ...extra]) write(dir, rel);
}

// What each repository holds, from the pages in the entry's "sources".
const SHAPES: Readonly<Record<string, RepoShape>> = {
  // onnx-community: the UNet's weights in unet/weights.pb; a safety checker and feature extractor too.
  sd15: {
    fixture: "tiny-sd15",
    caseId: "sd15-default-20",
    shape: async (dir) => {
      await externalizeWeights(dir, "unet", DIFFUSERS_EXTERNAL_DATA);
      write(dir, "safety_checker/model.onnx");
      write(dir, "feature_extractor/preprocessor_config.json", "{}");
      write(dir, "README.md", "# SD 1.5 ONNX\n");
    },
    skipped: ["safety_checker/model.onnx", "feature_extractor/preprocessor_config.json", "README.md"],
  },
  // SimianLuo: a PyTorch pipeline (model_index.json names LatentConsistencyModelPipeline and `vae`)
  // with optimum's ONNX folders added beside it; the UNet's weights in unet/model.onnx_data.
  "lcm-dreamshaper-v7": {
    fixture: "tiny-lcm",
    caseId: "lcm-4step",
    shape: async (dir) => {
      await externalizeWeights(dir, "unet", OPTIMUM_EXTERNAL_DATA);
      const index = {
        _class_name: "LatentConsistencyModelPipeline",
        _diffusers_version: "0.22.0.dev0",
        feature_extractor: ["transformers", "CLIPImageProcessor"],
        requires_safety_checker: true,
        safety_checker: ["stable_diffusion", "StableDiffusionSafetyChecker"],
        scheduler: ["diffusers", "LCMScheduler"],
        text_encoder: ["transformers", "CLIPTextModel"],
        tokenizer: ["transformers", "CLIPTokenizer"],
        unet: ["diffusers", "UNet2DConditionModel"],
        vae: ["diffusers", "AutoencoderKL"],
      };
      write(dir, "model_index.json", JSON.stringify(index, null, 2));
      write(dir, "unet/diffusion_pytorch_model.safetensors");
      write(dir, "text_encoder/model.safetensors");
      write(dir, "text_encoder/config.json", '{"architectures":["CLIPTextModel"]}');
      write(dir, "vae/diffusion_pytorch_model.safetensors");
      write(dir, "vae/config.json", "{}");
      write(dir, "safety_checker/model.safetensors");
      write(dir, "LCM_Dreamshaper_v7_4k.safetensors");
      write(dir, "lcm_pipeline.py", "# custom pipeline\n");
      write(dir, "teaser.png", "png");
    },
    skipped: ["unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors", "vae/diffusion_pytorch_model.safetensors", "vae/config.json", "LCM_Dreamshaper_v7_4k.safetensors", "lcm_pipeline.py", "teaser.png"],
  },
  // onnxruntime/sd-turbo: the diffusers ONNX layout plus a LICENSE file.
  "sd-turbo": {
    fixture: "tiny-turbo",
    caseId: "turbo-1step",
    shape: async (dir) => write(dir, "LICENSE", "STABILITY AI NON-COMMERCIAL RESEARCH COMMUNITY LICENSE AGREEMENT\n"),
    skipped: ["LICENSE"],
  },
  // aislamov: the diffusers ONNX layout, the VAE decoder's weights in model.onnx_data, a stray .DS_Store.
  "sd21-base-fp16": {
    fixture: "tiny-sd15",
    caseId: "sd15-default-20",
    shape: async (dir) => {
      await externalizeWeights(dir, "vae_decoder", OPTIMUM_EXTERNAL_DATA);
      write(dir, ".DS_Store", Buffer.from([0, 0, 0, 1]));
    },
    skipped: [".DS_Store"],
  },
  "sd21-base": {
    fixture: "tiny-sd15",
    caseId: "sd15-default-20",
    shape: async () => {},
    skipped: [],
  },
  // Stability AI's SDXL repositories: the PyTorch pipeline (model_index.json names
  // StableDiffusionXLPipeline) with optimum's ONNX folders beside it; the UNet's and the second
  // text encoder's weights in model.onnx_data; the single-file checkpoint, card images and licence at the root.
  "sdxl-base": {
    fixture: "tiny-sdxl",
    caseId: "sdxl-euler-6",
    shape: (dir) => shapeStabilityXl(dir, "EulerDiscreteScheduler", ["sd_xl_base_1.0.safetensors", "01.png", "LICENSE.md"]),
    skipped: [...XL_PYTORCH, "sd_xl_base_1.0.safetensors", "01.png", "LICENSE.md"],
  },
  "sdxl-turbo": {
    fixture: "tiny-sdxl-turbo",
    caseId: "sdxl-turbo-2step",
    shape: (dir) => shapeStabilityXl(dir, "EulerAncestralDiscreteScheduler", ["image_quality_one_step.png", "output_tile.jpg", "LICENSE.TXT"]),
    skipped: [...XL_PYTORCH, "image_quality_one_step.png", "output_tile.jpg", "LICENSE.TXT"],
  },
};


/** The entry as it would be without pinned files: the tiny weights are not the real ones. */
const withoutPins = (e: CatalogEntry): CatalogEntry => ({ ...e, files: undefined });

describe("catalog repositories, as their Hub listings show them", { timeout: 240_000 }, () => {
  let hub: FakeHub;
  let root: string;
  before(async () => {
    hub = await startHub();
    root = await makeVariantRoot();
  });
  after(async () => {
    await hub.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** Hosts the shaped fixture as `e.repo`, at the entry's pinned commit or under its branch. */
  async function host(e: CatalogEntry): Promise<RepoShape> {
    const shape = SHAPES[e.id];
    assert.ok(shape, `a repository shape for the catalog entry ${e.id}: add one to SHAPES`);
    const dir = await copyFixtureModel(shape.fixture, root);
    await shape.shape(dir);
    const hosted = hostFolder(e.repo, dir, { commit: e.revision, license: e.license.id });
    hub.add({ ...hosted, branches: { ...hosted.branches, [e.ref]: hosted.commit } });
    return shape;
  }

  it("every catalog entry has its repository's shape here", () => {
    assert.deepEqual(catalog.map((m) => m.id).filter((id) => !SHAPES[id]), []);
  });

  for (const e of catalog) {
    it(`${e.id} (${e.repo}@${entryRevision(e)}): only the ONNX pipeline is fetched, and the folder ${e.providers.unsupported.some((u) => u.provider === "cpu") ? "is refused on the CPU" : "gives diffusers' image"}`, async () => {
      const shape = await host(e);
      const store = tempStore();
      const { model } = await pullModel(e.repo, entryRevision(e), fastOptions(hub, store), withoutPins(e));
      if (e.revision) assert.equal(model.commit, e.revision);
      for (const rel of shape.skipped) assert.equal(fs.existsSync(path.join(model.dir, rel)), false, `${rel} is not fetched`);
      const xl = e.family === "sdxl" || e.family === "sdxl-turbo" ? ["text_encoder_2/model.onnx", "text_encoder_2/model.onnx_data", "tokenizer_2/vocab.json", "unet/model.onnx_data"] : [];
      for (const rel of ["model_index.json", "unet/model.onnx", "text_encoder/model.onnx", "vae_decoder/model.onnx", "tokenizer/vocab.json", "scheduler/scheduler_config.json", ...xl]) {
        assert.ok(fs.existsSync(path.join(model.dir, rel)), `${rel} is fetched`);
      }

      const refusal = e.providers.unsupported.find((u) => u.provider === "cpu");
      if (refusal) {
        await assert.rejects(Engine.load(model.dir, { provider: "cpu" }), (err: unknown) => err instanceof EaselError && err.code === "model-unsupported" && err.message.includes(refusal.reason));
        return;
      }
      const c = conformanceCase(shape.caseId);
      const engine = await Engine.load(model.dir, { provider: "cpu" });
      try {
        const r = await engine.generate({ prompt: c.prompt, negativePrompt: c.negative_prompt, scheduler: c.scheduler, steps: c.steps, guidance: c.guidance, seed: BigInt(c.seed), width: c.width, height: c.height });
        const { mean, max } = pixelDiff(await readRgb(r.images[0].png), await readRgb(path.join(CONFORMANCE, "cases", `${c.id}.png`)));
        assert.ok(mean <= 0.35 && max <= 3, `mean ${mean.toFixed(3)} max ${max}`);
        assert.match(r.images[0].infotext, new RegExp(`Model: ${e.repo.replace("/", "\\/")}`));
      } finally {
        await engine.dispose();
      }
    });
  }

  it("pinned sizes and hashes that differ from what the Hub lists stop the pull before any byte is fetched", async () => {
    const pinned = catalog.filter((m) => m.files && Object.keys(m.files).length > 0);
    assert.ok(pinned.length > 0, "the catalog pins some files");
    for (const e of pinned) {
      await host(e);
      const store = tempStore();
      const before = hub.requests.length;
      await assert.rejects(
        pullModel(e.repo, entryRevision(e), fastOptions(hub, store), e),
        (err: unknown) => err instanceof EaselError && err.code === "model-invalid" && /is not the file the catalog describes \(size or sha256 differ\)/.test(err.message),
      );
      assert.deepEqual(hub.requests.slice(before).map((r) => r.path.split("?")[0]), [`/api/models/${e.repo}/revision/${entryRevision(e)}`], "only the file list was asked for");
      assert.deepEqual(fs.readdirSync(store.root).filter((n) => !n.startsWith(".")), [], "no model folder");
    }
  });
});
