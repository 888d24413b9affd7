#!/usr/bin/env node
// npm run package [-- --all | --target <t> ...] [--skip-build] [--out <dir>]
//
// Builds (npm run build) and packs one VSIX per platform target with @vscode/vsce. The bundles in
// dist/ keep the native packages external (onnxruntime-node, sharp), so each VSIX carries a pruned
// node_modules with only what those need at run time, and only its own platform's binaries:
//   onnxruntime-node (bin/napi-v6/<os>/<arch> only) + onnxruntime-common,
//   sharp + its JS dependencies + @img/sharp-<platform> (+ @img/sharp-libvips-<platform>).
// The extension is staged in a temporary folder (dist/, media/, models/, webview/, package.json,
// README, LICENSE, CHANGELOG, the pruned node_modules, .vscodeignore) and vsce packs that folder,
// so nothing from the repository (sources, tests, dev dependencies) can slip in.
//
// Default: the host's target only. --all: every target whose native parts are obtainable (a
// target is skipped, with the reason, when onnxruntime-node ships no binaries for it). --target:
// the named ones, failing when one is not obtainable. Sharp's packages for other platforms come
// from the npm registry (`npm pack`, cached, checked against package-lock.json's integrity).
// Output: dist-vsix/<name>-<target>-<version>.vsix; sizes are printed, and the linux-x64 VSIX must
// stay under 80 MB.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { builtinModules, createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

/** VS Code target → onnxruntime-node's bin folder and sharp's platform name. */
const TARGETS = {
  "linux-x64": { os: "linux", arch: "x64", sharp: "linux-x64" },
  "linux-arm64": { os: "linux", arch: "arm64", sharp: "linux-arm64" },
  "darwin-x64": { os: "darwin", arch: "x64", sharp: "darwin-x64" },
  "darwin-arm64": { os: "darwin", arch: "arm64", sharp: "darwin-arm64" },
  "win32-x64": { os: "win32", arch: "x64", sharp: "win32-x64" },
  "win32-arm64": { os: "win32", arch: "arm64", sharp: "win32-arm64" },
};
/** Size limits in bytes (issue 5: linux-x64 under 80 MB). */
const SIZE_LIMITS = { "linux-x64": 80 * 1024 * 1024 };
/**
 * Dependencies that a package only uses in its install script, never at run time: they are
 * staged (vsce runs `npm list`, which fails on a missing dependency) but left out of the VSIX.
 */
const INSTALL_ONLY = { "onnxruntime-node": ["adm-zip", "global-agent"] };
/** Top-level entries copied into the staging folder when they exist (.vscodeignore filters them). */
const STAGE_ENTRIES = [
  "dist",
  "media",
  "models",
  "webview",
  "l10n",
  "package.nls.json",
  "README.md",
  "CHANGELOG.md",
  "LICENSE",
  "LICENSE.md",
  "LICENSE.txt",
  "ThirdPartyNotices.txt",
  ".vscodeignore",
];

// ---------------------------------------------------------------------------------------------
function parseArgs(argv) {
  const opts = { all: false, targets: [], build: true, out: path.join(ROOT, "dist-vsix") };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--all") opts.all = true;
    else if (a === "--skip-build") opts.build = false;
    else if (a === "--target" || a === "-t") opts.targets.push(...String(argv[++i] ?? "").split(","));
    else if (a.startsWith("--target=")) opts.targets.push(...a.slice(9).split(","));
    else if (a === "--out") opts.out = path.resolve(String(argv[++i] ?? ""));
    else if (a === "--help" || a === "-h") {
      console.log("usage: node scripts/package.mjs [--all | --target <t>[,<t>...]] [--skip-build] [--out <dir>]");
      console.log(`targets: ${Object.keys(TARGETS).join(", ")}`);
      process.exit(0);
    } else fail(`unknown argument ${a} (see --help)`);
  }
  for (const t of opts.targets) if (!TARGETS[t]) fail(`unknown target "${t}"; known: ${Object.keys(TARGETS).join(", ")}`);
  return opts;
}

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

