// The pieces of the model store that need no server: names, paths, file selection, licences,
// local folders, progress text, and what --model resolves to.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { checkLayout, globToRegExp, selectFiles } from "../../extension/engine/hub/fileSelection";
import { loadCatalog } from "../../extension/engine/hub/catalog";
import { describeLicense, ensureLicenseAccepted, licenseFromRepo, type LicenseInfo } from "../../extension/engine/hub/license";
import { formatBytes, formatDuration, ProgressTracker, type PullProgress } from "../../extension/engine/hub/progress";
import { parseRepoRef, parseStoreFolderName, storeFolderName } from "../../extension/engine/hub/repoId";
import { parseRevision, type RepoFile } from "../../extension/engine/hub/repoInfo";
import { resolveModel } from "../../extension/engine/hub/resolveModel";
import { defaultStoreRoot } from "../../extension/engine/hub/storePaths";
import { MANIFEST_NAME, readManifest } from "../../extension/engine/hub/manifest";
import { assertStrictlyInside, isInside, relativePathProblem } from "../../extension/engine/safePath";
import { MODELS } from "../helpers/paths";
import { tempStore } from "../hub/helpers";


describe("hub names and paths", () => {
  it("parses owner/name[@rev] and refuses what the Hub would", () => {
    assert.deepEqual(parseRepoRef("onnxruntime/sd-turbo"), { repo: "onnxruntime/sd-turbo", revision: undefined });
    assert.deepEqual(parseRepoRef("a/b@refs/pr/1"), { repo: "a/b", revision: "refs/pr/1" });
    for (const bad of ["sd15", "a/b/c", "a--b/c", "a/..b", "-a/b", "a/b@", "a/b@../x"]) assert.equal(parseRepoRef(bad), undefined, bad);
  });

  it("names store folders owner--name@commit, reversibly", () => {
    const commit = "0123456789abcdef0123456789abcdef01234567";
    assert.equal(storeFolderName("SimianLuo/LCM_Dreamshaper_v7", commit), `SimianLuo--LCM_Dreamshaper_v7@${commit}`);
    assert.deepEqual(parseStoreFolderName(`SimianLuo--LCM_Dreamshaper_v7@${commit}`), { repo: "SimianLuo/LCM_Dreamshaper_v7", commit });
    assert.equal(parseStoreFolderName("random-folder"), undefined);
  });

  it("puts the store under EASEL_HOME, else XDG_CACHE_HOME, else the OS cache folder", () => {
    assert.equal(defaultStoreRoot({ EASEL_HOME: "/e" }, "linux", "/home/u"), path.join("/e", "models"));
    assert.equal(defaultStoreRoot({ XDG_CACHE_HOME: "/x" }, "linux", "/home/u"), path.join("/x", "easel", "models"));
    assert.equal(defaultStoreRoot({}, "linux", "/home/u"), path.join("/home/u", ".cache", "easel", "models"));
    assert.equal(defaultStoreRoot({}, "darwin", "/Users/u"), path.join("/Users/u", "Library", "Caches", "easel", "models"));
    assert.equal(defaultStoreRoot({ LOCALAPPDATA: "C:\\L" }, "win32", "C:\\U"), path.join("C:\\L", "easel", "models"));
  });
});

