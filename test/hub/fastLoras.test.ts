// Fast-mode LoRAs that live in one repository at one commit (SDXL-Lightning's 2-, 4- and 8-step
// files, Hyper-SD's SD 1.5 and SDXL files) share its store folder: pulling the second one fetches it
// into that folder beside the first (the fake Hub on 127.0.0.1 serves the repository), and the
// manifest lists both, instead of the folder's manifest passing for the file not yet fetched.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Catalog, parseCatalog } from "../../extension/engine/hub/catalog";
import { MANIFEST_NAME } from "../../extension/engine/hub/manifest";
import { findStoreFile, pullSingleFile } from "../../extension/engine/hub/singleFile";
import { writeSafetensors } from "../helpers/safetensorsFile";
import { type FakeHub, hostFolder } from "./fakeHub";
import { fastOptions, startHub, tempStore } from "./helpers";

const REPO = "easel-test/lightning";
const FILES = ["lightning_4step_lora.safetensors", "lightning_8step_lora.safetensors", "lightning_2step_lora.safetensors"];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-fast-hub-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function catalog(): Catalog {
  const license = { id: "openrail++", name: "CreativeML Open RAIL++-M", url: "https://example.invalid/", commercialUse: true };
  const lora = (steps: number) => ({
    id: `lightning-${steps}step`,
    name: `Lightning ${steps}-step`,
    kind: "lora",
    families: ["sdxl"],
    repo: REPO,
    ref: "main",
    file: `lightning_${steps}step_lora.safetensors`,
    fast: { scheduler: "euler", timestepSpacing: "trailing", steps, guidance: 0 },
    license,
    sources: ["https://example.invalid/"],
  });
  return parseCatalog({
    format: 1,
    models: [{ id: "m", name: "m", repo: "easel-test/m", ref: "main", family: "sdxl", license, defaults: { steps: 1, guidance: 1, scheduler: "default", width: 64, height: 64 }, providers: { known: [], unsupported: [] }, sources: ["https://example.invalid/"] }],
    loras: [lora(4), lora(8)],
  });
}

describe("fast-mode LoRAs of one repository and commit", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startHub();
    const dir = path.join(tmp, "repo");
    fs.mkdirSync(dir);
    FILES.forEach((file, i) => writeSafetensors(path.join(dir, file), { [`lora_unet_x${i}.lora_down.weight`]: { shape: [2, 4], data: new Float32Array(8).fill(i + 1) } }));
    hub.add(hostFolder(REPO, dir, { license: "openrail++" }));
  });
  after(() => hub.close());

  it("fetches the second into the first one's folder, each only once, and finds both", async () => {
    const store = tempStore();
    const [four, eight] = catalog().loras!;
    assert.equal((await pullSingleFile(four, fastOptions(hub, store))).status, "downloaded");
    const fetches = (file: string) => hub.requests.filter((r) => r.file === file).length;
    const fourFetches = fetches(four.file);
    assert.ok(fourFetches > 0);
    assert.equal(await findStoreFile(store, eight), undefined, "the 8-step file is not there yet");
    const second = await pullSingleFile(eight, fastOptions(hub, store));
    assert.equal(second.status, "downloaded");
    const files = await Promise.all([findStoreFile(store, four), findStoreFile(store, eight)]);
    assert.ok(files[0] && files[1]);
    assert.equal(path.dirname(files[0]), path.dirname(files[1]), "one folder for the commit");
    const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(files[0]), MANIFEST_NAME), "utf8")) as { commit: string; files: Array<{ path: string }> };
    assert.deepEqual(manifest.files.map((f) => f.path).sort(), [four.file, eight.file].sort());
    assert.deepEqual(fs.readFileSync(files[1]), fs.readFileSync(path.join(tmp, "repo", eight.file)));
    for (const entry of [four, eight]) assert.equal((await pullSingleFile(entry, fastOptions(hub, store))).status, "present");
    // The second pull and the later ones did not fetch the first file again; the file no entry names was never fetched; no staging folder is left.
    assert.equal(fetches(four.file), fourFetches);
    assert.equal(fetches(FILES[2]), 0);
    assert.equal(fs.existsSync(store.partialFor(REPO, manifest.commit)), false);
  });
});
