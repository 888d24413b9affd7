// A full pull from the fake hub: the folder is byte-identical to the fixture, carries the commit
// and hashes the Hub reported, is found again without the network, and generates the same image.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine } from "../../extension/engine/engine";
import { readManifest } from "../../extension/engine/hub/manifest";
import { pullModel } from "../../extension/engine/hub/pull";
import { resolveModel } from "../../extension/engine/hub/resolveModel";
import type { PullProgress } from "../../extension/engine/hub/progress";
import { CONFORMANCE, MODELS } from "../helpers/paths";
import { pixelDiff, readRgb } from "../helpers/pixels";
import type { FakeHub } from "./fakeHub";
import { assertSameFiles, fastOptions, startHub, tempStore } from "./helpers";

describe("hub pull", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startHub("tiny-turbo");
  });
  after(() => hub.close());

  it("pulls a whole model, verified, into repo@commit, and reports progress", async () => {
    const store = tempStore();
    const seen: PullProgress[] = [];
    const { model, downloaded } = await pullModel("easel-test/tiny-turbo", undefined, fastOptions(hub, store, { onProgress: (p) => seen.push(p), progressIntervalMs: 0, concurrency: 3 }));
    assert.equal(downloaded, true);
    const commit = model.commit;
    assert.match(commit, /^[0-9a-f]{40}$/);
    assert.equal(path.basename(model.dir), `easel-test--tiny-turbo@${commit}`);
    assert.deepEqual(assertSameFiles(path.join(MODELS, "tiny-turbo"), model.dir), []);
    // Only the model's files: no README, no PyTorch weights, no safety checker.
    for (const skipped of ["README.md", ".gitattributes", "unet/diffusion_pytorch_model.safetensors", "safety_checker"]) {
      assert.equal(fs.existsSync(path.join(model.dir, skipped)), false, skipped);
    }
    const manifest = await readManifest(model.dir);
    assert.ok(manifest);
    assert.equal(manifest.commit, commit);
    const unet = manifest.files.find((f) => f.path === "unet/model.onnx");
    assert.match(unet?.sha256 ?? "", /^[0-9a-f]{64}$/);
    assert.match(manifest.files.find((f) => f.path === "model_index.json")?.blobId ?? "", /^[0-9a-f]{40}$/);
    const last = seen.at(-1)!;
    assert.equal(last.bytes, last.total);
    assert.ok(last.files.every((f) => f.state === "verified"));
    assert.ok(seen.some((p) => p.files.some((f) => f.state === "downloading")));
    // No half-finished leftovers.
    assert.deepEqual(fs.readdirSync(path.join(store.root, ".partial")), []);
    // Small files came through the Hub's relative redirect into its resolve cache, query kept.
    assert.ok(hub.requests.some((r) => r.file === "model_index.json" && r.path.startsWith("/api/resolve-cache/models/easel-test/tiny-turbo/") && r.path.includes("etag=")));
  });

  it("finds a pulled model again without downloading, by repo, branch and commit", async () => {
    const store = tempStore();
    const first = await pullModel("easel-test/tiny-turbo", "main", fastOptions(hub, store));
    const before = hub.requests.length;
    const again = await pullModel("easel-test/tiny-turbo", "main", fastOptions(hub, store));
    assert.equal(again.downloaded, false);
    assert.equal(hub.requests.length, before + 1, "only the revision API is asked");
    const byCommit = await pullModel("easel-test/tiny-turbo", first.model.commit, fastOptions(hub, store));
    assert.equal(byCommit.downloaded, false);
    assert.equal(hub.requests.length, before + 1, "a pinned commit needs no network at all");
    const resolved = await resolveModel("easel-test/tiny-turbo@main", fastOptions(hub, store));
    assert.equal(resolved.dir, first.model.dir);
    assert.equal(hub.requests.length, before + 1);
  });

  it("the pulled model generates the same image as the fixture", async () => {
    const store = tempStore();
    const resolved = await resolveModel("easel-test/tiny-turbo", fastOptions(hub, store));
    assert.equal(resolved.downloaded, true);
    const c = JSON.parse(fs.readFileSync(path.join(CONFORMANCE, "cases", "turbo-1step.json"), "utf8")) as {
      prompt: string; negative_prompt: string; steps: number; guidance: number; seed: number; width: number; height: number;
    };
    const engine = await Engine.load(resolved.dir, { provider: "cpu" });
    try {
      const r = await engine.generate({ prompt: c.prompt, negativePrompt: c.negative_prompt, scheduler: "default", steps: c.steps, guidance: c.guidance, seed: BigInt(c.seed), width: c.width, height: c.height });
      const { mean, max } = pixelDiff(await readRgb(r.images[0].png), await readRgb(path.join(CONFORMANCE, "cases", "turbo-1step.png")));
      assert.ok(mean <= 0.35 && max <= 3, `mean ${mean.toFixed(3)} max ${max}`);
    } finally {
      await engine.dispose();
    }
  });

  it("does not send the token to the CDN host the Hub redirects to", async () => {
    const store = tempStore();
    const start = hub.requests.length;
    await pullModel("easel-test/tiny-turbo", undefined, fastOptions(hub, store, { token: "hf_secret" }));
    const made = hub.requests.slice(start);
    assert.ok(made.some((r) => r.server === "hub" && r.authorization === "Bearer hf_secret"));
    assert.ok(made.some((r) => r.server === "cdn"));
    assert.ok(made.filter((r) => r.server === "cdn").every((r) => r.authorization === undefined));
  });
});
