// The shipped catalog is data checked by its schema; the schema checker itself rejects what it must.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { CATALOG_SCHEMA, decoderForFamily, fastLoraForFamily, fastLorasForFamily, findCatalogTemplate, loadCatalog, parseCatalog, templateModel } from "../../extension/engine/hub/catalog";
import { TIMESTEP_SPACINGS } from "../../extension/engine/schedulers/betas";
import { SCHEDULER_NAMES } from "../../extension/engine/schedulers/scheduler";
import { DEFAULT_INCLUDE, globToRegExp } from "../../extension/engine/hub/fileSelection";
import { MODELS_HELP } from "../../extension/engine/cli/modelsCommand";
import { validateSchema } from "../../extension/engine/hub/jsonSchema";
import { MODEL_FAMILIES } from "../../extension/engine/model/modelInfo";
import { ROOT } from "../helpers/paths";

const raw = JSON.parse(fs.readFileSync(path.join(ROOT, "models", "catalog.json"), "utf8")) as { models: Record<string, unknown>[]; decoders: Record<string, unknown>[]; loras: Array<Record<string, unknown> & { fast: Record<string, unknown> }>; templates: Record<string, unknown>[] };

describe("model catalog", () => {
  it("models/catalog.json conforms to models/catalog.schema.json", () => {
    assert.deepEqual(validateSchema(raw, CATALOG_SCHEMA), []);
    assert.ok(loadCatalog().models.length >= 4);
  });

  it("the schema's families are the engine's families", () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, "models", "catalog.schema.json"), "utf8")) as { $defs: { model: { properties: { family: { enum: string[] } } }; family: { enum: string[] } } };
    assert.deepEqual(schema.$defs.model.properties.family.enum, [...MODEL_FAMILIES]);
    // The families a decoder serves are the same names.
    assert.deepEqual(schema.$defs.family.enum, [...MODEL_FAMILIES]);
  });

  it("ids are unique and every entry cites where its values come from", () => {
    const ids = raw.models.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const m of loadCatalog().models) assert.ok(m.sources.length > 0 && m.sources.every((s) => s.startsWith("https://")), m.id);
  });

  it("cites, for every pinned commit and hash, the Hub page that shows it", () => {
    // A commit is pinned only when a tree/blob/commit page at that commit was read; a size or
    // sha256 only from the file's blob page (which names the file's last commit) or from the LFS
    // pointer in the diff of the pull request that added it. The page goes in "sources".
    for (const m of loadCatalog().models) {
      const page = `https://huggingface.co/${m.repo}/`;
      if (m.revision) {
        assert.ok(
          m.sources.some((s) => s.startsWith(page) && s.includes(m.revision!)),
          `${m.id}: the pinned revision ${m.revision} needs a source under ${page} that shows it`,
        );
      }
      for (const [file, known] of Object.entries(m.files ?? {})) {
        assert.ok(known.size !== undefined || known.sha256 !== undefined, `${m.id}: ${file} pins nothing`);
        assert.ok(
          m.sources.some((s) => (s.startsWith(`${page}blob/`) && s.endsWith(`/${m.subfolder ? `${m.subfolder}/` : ""}${file}`)) || new RegExp(`^${page}discussions/\\d+/files$`).test(s)),
          `${m.id}: the size or hash of ${file} needs its blob page (or the pull request diff that added it) under ${page} in "sources"`,
        );
      }
    }
  });

  it("marks what it could not establish, and leaves out what it does not know", () => {
    for (const m of loadCatalog().models) {
      const unverified = new Set(m.unverified ?? []);
      // No precision is stated without evidence; an unknown one is absent and marked.
      assert.ok(m.precision !== undefined || unverified.has("precision"), `${m.id}: no precision and not marked unverified`);
      // Known providers are either established or the entry says they are not.
      assert.ok(m.providers.known.length > 0 || unverified.has("providers"), `${m.id}: no known provider and not marked unverified`);
    }
  });

  it("says SD-Turbo is non-commercial and does not run on the CPU", () => {
    const turbo = loadCatalog().models.find((m) => m.id === "sd-turbo")!;
    assert.equal(turbo.license.commercialUse, false);
    assert.match(turbo.license.note ?? "", /non-commercial/i);
    assert.ok(turbo.providers.unsupported.some((u) => u.provider === "cpu"));
  });

  it("has a TAESD decoder for every family, each pin cited by the Hub page that shows it", () => {
    const decoders = loadCatalog().decoders ?? [];
    for (const family of MODEL_FAMILIES) {
      assert.equal(decoders.filter((d) => d.families.includes(family)).length, 1, `one decoder serves ${family}`);
    }
    assert.deepEqual(decoderForFamily("sd1")?.id, "taesd");
    assert.deepEqual(decoderForFamily("sdxl")?.id, "taesdxl");
    assert.deepEqual(decoderForFamily("sdxl-turbo")?.id, "taesdxl");
    for (const d of decoders) {
      const page = `https://huggingface.co/${d.repo}/`;
      if (d.revision) assert.ok(d.sources.some((s) => s.startsWith(page) && s.includes(d.revision!)), `${d.id}: the pinned revision needs a source that shows it`);
      assert.ok(d.files?.[d.file]?.sha256, `${d.id}: its graph's hash is pinned`);
      assert.ok(d.sources.some((s) => s.startsWith(`${page}blob/`) && s.endsWith(`/${d.file}`)), `${d.id}: the hash of ${d.file} needs its blob page in "sources"`);
      assert.equal(d.license.id, "mit");
    }
    // An id is a model or a decoder, never both.
    const ids = [...loadCatalog().models, ...decoders].map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length);
    const clash = structuredClone(raw);
    clash.decoders[0].id = clash.models[0].id;
    assert.throws(() => parseCatalog(clash), /appears twice/);
    const bad = structuredClone(raw);
    bad.decoders[0].output = "sometimes";
    bad.decoders[0].families = ["sd9"];
    bad.decoders[0].file = "../../outside/model.onnx";
    const errors = validateSchema(bad, CATALOG_SCHEMA);
    assert.ok(errors.some((e) => e.startsWith("$.decoders[0].output:")), errors.join("\n"));
    assert.ok(errors.some((e) => e.startsWith("$.decoders[0].families[0]:")), errors.join("\n"));
    assert.ok(errors.some((e) => e.startsWith("$.decoders[0].file:")), "a file path that could leave the decoder's folder");
  });

  it("rejects malformed entries with the path of each problem", () => {
    const bad = structuredClone(raw);
    bad.models[0].revision = "main";
    bad.models[0].family = "sd9";
    delete bad.models[0].license;
    bad.models[0].extra = 1;
    const errors = validateSchema(bad, CATALOG_SCHEMA);
    assert.ok(errors.some((e) => e.startsWith("$.models[0].revision:")), errors.join("\n"));
    assert.ok(errors.some((e) => e.startsWith("$.models[0].family:")));
    assert.ok(errors.some((e) => e === '$.models[0]: missing "license"'));
    assert.ok(errors.some((e) => e === '$.models[0]: unknown property "extra"'));
    assert.throws(() => parseCatalog(bad), /models\/catalog\.json is invalid/);
    const dup = structuredClone(raw);
    dup.models.push(structuredClone(dup.models[0]));
    assert.throws(() => parseCatalog(dup), /appears twice/);
  });

  it("rejects a subfolder, file name, repo or ref that could leave the store, as it would from the Hub", () => {
    const cases: [(m: Record<string, unknown>) => void, RegExp][] = [
      [(m) => (m.subfolder = "onnx/../../x"), /\$\.models\[0\]\.subfolder: "onnx\/\.\.\/\.\.\/x" has a "\.\." segment/],
      [(m) => (m.subfolder = "C:x"), /\$\.models\[0\]\.subfolder: "C:x" starts with a drive letter/],
      [(m) => (m.files = { "../unet/model.onnx": { size: 1 } }), /\$\.models\[0\]\.files: "\.\.\/unet\/model\.onnx" has a "\.\." segment/],
      [(m) => (m.repo = "a--b/c"), /\$\.models\[0\]\.repo: "a--b\/c" is not a Hugging Face repo id/],
      [(m) => (m.ref = "main/../x"), /\$\.models\[0\]\.ref: "main\/\.\.\/x" is not a branch or tag name/],
    ];
    for (const [change, pattern] of cases) {
      const bad = structuredClone(raw);
      change(bad.models[0]);
      assert.throws(() => parseCatalog(bad), pattern);
    }
  });

  it("rejects a decoder's repo, ref, file or file name that could leave the store, as a model's", () => {
    const cases: [(d: Record<string, unknown>) => void, RegExp][] = [
      [(d) => (d.repo = "a--b/c"), /\$\.decoders\[0\]\.repo: "a--b\/c" is not a Hugging Face repo id/],
      [(d) => (d.ref = "main/../x"), /\$\.decoders\[0\]\.ref: "main\/\.\.\/x" is not a branch or tag name/],
      [(d) => (d.files = { "../vae_decoder/model.onnx": { size: 1 } }), /\$\.decoders\[0\]\.files: "\.\.\/vae_decoder\/model\.onnx" has a "\.\." segment/],
      // The schema's pattern already refuses '..' and '.' segments; the length limits are the path check's own.
      [(d) => (d.file = `${"a".repeat(300)}/model.onnx`), /\$\.decoders\[0\]\.file: "a+…? has a segment longer than 255 characters/],
    ];
    for (const [change, pattern] of cases) {
      const bad = structuredClone(raw);
      change(bad.decoders[0]);
      assert.throws(() => parseCatalog(bad), pattern);
    }
  });
  it("has graph-only import templates for SD 1.x and SDXL, each leaving out only weight files its model's description names", () => {
    const templates = loadCatalog().templates ?? [];
    assert.deepEqual(templates.map((t) => [t.id, t.architecture]), [["sd15-template", "sd1"], ["sdxl-base-template", "sdxl"]]);
    for (const t of templates) {
      const model = templateModel(t);
      assert.equal(model.family, t.architecture, t.id);
      // What the model's pull selects covers what is left out; the UNet's side file is named by the model's description.
      for (const pattern of t.exclude) assert.ok((model.include ?? DEFAULT_INCLUDE).some((i) => globToRegExp(i).test(pattern)), `${t.id}: ${pattern} is not something ${model.id} fetches`);
      const unet = t.exclude.find((p) => p.startsWith("unet/"));
      assert.ok(unet && model.description?.includes(unet), `${t.id}: the UNet's weight file ${unet} is the one ${model.id}'s description names`);
    }
    assert.equal(findCatalogTemplate("sd15-template")?.model, "sd15");
    // `easel models pull --help` names them.
    for (const t of templates) assert.ok(MODELS_HELP.includes(t.id), `the help names ${t.id}`);
    assert.equal(findCatalogTemplate("sd15"), undefined);
  });

  it("rejects a template naming no model, another architecture's model, a graph left out, or a taken id", () => {
    const cases: [(t: Record<string, unknown>) => void, RegExp][] = [
      [(t) => (t.model = "sd99"), /\$\.templates\[0\]\.model: no catalog model has the id "sd99"/],
      [(t) => (t.architecture = "sdxl"), /\$\.templates\[0\]\.architecture: sdxl is not the family of sd15 \(sd1\)/],
      [(t) => (t.exclude = ["unet/*"]), /\$\.templates\[0\]\.exclude: "unet\/\*" leaves out unet\/model\.onnx, which an import reads/],
      [(t) => (t.exclude = ["vae_decoder/weights.pb"]), /\$\.templates\[0\]\.exclude\[0\]/],
      [(t) => (t.id = "sd15"), /id "sd15" appears twice/],
    ];
    for (const [change, pattern] of cases) {
      const bad = structuredClone(raw);
      change(bad.templates[0]);
      assert.throws(() => parseCatalog(bad), pattern);
    }
  });

  describe("fast-mode LoRAs", () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, "models", "catalog.schema.json"), "utf8")) as {
      $defs: { lora: { properties: { fast: { properties: { scheduler: { enum: string[] }; timestepSpacing: { enum: string[] } } } } } };
    };

    it("the recipe's schedulers and spacings are the engine's own lists", () => {
      const fast = schema.$defs.lora.properties.fast.properties;
      assert.deepEqual(fast.scheduler.enum, [...SCHEDULER_NAMES]);
      assert.deepEqual(fast.timestepSpacing.enum, [...TIMESTEP_SPACINGS]);
    });

    it("LCM-LoRA stays each family's default; SDXL-Lightning and Hyper-SD are there with their cards' recipes", () => {
      assert.equal(fastLoraForFamily("sd1")?.id, "lcm-lora-sdv1-5");
      assert.equal(fastLoraForFamily("sdxl")?.id, "lcm-lora-sdxl");
      assert.deepEqual(fastLorasForFamily("sd1").map((l) => l.id), ["lcm-lora-sdv1-5", "hyper-sd15-8step"]);
      assert.deepEqual(fastLorasForFamily("sdxl").map((l) => l.id), ["lcm-lora-sdxl", "sdxl-lightning-4step", "sdxl-lightning-2step", "sdxl-lightning-8step", "hyper-sdxl-8step"]);
      assert.deepEqual(fastLorasForFamily("sd2"), []);
      const recipe = (id: string) => loadCatalog().loras?.find((l) => l.id === id)?.fast;
      for (const steps of [2, 4, 8]) assert.deepEqual(recipe(`sdxl-lightning-${steps}step`), { scheduler: "euler", timestepSpacing: "trailing", steps, guidance: 0 });
      for (const id of ["hyper-sd15-8step", "hyper-sdxl-8step"]) assert.deepEqual(recipe(id), { scheduler: "ddim", timestepSpacing: "trailing", steps: 8, guidance: 0 });
      assert.deepEqual(recipe("lcm-lora-sdxl"), { scheduler: "lcm", steps: 4, guidance: 1 });
      // easel.fastLora picks one of the family's; one made for the other family leaves the default.
      assert.equal(fastLoraForFamily("sdxl", "sdxl-lightning-4step")?.id, "sdxl-lightning-4step");
      assert.equal(fastLoraForFamily("sd1", "sdxl-lightning-4step")?.id, "lcm-lora-sdv1-5");
    });

    it("pins only commits whose Hub page was read, and marks Hyper-SD's licence and recipe as unverified", () => {
      for (const l of loadCatalog().loras ?? []) {
        if (l.revision) assert.ok(l.sources.some((s) => s.startsWith(`https://huggingface.co/${l.repo}/`) && s.includes(l.revision!)), `${l.id}: the pinned revision needs the Hub page that shows it`);
        assert.equal(l.files, undefined, `${l.id}: no size or hash was published on the pages read`);
        if (!l.id.startsWith("lcm-lora-")) assert.match(l.description ?? "", /kohya|PEFT/, `${l.id}: the description says which key format`);
      }
      for (const id of ["hyper-sd15-8step", "hyper-sdxl-8step"]) assert.deepEqual(loadCatalog().loras?.find((l) => l.id === id)?.unverified, ["license", "fast"]);
    });

    it("easel.fastLora offers exactly the catalog's fast-mode LoRAs", () => {
      const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { contributes: { configuration: { properties: Record<string, { enum?: string[]; enumDescriptions?: string[] }> } } };
      const setting = pkg.contributes.configuration.properties["easel.fastLora"];
      assert.deepEqual(setting.enum, ["", ...(loadCatalog().loras ?? []).map((l) => l.id)]);
      assert.equal(setting.enumDescriptions?.length, setting.enum?.length);
    });

    it("rejects a recipe with a scheduler or spacing the engine does not have, or a spacing with LCM", () => {
      const cases: [(l: { fast: Record<string, unknown> }) => void, RegExp][] = [
        [(l) => (l.fast.scheduler = "tcd"), /\$\.loras\[0\]\.fast\.scheduler/],
        [(l) => (l.fast.timestepSpacing = "sgm_uniform"), /\$\.loras\[0\]\.fast\.timestepSpacing/],
        [(l) => (l.fast.timestepSpacing = "trailing"), /\$\.loras\[0\]\.fast: the lcm scheduler takes no timestepSpacing/],
      ];
      for (const [change, pattern] of cases) {
        const bad = structuredClone(raw);
        change(bad.loras[0]);
        assert.throws(() => parseCatalog(bad), pattern);
      }
    });
  });
});
