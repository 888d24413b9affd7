// What users see when a pull cannot succeed: missing or gated repos, server errors, a full disk,
// too little free space, a repo that is not an ONNX model, an unaccepted licence, a cancel. Each is
// one EaselError line, and none leaves a model folder behind.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import path from "node:path";
import { pullModel } from "../../extension/engine/hub/pull";
import type { OpenPart } from "../../extension/engine/hub/partFile";
import { openPartFile } from "../../extension/engine/hub/partFile";
import { MODELS } from "../helpers/paths";
import { type FakeHub, hostFolder } from "./fakeHub";
import { easelError, fastOptions, modelFolders, startHub, tempStore } from "./helpers";

const REPO = "easel-test/tiny-lcm";


describe("hub pull failures", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startHub("tiny-lcm");
    hub.add(hostFolder("easel-test/gated", path.join(MODELS, "tiny-lcm"), { gated: true, license: "other" }));
    hub.add(hostFolder("easel-test/pytorch-only", path.join(MODELS, "tiny-lcm", "scheduler")));
    hub.token = "hf_good";
  });
  after(() => hub.close());
  beforeEach(() => {
    hub.faults = [];
  });

  it("404: no such repository", async () => {
    await assert.rejects(pullModel("easel-test/nope", undefined, fastOptions(hub, tempStore())), easelError("model-missing", /no repository easel-test\/nope on the Hub \(HTTP 404\): check the name/));
  });

  it("404: no such revision", async () => {
    await assert.rejects(pullModel(REPO, "v9", fastOptions(hub, tempStore())), easelError("model-missing", /tiny-lcm@v9 does not exist on the Hub \(HTTP 404\)/));
  });

  it("401 without a token and 403 with the wrong one, both saying what to do", async () => {
    await assert.rejects(pullModel("easel-test/gated", undefined, fastOptions(hub, tempStore())), easelError("model-missing", /HTTP 401.*set HF_TOKEN/));
    await assert.rejects(pullModel("easel-test/gated", undefined, fastOptions(hub, tempStore(), { token: "hf_bad" })), easelError("model-missing", /HTTP 403.*accept the model's terms/));
    const { model } = await pullModel("easel-test/gated", undefined, fastOptions(hub, tempStore(), { token: "hf_good" }));
    assert.equal(model.repo, "easel-test/gated");
  });

  it("500 once is retried; 500 every time fails with a clear line and no folder", async () => {
    let n = 0;
    hub.faults = [(file) => (file === "unet/model.onnx" && n++ === 0 ? { status: 500 } : undefined)];
    await pullModel(REPO, undefined, fastOptions(hub, tempStore()));
    hub.faults = [(file) => (file === "unet/model.onnx" ? { status: 500 } : undefined)];
    const store = tempStore();
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, store)), easelError("model-missing", /download of unet\/model\.onnx .* failed 4 times \(.*HTTP 500.*\): check the connection and pull again/));
    assert.deepEqual(modelFolders(store), []);
  });

  it("a server that keeps dropping without progress gives up after the retries", async () => {
    hub.faults = [(file, start) => (file === "unet/model.onnx" ? { dropAfter: start } : undefined)];
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, tempStore())), easelError("model-missing", /failed 4 times/));
  });

  it("an unreachable endpoint says so", async () => {
    await assert.rejects(pullModel(REPO, undefined, { ...fastOptions(hub, tempStore()), endpoint: "http://127.0.0.1:9", retries: 1 }), easelError("model-missing", /cannot reach 127\.0\.0\.1:9 .*check the connection/));
  });

  it("disk full (an injected ENOSPC) stops the pull, keeps what was fetched, leaves no folder", async () => {
    const store = tempStore();
    let written = 0;
    const fullDisk: OpenPart = async (file, append) => {
      const real = await openPartFile(file, append);
      return {
        async write(chunk) {
          written += chunk.length;
          if (written > 1_500_000) throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
          await real.write(chunk);
        },
        close: () => real.close(),
      };
    };
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, store, { openPart: fullDisk })), easelError("output-unwritable", /the disk is full writing .*\(ENOSPC\): free some space and pull again/));
    assert.deepEqual(modelFolders(store), []);
    const { model, downloaded } = await pullModel(REPO, undefined, fastOptions(hub, store));
    assert.equal(downloaded, true);
    assert.ok(model.dir);
  });

  it("refuses to start when the disk has too little free space", async () => {
    const store = tempStore();
    const start = hub.requests.length;
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, store, { freeSpace: async () => 1_000_000 })), easelError("output-unwritable", /not enough disk space in .*: the download needs .* and 1\.0 MB is free/));
    assert.equal(hub.requests.slice(start).filter((r) => r.file !== undefined).length, 0, "no file was requested");
  });

  it("cancel leaves no half folder", async () => {
    const store = tempStore();
    const controller = new AbortController();
    const pending = pullModel(REPO, undefined, fastOptions(hub, store, { signal: controller.signal, progressIntervalMs: 0, onProgress: (p) => p.bytes > 200_000 && controller.abort() }));
    await assert.rejects(pending, easelError("cancelled", /download cancelled: run the same pull again to resume/));
    assert.deepEqual(modelFolders(store), []);
    assert.deepEqual(await store.listPulled(), []);
  });

  it("a repository without the ONNX layout fails before downloading anything", async () => {
    const start = hub.requests.length;
    await assert.rejects(pullModel("easel-test/pytorch-only", undefined, fastOptions(hub, tempStore())), easelError("model-invalid", /is not a diffusers ONNX model: its file list lacks model_index\.json, text_encoder\/model\.onnx/));
    assert.equal(hub.requests.slice(start).filter((r) => r.file !== undefined).length, 0);
  });

  it("an unaccepted licence stops the pull and names the flag", async () => {
    const store = tempStore();
    await assert.rejects(pullModel(REPO, undefined, fastOptions(hub, store, { confirmLicense: async () => false })), easelError("bad-argument", /needs its licence accepted first: read the MIT License at https:\/\/huggingface\.co\/easel-test\/tiny-lcm, then run again with --accept-license/));
    assert.deepEqual(modelFolders(store), []);
  });
});
