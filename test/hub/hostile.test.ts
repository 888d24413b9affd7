// A hostile or broken Hub (or mirror): every value it sends that becomes a path or decides what is
// accepted is checked first. A bad commit id or file name is refused in one line naming the value
// and the endpoint, with nothing created or removed outside the store; a file that never matches
// its listed size fails after a few tries instead of re-downloading forever; files listed without
// a hash are said to be size-checked only; odd redirects and settings are named, not "Invalid URL".
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { redirectTarget } from "../../extension/engine/hub/httpClient";
import { readManifest } from "../../extension/engine/hub/manifest";
import { pullModel } from "../../extension/engine/hub/pull";
import { MODELS } from "../helpers/paths";
import { runCli } from "../helpers/runCli";
import { type FakeHub, hostFolder, type RevisionAnswer } from "./fakeHub";
import { assertSameFiles, easelError, fastOptions, modelFolders, startHub, tempStore } from "./helpers";

const REPO = "easel-test/tiny-sd15";
const FIXTURE = path.join(MODELS, "tiny-sd15");


/** Every file and folder under `dir`, relative, with file contents: a snapshot to compare after a pull. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const full = path.join(d, name);
      const rel = path.relative(dir, full);
      if (fs.statSync(full).isDirectory()) {
        out[`${rel}/`] = "";
        walk(full);
      } else out[rel] = fs.readFileSync(full, "utf8");
    }
  };
  walk(dir);
  return out;
}

/** A home folder holding a sentinel "victim" folder next to where the store will be. */
function homeWithVictim(): { home: string; victim: string } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "easel-hostile-"));
  const victim = path.join(home, "victim");
  fs.mkdirSync(path.join(victim, "keep"), { recursive: true });
  fs.writeFileSync(path.join(victim, "precious.txt"), "do not touch\n");
  fs.writeFileSync(path.join(victim, "keep", "more.txt"), "nor this\n");
  return { home, victim };
}

/** The CLI as users run it, against the fake hub, with its store in `home` and no proxy from the machine. */
function cliPull(hub: FakeHub, home: string, env: NodeJS.ProcessEnv = {}, spec = REPO) {
  return runCli(["models", "pull", spec, "--accept-license"], {
    cwd: home,
    env: { EASEL_HOME: home, HF_ENDPOINT: hub.hubUrl, HF_TOKEN: "", HTTPS_PROXY: "", https_proxy: "", HTTP_PROXY: "", http_proxy: "", ...env },
  });
}

/** Exactly one `error:` line, the last thing said (the licence text may come before it). */
function oneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.filter((l) => l.startsWith("error:")).length, 1, stderr);
  assert.match(lines.at(-1) ?? "", /^error: /);
  assert.match(lines.at(-1) ?? "", pattern);
}

/** unet/model.onnx (LFS) and model_index.json (git) listed with their sizes only. */
const stripHashes = (a: RevisionAnswer) => ({ ...a, siblings: a.siblings.map((s) => (s.rfilename === "unet/model.onnx" || s.rfilename === "model_index.json" ? { rfilename: s.rfilename, size: s.size } : s)) });

const withSibling = (extra: Record<string, unknown>) => (a: RevisionAnswer) => ({ ...a, siblings: [...a.siblings, extra] });

