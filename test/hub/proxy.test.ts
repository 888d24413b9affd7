// Pulls through an HTTP proxy (HTTPS_PROXY or the extension's http.proxy): plain HTTP goes to the
// proxy in absolute form; HTTPS opens a CONNECT tunnel, checked here on its own.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { hubConfig } from "../../extension/engine/hub/hubConfig";
import { bypassesProxy } from "../../extension/engine/hub/hubConfig";
import { connectTunnel } from "../../extension/engine/hub/proxyTunnel";
import { pullModel } from "../../extension/engine/hub/pull";
import type { FakeHub } from "./fakeHub";
import { fastOptions, startHub, tempStore } from "./helpers";
import { startProxy } from "./forwardProxy";

describe("hub through a proxy", () => {
  let hub: FakeHub;
  let proxy: { server: http.Server; close: () => Promise<void> };
  let proxyUrl: string;
  const log: string[] = [];
  before(async () => {
    hub = await startHub("tiny-sd15");
    proxy = await startProxy(log, `Basic ${Buffer.from("me:s3cret").toString("base64")}`);
    proxyUrl = `http://me:s3cret@127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await hub.close();
    await proxy.close();
  });

  it("pulls a model with every request going through the proxy (with its credentials)", async () => {
    log.length = 0;
    const { model } = await pullModel("easel-test/tiny-sd15", undefined, fastOptions(hub, tempStore(), { proxy: proxyUrl }));
    assert.ok(model.dir);
    assert.ok(log.some((l) => l.startsWith(`GET ${hub.hubUrl}/api/models/`)));
    assert.ok(log.some((l) => l.startsWith(`GET ${hub.cdnUrl}/lfs/`)));
  });

  it("NO_PROXY sends matching hosts direct", async () => {
    log.length = 0;
    await pullModel("easel-test/tiny-sd15", undefined, fastOptions(hub, tempStore(), { proxy: proxyUrl, noProxy: "localhost,127.0.0.1" }));
    assert.deepEqual(log, []);
    assert.equal(bypassesProxy("cdn-lfs.hf.co", [".hf.co"]), true);
    assert.equal(bypassesProxy("huggingface.co", ["hf.co"]), false);
    assert.equal(bypassesProxy("anything", ["*"]), true);
  });

  it("opens a CONNECT tunnel that carries a request to the target", async () => {
    log.length = 0;
    const port = Number(new URL(hub.hubUrl).port);
    const socket = await connectTunnel(new URL(proxyUrl), "127.0.0.1", port, undefined, 2_000);
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/api/models/easel-test/tiny-sd15/revision/main?blobs=true", createConnection: () => socket, agent: false }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end();
    });
    assert.deepEqual(log, [`CONNECT 127.0.0.1:${port}`]);
    assert.match(body, /"sha":"[0-9a-f]{40}"/);
  });

  it("a refused CONNECT says why", async () => {
    const noAuth = new URL(proxyUrl);
    noAuth.username = "";
    noAuth.password = "";
    await assert.rejects(connectTunnel(noAuth, "127.0.0.1", 1, undefined, 2_000), /refused CONNECT 127\.0\.0\.1:1 with HTTP 407 \(proxy authentication required/);
  });

  it("reads HTTPS_PROXY, HF_ENDPOINT and HF_TOKEN from the environment", () => {
    const c = hubConfig({}, { HTTPS_PROXY: "proxy.corp:3128", HF_ENDPOINT: "https://hf-mirror.example/", HF_TOKEN: "hf_x", NO_PROXY: "a.example, .b.example" });
    assert.equal(c.proxy?.href, "http://proxy.corp:3128/");
    assert.equal(c.endpoint.href, "https://hf-mirror.example/");
    assert.equal(c.token, "hf_x");
    assert.deepEqual(c.noProxy, ["a.example", ".b.example"]);
    assert.equal(hubConfig({ proxy: "" }, { HTTPS_PROXY: "http://p:1" }).proxy, undefined, "an explicit empty proxy wins");
  });
});
