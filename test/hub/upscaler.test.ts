// A catalog upscaler (one super-resolution ONNX file) pulled from the fake Hub on 127.0.0.1 like the
// TAESD decoders: pins checked before any byte, only the graph fetched, verified into the store;
// then found there by id, by the name a PNG records, or as the default upscaler.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type Catalog, parseCatalog } from "../../extension/engine/hub/catalog";
import { findStoreFile, pullSingleFile } from "../../extension/engine/hub/singleFile";
import { SuperResolution } from "../../extension/engine/upscale/superResolution";
import { downloadedUpscalers, resolveUpscaler } from "../../extension/engine/upscale/upscalers";
import { writeConvNet } from "../helpers/tinyConvNets";
import { type FakeHub, hostFolder } from "./fakeHub";
import { easelError, fastOptions, startHub, tempStore } from "./helpers";

const REPO = "easel-test/real-esrgan";
const FILE = "Real-ESRGAN_x2plus.onnx";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-sr-hub-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function catalogWith(sha256: string): Catalog {
  const license = { id: "bsd-3-clause", name: "BSD 3-Clause", url: "https://example.invalid/", commercialUse: true };
  return parseCatalog({
    format: 1,
    models: [{ id: "m", name: "m", repo: "easel-test/m", ref: "main", family: "sd1", license, defaults: { steps: 1, guidance: 1, scheduler: "default", width: 64, height: 64 }, providers: { known: [], unsupported: [] }, sources: ["https://example.invalid/"] }],
    upscalers: [{ id: "sr-x2", name: "Test SR x2", kind: "upscaler", scale: 2, repo: REPO, ref: "main", file: FILE, files: { [FILE]: { sha256 } }, license, sources: ["https://example.invalid/"] }],
  });
}

describe("catalog upscalers", () => {
  let hub: FakeHub;
  let sha256: string;
  before(async () => {
    hub = await startHub();
    const dir = path.join(tmp, "repo");
    fs.mkdirSync(dir);
    const file = await writeConvNet(path.join(dir, FILE), { convs: [{ name: "a", pad: 1 }], scale: 2 });
    await writeConvNet(path.join(dir, "RealESRGAN_x4plus_anime_6B.onnx"), { convs: [{ name: "a", pad: 1 }], scale: 4 });
    sha256 = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    hub.add(hostFolder(REPO, dir, { license: "bsd-3-clause" }));
  });
  after(() => hub.close());

  it("pulls only the graph, verified, and the store then serves it by id, by name and as the default", async () => {
    const store = tempStore();
    const catalog = catalogWith(sha256);
    const entry = catalog.upscalers![0];
    assert.equal(await resolveUpscaler(undefined, store, 2, catalog), undefined, "nothing downloaded: Lanczos");
    assert.deepEqual(await downloadedUpscalers(store, catalog), [], "the Studio offers Lanczos alone");
    await assert.rejects(resolveUpscaler("sr-x2", store, 2, catalog), /Test SR x2 is not downloaded: run 'easel models pull sr-x2'/);
    const outcome = await pullSingleFile(entry, fastOptions(hub, store));
    assert.equal(outcome.status, "downloaded");
    assert.equal(hub.requests.filter((r) => r.file === "RealESRGAN_x4plus_anime_6B.onnx").length, 0, "only the catalog's file");
    const file = await findStoreFile(store, entry);
    assert.ok(file);
    for (const spec of [undefined, "sr-x2", "Test SR x2"]) assert.deepEqual(await resolveUpscaler(spec, store, 2, catalog), { file, name: "Test SR x2" });
    // The Studio's hires upscaler list, by the name the PNG records (what resolveUpscaler takes back).
    assert.deepEqual((await downloadedUpscalers(store, catalog)).map((u) => u.name), ["Test SR x2"]);
    assert.equal(await resolveUpscaler("lanczos", store, 2, catalog), undefined);
    const sr = await SuperResolution.load(file, "cpu");
    assert.equal(sr.scale, 2);
    await sr.release();
    assert.equal((await pullSingleFile(entry, fastOptions(hub, store))).status, "present");
  });

  it("refuses a file whose hash differs from the catalog's pin before fetching it", async () => {
    const store = tempStore();
    const entry = catalogWith("0".repeat(64)).upscalers![0];
    await assert.rejects(pullSingleFile(entry, fastOptions(hub, store)), easelError("model-invalid", /./));
    assert.equal(await findStoreFile(store, entry), undefined);
  });
});
