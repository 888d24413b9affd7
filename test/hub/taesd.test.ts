// The TAESD decoder comes with the first model of its family: the fake Hub on 127.0.0.1 serves two
// catalog models of one family and a decoder repository laid out like the real ONNX export
// (vae_decoder/ and vae_encoder/ folders, a conversion script). The decoder is asked for once,
// fetched once, its catalog pin is checked before any byte, and the engine then finds it by family.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { PassThrough } from "node:stream";
import { decoderAnswer } from "../../extension/engine/cli/modelsCommand";
import { Engine } from "../../extension/engine/engine";
import { type Catalog, type CatalogDecoder, findCatalogDecoder, findCatalogEntry, parseCatalog } from "../../extension/engine/hub/catalog";
import { findStoreDecoder, pullDecoder } from "../../extension/engine/hub/decoders";
import { readManifest } from "../../extension/engine/hub/manifest";
import { resolveModel } from "../../extension/engine/hub/resolveModel";
import type { ModelStore } from "../../extension/engine/hub/store";
import { MODELS } from "../helpers/paths";
import { placeStoreDecoder, writeTinyTaesd } from "../helpers/tinyTaesd";
import { type FakeHub, hostFolder, type RevisionAnswer } from "./fakeHub";
import { fastOptions, modelFolders, runModels, startHub, tempStore } from "./helpers";

const DECODER_REPO = "easel-test/taesd-onnx";
const DECODER_FILE = "vae_decoder/model.onnx";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-taesd-hub-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const license = { id: "mit", name: "MIT", url: "https://example.invalid/mit", commercialUse: true };
const model = (id: string, fixture: string, family: "sd1" | "lcm") => ({
  id,
  name: id,
  repo: `easel-test/${fixture}`,
  ref: "main",
  family,
  license,
  defaults: { steps: 4, guidance: 7.5, scheduler: "default", width: 64, height: 64 },
  providers: { known: [], unsupported: [] },
  sources: ["https://example.invalid/"],
});

/** A catalog like the shipped one: two models of the SD 1.x latent space and the decoder that serves them. */
function testCatalog(sha256: string): Catalog {
  return parseCatalog({
    format: 1,
    models: [model("tiny-sd", "tiny-sd15", "sd1"), model("tiny-lcm", "tiny-lcm", "lcm")],
    decoders: [
      {
        id: "taesd",
        name: "TAESD decoder (test)",
        kind: "decoder",
        families: ["sd1", "sd2", "turbo", "lcm"],
        repo: DECODER_REPO,
        ref: "main",
        file: DECODER_FILE,
        files: { [DECODER_FILE]: { sha256 } },
        output: "minus-one-to-one",
        license,
        sources: ["https://example.invalid/"],
      },
    ],
  });
}

/** The decoder repository as the Hub lists the real export: both halves of TAESD and the script. */
async function decoderRepo(name: string): Promise<{ dir: string; sha256: string }> {
  const dir = path.join(tmp, name);
  const file = await writeTinyTaesd(path.join(dir, "vae_decoder"), { diffusers: true });
  fs.writeFileSync(path.join(dir, "vae_decoder", "config.json"), '{"_class_name":"AutoencoderTiny"}');
  await writeTinyTaesd(path.join(dir, "vae_encoder"), { seed: 9 });
  fs.writeFileSync(path.join(dir, "convert_to_onnx.py"), "# export script\n");
  return { dir, sha256: createHash("sha256").update(fs.readFileSync(file)).digest("hex") };
}