describe("safe paths and the store's folders", () => {
  it("accepts relative names inside a folder and says why any other is refused", () => {
    for (const ok of ["model_index.json", "unet/model.onnx", "a/b/c.d", "..x/y", "x../y", "a b/c"]) assert.equal(relativePathProblem(ok), undefined, ok);
    const bad: [unknown, string][] = [
      ["", "is empty"], [7, "is not a string"], ["/abs", "is absolute"], ["..", 'has a ".." segment'], ["a/../b", 'has a ".." segment'],
      ["a/./b", 'has a "." segment'], ["a//b", "has an empty segment"], ["a/", "has an empty segment"], ["a\\b", "contains a backslash"],
      ["C:/x", "starts with a drive letter"], ["c:x", "starts with a drive letter"], ["a\u0000b", "contains a control character"], ["a\nb", "contains a control character"],
      ["x".repeat(256), "has a segment longer than 255 characters"], ["a/".repeat(513), "is longer than 1024 characters"],
    ];
    for (const [text, why] of bad) assert.equal(relativePathProblem(text), why, JSON.stringify(text));
  });

  it("asserts containment after resolving, not by string prefix", () => {
    const root = path.resolve("/store/models");
    assert.equal(isInside(root, path.join(root, "a")), true);
    assert.equal(isInside(root, path.join(root, "..not-a-parent")), true, "a child whose name starts with two dots");
    assert.equal(isInside(root, `${root}-evil`), false);
    assert.equal(isInside(root, path.join(root, "a", "..", "..", "victim")), false);
    assert.throws(() => assertStrictlyInside(root, root, "x"), /refusing to touch .*: x must lie inside/);
    assert.throws(() => assertStrictlyInside(root, path.join(root, ".."), "x"), /refusing to touch/);
    assert.equal(assertStrictlyInside(root, path.join(root, "a", "..", "b"), "x"), path.join(root, "b"));
  });

  it("names folders only after a repo id and a full commit, and removes only its own folders", async () => {
    const store = tempStore();
    const commit = "0123456789abcdef0123456789abcdef01234567";
    for (const bad of ["/../../../victim", "../victim", commit.toUpperCase(), "main"]) {
      assert.throws(() => store.folderFor("a/b", bad), /refusing to name a store folder after .*: not a 40-character hex commit id/);
      assert.throws(() => store.partialFor("a/b", bad), /refusing to name a store folder/);
    }
    assert.throws(() => store.folderFor("../x", commit), /not a Hugging Face repo id/);
    const victim = fs.mkdtempSync(path.join(os.tmpdir(), "easel-victim-"));
    try {
      fs.writeFileSync(path.join(victim, "keep.txt"), "keep");
      const manifest = { format: 1 as const, repo: "a/b", commit, revision: "main", pulledAt: "", files: [] };
      // A PulledModel whose dir says somewhere else (a caller's bug or a tampered record) is refused.
      await assert.rejects(store.removePulled({ kind: "pulled", repo: "a/b", commit, dir: victim, manifest }), /refusing to remove .*: the store keeps a\/b@/);
      await assert.rejects(store.removeFolder(victim), /refusing to touch .*: a folder Easel removes must lie inside/);
      await assert.rejects(store.removeFolder(store.root), /refusing to touch/);
      assert.equal(fs.readFileSync(path.join(victim, "keep.txt"), "utf8"), "keep");
    } finally {
      fs.rmSync(victim, { recursive: true, force: true });
    }
  });

  it("ignores a manifest whose entries could point outside its folder or are not what Easel writes", async () => {
    const store = tempStore();
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const dir = store.folderFor("a/b", commit);
    fs.mkdirSync(dir, { recursive: true });
    const write = (files: unknown[], extra: Record<string, unknown> = {}) =>
      fs.writeFileSync(path.join(dir, MANIFEST_NAME), JSON.stringify({ format: 1, repo: "a/b", commit, revision: "main", pulledAt: "", files, ...extra }));
    write([{ path: "unet/model.onnx", size: 3, sha256: "a".repeat(64) }]);
    assert.ok(await readManifest(dir));
    for (const bad of [{ path: "../../etc/passwd", size: 3 }, { path: "/etc/passwd", size: 3 }, { path: "x", size: -1 }, { path: "x", size: 1, sha256: "zz" }, { path: "x", size: 1, blobId: 5 }]) {
      write([bad]);
      assert.equal(await readManifest(dir), undefined, JSON.stringify(bad));
    }
    write([], { commit: "../x" });
    assert.equal(await readManifest(dir), undefined);
  });
});

