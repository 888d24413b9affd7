// `easel gpu install cuda` and `--provider` lines on this platform, each bad input one line; and
// the runtime switch: once the CUDA folder is installed (here from a fake NuGet feed, with the real
// onnxruntime-node native folder copied), a process loads libonnxruntime.so.1 from that folder and
// still runs sessions (on the CPU: there is no GPU here).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { runGpuCommand } from "../../extension/engine/cli/gpuCommand";
import { EaselError } from "../../extension/engine/errors";
import { type CudaLocations, CUDA_PACKAGE_ID, defaultCudaLocations, provisionedCudaFolder } from "../../extension/engine/gpu/cudaInstall";
import { type CudaProbeDeps, findCudaLibraries } from "../../extension/engine/gpu/cudaLibraries";
import { PRIME_FROM_ENV_SOURCE } from "../../extension/engine/gpu/ortBinding";
import { MODELS, ROOT } from "../helpers/paths";
import { runCli } from "../helpers/runCli";
import { buildZip, FakeNugetFeed } from "../hub/fakeNuget";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-gpu-cli-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const linuxX64 = process.platform === "linux" && process.arch === "x64";
const VERSION = defaultCudaLocations().ortVersion;

const LDCONFIG = ["libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcufft.so.11", "libcurand.so.10", "libcudnn.so.9"]
  .map((n) => `\t${n} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/${n}`)
  .join("\n");
const cudaMachine: CudaProbeDeps = { ldconfig: async () => LDCONFIG, env: {}, home: "/nonexistent", listDir: async () => [] };

function oneErrorLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0], /^error: /);
  return lines[0];
}

function io(stdinTty = false) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: false });
  const stdin = Object.assign(new PassThrough(), { isTTY: stdinTty });
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  return { io: { stdout, stderr, stdin }, out: () => out, err: () => err };
}