describe("TAESD decoder with the first model of its family", () => {
  let hub: FakeHub;
  let catalog: Catalog;
  before(async () => {
    hub = await startHub("tiny-sd15", "tiny-lcm");
    const { dir, sha256 } = await decoderRepo("taesd-onnx");
    hub.add(hostFolder(DECODER_REPO, dir, { license: "mit" }));
    catalog = testCatalog(sha256);
  });
  after(() => hub.close());

  const decoderRequests = () => hub.requests.filter((r) => r.path.includes("taesd-onnx")).length;
  /** Downloads of the decoder repository's files (every one starts at its /resolve/ URL). */
  const fetchedFromDecoderRepo = (file: string) => hub.requests.filter((r) => r.file === file && r.path.startsWith(`/${DECODER_REPO}/resolve/`)).length;

  it("is fetched with the first model, asked once, and neither asked nor fetched for the second", async () => {
    const store = tempStore();
    const asked: string[] = [];
    // The CLI's answer: yes, with a line saying what is fetched and how to skip it.
    const stderr = new PassThrough();
    let said = "";
    stderr.on("data", (d: Buffer) => (said += d.toString()));
    const cli = decoderAnswer({ stderr }, false);
    const confirmDecoder = async (d: CatalogDecoder, bytes: number) => {
      asked.push(`${d.id}:${bytes}`);
      return cli(d, bytes);
    };
    const first = await resolveModel("tiny-sd", { ...fastOptions(hub, store), catalog, confirmDecoder });
    assert.equal(first.downloaded, true);
    assert.equal(first.decoder?.status, "downloaded");
    const size = fs.statSync(path.join(tmp, "taesd-onnx", DECODER_FILE)).size;
    assert.deepEqual(asked, [`taesd:${size}`], "asked once, with the decoder's exact size");
    assert.match(said, /^fetching TAESD decoder \(test\) \([0-9.]+ [kM]B, MIT\) from easel-test\/taesd-onnx for previews and --decoder taesd drafts; --no-taesd skips it\n$/);
    assert.equal(fetchedFromDecoderRepo(DECODER_FILE) > 0, true);
    assert.equal(fetchedFromDecoderRepo("vae_encoder/model.onnx"), 0, "only the decoder graph is fetched");
    assert.equal(fetchedFromDecoderRepo("convert_to_onnx.py"), 0);

    const before = decoderRequests();
    const second = await resolveModel("tiny-lcm", { ...fastOptions(hub, store), catalog, confirmDecoder });
    assert.equal(second.downloaded, true);
    assert.equal(second.decoder?.status, "present");
    assert.deepEqual(asked.length, 1, "not asked again");
    assert.equal(decoderRequests(), before, "the Hub is not asked about the decoder again");

    const found = await findStoreDecoder(store, "lcm", catalog);
    assert.ok(found);
    assert.equal(found.output, "minus-one-to-one");
    assert.ok(fs.readFileSync(found.file).equals(fs.readFileSync(path.join(tmp, "taesd-onnx", DECODER_FILE))));
    assert.equal(modelFolders(store).length, 3, "two models and the decoder");
  });

  it("remembers a no: the next model of the family neither asks nor fetches; an explicit pull fetches it", async () => {
    const store = tempStore();
    let asked = 0;
    const confirmDecoder = async () => {
      asked++;
      return false;
    };
    const first = await resolveModel("tiny-sd", { ...fastOptions(hub, store), catalog, confirmDecoder });
    assert.equal(first.decoder?.status, "declined");
    assert.equal(await store.isDecoderDeclined("taesd"), true);
    const fetched = fetchedFromDecoderRepo(DECODER_FILE);
    const second = await resolveModel("tiny-lcm", { ...fastOptions(hub, store), catalog, confirmDecoder });
    assert.equal(second.decoder?.status, "declined");
    assert.equal(asked, 1);
    assert.equal(fetchedFromDecoderRepo(DECODER_FILE), fetched, "declined: no byte of it fetched");
    assert.equal(await findStoreDecoder(store, "sd1", catalog), undefined);

    const pulled = await pullDecoder(catalog.decoders![0], fastOptions(hub, store));
    assert.equal(pulled.status, "downloaded");
    assert.equal(await store.isDecoderDeclined("taesd"), false, "an explicit pull clears the no");
  });

  it("taesd: false is a no given up front (remembered, the Hub not asked), and a model already in the store brings nothing", async () => {
    const store = tempStore();
    const asked = decoderRequests();
    const skipped = await resolveModel("tiny-sd", { ...fastOptions(hub, store), catalog, taesd: false });
    assert.equal(skipped.decoder?.status, "declined");
    assert.equal(await store.isDecoderDeclined("taesd"), true);
    assert.equal(decoderRequests(), asked);
    const again = await resolveModel("tiny-sd", { ...fastOptions(hub, store), catalog });
    assert.equal(again.downloaded, false);
    assert.equal(again.decoder, undefined, "resolving a downloaded model stays offline");
    assert.equal(await findStoreDecoder(store, "sd1", catalog), undefined);
  });

  it("stops at a catalog pin mismatch before any byte: the model is kept, the decoder is not fetched", async () => {
    const store = tempStore();
    const wrong = testCatalog("0".repeat(64));
    const fetched = fetchedFromDecoderRepo(DECODER_FILE);
    const r = await resolveModel("tiny-sd", { ...fastOptions(hub, store), catalog: wrong, confirmDecoder: async () => true });
    assert.equal(r.downloaded, true);
    assert.equal(r.decoder?.status, "failed");
    assert.match(r.decoder?.status === "failed" ? r.decoder.reason : "", /vae_decoder\/model\.onnx of easel-test\/taesd-onnx@main is not the file the catalog describes/);
    assert.equal(fetchedFromDecoderRepo(DECODER_FILE), fetched);
    assert.equal(await findStoreDecoder(store, "sd1", wrong), undefined);
    assert.equal(await store.isDecoderDeclined("taesd"), false, "a failure is not a no: the next download tries again");
  });

  it("a hash the listing leaves out comes from the tree API; with none published it is size-checked and said to be", async () => {
    // As for a model (hubsec): a mirror's listing without the file's hash.
    hub.listing = (a: RevisionAnswer) => ({ ...a, siblings: a.siblings.map((s) => (s.rfilename === DECODER_FILE ? { rfilename: s.rfilename, size: s.size } : s)) });
    try {
      const decoder = catalog.decoders![0];
      const verified = await pullDecoder(decoder, fastOptions(hub, tempStore()));
      assert.equal(verified.status, "downloaded");
      assert.equal(verified.status === "downloaded" ? verified.sizeOnlyNote : "?", undefined, "verified by the tree API's hash");
      const manifest = verified.status === "downloaded" ? await readManifest(path.dirname(path.dirname(verified.file))) : undefined;
      assert.equal(manifest?.files.find((f) => f.path === DECODER_FILE)?.hashPublished, undefined);
      hub.tree = "off";
      const sizeOnly = await pullDecoder(decoder, fastOptions(hub, tempStore()));
      assert.equal(sizeOnly.status === "downloaded" ? sizeOnly.sizeOnlyNote : "?", "all 1 files size checked, no hash published");
    } finally {
      hub.listing = undefined;
      hub.tree = "on";
    }
  });

  it("checks the shipped catalog's pin: a different file at the pinned commit is refused", async () => {
    const shipped = findCatalogDecoder("taesd");
    assert.ok(shipped?.revision, "the shipped TAESD decoder is pinned to a commit");
    const { dir } = await decoderRepo("impostor");
    hub.add(hostFolder(shipped.repo, dir, { commit: shipped.revision, license: "mit" }));
    const store = tempStore();
    await assert.rejects(pullDecoder(shipped, fastOptions(hub, store)), /is not the file the catalog describes/);
    assert.deepEqual(modelFolders(store), []);
  });
});

