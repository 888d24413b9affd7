// npm run test:e2e [-- test/e2e/<file>.e2e.test.ts ...]
// Prepares once what every e2e test file needs (Chromium present, code-server + Node 24 in the
// cache folder, the linux-x64 VSIX built by scripts/package.mjs), then runs the files with
// node:test, one at a time (each starts its own code-server and Chromium, with a copy of the
// extension installed once here).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureTools, ensureVsix, findChromium, installExtension, ROOT } from "./env";

/**
 * Files run one at a time unless EASEL_E2E_CONCURRENCY says otherwise: each runs its own
 * code-server and Chromium, and two at once on a loaded 2-core machine timed out waiting for a
 * hover and for a Markdown generation (December 2026), so 1 stays the default.
 */
function concurrencyOf(value: string | undefined): number {
  if (value === undefined || value === "") return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`e2e: EASEL_E2E_CONCURRENCY=${value}: use a whole number of files to run at once (1 or more)`);
  return n;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  try {
    findChromium();
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  }
  const tools = await ensureTools((l) => console.log(l));
  const t1 = Date.now();
  const vsix = ensureVsix((l) => console.log(l));
  const t2 = Date.now();
  // Installed once here; each session copies the installed folder instead of unpacking the VSIX again.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-installed-"));
  process.on("exit", () => fs.rmSync(scratch, { recursive: true, force: true }));
  const installed = path.join(scratch, "extensions");
  installExtension(tools, vsix, installed, scratch);
  const t3 = Date.now();
  console.log(`e2e: tools ready in ${((t1 - t0) / 1000).toFixed(1)} s, ${path.basename(vsix)} (${(fs.statSync(vsix).size / 1024 / 1024).toFixed(1)} MB) built in ${((t2 - t1) / 1000).toFixed(1)} s, installed in ${((t3 - t2) / 1000).toFixed(1)} s`);

  const dir = path.join(ROOT, "test", "e2e");
  const given = process.argv.slice(2);
  const files = given.length
    ? given
    : fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".e2e.test.ts"))
        .sort()
        .map((f) => path.join(dir, f));
  const concurrency = concurrencyOf(process.env.EASEL_E2E_CONCURRENCY);
  const child = spawn(process.execPath, ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...files], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, EASEL_E2E_VSIX: vsix, EASEL_E2E_INSTALLED: installed },
  });
  const code = await new Promise<number>((resolve) => child.on("exit", (c, s) => resolve(c ?? (s ? 1 : 0))));
  console.log(`e2e: ${code === 0 ? "passed" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s (screenshots: test/e2e/screenshots/)`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
