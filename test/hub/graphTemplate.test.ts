// A graph-only import template (`easel models pull sd15-template`) pulled from the fake hub, which
// plays onnx-community's SD 1.5 export with the tiny SD 1.x model whose UNet keeps its weights in
// unet/weights.pb as that export does: only the files the catalog lists are fetched, the folder is
// a template (not a model), and a checkpoint imported with it draws exactly what the same
// checkpoint imported with the full model as template draws.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { lookUpStoreTemplate } from "../../extension/engine/convert/templates";
import { MANIFEST_NAME, readManifest } from "../../extension/engine/hub/manifest";
import type { ModelStore } from "../../extension/engine/hub/store";
import { drawPixels, ldmCheckpointOf, type NamedTensor, perturbGraph, writeCheckpointFile } from "../helpers/ldmCheckpoint";
import { DIFFUSERS_EXTERNAL_DATA, externalizeWeights } from "../helpers/onnxVariants";
import { MODELS } from "../helpers/paths";
import { FakeHub, hostFolder } from "./fakeHub";
import { easelError, runModels, tempStore } from "./helpers";

// The catalog's sd15 entry and its template (models/catalog.json).
const REPO = "onnx-community/stable-diffusion-v1-5-ONNX";


async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p).split(path.sep).join("/"));
    }
  };
  await walk(dir);
  return out.sort();
}


