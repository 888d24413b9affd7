// Installing the CUDA provider libraries from a fake NuGet feed on 127.0.0.1: the package is found
// through the service index, registration and catalog leaves, downloaded resumably, checked against
// the feed's SHA-512, unpacked next to a copy of onnxruntime-node's native folder and moved into
// place whole; cancel, a lying feed, a missing version and a second process are each handled.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { EaselError } from "../../extension/engine/errors";
import { type CudaInstallOptions, type CudaLocations, CUDA_PACKAGE_ID, cudaStatus, installCuda, provisionedCudaFolder } from "../../extension/engine/gpu/cudaInstall";
import { type CudaProbeDeps } from "../../extension/engine/gpu/cudaLibraries";
import { nugetConfig } from "../../extension/engine/gpu/nuget";
import { ROOT } from "../helpers/paths";
import { buildZip, FakeNugetFeed } from "./fakeNuget";
import { startProxy } from "./forwardProxy";

const VERSION = "1.30.0";
const made: string[] = [];
process.on("exit", () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Stand-ins for the two provider libraries and the rest of a Gpu.Linux package. */
const SHARED = randomBytes(20_000);
const CUDA = Buffer.concat([randomBytes(300_000), Buffer.alloc(200_000, 7)]);
const NUPKG = buildZip([
  { name: "_rels/.rels", data: Buffer.from("<Relationships/>") },
  { name: `${CUDA_PACKAGE_ID}.nuspec`, data: Buffer.from(`<package><metadata><id>${CUDA_PACKAGE_ID}</id><version>${VERSION}</version></metadata></package>`) },
  { name: "runtimes/linux-x64/native/libonnxruntime.so", data: randomBytes(5_000) },
  { name: "runtimes/linux-x64/native/libonnxruntime_providers_shared.so", data: SHARED, deflate: false },
  { name: "runtimes/linux-x64/native/libonnxruntime_providers_cuda.so", data: CUDA },
  { name: "runtimes/linux-x64/native/libonnxruntime_providers_tensorrt.so", data: randomBytes(5_000) },
]);

/** A stand-in onnxruntime-node native folder and an empty Easel GPU cache. */
function locations(): CudaLocations {
  const ortFolder = tempDir("easel-ort-");
  fs.writeFileSync(path.join(ortFolder, "onnxruntime_binding.node"), "binding stand-in");
  fs.writeFileSync(path.join(ortFolder, "libonnxruntime.so.1"), "runtime stand-in");
  return { root: path.join(tempDir("easel-gpu-"), "gpu"), ortFolder, ortVersion: VERSION };
}

const LDCONFIG = ["libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcufft.so.11", "libcurand.so.10", "libcudnn.so.9"]
  .map((n) => `\t${n} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/${n}`)
  .join("\n");

export const cudaMachine: CudaProbeDeps = { ldconfig: async () => `${LDCONFIG}\n`, env: {}, home: "/nonexistent", listDir: async () => [] };

function options(feed: FakeNugetFeed, loc: CudaLocations, extra: Partial<CudaInstallOptions> = {}): CudaInstallOptions {
  return { endpoint: feed.indexUrl, proxy: "", locations: loc, probe: cudaMachine, platform: "linux", arch: "x64", stallTimeoutMs: 400, retries: 3, retryDelayMs: 5, lockPollMs: 20, ...extra };
}

function leftovers(loc: CudaLocations): string[] {
  const partial = path.join(loc.root, ".partial");
  return fs.existsSync(partial) ? fs.readdirSync(partial).filter((n) => !n.endsWith(".nupkg")) : [];
}

describe("CUDA install from a NuGet feed", () => {
  let feed: FakeNugetFeed;
  before(async () => {
    feed = await new FakeNugetFeed().start();
    feed.add(CUDA_PACKAGE_ID, VERSION, NUPKG);
  });
  after(() => feed.close());
  beforeEach(() => {
    feed.faults = [];
    feed.hashOverride = undefined;
    feed.requests.length = 0;
  });

  it("downloads, verifies and unpacks the provider libraries next to a copy of onnxruntime-node's folder", async () => {
    const loc = locations();
    const before = await cudaStatus(options(feed, loc));
    assert.equal(before.provisioned, false);
    assert.deepEqual(before.missingSystemLibs, []);
    let asked = 0;
    const seen: number[] = [];
    const result = await installCuda(
      options(feed, loc, {
        confirm: async (pkg) => {
          asked = pkg.size;
          return true;
        },
        progressIntervalMs: 0,
        onProgress: (p) => seen.push(p.bytes),
      }),
    );
    assert.equal(result.status, "installed");
    assert.equal(asked, NUPKG.length, "the confirmation is told the package's size");
    assert.equal(seen.at(-1), NUPKG.length);
    const folder = provisionedCudaFolder(loc);
    assert.ok(folder);
    assert.ok(fs.readFileSync(path.join(folder, "libonnxruntime_providers_cuda.so")).equals(CUDA));
    assert.ok(fs.readFileSync(path.join(folder, "libonnxruntime_providers_shared.so")).equals(SHARED));
    assert.equal(fs.readFileSync(path.join(folder, "libonnxruntime.so.1"), "utf8"), "runtime stand-in");
    assert.equal(fs.readFileSync(path.join(folder, "onnxruntime_binding.node"), "utf8"), "binding stand-in");
    assert.ok(!fs.existsSync(path.join(folder, "libonnxruntime_providers_tensorrt.so")), "only what the CUDA provider needs");
    assert.deepEqual(fs.readdirSync(path.join(loc.root, ".partial")), [], "the package and the lock are gone");
    const status = await cudaStatus(options(feed, loc));
    assert.equal(status.provisioned, true);
    assert.equal(status.folder, folder);
    assert.equal(status.packageVersion, VERSION);
    assert.equal(status.sizeBytes, SHARED.length + CUDA.length + "binding stand-in".length + "runtime stand-in".length + fs.statSync(path.join(folder, "easel-cuda.json")).size);
    // The feed was read as NuGet clients read it, and no token went to it.
    assert.deepEqual(
      feed.requests.map((r) => r.path.replace(/\d{4}\.\d\d\.\d\d/, "DATE")),
      [
        "/v3/index.json",
        `/v3/registration5-gz-semver2/microsoft.ml.onnxruntime.gpu.linux/${VERSION}.json`,
        `/v3/catalog0/data/DATE/microsoft.ml.onnxruntime.gpu.linux.${VERSION}.json`,
        `/v3-flatcontainer/microsoft.ml.onnxruntime.gpu.linux/${VERSION}/microsoft.ml.onnxruntime.gpu.linux.${VERSION}.nupkg`,
      ],
    );
    assert.ok(feed.requests.every((r) => r.authorization === undefined));
    feed.requests.length = 0;
    assert.equal((await installCuda(options(feed, loc))).status, "present");
    assert.deepEqual(feed.requests, [], "an installed folder is not fetched again");
  });

  it("resumes after a cut connection with a Range request", async () => {
    const loc = locations();
    feed.faults = [{ dropAfter: Math.floor(NUPKG.length * 0.4) }];
    assert.equal((await installCuda(options(feed, loc))).status, "installed");
    const ranges = feed.packageRequests().map((r) => r.range);
    assert.equal(ranges[0], undefined);
    assert.ok(ranges[1] && Number(/\d+/.exec(ranges[1])![0]) > 0, `resumed with ${ranges[1]}`);
    assert.ok(provisionedCudaFolder(loc));
  });

  it("a cancelled download installs nothing and the next run resumes where it stopped", async () => {
    const loc = locations();
    const controller = new AbortController();
    feed.faults = [{ bytesPerSecond: NUPKG.length }];
    const run = installCuda(
      options(feed, loc, {
        signal: controller.signal,
        progressIntervalMs: 0,
        onProgress: (p) => {
          if (p.bytes > NUPKG.length / 3) controller.abort();
        },
      }),
    );
    await assert.rejects(run, (e: unknown) => e instanceof EaselError && e.code === "cancelled" && /nothing was installed; run 'easel gpu install cuda' again/.test(e.message));
    assert.equal(provisionedCudaFolder(loc), undefined);
    assert.deepEqual(fs.readdirSync(loc.root), [".partial"], "no install folder");
    assert.deepEqual(leftovers(loc), [], "no staging folder, no lock");
    const kept = fs.readdirSync(path.join(loc.root, ".partial"));
    assert.equal(kept.length, 1, "the part of the package is kept");
    const had = fs.statSync(path.join(loc.root, ".partial", kept[0])).size;
    assert.ok(had > 0 && had < NUPKG.length);
    feed.requests.length = 0;
    assert.equal((await installCuda(options(feed, loc))).status, "installed");
    assert.deepEqual(feed.packageRequests().map((r) => r.range), [`bytes=${had}-`]);
  });

  it("a cancel while unpacking leaves nothing half-installed", async () => {
    const loc = locations();
    const controller = new AbortController();
    const run = installCuda(
      options(feed, loc, {
        signal: controller.signal,
        progressIntervalMs: 0,
        // The last progress event comes once the package is verified, before it is unpacked.
        onProgress: (p) => {
          if (p.files[0].state === "verified") controller.abort();
        },
      }),
    );
    await assert.rejects(run, (e: unknown) => e instanceof EaselError && e.code === "cancelled");
    assert.equal(provisionedCudaFolder(loc), undefined);
    assert.deepEqual(fs.readdirSync(loc.root), [".partial"]);
    assert.deepEqual(leftovers(loc), []);
    feed.requests.length = 0;
    assert.equal((await installCuda(options(feed, loc))).status, "installed");
    assert.deepEqual(feed.packageRequests(), [], "the verified package was kept and not fetched again");
  });

  it("refuses bytes that do not match the feed's SHA-512 and fetches them again", async () => {
    const loc = locations();
    feed.faults = [{ corruptAt: 1234 }];
    assert.equal((await installCuda(options(feed, loc))).status, "installed");
    assert.equal(feed.packageRequests().length, 2, "downloaded twice: the first copy failed its hash");
    assert.ok(fs.readFileSync(path.join(provisionedCudaFolder(loc)!, "libonnxruntime_providers_cuda.so")).equals(CUDA));
  });

  it("a package that never matches its published hash is an error, and nothing is installed", async () => {
    const loc = locations();
    feed.hashOverride = Buffer.alloc(64, 1).toString("base64");
    await assert.rejects(installCuda(options(feed, loc)), (e: unknown) => e instanceof EaselError && /Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux 1\.30\.0 downloaded twice with sha512 .* the NuGet feed 127\.0\.0\.1:\d+ lists: run 'easel gpu install cuda' again later/.test(e.message));
    assert.equal(provisionedCudaFolder(loc), undefined);
    assert.deepEqual(leftovers(loc), []);
  });

  it("a version the feed does not have is one clear error", async () => {
    const loc = { ...locations(), ortVersion: "9.9.9" };
    await assert.rejects(installCuda(options(feed, loc)), (e: unknown) => {
      assert.ok(e instanceof EaselError);
      assert.match(e.message, /^Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux 9\.9\.9 is not on the NuGet feed 127\.0\.0\.1:\d+ \(HTTP 404\): Easel needs exactly the version of its onnxruntime-node; check EASEL_NUGET_ENDPOINT/);
      return true;
    });
    assert.ok(!fs.existsSync(loc.root), "nothing written");
  });

  it("an endpoint that is not a NuGet v3 feed, or not a URL, is one line", async () => {
    const loc = locations();
    await assert.rejects(installCuda(options(feed, loc, { endpoint: `${feed.base}/nothing.json` })), /not on the NuGet feed|is not a NuGet v3 feed|unexpected HTTP 404/);
    assert.throws(() => nugetConfig({}, { EASEL_NUGET_ENDPOINT: "ftp://example.com/index.json" }), /^EaselError: EASEL_NUGET_ENDPOINT is "ftp:\/\/example\.com\/index\.json", a ftp: URL: set it to an http\(s\) URL such as https:\/\/api\.nuget\.org\/v3\/index\.json, or unset it$/);
    assert.equal(nugetConfig({}, { HF_TOKEN: "hf_secret" }).token, undefined, "the Hub's token never goes to the feed");
    assert.equal(nugetConfig({}, {}).endpoint.href, "https://api.nuget.org/v3/index.json");
  });

  it("does not download when the CUDA 12 / cuDNN 9 libraries are missing, and says what to install", async () => {
    const loc = locations();
    const noCudnn: CudaProbeDeps = { ...cudaMachine, ldconfig: async () => LDCONFIG.split("\n").filter((l) => !l.includes("cudnn")).join("\n") };
    await assert.rejects(installCuda(options(feed, loc, { probe: noCudnn })), (e: unknown) => {
      assert.ok(e instanceof EaselError && e.code === "provider-unavailable");
      assert.match(e.message, /^CUDA needs cuDNN 9 \(libcudnn\.so\.9\) not found by ldconfig, LD_LIBRARY_PATH or NVIDIA's pip wheels: install them with 'pip install nvidia-cudnn-cu12' or, from NVIDIA's CUDA repository, 'apt install libcudnn9-cuda-12'/);
      assert.match(e.message, /then run 'easel gpu install cuda' again$/);
      return true;
    });
    assert.deepEqual(feed.requests, [], "nothing fetched");
    const status = await cudaStatus(options(feed, loc, { probe: noCudnn }));
    assert.deepEqual(status.missingSystemLibs, ["libcudnn.so.9"]);
  });

  it("is refused off Linux x64 with one line", async () => {
    const loc = locations();
    await assert.rejects(installCuda(options(feed, loc, { platform: "darwin", arch: "arm64" })), /^EaselError: CUDA is offered on Linux x64 only \(this is darwin-arm64\): use --provider auto$/);
    assert.equal((await cudaStatus(options(feed, loc, { platform: "linux", arch: "arm64" }))).supported, false);
  });

  it("checks free space before the download and before unpacking, and says what is needed", async () => {
    const loc = locations();
    await assert.rejects(installCuda(options(feed, loc, { freeSpace: async () => 1_000_000 })), /^EaselError: not enough disk space in .*gpu: the download needs 6\d\.\d MB and 1\.0 MB is free; free some space or set EASEL_HOME to a larger disk$/);
    assert.deepEqual(feed.packageRequests(), [], "nothing downloaded");
    // Room for the package, not for what it unpacks to: the package is kept for the next run.
    const room = 64 * 1024 * 1024 + NUPKG.length + 10_000;
    await assert.rejects(installCuda(options(feed, loc, { freeSpace: async () => room })), /: unpacking it needs .* is free/);
    assert.equal(provisionedCudaFolder(loc), undefined);
    assert.deepEqual(leftovers(loc), []);
    feed.requests.length = 0;
    assert.equal((await installCuda(options(feed, loc))).status, "installed");
    assert.deepEqual(feed.packageRequests(), [], "the verified package was used");
  });

  it("goes through the proxy it is given (VS Code's http.proxy, or HTTPS_PROXY), credentials included", async () => {
    const loc = locations();
    const log: string[] = [];
    const proxy = await startProxy(log, `Basic ${Buffer.from("me:s3cret").toString("base64")}`);
    try {
      const proxyUrl = `http://me:s3cret@127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
      assert.equal((await installCuda(options(feed, loc, { proxy: proxyUrl }))).status, "installed");
      assert.equal(log.length, 4, log.join("\n"));
      assert.ok(log.every((l) => l.startsWith(`GET ${feed.base}/`)), "every feed request went through the proxy");
      assert.ok(log.at(-1)!.endsWith(".nupkg"));
    } finally {
      await proxy.close();
    }
  });

  it("a second process waits for the first and then finds the folder installed", async () => {
    const loc = locations();
    // The first installer is another process, slowed down by the feed so the second one meets its lock.
    feed.faults = [{ bytesPerSecond: Math.ceil(NUPKG.length / 1.5) }];
    const script = path.join(tempDir("easel-child-"), "first.ts");
    fs.writeFileSync(
      script,
      `import { installCuda } from ${JSON.stringify(path.join(ROOT, "extension/engine/gpu/cudaInstall.ts"))};
const probe = { ldconfig: async () => ${JSON.stringify(`${LDCONFIG}\n`)}, env: {}, home: "/nonexistent", listDir: async () => [] };
installCuda({ endpoint: ${JSON.stringify(feed.indexUrl)}, proxy: "", locations: ${JSON.stringify(loc)}, probe, platform: "linux", arch: "x64", onProgress: (p) => { if (p.bytes > 0) process.stdout.write("downloading\\n"); }, progressIntervalMs: 0 })
  .then((r) => process.stdout.write(r.status + "\\n"), (e) => { process.stderr.write(String(e) + "\\n"); process.exit(1); });
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("downloading")) resolve();
      });
      child.on("exit", () => reject(new Error(`the first installer ended early: ${out} ${err}`)));
    });
    const waitedFor: number[] = [];
    const second = await installCuda(options(feed, loc, { onWait: (pid) => waitedFor.push(pid) }));
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("exit", resolve)));
    assert.equal(code, 0, err);
    assert.match(out, /installed/);
    assert.deepEqual(waitedFor, [child.pid], "the second process saw the first one's lock and waited");
    assert.equal(second.status, "present", "the second process used the first one's install");
    assert.equal(feed.packageRequests().length, 1, "the package was downloaded once");
    assert.ok(provisionedCudaFolder(loc));
  });
});
