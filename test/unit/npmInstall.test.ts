// The install is offline-safe and quiet: `.npmrc` keeps every dependency's install script from
// running (onnxruntime-node's would fetch CUDA libraries from NuGet on linux-x64, vsce-sign's its
// signing tool from the internet) using only config npm knows, so npm prints no warning about it.
// npm is run as a user would run it, without the variables `npm test` itself puts in the
// environment.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { withoutNpmRunEnv } from "../helpers/npmEnv";
import { ROOT } from "../helpers/paths";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function runNpm(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(npm, args, {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...withoutNpmRunEnv(process.env), npm_config_update_notifier: "false", ...extraEnv },
    timeout: 120_000,
  });
  assert.equal(r.error, undefined, String(r.error));
  return r;
}

test("the project's npm config blocks dependency install scripts, with no warning", () => {
  const r = runNpm(["config", "get", "ignore-scripts"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "true");
  assert.doesNotMatch(r.stderr, /warn/i, "npm warns about the project's .npmrc");
});

test("re-running the downloading install scripts with no network reaches nothing and fails nothing", () => {
  // Every request would go to a closed port; a script that ran and tried to download would fail
  // or leave the CUDA provider libraries behind.
  const closed = "http://127.0.0.1:9";
  const r = runNpm(["rebuild", "onnxruntime-node", "@vscode/vsce-sign", "--foreground-scripts"], {
    HTTPS_PROXY: closed,
    HTTP_PROXY: closed,
    GLOBAL_AGENT_HTTPS_PROXY: closed,
    GLOBAL_AGENT_HTTP_PROXY: closed,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warn|error/i);
  const ortBin = path.join(ROOT, "node_modules", "onnxruntime-node", "bin", "napi-v6", `${process.platform}`, process.arch);
  assert.ok(fs.existsSync(ortBin), `${ortBin} is missing`);
  assert.deepEqual(
    fs.readdirSync(ortBin).filter((f) => f.includes("providers_cuda") || f.includes("providers_tensorrt")),
    [],
    "CUDA provider libraries were downloaded at install",
  );
});