describe("a hostile hub", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startHub("tiny-sd15");
    hub.add(hostFolder("easel-test/pinned", FIXTURE, { license: "mit" }));
  });
  after(() => hub.close());
  beforeEach(() => {
    hub.faults = [];
    hub.listing = undefined;
    hub.redirect = undefined;
    hub.tree = "on";
    hub.treePageSize = 1000;
  });

  it("a commit id that is a path (/../../../victim) is refused; nothing outside the store is created or removed", async () => {
    for (const sha of ["/../../../victim", "../victim", "../../victim"]) {
      const { home, victim } = homeWithVictim();
      try {
        const before = snapshot(home);
        hub.listing = (a) => ({ ...a, sha });
        const r = await cliPull(hub, home);
        const afterwards = snapshot(home);
        const outside = Object.fromEntries(Object.entries(afterwards).filter(([k]) => !k.startsWith("models/")));
        assert.deepEqual(outside, before, "the victim folder and its neighbours are untouched");
        assert.equal(fs.readFileSync(path.join(victim, "precious.txt"), "utf8"), "do not touch\n");
        // The store may exist (empty); nothing else may appear in it.
        for (const key of Object.keys(afterwards)) if (key.startsWith("models/")) assert.match(key, /^models\/(\.partial\/)?$/, `${key} in the store`);
        assert.notEqual(r.code, 0);
        oneErrorLine(r.stderr, new RegExp(`answered the commit \\(sha\\) ${JSON.stringify(sha).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} for easel-test/tiny-sd15@main \\(not a 40-character lowercase hex commit id\\).*check that HF_ENDPOINT`));
        assert.match(r.stderr, new RegExp(`^error: ${hub.hubUrl.replace(/[.:/]/g, "\\$&")}/api/models/easel-test/tiny-sd15/revision/main`, "m"), "names the endpoint asked");
      } finally {
        fs.rmSync(home, { recursive: true, force: true });
      }
    }
  });

  it("refuses commit ids of the wrong shape, and a pinned commit answered with another", async () => {
    const good = "0123456789abcdef0123456789abcdef01234567";
    for (const sha of ["ABCDEF0123456789ABCDEF0123456789ABCDEF01", `${good}0`, good.slice(1), "main", "../../x"]) {
      hub.listing = (a) => ({ ...a, sha });
      await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, tempStore())), easelError("model-missing", /answered the commit \(sha\) .* \(not a 40-character lowercase hex commit id\)/));
    }
    hub.listing = (a) => ({ ...a, sha: good });
    const pinned = hostFolder("easel-test/pinned", FIXTURE).commit;
    await assert.rejects(pullModel("easel-test/pinned", pinned, fastOptions(hub, tempStore())), easelError("model-missing", new RegExp(`answered the commit \\(sha\\) "${good}" .*\\(the commit ${pinned} was asked for\\)`)));
  });

  it("refuses file names that could leave the model folder, naming the value and the endpoint", async () => {
    const cases: [unknown, RegExp][] = [
      ["unet/../../../evil.onnx", /has a "\.\." segment/],
      ["../evil", /has a "\.\." segment/],
      ["/etc/passwd", /is absolute/],
      ["unet\\..\\..\\evil", /contains a backslash/],
      ["C:/Windows/evil", /starts with a drive letter/],
      ["unet//model.onnx", /has an empty segment/],
      ["unet/./model.onnx", /has a "\." segment/],
      ["unet/model\u0000.onnx", /contains a control character/],
      ["", /is empty/],
      [42, /is not a string/],
      [`unet/${"a".repeat(300)}`, /has a segment longer than 255 characters/],
      ["a/".repeat(600) + "x", /is longer than 1024 characters/],
    ];
    for (const [name, why] of cases) {
      const store = tempStore();
      hub.listing = withSibling({ rfilename: name, size: 3, blobId: "a".repeat(40) });
      await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, store)), easelError("model-missing", new RegExp(`^http://127\\.0\\.0\\.1:\\d+/api/models/easel-test/tiny-sd15/revision/main\\?blobs=true answered a file name \\(rfilename\\) .* for easel-test/tiny-sd15@main \\(it ${why.source}; a file name must be a relative path`)));
      assert.deepEqual(fs.readdirSync(store.root), [], "nothing was written");
    }
  });

  it("refuses sizes and hashes that are not what the Hub sends", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ size: -1 }, /the size of unet\/model\.onnx -1 .*not a whole number of bytes/],
      [{ size: 1.5 }, /the size of unet\/model\.onnx 1\.5 /],
      [{ size: "12" }, /the size of unet\/model\.onnx "12" /],
      [{ size: 2 ** 60 }, /the size of unet\/model\.onnx 1152921504606847000 /],
      [{ size: 1, lfs: { sha256: "zz", size: 1 } }, /the sha256 of unet\/model\.onnx "zz" .*not 64 hex digits/],
      [{ blobId: "a".repeat(39) }, /the blob id of unet\/model\.onnx "a{39}" .*not 40 hex digits/],
    ];
    for (const [change, why] of cases) {
      hub.listing = (a) => ({ ...a, siblings: a.siblings.map((s) => (s.rfilename === "unet/model.onnx" ? { ...s, ...(change.size !== undefined ? { lfs: undefined } : {}), ...change } : s)) });
      await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, tempStore())), easelError("model-missing", why));
    }
  });

  it("a file listed twice: identical entries are one file, different ones are refused in one line", async () => {
    hub.listing = (a) => ({ ...a, siblings: [...a.siblings, ...a.siblings.filter((s) => s.rfilename === "tokenizer/vocab.json" || s.rfilename === "unet/model.onnx")] });
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, tempStore(), { concurrency: 4 }));
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
    assert.equal((await readManifest(model.dir))?.files.filter((f) => f.path === "unet/model.onnx").length, 1);

    hub.listing = (a) => ({ ...a, siblings: [...a.siblings, { ...a.siblings.find((s) => s.rfilename === "tokenizer/vocab.json"), size: 5 }] });
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, tempStore())), easelError("model-missing", /answered a file name listed twice with different sizes or hashes "tokenizer\/vocab\.json"/));
  });

  it("names that would share one path on disk are refused before downloading", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ rfilename: "unet/Model.onnx" }, /lists both unet\/model\.onnx and unet\/Model\.onnx, the same file on a case-insensitive disk/],
      [{ rfilename: "unet/model.onnx/x" }, /lists both unet\/model\.onnx and unet\/model\.onnx\/x, one path as a file and a folder/],
      [{ rfilename: "unet/model.onnx.part" }, /lists both unet\/model\.onnx and unet\/model\.onnx\.part, the name its download is written to/],
      [{ rfilename: "unet/.easel-manifest.json" }, /lists unet\/\.easel-manifest\.json, the name of Easel's own manifest/],
    ];
    for (const [extra, why] of cases) {
      const start = hub.requests.length;
      hub.listing = withSibling({ size: 3, blobId: "a".repeat(40), ...extra });
      await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, tempStore())), easelError("model-invalid", why));
      assert.equal(hub.requests.slice(start).filter((r) => r.file !== undefined).length, 0, "no file was requested");
    }
  });

  it("the CLI says a duplicate name clearly, not a raw ENOENT rename", async () => {
    const { home } = homeWithVictim();
    try {
      hub.listing = (a) => ({ ...a, siblings: [...a.siblings, { ...a.siblings.find((s) => s.rfilename === "tokenizer/vocab.json"), blobId: "f".repeat(40) }] });
      const r = await cliPull(hub, home);
      assert.notEqual(r.code, 0);
      oneErrorLine(r.stderr, /a file name listed twice with different sizes or hashes "tokenizer\/vocab\.json"/);
      assert.doesNotMatch(r.stderr, /ENOENT|rename/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("a file that keeps arriving shorter than listed fails after a few tries, not forever", async () => {
    const store = tempStore();
    hub.listing = (a) => ({ ...a, siblings: a.siblings.map((s) => (s.rfilename === "unet/model.onnx" ? { ...s, size: Number(s.size) + 1000, lfs: { ...(s.lfs as object), size: Number(s.size) + 1000 } } : s)) });
    const t0 = Date.now();
    const start = hub.requests.length;
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, store, { retries: 5 })), easelError("model-invalid", /127\.0\.0\.1:\d+ sent \d+ bytes of unet\/model\.onnx 3 times, but the Hub lists \d+: the file does not match its listing/));
    const gets = hub.requests.slice(start).filter((r) => r.file === "unet/model.onnx" && r.server === "cdn").length;
    assert.ok(gets <= 3, `${gets} downloads of the file`);
    assert.ok(Date.now() - t0 < 5_000);
    assert.deepEqual(modelFolders(store), []);
  });

  it("a file longer than listed fails the same way, and a cut that can resume still resumes", async () => {
    hub.listing = (a) => ({ ...a, siblings: a.siblings.map((s) => (s.rfilename === "unet/model.onnx" ? { ...s, size: Number(s.size) - 10, lfs: { ...(s.lfs as object), size: Number(s.size) - 10 } } : s)) });
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, tempStore())), easelError("model-invalid", /sent \d+ bytes of unet\/model\.onnx 3 times, but the Hub lists/));
    hub.listing = undefined;
    let drops = 0;
    // Cuts far enough apart that bytes arrive before each one (a cut right after a write can lose them unread).
    hub.faults = [(file, start) => (file === "unet/model.onnx" && drops++ < 4 ? { dropAfter: start + 250_000 } : undefined)];
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, tempStore()));
    assert.ok(drops > 4);
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
  });

  it("a file whose server keeps refusing the resumed range (416) gives up after a few tries", async () => {
    const store = tempStore();
    const start = hub.requests.length;
    hub.faults = [(file, from) => (file === "unet/model.onnx" ? (from > 0 ? { status: 416 } : { dropAfter: 500_000 }) : undefined)];
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, store)), easelError("model-missing", /keeps refusing the byte range of unet\/model\.onnx \(HTTP 416\)/));
    assert.ok(hub.requests.slice(start).filter((r) => r.file === "unet/model.onnx" && r.server === "cdn").length <= 6);
  });

  it("a redirect to file:// (or any non-http scheme) is refused by name", async () => {
    for (const location of ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)"]) {
      hub.redirect = (file) => (file === "unet/model.onnx" ? location : undefined);
      await assert.rejects(
        pullModel(REPO, undefined, fastOptions(hub, tempStore())),
        easelError("model-missing", new RegExp(`127\\.0\\.0\\.1:\\d+ redirected /easel-test/tiny-sd15/resolve/[0-9a-f]{40}/unet/model\\.onnx to "${location.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}" \\(a ${location.split(":")[0]}: URL\\): Easel follows only http and https redirects`)),
      );
    }
    const { home } = homeWithVictim();
    try {
      hub.redirect = (file) => (file === "unet/model.onnx" ? "file:///etc/passwd" : undefined);
      const r = await cliPull(hub, home);
      oneErrorLine(r.stderr, /to "file:\/\/\/etc\/passwd" \(a file: URL\): Easel follows only http and https redirects/);
      assert.doesNotMatch(r.stderr, /port 80|ECONNREFUSED/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("refuses an https answer that redirects down to plain http; relative redirects keep their query", () => {
    const from = new URL("https://huggingface.co/a/b/resolve/main/unet/model.onnx");
    assert.throws(() => redirectTarget("http://cdn-lfs.example/x", from, from), easelError("model-missing", /huggingface\.co redirected \/a\/b\/resolve\/main\/unet\/model\.onnx to "http:\/\/cdn-lfs\.example\/x" \(from https down to plain http\)/));
    assert.equal(redirectTarget("/api/resolve-cache/x?etag=1", from, from).href, "https://huggingface.co/api/resolve-cache/x?etag=1");
    assert.equal(redirectTarget("https://cdn-lfs.example/x", from, from).host, "cdn-lfs.example");
  });

  it("files the listing gives no hash get theirs from the tree API (paged), and are verified by it", async () => {
    hub.listing = stripHashes;
    hub.treePageSize = 4;
    let served = 0;
    hub.faults = [(file) => (file === "model_index.json" && served++ === 0 ? { corruptAt: 3 } : undefined)];
    const start = hub.requests.length;
    const result = await pullModel(REPO, undefined, fastOptions(hub, tempStore()));
    assert.deepEqual(result.sizeOnly, []);
    assert.equal(served, 2, "the corrupted model_index.json was caught by its git blob id and fetched again");
    const manifest = await readManifest(result.model.dir);
    assert.match(manifest?.files.find((f) => f.path === "model_index.json")?.blobId ?? "", /^[0-9a-f]{40}$/);
    assert.match(manifest?.files.find((f) => f.path === "unet/model.onnx")?.sha256 ?? "", /^[0-9a-f]{64}$/);
    const pages = hub.requests.slice(start).filter((r) => r.path.includes("/tree/"));
    assert.ok(pages.length > 1 && pages.some((r) => r.path.includes("cursor=")), `followed the Link header: ${pages.map((r) => r.path).join(", ")}`);
  });

  it("a tree API answer with bad hashes or sizes is refused like the listing's", async () => {
    hub.listing = stripHashes;
    const cases: [(e: Record<string, unknown>) => Record<string, unknown>, RegExp][] = [
      [(e) => ({ ...e, oid: "xyz" }), /\/tree\/[0-9a-f]{40}\?recursive=true answered the blob id \(oid\) of model_index\.json "xyz" .*not 40 hex digits/],
      [(e) => ({ ...e, size: Number(e.size) + 1 }), /answered the size of model_index\.json \d+ .*\(the revision listing says \d+ bytes\)/],
      [(e) => ({ ...e, path: "../model_index.json" }), /answered a file name \(path\) "\.\.\/model_index\.json" .*has a "\.\." segment/],
    ];
    for (const [change, pattern] of cases) {
      hub.tree = (entries) => entries.map((e) => (e.path === "model_index.json" ? change(e) : e));
      await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, tempStore())), easelError("model-missing", pattern));
    }
  });

  it("files published without any hash are accepted on their size and said to be, not 'verified'", async () => {
    hub.listing = stripHashes;
    hub.tree = "off"; // a mirror without the tree API
    const store = tempStore();
    const result = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.deepEqual(result.sizeOnly, ["model_index.json", "unet/model.onnx"]);
    const manifest = await readManifest(result.model.dir);
    assert.equal(manifest?.files.find((f) => f.path === "unet/model.onnx")?.hashPublished, false);
    assert.equal(manifest?.files.find((f) => f.path === "text_encoder/model.onnx")?.hashPublished, undefined);

    const { home } = homeWithVictim();
    try {
      const r = await cliPull(hub, home);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^downloaded \(2 files size checked, no hash published: model_index\.json, unet\/model\.onnx; the rest verified by hash\): easel-test\/tiny-sd15@[0-9a-f]{12}$/m);
      assert.doesNotMatch(r.stderr, /downloaded and verified/);
      const v = await runCli(["models", "verify", REPO], { cwd: home, env: { EASEL_HOME: home } });
      assert.match(v.stdout, /^ok easel-test\/tiny-sd15@[0-9a-f]{12} \(\d+ files, sizes and hashes; 2 hashed at download, none published\)$/m);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("a bad HF_ENDPOINT or HTTPS_PROXY is named with its value and the form it must take", async () => {
    const { home } = homeWithVictim();
    try {
      const cases: [NodeJS.ProcessEnv, RegExp][] = [
        [{ HF_ENDPOINT: "not a url" }, /^error: HF_ENDPOINT is "not a url", not a URL: set it to an http\(s\) URL such as https:\/\/huggingface\.co, or unset it$/],
        [{ HF_ENDPOINT: "ftp://mirror.example" }, /^error: HF_ENDPOINT is "ftp:\/\/mirror\.example", a ftp: URL: set it to an http\(s\) URL/],
        [{ HTTPS_PROXY: "http://proxy host:3128" }, /^error: HTTPS_PROXY is "http:\/\/proxy host:3128", not a URL: set it to an http\(s\) URL such as http:\/\/proxy\.example\.com:3128, or unset it$/],
        [{ https_proxy: "socks5://127.0.0.1:1080" }, /^error: https_proxy is "socks5:\/\/127\.0\.0\.1:1080", a socks5: URL/],
        // A password in the value is masked: error lines end up in logs.
        [{ HTTPS_PROXY: "http://me:s3cret@proxy host:3128" }, /^error: HTTPS_PROXY is "http:\/\/\*\*\*@proxy host:3128", not a URL/],
      ];
      for (const [env, pattern] of cases) {
        const r = await cliPull(hub, home, env);
        assert.notEqual(r.code, 0);
        oneErrorLine(r.stderr, pattern);
        assert.doesNotMatch(r.stderr, /Invalid URL|s3cret/);
      }
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("a repo id or revision handed to pullModel directly is checked before any request", async () => {
    const start = hub.requests.length;
    for (const [repo, rev] of [["../x", undefined], ["a/b/../c", undefined], [REPO, "../../x"], [REPO, "main/../../x"], [REPO, "a//b"]] as const) {
      await assert.rejects(pullModel(repo, rev, fastOptions(hub, tempStore())), easelError("bad-argument", /is not a (Hugging Face repository|branch, tag or commit)/));
    }
    assert.equal(hub.requests.length, start);
  });
});
