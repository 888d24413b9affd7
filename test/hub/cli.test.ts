// `easel models …` run in-process against the fake hub (HF_ENDPOINT), with captured output.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadCatalog } from "../../extension/engine/hub/catalog";
import { MODELS } from "../helpers/paths";
import { runCli } from "../helpers/runCli";
import { type FakeHub, hostFolder } from "./fakeHub";
import { runModels, startHub, tempStore } from "./helpers";


describe("easel models", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startHub("tiny-sd15");
    process.env.HF_ENDPOINT = hub.hubUrl;
    delete process.env.HF_TOKEN;
    process.env.HTTPS_PROXY = "";
  });
  after(() => hub.close());

  it("pull refuses a --concurrency outside 1..16 before downloading anything", async () => {
    const store = tempStore();
    for (const n of ["0", "-3", "4294967296"]) {
      await assert.rejects(runModels(store, "pull", "easel-test/tiny-sd15", "--accept-license", `--concurrency=${n}`), new RegExp(`--concurrency must be a whole number from 1 to 16 \\(got ${n}\\)`));
    }
    assert.deepEqual(await store.listPulled(), []);
  });

  it("pull needs --accept-license without a terminal, shows the licence, then pulls", async () => {
    const store = tempStore();
    await assert.rejects(runModels(store, "pull", "easel-test/tiny-sd15"), /needs its licence accepted first: read the MIT License .* --accept-license/);
    const r = await runModels(store, "pull", "easel-test/tiny-sd15", "--accept-license");
    assert.equal(r.code, 0);
    assert.match(r.stderr, /easel-test\/tiny-sd15 is licensed under the MIT License/);
    assert.match(r.stderr, /downloaded and verified: easel-test\/tiny-sd15@[0-9a-f]{12}/);
    const dir = r.stdout.trim();
    assert.ok(fs.existsSync(path.join(dir, "unet", "model.onnx")));
    // Accepted once: the next pull of anything under MIT does not ask.
    const again = await runModels(store, "pull", "easel-test/tiny-sd15");
    assert.match(again.stderr, /already in the store/);
  });

  it("list, verify (catching a damaged file), add and rm", async () => {
    const store = tempStore();
    const dir = (await runModels(store, "pull", "easel-test/tiny-sd15", "--accept-license")).stdout.trim();
    const listed = JSON.parse((await runModels(store, "list", "--json")).stdout) as { pulled: { repo: string; dir: string }[]; catalog: { id: string }[] };
    assert.deepEqual(listed.pulled.map((p) => p.repo), ["easel-test/tiny-sd15"]);
    assert.ok(listed.catalog.some((c) => c.id === "sd-turbo"));
    assert.match((await runModels(store, "list")).stdout, /sd-turbo .*non-commercial; not for the CPU or DirectML\)/);

    assert.match((await runModels(store, "verify", "easel-test/tiny-sd15")).stdout, /^ok easel-test\/tiny-sd15@[0-9a-f]{12} \(\d+ files, sizes and hashes\)/);
    const unet = path.join(dir, "unet", "model.onnx");
    const bytes = fs.readFileSync(unet);
    bytes[100] ^= 1;
    fs.writeFileSync(unet, bytes);
    await assert.rejects(runModels(store, "verify", "easel-test/tiny-sd15"), /failed verification: remove it/);
    assert.match((await runModels(store, "verify", "easel-test/tiny-sd15", "--quick")).stdout, /^ok .*sizes\)/);

    const added = await runModels(store, "add", path.join(MODELS, "tiny-lcm"), "--name", "my-lcm");
    assert.equal(added.stdout.trim(), "my-lcm");
    assert.match((await runModels(store, "verify", "my-lcm")).stdout, /^ok my-lcm \(layout\)/);
    await assert.rejects(runModels(store, "add", path.join(MODELS, "tiny-lcm"), "--name", "sd15"), /is a catalog id/);
    await runModels(store, "rm", "my-lcm");
    await runModels(store, "rm", "easel-test/tiny-sd15");
    assert.equal(fs.existsSync(dir), false);
    assert.ok(fs.existsSync(path.join(MODELS, "tiny-lcm", "unet", "model.onnx")), "rm of an added folder never deletes the user's files");
    const empty = JSON.parse((await runModels(store, "list", "--json")).stdout) as { pulled: unknown[]; local: unknown[] };
    assert.deepEqual([empty.pulled, empty.local], [[], []]);
    await assert.rejects(runModels(store, "verify", "easel-test/tiny-sd15"), /is not in the store: download it with 'easel models pull/);
  });

  it("a catalog model's branches are separate models: pulling main marks only the entry for main", async () => {
    const fp16 = loadCatalog().models.find((m) => m.id === "sd21-base-fp16")!;
    const other = loadCatalog().models.find((m) => m.repo === fp16.repo && m.id !== fp16.id)!;
    const hosted = hostFolder(fp16.repo, path.join(MODELS, "tiny-sd15"));
    hub.add({ ...hosted, branches: { [fp16.ref]: hosted.commit } });
    const store = tempStore();
    const pulled = await runModels(store, "pull", fp16.id, "--accept-license");
    assert.match(pulled.stderr, new RegExp(`^note: ${fp16.name.replace(/[()]/g, "\\$&")} does not run on the CPU: `, "m"), "an explicit pull goes ahead, saying where it cannot run");
    const listed = JSON.parse((await runModels(store, "list", "--json")).stdout) as { catalog: { id: string; downloaded: boolean }[] };
    const downloaded = (id: string) => listed.catalog.find((c) => c.id === id)?.downloaded;
    assert.equal(downloaded(fp16.id), true);
    assert.equal(downloaded(other.id), false, `${other.id} (${other.ref}) is another branch, not downloaded`);
  });

  it("generate refuses a catalog model that cannot run on the provider before downloading anything", async () => {
    const turbo = loadCatalog().models.find((m) => m.id === "sd-turbo")!;
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "easel-home-"));
    try {
      const before = hub.requests.length;
      const r = await runCli(["generate", "--model", "sd-turbo", "--provider", "cpu", "--prompt", "a fox", "--accept-license", "--out", path.join(home, "fox.png")], {
        env: { EASEL_HOME: home, HF_ENDPOINT: hub.hubUrl },
        cwd: home,
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`^error: ${turbo.name.replace(/[()]/g, "\\$&")} \\(onnxruntime/sd-turbo\\) cannot run on the CPU: .*; set easel.provider \\(CLI: --provider\\) to cuda`, "m"));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(hub.requests.length, before, "no request reached the Hub");
      assert.deepEqual(fs.readdirSync(home), [], "nothing written");
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("explains bad usage in one line", async () => {
    const store = tempStore();
    await assert.rejects(runModels(store, "frobnicate"), /unknown models command "frobnicate"/);
    await assert.rejects(runModels(store, "pull"), /give one model/);
    await assert.rejects(runModels(store, "pull", "not a repo"), /neither a catalog id nor owner\/name/);
    assert.equal((await runModels(store)).code, 2);
  });
});