describe("graph-only import templates", () => {
  let work: string;
  let hub: FakeHub;
  let hosted: string;
  let reference: string;
  let checkpoint: Map<string, NamedTensor>;
  let good: string;
  let store: ModelStore;

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), "easel-template-"));
    // The export as the Hub has it: the UNet's weights in unet/weights.pb (diffusers' exporter), the rest inline.
    hosted = path.join(work, "sd15-export");
    await fs.cp(path.join(MODELS, "tiny-sd15"), hosted, { recursive: true });
    assert.ok((await externalizeWeights(hosted, "unet", DIFFUSERS_EXTERNAL_DATA)) > 0);
    hub = await new FakeHub().start();
    hub.add(hostFolder(REPO, hosted, { license: "creativeml-openrail-m" }));
    process.env.HF_ENDPOINT = hub.hubUrl;
    delete process.env.HF_TOKEN;
    process.env.HTTPS_PROXY = "";
    // A fine-tune of it: every weight changed, exported as an original (LDM) single-file checkpoint.
    reference = path.join(work, "reference");
    await fs.cp(path.join(MODELS, "tiny-sd15"), reference, { recursive: true });
    let seed = 21;
    for (const c of ["text_encoder", "unet", "vae_decoder", "vae_encoder"]) await perturbGraph(path.join(reference, c, "model.onnx"), seed++);
    checkpoint = await ldmCheckpointOf(reference, "F16", "sd1");
    good = path.join(work, "fine-tune.safetensors");
    await writeCheckpointFile(good, checkpoint);
    store = tempStore();
  });

  after(async () => {
    await hub.close();
    await fs.rm(work, { recursive: true, force: true });
  });

  it("without graphs in the store, the import says which id to pull, in one line", async () => {
    await assert.rejects(runModels(store, "import", good), easelError("model-missing", /SD 1\.x checkpoint needs that architecture's ONNX graphs: download its graphs first \(easel models pull sd15-template: .*\) or give .*--template DIR/));
    assert.deepEqual(await filesUnder(store.root), []);
  });

  it("pulls only the graphs, configs and tokenizer, into the templates area, listed as a template and not as a model", async () => {
    const r = await runModels(store, "pull", "sd15-template", "--accept-license");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /downloaded and verified: SD 1\.x import template \(graphs only\) \(onnx-community\/stable-diffusion-v1-5-ONNX@[0-9a-f]{12}, .*\); easel models import uses it for SD 1\.x checkpoints/);
    const dir = r.stdout.trim();
    assert.equal(path.dirname(dir), path.join(store.root, "templates"));
    // Every file a pull of the model fetches, but the UNet's weights: never even asked for.
    const expected = (await filesUnder(hosted)).filter((f) => f !== "unet/weights.pb");
    assert.deepEqual((await readManifest(dir))?.files.map((f) => f.path).sort(), expected);
    assert.deepEqual(await filesUnder(dir), [MANIFEST_NAME, ...expected].sort());
    assert.deepEqual(hub.fileRequests("unet/weights.pb"), []);
    assert.ok(hub.fileRequests("unet/model.onnx").length > 0);
    // Not a model: nothing to generate with, and not the catalog's sd15.
    assert.deepEqual(await store.listPulled(), []);
    const list = await runModels(store, "list");
    assert.match(list.stdout, /Import templates .*\n(.*\n)*  sd15-template +SD 1\.x import template \(graphs only\) — onnx-community\/stable-diffusion-v1-5-ONNX \(for SD 1\.x checkpoints\) \[downloaded, /);
    assert.match(list.stdout, /  sd15 +Stable Diffusion 1\.5 \(fp32\) — [^\n]*\)\n/);
    assert.match(list.stdout, /Downloaded \(.*\):\n  none\n/);
    const json = JSON.parse((await runModels(store, "list", "--json")).stdout) as { templates: { id: string; downloaded: boolean; dir?: string }[]; catalog: { id: string; downloaded: boolean }[] };
    assert.deepEqual(json.templates.find((t) => t.id === "sd15-template"), { id: "sd15-template", name: "SD 1.x import template (graphs only)", model: "sd15", repo: REPO, architecture: "sd1", downloaded: true, dir, bytes: (await readManifest(dir))?.files.reduce((n, f) => n + f.size, 0) });
    assert.equal(json.catalog.find((m) => m.id === "sd15")?.downloaded, false);
    const verify = await runModels(store, "verify", "sd15-template");
    assert.match(verify.stdout, /^ok .* sizes and hashes/);
    // Pulled again: already there.
    assert.match((await runModels(store, "pull", "sd15-template")).stderr, /already in the store/);
  });

  it("imports a checkpoint with it (no --template) drawing exactly what the import with the full model as template draws", async () => {
    const found = await lookUpStoreTemplate(store, "sd1");
    assert.equal(found.found, "template");
    const r = await runModels(store, "import", good, "--name", "from-graphs", "--json");
    assert.equal(r.code, 0, r.stderr);
    const fromGraphs = JSON.parse(r.stdout) as { dir: string; template: string; baseModel: string };
    assert.equal(fromGraphs.template, found.found === "template" ? found.dir : "");
    assert.equal(fromGraphs.baseModel, "SD 1.x");
    // The pulled template's manifest lists files the import does not have: it stays behind.
    assert.ok(!(await filesUnder(fromGraphs.dir)).includes(MANIFEST_NAME));
    const full = await runModels(store, "import", good, "--template", hosted, "--name", "from-full", "--json");
    assert.equal(full.code, 0, full.stderr);
    const imported = await drawPixels(fromGraphs.dir);
    assert.deepEqual(imported, await drawPixels((JSON.parse(full.stdout) as { dir: string }).dir));
    // And both are the fine-tune's weights, not the export's.
    assert.deepEqual(imported, await drawPixels(reference));
    assert.notDeepEqual(imported, await drawPixels(hosted));
  });

  it("a checkpoint lacking a UNet weight that only the left-out weights.pb held is one line, and leaves nothing", async () => {
    // up_blocks.0.resnets.0.norm1's scale: the graph reads it as an anonymous [C,1,1] Mul constant
    // of its own (no other norm has its width), which only the template's side file holds, so
    // nothing but the missing file tells it is lacking.
    const key = "model.diffusion_model.output_blocks.0.0.in_layers.0.weight";
    assert.ok(checkpoint.has(key));
    const lacking = path.join(work, "lacking.safetensors");
    await writeCheckpointFile(lacking, new Map([...checkpoint].filter(([k]) => k !== key)));
    const before = await filesUnder(store.root);
    await assert.rejects(
      runModels(store, "import", lacking, "--name", "lacking"),
      easelError("model-invalid", /^the checkpoint has no weight for \S+ \(read by [^)]*norm1[^)]*\), which the template keeps in weights\.pb, a file this template does not have \(a graph-only template leaves its weights out\): the checkpoint is incomplete/),
    );
    assert.deepEqual(await filesUnder(store.root), before);
    assert.deepEqual(await fs.readdir(path.join(store.root, ".partial")), []);
    // Lacking weights the graph places are found before anything is converted, as with any template:
    // a named one, and a GroupNorm scale whose initializer the export shares with other norms
    // (equal values), which would otherwise take another norm's.
    for (const gone of ["model.diffusion_model.out.2.weight", "model.diffusion_model.input_blocks.1.0.in_layers.0.weight"]) {
      assert.ok(checkpoint.has(gone), gone);
      const named = path.join(work, "lacking-named.safetensors");
      await writeCheckpointFile(named, new Map([...checkpoint].filter(([k]) => k !== gone)));
      await assert.rejects(runModels(store, "import", named, "--name", "lacking"), easelError("model-invalid", /the checkpoint lacks weights the unet graph needs/));
    }
    assert.deepEqual(await filesUnder(store.root), before);
  });

  it("the full model pulled later is its own folder, with its weights, and is preferred as template", async () => {
    const r = await runModels(store, "pull", "sd15", "--accept-license", "--no-taesd");
    assert.equal(r.code, 0, r.stderr);
    const dir = r.stdout.trim();
    assert.equal(path.dirname(dir), store.root);
    assert.ok((await filesUnder(dir)).includes("unet/weights.pb"));
    assert.deepEqual(await lookUpStoreTemplate(store, "sd1"), { found: "model", dir });
    // Removing the template leaves the model.
    const rm = await runModels(store, "rm", "sd15-template");
    assert.equal(rm.code, 0, rm.stderr);
    // Only the area's record of which commit the branch named is left.
    assert.deepEqual(await filesUnder(path.join(store.root, "templates")), ["refs.json"]);
    assert.equal((await store.listPulled()).length, 1);
  });
});