describe("hub file selection", () => {
  const file = (p: string): RepoFile => ({ path: p, size: 1, blobId: undefined, sha256: undefined });
  const listing = [
    "model_index.json", "README.md", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt",
    "text_encoder/model.onnx", "unet/model.onnx", "unet/weights.pb", "unet/diffusion_pytorch_model.safetensors",
    "vae_decoder/model.onnx", "safety_checker/model.onnx", "onnx/unet/model.onnx", "unet/../../evil",
  ].map(file);

  it("takes the ONNX components and their external data, nothing else", () => {
    const got = selectFiles(listing, undefined).map((s) => s.local);
    assert.deepEqual(got, ["model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/model.onnx", "unet/model.onnx", "unet/weights.pb", "vae_decoder/model.onnx"]);
    checkLayout(selectFiles(listing, undefined), "x/y@main");
  });

  it("honours a subfolder and include patterns", () => {
    assert.deepEqual(selectFiles(listing, "onnx", ["unet/*"]).map((s) => s.local), ["unet/model.onnx"]);
    assert.ok(globToRegExp("unet/**").test("unet/a/b.onnx"));
    assert.ok(!globToRegExp("unet/*").test("unet/a/b.onnx"));
  });

  it("takes SDXL's second tokenizer and text encoder, and names the tokenizer an SDXL listing lacks", () => {
    const xl = [...listing, ...["tokenizer_2/vocab.json", "tokenizer_2/merges.txt", "text_encoder_2/model.onnx", "text_encoder_2/model.onnx_data"].map(file)];
    const got = selectFiles(xl, undefined).map((s) => s.local);
    for (const f of ["tokenizer_2/vocab.json", "tokenizer_2/merges.txt", "text_encoder_2/model.onnx", "text_encoder_2/model.onnx_data"]) assert.ok(got.includes(f), f);
    checkLayout(selectFiles(xl, undefined), "x/y@main");
    const noTokenizer2 = xl.filter((f) => !f.path.startsWith("tokenizer_2/"));
    assert.throws(() => checkLayout(selectFiles(noTokenizer2, undefined), "x/y@main"), /x\/y@main is not a diffusers ONNX model: its file list lacks tokenizer_2\/vocab\.json \+ merges\.txt/);
  });

  it("names what is missing when the listing is not an ONNX model", () => {
    assert.throws(() => checkLayout(selectFiles([file("model_index.json"), file("unet/diffusion_pytorch_model.safetensors")], undefined), "SimianLuo/LCM_Dreamshaper_v7@main"), /SimianLuo\/LCM_Dreamshaper_v7@main is not a diffusers ONNX model: its file list lacks text_encoder\/model\.onnx, unet\/model\.onnx, vae_decoder\/model\.onnx, scheduler\/scheduler_config\.json, tokenizer\/vocab\.json \+ merges\.txt/);
  });

  it("reads the Hub's revision JSON (blobs=true) and insists on sizes", () => {
    const rev = parseRevision("a/b", "main", JSON.stringify({ sha: "c".repeat(40), cardData: { license: "mit" }, siblings: [{ rfilename: "unet/model.onnx", size: 5, blobId: "b".repeat(40), lfs: { sha256: "A".repeat(64), size: 5 } }] }));
    assert.equal(rev.commit, "c".repeat(40));
    assert.deepEqual(rev.files[0], { path: "unet/model.onnx", size: 5, blobId: "b".repeat(40), sha256: "a".repeat(64) });
    assert.equal(rev.license.id, "mit");
    assert.throws(() => parseRevision("a/b", "main", JSON.stringify({ sha: "c".repeat(40), siblings: [{ rfilename: "x" }] })), /without a size: the endpoint must answer \?blobs=true/);
  });
});