function hostTarget() {
  const t = `${process.platform}-${process.arch}`;
  if (!TARGETS[t]) fail(`no VSIX target for this host (${t}); pass --target`);
  return t;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", shell: process.platform === "win32", ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}`);
  return r;
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

// ---------------------------------------------------------------------------------------------
// Which packages the bundles load at run time: every require("<bare name>") in dist/*.js.
function bundleExternals(distDir) {
  const builtins = new Set(builtinModules);
  const found = new Set();
  for (const f of fs.readdirSync(distDir)) {
    if (!f.endsWith(".js")) continue;
    const text = fs.readFileSync(path.join(distDir, f), "utf8");
    // Not a require inside a string: ajv (bundled with the MCP SDK) keeps code it generates, such as
    // 'require("ajv/dist/runtime/equal").default', in string and template literals; it never runs them
    // in Easel (standalone code generation is off).
    for (const m of text.matchAll(/(?<![`'"])\brequire\("([^"./][^"]*)"\)/g)) {
      const spec = m[1];
      if (spec.startsWith("node:") || builtins.has(spec) || spec === "vscode") continue;
      const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      found.add(name);
    }
  }
  return [...found].sort();
}

/** Node's lookup: node_modules/<name> in fromDir and its parents, up to the repository root. */
function findPackageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
    if (dir === ROOT || path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The packages reachable from `roots` through `dependencies` (optional and platform packages are
 * added per target). Returns both the full set (what `npm list` expects) and the run-time set
 * (without INSTALL_ONLY edges and what only they pull in).
 */
function dependencyClosure(roots) {
  const walk = (skipInstallOnly) => {
    const seen = new Map(); // package dir → name
    const visit = (name, fromDir, requiredBy) => {
      const dir = findPackageDir(name, fromDir);
      if (!dir) fail(`${name} (needed by ${requiredBy}) is not installed; run npm ci`);
      if (seen.has(dir)) return;
      seen.set(dir, name);
      const pj = readJson(path.join(dir, "package.json"));
      const skip = skipInstallOnly ? (INSTALL_ONLY[pj.name] ?? []) : [];
      for (const dep of Object.keys(pj.dependencies ?? {})) if (!skip.includes(dep)) visit(dep, dir, pj.name);
    };
    for (const r of roots) visit(r, ROOT, "package.json");
    return seen;
  };
  return { all: walk(false), runtime: walk(true) };
}

// ---------------------------------------------------------------------------------------------
// sharp's per-platform packages: from node_modules when installed, else `npm pack` from the registry.
function cacheDir() {
  const base = process.env.XDG_CACHE_HOME || (process.platform === "win32" ? process.env.LOCALAPPDATA : undefined) || path.join(os.homedir(), ".cache");
  return path.join(base || os.tmpdir(), "easel-build", "npm-pack");
}

function lockIntegrity(name, version) {
  const lock = readJson(path.join(ROOT, "package-lock.json"));
  const entry = lock.packages?.[`node_modules/${name}`];
  return entry && entry.version === version ? entry.integrity : undefined;
}

function checkIntegrity(file, integrity) {
  if (!integrity) return;
  const [algo, expected] = integrity.split(/-(.*)/s);
  const actual = createHash(algo).update(fs.readFileSync(file)).digest("base64");
  if (actual !== expected) throw new Error(`${path.basename(file)}: integrity mismatch (package-lock.json has ${integrity})`);
}

function fetchPackage(name, version, destDir) {
  const installed = path.join(ROOT, "node_modules", name);
  if (fs.existsSync(path.join(installed, "package.json")) && readJson(path.join(installed, "package.json")).version === version) {
    fs.cpSync(installed, destDir, { recursive: true, dereference: true });
    return "node_modules";
  }
  const cache = cacheDir();
  fs.mkdirSync(cache, { recursive: true });
  const tgz = path.join(cache, `${name.replace("@", "").replace("/", "-")}-${version}.tgz`);
  const integrity = lockIntegrity(name, version);
  if (fs.existsSync(tgz)) {
    try {
      checkIntegrity(tgz, integrity);
    } catch {
      fs.rmSync(tgz);
    }
  }
  if (!fs.existsSync(tgz)) {
    const r = spawnSync("npm", ["pack", `${name}@${version}`, "--pack-destination", cache, "--json", "--silent"], {
      encoding: "utf8",
      shell: process.platform === "win32",
      cwd: cache,
    });
    if (r.status !== 0) throw new Error(`npm pack ${name}@${version} failed: ${(r.stderr || r.stdout || "").trim()}`);
    const [info] = JSON.parse(r.stdout);
    const packed = path.join(cache, info.filename);
    if (packed !== tgz) fs.renameSync(packed, tgz);
  }
  checkIntegrity(tgz, integrity);
  fs.mkdirSync(destDir, { recursive: true });
  run("tar", ["-xzf", tgz, "-C", destDir, "--strip-components=1"], { shell: false });
  return "registry";
}

// ---------------------------------------------------------------------------------------------
function stage(target, externals, closure) {
  const spec = TARGETS[target];
  const ortBin = path.join(ROOT, "node_modules", "onnxruntime-node", "bin", "napi-v6", spec.os, spec.arch);
  if (externals.includes("onnxruntime-node") && !fs.existsSync(path.join(ortBin, "onnxruntime_binding.node")))
    return { skipped: `onnxruntime-node ${readJson(path.join(ROOT, "node_modules/onnxruntime-node/package.json")).version} ships no ${spec.os}/${spec.arch} binaries` };

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `easel-vsix-${target}-`));
  for (const entry of STAGE_ENTRIES) {
    const src = path.join(ROOT, entry);
    if (fs.existsSync(src)) fs.cpSync(src, path.join(dir, entry), { recursive: true, dereference: true });
  }

  // The manifest as shipped: only the run-time dependencies vsce should pack, no dev tooling.
  const pj = readJson(path.join(ROOT, "package.json"));
  const deps = Object.fromEntries(externals.map((n) => [n, pj.dependencies[n]]));
  const manifest = { ...pj, dependencies: deps };
  delete manifest.devDependencies;
  delete manifest.scripts;
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");

  // node_modules: the full closure (so that `npm list` is satisfied), minus other platforms' binaries.
  const nm = path.join(dir, "node_modules");
  const ortRoot = path.join(ROOT, "node_modules", "onnxruntime-node", "bin", "napi-v6");
  for (const srcDir of closure.all.keys()) {
    const rel = path.relative(ROOT, srcDir);
    fs.cpSync(srcDir, path.join(dir, rel), {
      recursive: true,
      dereference: true,
      filter: (src) => {
        if (src.startsWith(ortRoot + path.sep)) {
          const parts = path.relative(ortRoot, src).split(path.sep);
          if (parts[0] !== spec.os) return false;
          if (parts.length > 1 && parts[1] !== spec.arch) return false;
        }
        // nested node_modules are copied as packages of their own (when in the closure)
        return !path.relative(srcDir, src).split(path.sep).includes("node_modules");
      },
    });
  }

  // sharp's platform package and its libvips package (its optional dependency).
  const platformPackages = [];
  if (externals.includes("sharp")) {
    const sharpPj = readJson(path.join(ROOT, "node_modules", "sharp", "package.json"));
    const name = `@img/sharp-${spec.sharp}`;
    const version = sharpPj.optionalDependencies?.[name];
    if (!version) return { skipped: `sharp ${sharpPj.version} has no ${name} package`, dir };
    const queue = [[name, version]];
    while (queue.length) {
      const [n, v] = queue.shift();
      const dest = path.join(nm, n);
      const from = fetchPackage(n, v, dest);
      platformPackages.push(`${n}@${v} (${from})`);
      for (const [dn, dv] of Object.entries(readJson(path.join(dest, "package.json")).optionalDependencies ?? {}))
        if (dn.startsWith("@img/sharp-libvips-")) queue.push([dn, dv]);
    }
  }

  // Packages only install scripts use: in the staging folder for `npm list`, not in the VSIX.
  const runtimeDirs = new Set(closure.runtime.keys());
  const installOnly = [...closure.all.keys()].filter((d) => !runtimeDirs.has(d)).map((d) => path.relative(ROOT, d).split(path.sep).join("/"));
  const ignoreFile = path.join(dir, ".vscodeignore");
  const extra = installOnly.map((p) => `${p}/**`).join("\n");
  fs.appendFileSync(ignoreFile, `\n# install-time-only dependencies (scripts/package.mjs)\n${extra}\n`);

  return { dir, platformPackages, installOnly };
}

/** For the host's target: the staged node_modules must load (native binaries included). */
function smokeTest(dir, externals) {
  const probe = `
    const r = require("node:module").createRequire(${JSON.stringify(path.join(dir, "dist", "probe.js"))});
    const mods = ${JSON.stringify(externals)};
    (async () => {
      for (const m of mods) {
        const resolved = r.resolve(m);
        if (!resolved.startsWith(${JSON.stringify(dir)})) throw new Error(m + " resolved outside the staging folder: " + resolved);
        r(m);
      }
      if (mods.includes("sharp")) {
        const sharp = r("sharp");
        const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: "#f80" } }).png().toBuffer();
        if (png.length < 8) throw new Error("sharp made no PNG");
      }
      if (mods.includes("onnxruntime-node")) {
        const ort = r("onnxruntime-node");
        const t = new ort.Tensor("float32", new Float32Array(4), [2, 2]);
        if (t.size !== 4) throw new Error("onnxruntime tensor");
      }
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ["-e", probe], { encoding: "utf8", cwd: os.tmpdir() });
  if (r.status !== 0) throw new Error(`staged node_modules do not load: ${r.stderr || r.stdout}`);
}

// ---------------------------------------------------------------------------------------------
// Read a zip's central directory (VSIX = zip) to check what went in.
function zipEntries(file) {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--)
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new Error(`${file}: not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString("utf8", p + 46, p + 46 + nameLen);
    entries.push({ name, size, compressed, method, local });
    p += 46 + nameLen + extraLen + commentLen;
  }
  const read = (entry) => {
    const start = entry.local + 30 + buf.readUInt16LE(entry.local + 26) + buf.readUInt16LE(entry.local + 28);
    const raw = buf.subarray(start, start + entry.compressed);
    return entry.method === 8 ? inflateRawSync(raw) : raw;
  };
  return { entries, read };
}

function verifyVsix(file, target, externals, closure, platformPackages) {
  const spec = TARGETS[target];
  const { entries, read } = zipEntries(file);
  const names = entries.map((e) => e.name);
  const problems = [];
  const allowed = new Set([...closure.runtime.keys()].map((d) => path.relative(ROOT, d).split(path.sep).join("/")));
  // platformPackages entries look like "@img/sharp-linux-x64@0.35.5 (registry)"
  for (const p of platformPackages) allowed.add(`node_modules/${p.slice(0, p.lastIndexOf("@"))}`);
  for (const n of names) {
    if (!n.startsWith("extension/")) continue;
    const rel = n.slice("extension/".length);
    if (rel.startsWith("node_modules/")) {
      const owner = [...allowed].filter((a) => rel.startsWith(a + "/")).sort((a, b) => b.length - a.length)[0];
      if (!owner) problems.push(`unexpected file ${rel}`);
      const bin = /^node_modules\/onnxruntime-node\/bin\/napi-v6\/([^/]+)\/([^/]+)\//.exec(rel);
      if (bin && (bin[1] !== spec.os || bin[2] !== spec.arch)) problems.push(`other platform's binary ${rel}`);
      const img = /^node_modules\/@img\/sharp-(?:libvips-)?([^/]+)\//.exec(rel);
      if (img && img[1] !== spec.sharp) problems.push(`other platform's sharp package ${rel}`);
    } else if (/^(extension|test|scripts|docs|\.ci|\.git)\//.test(rel) || /\.ts$/.test(rel)) problems.push(`source file ${rel}`);
  }
  const manifestEntry = entries.find((e) => e.name === "extension/package.json");
  if (!manifestEntry) problems.push("no extension/package.json");
  else {
    const pj = JSON.parse(read(manifestEntry).toString("utf8"));
    const main = pj.main && `extension/${path.posix.normalize(pj.main)}`;
    if (main && !names.includes(main) && !names.includes(`${main}.js`)) problems.push(`main ${pj.main} is not in the VSIX (build the extension first)`);
  }
  for (const ext of externals) if (!names.some((n) => n.startsWith(`extension/node_modules/${ext}/`))) problems.push(`${ext} missing`);
  if (externals.includes("onnxruntime-node") && !names.includes(`extension/node_modules/onnxruntime-node/bin/napi-v6/${spec.os}/${spec.arch}/onnxruntime_binding.node`))
    problems.push(`onnxruntime-node ${spec.os}/${spec.arch} binding missing`);
  const vsixManifest = entries.find((e) => e.name === "extension.vsixmanifest");
  if (!vsixManifest || !read(vsixManifest).toString("utf8").includes(`TargetPlatform="${target}"`)) problems.push(`manifest has no TargetPlatform="${target}"`);
  return { problems, files: names.length, unpacked: entries.reduce((a, e) => a + e.size, 0) };
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const host = `${process.platform}-${process.arch}`;
  const targets = opts.all ? Object.keys(TARGETS) : opts.targets.length ? [...new Set(opts.targets)] : [hostTarget()];
  const t0 = Date.now();

  if (opts.build) run("npm", ["run", "build"], { cwd: ROOT });
  const pj = readJson(path.join(ROOT, "package.json"));
  if (pj.main && !fs.existsSync(path.join(ROOT, pj.main)) && !fs.existsSync(path.join(ROOT, `${pj.main}.js`)))
    fail(`${pj.main} (package.json "main") was not built`);
  const externals = bundleExternals(path.join(ROOT, "dist"));
  for (const e of externals) if (!pj.dependencies?.[e]) fail(`dist/ requires "${e}", which is not in package.json dependencies`);
  const closure = dependencyClosure(externals);
  console.log(`package: run-time packages: ${[...closure.runtime.values()].sort().join(", ")}`);

  const { createVSIX } = require("@vscode/vsce");
  fs.mkdirSync(opts.out, { recursive: true });
  const results = [];
  for (const target of targets) {
    const t1 = Date.now();
    const s = stage(target, externals, closure);
    try {
      if (s.skipped) {
        if (!opts.all) throw new Error(`${target}: ${s.skipped}`);
        console.log(`package: ${target}: skipped (${s.skipped})`);
        results.push({ target, skipped: s.skipped });
        continue;
      }
      if (target === host) smokeTest(s.dir, externals);
      const out = path.join(opts.out, `${pj.name}-${target}-${pj.version}.vsix`);
      const hasLicense = ["LICENSE", "LICENSE.md", "LICENSE.txt"].some((f) => fs.existsSync(path.join(s.dir, f)));
      await createVSIX({
        cwd: s.dir,
        packagePath: out,
        target,
        useYarn: false,
        dependencies: true,
        allowMissingRepository: true,
        skipLicense: !hasLicense,
      });
      const size = fs.statSync(out).size;
      const v = verifyVsix(out, target, externals, closure, s.platformPackages);
      const limit = SIZE_LIMITS[target];
      if (limit && size > limit) v.problems.push(`${mb(size)} is over the ${mb(limit)} limit`);
      if (v.problems.length) {
        fs.rmSync(out, { force: true });
        throw new Error(`${target}: bad VSIX:\n  ${v.problems.slice(0, 30).join("\n  ")}`);
      }
      results.push({ target, file: path.relative(ROOT, out), size, files: v.files, unpacked: v.unpacked, seconds: (Date.now() - t1) / 1000 });
      console.log(`package: ${target}: ${s.platformPackages.join(", ")}`);
    } finally {
      if (s.dir) fs.rmSync(s.dir, { recursive: true, force: true });
    }
  }

  console.log("\npackage: VSIX files");
  for (const r of results) {
    if (r.skipped) console.log(`  ${r.target.padEnd(13)} skipped: ${r.skipped}`);
    else console.log(`  ${r.target.padEnd(13)} ${mb(r.size).padStart(9)}  (${r.files} files, ${mb(r.unpacked)} unpacked, ${r.seconds.toFixed(1)} s)  ${r.file}`);
  }
  console.log(`package: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
