// Interrupted downloads: a pull killed mid-file several times at random offsets and resumed with
// Range requests, dropped connections, a stalled server, a corrupted byte and a server that
// ignores Range; every run ends byte-identical and verified.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { EaselError } from "../../extension/engine/errors";
import { pullModel } from "../../extension/engine/hub/pull";
import { MODELS } from "../helpers/paths";
import { type FakeHub, seededRandom } from "./fakeHub";
import { assertSameFiles, fastOptions, modelFolders, startHub, tempStore } from "./helpers";

const REPO = "easel-test/tiny-sd15";
const FIXTURE = path.join(MODELS, "tiny-sd15");
const BIG = "text_encoder/model.onnx";

describe("hub resume", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startHub("tiny-sd15");
  });
  after(() => hub.close());
  beforeEach(() => {
    hub.faults = [];
  });

  it("a pull killed mid-file at random offsets resumes each time and ends byte-identical", async () => {
    const store = tempStore();
    const size = fs.statSync(path.join(FIXTURE, BIG)).size;
    const random = seededRandom(1234);
    const offsets = Array.from({ length: 4 }, () => Math.floor(random() * size));
    const kills: number[] = [];
    for (const offset of offsets.sort((a, b) => a - b)) {
      const controller = new AbortController();
      const options = fastOptions(hub, store, {
        signal: controller.signal,
        concurrency: 1,
        progressIntervalMs: 0,
        onProgress: (p) => {
          const f = p.files.find((x) => x.path === BIG);
          if (f && f.bytes >= offset && f.bytes < f.total && !controller.signal.aborted) {
            kills.push(f.bytes);
            controller.abort();
          }
        },
      });
      await assert.rejects(pullModel(REPO, undefined, options), (e: unknown) => e instanceof EaselError && e.code === "cancelled");
      assert.deepEqual(modelFolders(store), [], "a cancelled pull leaves no model folder");
    }
    assert.ok(kills.length >= 3, `killed ${kills.length} times`);
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
    const ranges = hub.fileRequests(BIG).filter((r) => r.server === "cdn" && r.range).map((r) => Number(/\d+/.exec(r.range!)![0]));
    assert.ok(ranges.length >= kills.length - 1, `resumed with Range ${ranges.join(", ")}`);
    assert.ok(ranges.every((r) => r > 0 && r < size));
  });

  it("survives connections dropped at random offsets", async () => {
    const store = tempStore();
    const random = seededRandom(99);
    let drops = 0;
    hub.faults = [
      (file, start) => {
        if (file !== BIG || drops >= 4) return undefined;
        drops++;
        return { dropAfter: start + 1 + Math.floor(random() * 200_000) };
      },
    ];
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.equal(drops, 4);
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
  });

  it("treats a stalled server as a dropped connection and resumes", async () => {
    const store = tempStore();
    let stalls = 0;
    hub.faults = [(file, start) => (file === BIG && stalls++ === 0 ? { stallAfter: start + 100_000 } : undefined)];
    const t0 = Date.now();
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, store, { stallTimeoutMs: 200 }));
    assert.ok(Date.now() - t0 < 5_000);
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
    assert.ok(hub.fileRequests(BIG).some((r) => r.range === "bytes=100000-"));
  });

  it("detects a corrupted byte by sha256 and fetches the file again", async () => {
    const store = tempStore();
    let served = 0;
    hub.faults = [(file) => (file === "unet/model.onnx" && served++ === 0 ? { corruptAt: 4321 } : undefined)];
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.equal(served, 2, "served corrupted once, then again");
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
  });

  it("detects a corrupted small (git) file by its blob id too", async () => {
    const store = tempStore();
    let served = 0;
    hub.faults = [(file) => (file === "tokenizer/vocab.json" && served++ === 0 ? { corruptAt: 10 } : undefined)];
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.equal(served, 2);
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
  });

  it("fails clearly when the file stays corrupted, keeping no folder", async () => {
    const store = tempStore();
    hub.faults = [(file) => (file === "unet/model.onnx" ? { corruptAt: 7 } : undefined)];
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, store)), /unet\/model\.onnx .* downloaded twice with sha256 .*not the .* the Hub lists/);
    assert.deepEqual(modelFolders(store), []);
  });

  it("starts over when the server answers a Range request with the whole file", async () => {
    const store = tempStore();
    let n = 0;
    hub.faults = [(file, start) => (file === BIG ? (n++ === 0 ? { dropAfter: start + 50_000 } : { ignoreRange: true }) : undefined)];
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
  });

  it("a part longer than the file (HTTP 416) is discarded and fetched again", async () => {
    const store = tempStore();
    const first = await pullModel(REPO, undefined, fastOptions(hub, store, { concurrency: 1 }));
    // Simulate a damaged part left by another tool: bigger than the real file.
    await store.removePulled(first.model);
    const staging = store.partialFor(REPO, first.model.commit);
    fs.mkdirSync(path.join(staging, "unet"), { recursive: true });
    const size = fs.statSync(path.join(FIXTURE, "unet/model.onnx")).size;
    fs.writeFileSync(path.join(staging, "unet/model.onnx.part"), Buffer.alloc(size + 10));
    const { model } = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.deepEqual(assertSameFiles(FIXTURE, model.dir), []);
    // And a part the server cannot continue: it answers 416.
    await store.removePulled(model);
    fs.mkdirSync(path.join(staging, "unet"), { recursive: true });
    fs.writeFileSync(path.join(staging, "unet/model.onnx.part"), Buffer.alloc(100));
    let refused = 0;
    hub.faults = [(file, start) => (file === "unet/model.onnx" && start > 0 && refused++ === 0 ? { status: 416 } : undefined)];
    const again = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.equal(refused, 1);
    assert.deepEqual(assertSameFiles(FIXTURE, again.model.dir), []);
  });
});