describe("hub licences and store records", () => {
  it("asks once per licence, not per model", async () => {
    const store = tempStore();
    const asked: string[] = [];
    const confirm = async (l: LicenseInfo) => (asked.push(l.key), true);
    const mit = licenseFromRepo({ repo: "a/b", commit: "c", files: [], gated: false, license: { id: "mit", name: undefined, url: undefined } });
    await ensureLicenseAccepted(store, mit, "a/b", confirm);
    await ensureLicenseAccepted(store, { ...mit }, "c/d", confirm);
    assert.deepEqual(asked, ["mit"]);
    const none = licenseFromRepo({ repo: "x/y", commit: "c", files: [], gated: false, license: { id: undefined, name: undefined, url: undefined } });
    await assert.rejects(ensureLicenseAccepted(store, none, "x/y", undefined), /x\/y needs its licence accepted first: .*--accept-license/);
  });

  it("names the licences it knows and says their commercial terms; the rest are the user's to read", () => {
    const rev = (id: string | undefined, name?: string) => licenseFromRepo({ repo: "o/r", commit: "c", files: [], gated: false, license: { id, name, url: undefined } });
    assert.deepEqual([rev("mit").name, rev("mit").commercialUse], ["the MIT License", true]);
    assert.deepEqual([rev("cc-by-nc-4.0").name, rev("cc-by-nc-4.0").commercialUse], ["CC BY-NC 4.0", false]);
    // Declared as "other" with a known licence_name: the same licence (and key) as the catalog's SD-Turbo.
    const sai = rev("other", "sai-nc-community");
    assert.deepEqual([sai.key, sai.commercialUse], ["sai-nc-community", false]);
    assert.equal(loadCatalog().models.find((m) => m.id === "sd-turbo")?.license.id, sai.key, "accepted once for both");
    assert.match(describeLicense(sai, "o/r"), /NON-COMMERCIAL use only/);
    const custom = rev("other", "my-own-terms");
    assert.deepEqual([custom.name, custom.commercialUse], ["my-own-terms", undefined]);
    assert.deepEqual([rev("wtfpl").name, rev("wtfpl").commercialUse], ["wtfpl", undefined]);
  });

  it("records added folders by name and refuses a clash", async () => {
    const store = tempStore();
    await store.addLocal("/m/one", "one");
    await store.addLocal("/m/one", "one");
    await assert.rejects(store.addLocal("/m/two", "one"), /already points to \/m\/one/);
    assert.deepEqual((await store.listLocal()).map((l) => l.name), ["one"]);
    await store.removeLocal({ kind: "local", name: "one", dir: "/m/one" });
    assert.deepEqual(await store.listLocal(), []);
  });

  it("resolves --model as a path first, then an added folder, and explains what else it could be", async () => {
    const store = tempStore();
    const dir = path.join(MODELS, "tiny-sd15");
    assert.deepEqual(await resolveModel(dir, { store }), { dir, source: "path", downloaded: false });
    await store.addLocal(dir, "mine");
    assert.equal((await resolveModel("mine", { store })).source, "local");
    await assert.rejects(resolveModel("./no/such/dir", { store }), /model folder .* does not exist/);
    await assert.rejects(resolveModel("nothing", { store }), /--model nothing is not a folder, a catalog id \(.*\bsd15\b.*\), an added model or a Hugging Face repo/);
  });
});

describe("hub progress", () => {
  it("reports bytes, rate and ETA per file and in total", () => {
    let now = 0;
    const seen: PullProgress[] = [];
    const t = new ProgressTracker("a/b", "c", [{ path: "x", size: 1000 }, { path: "y", size: 1000 }], (p) => seen.push(p), 0, () => now);
    t.bytes("y", 500, false); // found on disk: not counted in the rate
    now = 1000;
    t.bytes("x", 250, true);
    now = 2000;
    t.bytes("x", 250, true);
    const p = t.snapshot();
    assert.equal(p.bytes, 1000);
    assert.equal(p.total, 2000);
    assert.equal(Math.round(p.rate), 250);
    assert.equal(Math.round(p.eta!), 4);
    assert.equal(p.files[0].state, "downloading");
    t.verified("x");
    assert.equal(t.snapshot().files[0].state, "verified");
    assert.ok(seen.length >= 3);
  });

  it("formats sizes and durations for a terminal line", () => {
    assert.equal(formatBytes(3_440_000_000), "3.4 GB");
    assert.equal(formatBytes(999), "999 B");
    assert.equal(formatDuration(3725), "1:02:05");
    assert.equal(formatDuration(undefined), "--:--");
  });
});

describe("resolveModel without downloading", () => {
  it("refuses a model that is not here yet, before any network", async () => {
    await assert.rejects(
      resolveModel("easel-test/not-here", { store: tempStore(), download: false, endpoint: "http://127.0.0.1:9" }),
      /easel-test\/not-here is not downloaded yet/,
    );
  });
  it("still finds a folder on disk", async () => {
    const r = await resolveModel(path.join(MODELS, "tiny-sd15"), { store: tempStore(), download: false });
    assert.equal(r.dir, path.join(MODELS, "tiny-sd15"));
  });
});