describe("the engine finds the store's decoder by family", () => {
  let store: ModelStore;
  const dir = path.join(MODELS, "tiny-sd15");
  before(async () => {
    store = tempStore();
    // The shipped catalog's pinned decoder, its folder placed as its pull leaves it.
    const shipped = findCatalogDecoder("taesd");
    assert.ok(shipped?.revision);
    await placeStoreDecoder(store, shipped, shipped.revision, { diffusers: true });
  });

  it("uses it for previews and drafts with no path configured, and only when given the store", async () => {
    const withStore = await Engine.load(dir, { provider: "cpu", modelStore: store.root });
    const without = await Engine.load(dir, { provider: "cpu" });
    try {
      assert.equal(withStore.hasTaesd, true);
      assert.equal(without.hasTaesd, false);
      const request = { prompt: "a lighthouse", steps: 2, width: 64, height: 64, seed: 3n, scheduler: "euler" as const };
      const draft = await withStore.generate({ ...request, decoder: "taesd" });
      assert.match(draft.images[0].infotext, /VAE Decoder: TAESD/);
      await assert.rejects(without.generate({ ...request, decoder: "taesd" }), /needs a TAESD decoder .*'easel models pull taesd'/);
    } finally {
      await withStore.dispose();
      await without.dispose();
    }
  });

  it("gives SDXL and SDXL-Turbo models TAESDXL (by their family), not the SD decoder", async () => {
    const xlStore = tempStore();
    const taesdxl = findCatalogDecoder("taesdxl");
    assert.ok(taesdxl);
    // TAESDXL has no pinned commit: a pull records the branch's commit in refs, as placeStoreDecoder does.
    await placeStoreDecoder(xlStore, taesdxl, "a".repeat(40), { diffusers: true });
    const request = { prompt: "a lighthouse", steps: 1, guidance: 0, width: 64, height: 64, seed: 3n, scheduler: "euler" as const };
    for (const fixture of ["tiny-sdxl", "tiny-sdxl-turbo"]) {
      const xl = await Engine.load(path.join(MODELS, fixture), { provider: "cpu", modelStore: xlStore.root });
      // The SD store above holds only TAESD: an SDXL model finds nothing there.
      const sdOnly = await Engine.load(path.join(MODELS, fixture), { provider: "cpu", modelStore: store.root });
      try {
        assert.equal(xl.hasTaesd, true, `${fixture} (${xl.info.family}) found TAESDXL`);
        assert.equal(sdOnly.hasTaesd, false, `${fixture} does not take the SD 1.x decoder`);
        const draft = await xl.generate({ ...request, decoder: "taesd" });
        assert.equal(draft.vaeDecoder, "taesd");
        await assert.rejects(sdOnly.generate({ ...request, decoder: "taesd" }), /needs a TAESD decoder .*'easel models pull taesdxl'/);
      } finally {
        await xl.dispose();
        await sdOnly.dispose();
      }
    }
  });
});