describe("easel gpu", () => {
  let feed: FakeNugetFeed;
  before(async () => {
    feed = await new FakeNugetFeed().start();
    feed.add(
      CUDA_PACKAGE_ID,
      VERSION,
      buildZip([
        { name: "runtimes/linux-x64/native/libonnxruntime_providers_shared.so", data: randomBytes(4000) },
        { name: "runtimes/linux-x64/native/libonnxruntime_providers_cuda.so", data: randomBytes(40_000) },
      ]),
    );
  });
  after(() => feed.close());

  it("usage and bad sub-commands are one line each", async () => {
    const usage = await runCli(["gpu"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stdout, /^Usage: easel gpu install cuda \[--yes\]/);
    assert.match(oneErrorLine((await runCli(["gpu", "remove", "cuda"])).stderr), /^error: unknown gpu command "remove": use 'easel gpu install cuda'/);
    assert.match(oneErrorLine((await runCli(["gpu", "install"])).stderr), /^error: say what to install: 'easel gpu install cuda'/);
    assert.match(oneErrorLine((await runCli(["gpu", "install", "rocm"])).stderr), /^error: easel gpu install takes one name, cuda \(got "rocm"\)/);
    assert.match(oneErrorLine((await runCli(["gpu", "install", "cuda", "--force"])).stderr), /Unknown option '--force'/);
  });

  it("`easel gpu install cuda` on this machine: what to install, or a confirmation it cannot ask without a terminal", async () => {
    const home = fs.mkdtempSync(path.join(tmp, "home-"));
    feed.requests.length = 0;
    const r = await runCli(["gpu", "install", "cuda"], { env: { EASEL_HOME: home, EASEL_NUGET_ENDPOINT: feed.indexUrl, HTTPS_PROXY: "", HTTP_PROXY: "" } });
    assert.equal(r.code, 1);
    const line = oneErrorLine(r.stderr);
    if (!linuxX64) return assert.match(line, /^error: CUDA is offered on Linux x64 only/);
    const libs = await findCudaLibraries();
    if (libs.advice !== "") {
      // No CUDA here (this project's CI): the line says what to install, and nothing is fetched.
      assert.equal(line, `error: ${libs.advice}; then run 'easel gpu install cuda' again`);
      assert.deepEqual(feed.requests, []);
    } else {
      assert.match(line, /confirm it with 'easel gpu install cuda --yes' \(there is no terminal to ask on\)$/);
      assert.deepEqual(feed.packageRequests(), []);
    }
    assert.ok(!fs.existsSync(path.join(home, "gpu")), "nothing written");
  });

  it("installs with --yes, asks otherwise (injected CUDA libraries)", async () => {
    const loc: CudaLocations = { root: path.join(fs.mkdtempSync(path.join(tmp, "cache-")), "gpu"), ortFolder: fakeOrtFolder(), ortVersion: VERSION };
    const inject = { endpoint: feed.indexUrl, proxy: "", locations: loc, probe: cudaMachine, platform: "linux" as const, arch: "x64" };
    const noTty = io();
    await assert.rejects(runGpuCommand(["install", "cuda"], noTty.io, inject), (e: unknown) => e instanceof EaselError && /: [\d.]+ [kM]B to download: confirm it with 'easel gpu install cuda --yes' \(there is no terminal to ask on\)$/.test(e.message));
    assert.equal(provisionedCudaFolder(loc), undefined);
    const yes = io();
    assert.equal(await runGpuCommand(["install", "cuda", "--yes"], yes.io, inject), 0);
    assert.equal(yes.out(), `${provisionedCudaFolder(loc)}\n`);
    assert.match(yes.err(), new RegExp(`^${CUDA_PACKAGE_ID.replace(/\./g, "\\.")} ${VERSION} from 127\\.0\\.0\\.1:\\d+: .* to download \\(--yes\\)\\ninstalled .*; --provider cuda and auto use it from now on\\n$`));
    const again = io();
    assert.equal(await runGpuCommand(["install", "cuda"], again.io, inject), 0);
    assert.equal(again.err(), "CUDA's provider libraries are already installed\n");
  });

  it("--provider dml on Linux, --provider cuda without the libraries: one line saying what to do", { skip: !linuxX64 && "Linux x64 lines" }, async () => {
    const home = fs.mkdtempSync(path.join(tmp, "home-"));
    const base = ["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "a cat", "--width", "64", "--height", "64", "--steps", "1", "--out", path.join(home, "x.png")];
    const dml = await runCli([...base, "--provider", "dml"], { env: { EASEL_HOME: home } });
    assert.match(oneErrorLine(dml.stderr), /\bdml\b.*\blinux\b.*use --provider auto\b/i);
    const cuda = await runCli([...base, "--provider", "cuda"], { env: { EASEL_HOME: home } });
    assert.equal(
      oneErrorLine(cuda.stderr),
      `error: CUDA's provider libraries are not installed: run 'easel gpu install cuda' (downloads ${CUDA_PACKAGE_ID} ${VERSION}, about 250 MB, once), or use --provider auto`,
    );
    assert.ok(!fs.existsSync(path.join(home, "x.png")));
  });

  it("once installed, ONNX Runtime is loaded from the CUDA folder, and the CLI still generates", { skip: !linuxX64 && "the CUDA folder is Linux x64 only" }, async () => {
    const home = fs.mkdtempSync(path.join(tmp, "home-"));
    const real = defaultCudaLocations({ EASEL_HOME: home });
    const out = io();
    assert.equal(await runGpuCommand(["install", "cuda", "--yes"], out.io, { endpoint: feed.indexUrl, proxy: "", locations: real, probe: cudaMachine }), 0);
    const folder = provisionedCudaFolder(real);
    assert.ok(folder);
    // A process that loads Easel's switch first maps libonnxruntime.so.1 from the CUDA folder.
    const script = path.join(home, "which.ts");
    fs.writeFileSync(
      script,
      `import { useProvisionedOrt } from ${JSON.stringify(path.join(ROOT, "extension/engine/gpu/ortBinding.ts"))};
const used = useProvisionedOrt();
const ort = require(${JSON.stringify(require.resolve("onnxruntime-node"))});
const maps = require("node:fs").readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l: string) => l.includes("libonnxruntime.so.1")).map((l: string) => l.split(/\\s+/).pop());
ort.InferenceSession.create(require("node:fs").readFileSync(${JSON.stringify(path.join(MODELS, "tiny-sd15", "vae_decoder", "model.onnx"))}), { executionProviders: ["cpu"] })
  .then(() => process.stdout.write(JSON.stringify({ used, maps: [...new Set(maps)], env: process.env.EASEL_ORT_BINDING }) + "\\n"));
`,
    );
    const child = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, env: { ...process.env, EASEL_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
      let s = "";
      let e = "";
      p.stdout.on("data", (d: Buffer) => (s += d.toString()));
      p.stderr.on("data", (d: Buffer) => (e += d.toString()));
      p.on("close", (code) => (code === 0 ? resolve(s) : reject(new Error(e))));
    });
    const seen = JSON.parse(child) as { used: { folder: string }; maps: string[]; env: string };
    assert.equal(seen.used.folder, folder);
    assert.deepEqual(seen.maps, [path.join(folder, "libonnxruntime.so.1")], "the runtime came from the CUDA folder, not node_modules");
    assert.equal(JSON.parse(seen.env)[1], path.join(folder, "onnxruntime_binding.node"), "child processes (the provider probes) are told too");
    // A provider probe child, which has only the environment, loads the same runtime.
    const probe = await new Promise<string>((resolve, reject) => {
      const src = `${PRIME_FROM_ENV_SOURCE}\nrequire(${JSON.stringify(require.resolve("onnxruntime-node"))});\nprocess.stdout.write(require("node:fs").readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l) => l.includes("libonnxruntime.so.1")).map((l) => l.split(/\\s+/).pop())[0]);`;
      const p = spawn(process.execPath, ["-e", src], { env: { ...process.env, EASEL_ORT_BINDING: seen.env }, stdio: ["ignore", "pipe", "pipe"] });
      let s = "";
      let e = "";
      p.stdout.on("data", (d: Buffer) => (s += d.toString()));
      p.stderr.on("data", (d: Buffer) => (e += d.toString()));
      p.on("close", (code) => (code === 0 ? resolve(s) : reject(new Error(e))));
    });
    assert.equal(probe, path.join(folder, "libonnxruntime.so.1"));
    // The CLI, which switches first thing, generates as before (on the CPU: no GPU here).
    const png = path.join(home, "cat.png");
    const r = await runCli(["generate", "--model", path.join(MODELS, "tiny-sd15"), "--prompt", "a cat", "--width", "64", "--height", "64", "--steps", "2", "--provider", "cpu", "--out", png], { env: { EASEL_HOME: home } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.statSync(png).size > 0);
  });
});

function fakeOrtFolder(): string {
  const dir = fs.mkdtempSync(path.join(tmp, "ort-"));
  fs.writeFileSync(path.join(dir, "onnxruntime_binding.node"), "binding stand-in");
  fs.writeFileSync(path.join(dir, "libonnxruntime.so.1"), "runtime stand-in");
  return dir;
}