describe("easel models pull and the TAESD decoder", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startHub();
    // The shipped catalog's sd15 entry and TAESD decoder, served by the fake Hub: the decoder
    // repository holds a file other than the pinned one, so fetching it must stop at the pin.
    const sd15 = findCatalogEntry("sd15");
    const shipped = findCatalogDecoder("taesd");
    assert.ok(sd15 && shipped?.revision);
    hub.add(hostFolder(sd15.repo, path.join(MODELS, "tiny-sd15"), { license: "creativeml-openrail-m" }));
    const { dir } = await decoderRepo("cli-impostor");
    hub.add(hostFolder(shipped.repo, dir, { commit: shipped.revision, license: "mit" }));
    process.env.HF_ENDPOINT = hub.hubUrl;
    delete process.env.HF_TOKEN;
    process.env.HTTPS_PROXY = "";
  });
  after(() => hub.close());


  it("tries the decoder by default; a pin mismatch leaves the model in place and warns how to retry", async () => {
    const store = tempStore();
    const r = await runModels(store, "pull", "sd15", "--accept-license");
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stderr, /fetching TAESD/, "a file the catalog would refuse is not offered");
    assert.match(r.stderr, /warning: TAESD decoder \(SD 1\.x \/ 2\.x\) was not fetched \(vae_decoder\/model\.onnx of deinferno\/taesd-onnx@f99d5f3d\S+ is not the file the catalog describes.*\); previews use the small approximation until 'easel models pull taesd'/);
    assert.ok(fs.existsSync(path.join(r.stdout.trim(), "unet", "model.onnx")), "the model itself is in place");
    assert.equal(modelFolders(store).length, 1, "nothing of the decoder is kept");
    await assert.rejects(runModels(store, "pull", "taesd"), /is not the file the catalog describes/);
  });

  it("list, verify and rm name the decoder by its id", async () => {
    const store = tempStore();
    // An added folder cannot take a decoder's id (lookup would find the folder, not the decoder).
    await assert.rejects(runModels(store, "add", path.join(MODELS, "tiny-sd15"), "--name", "taesd"), /"taesd" is a catalog id: choose another --name/);
    const shipped = findCatalogDecoder("taesd");
    assert.ok(shipped?.revision);
    const file = await placeStoreDecoder(store, shipped, shipped.revision, { diffusers: true });
    assert.match((await runModels(store, "list")).stdout, /taesd {16}TAESD decoder .*\[downloaded\]/);
    assert.match((await runModels(store, "verify", "taesd")).stdout, /^ok deinferno\/taesd-onnx@f99d5f3d1962 \(1 files, sizes and hashes\)/);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(file, bytes);
    await assert.rejects(runModels(store, "verify", "taesd"), /taesd failed verification/);
    await runModels(store, "rm", "taesd");
    assert.equal(await findStoreDecoder(store, "sd1"), undefined);
    assert.deepEqual(modelFolders(store), []);
  });

  it("--no-taesd is remembered: a later pull neither asks the Hub about the decoder nor fetches it", async () => {
    const store = tempStore();
    const r = await runModels(store, "pull", "sd15", "--accept-license", "--no-taesd");
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stderr, /fetching TAESD/);
    assert.equal(await store.isDecoderDeclined("taesd"), true);
    const listed = JSON.parse((await runModels(store, "list", "--json")).stdout) as { decoders: { id: string; declined: boolean; downloaded: boolean }[] };
    assert.deepEqual(listed.decoders.find((d) => d.id === "taesd"), { ...listed.decoders.find((d) => d.id === "taesd"), declined: true, downloaded: false });
    assert.match((await runModels(store, "list")).stdout, /taesd {16}TAESD decoder \(SD 1\.x \/ 2\.x\) — deinferno\/taesd-onnx \(MIT; for sd1, sd2, turbo, lcm\) \[declined\]/);
    const asked = hub.requests.filter((q) => q.path.includes("deinferno")).length;
    const again = await runModels(store, "pull", "sd15");
    assert.match(again.stderr, /already in the store/);
    assert.equal(hub.requests.filter((q) => q.path.includes("deinferno")).length, asked);
  });
});
