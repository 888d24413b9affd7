// One e2e session: a fresh code-server (own HOME, user data, extensions and workspace folders, own
// process group, on 127.0.0.1 only) with the packaged extension installed, and Debian's Chromium
// driven by playwright-core showing its workbench. Helpers drive the workbench the way a user does
// (command palette, quick input, webviews) and check the workspace on disk.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type FrameLocator, type Locator, type Page } from "playwright-core";
import { copyInstalledExtensions, ensureTools, ensureVsix, installExtension, ROOT, type Tools } from "./env";

export const SCREENSHOTS = path.join(ROOT, "test", "e2e", "screenshots");

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Quiet, offline, deterministic workbench defaults. */
const BASE_SETTINGS: Record<string, unknown> = {
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "workbench.startupEditor": "none",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "chat.disableAIFeatures": true,
  "git.enabled": false,
  "files.autoSave": "off",
};

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Poll `probe` until it returns a value (not undefined) or the time is up. */
export async function poll<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`);
    await sleep(everyMs);
  }
}

/** A complete PNG: signature, IHDR first, IEND last (writes are not atomic: a reader can see half a file). */
export function isCompletePng(bytes: Buffer): boolean {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return bytes.length > 57 && bytes.subarray(0, 8).equals(sig) && bytes.toString("latin1", 12, 16) === "IHDR" && bytes.toString("latin1", bytes.length - 8, bytes.length - 4) === "IEND";
}

/** The PNG's tEXt/iTXt chunks (keyword → text). */
export function pngTextChunks(bytes: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (let p = 8; p + 12 <= bytes.length; ) {
    const len = bytes.readUInt32BE(p);
    const type = bytes.toString("latin1", p + 4, p + 8);
    const data = bytes.subarray(p + 8, p + 8 + len);
    if (type === "tEXt") {
      const nul = data.indexOf(0);
      out.set(data.toString("latin1", 0, nul), data.toString("latin1", nul + 1));
    } else if (type === "iTXt") {
      const nul = data.indexOf(0);
      // keyword \0 flag method \0 language \0 translated \0 text (uncompressed only)
      if (data[nul + 1] === 0) {
        let q = nul + 3;
        q = data.indexOf(0, q) + 1;
        q = data.indexOf(0, q) + 1;
        out.set(data.toString("latin1", 0, nul), data.toString("utf8", q));
      }
    }
    p += 12 + len;
  }
  return out;
}

export interface SessionOptions {
  /** Names the run folder and the screenshot folder (test/e2e/screenshots/<name>/). */
  readonly name: string;
  /** User settings, on top of quiet defaults. Also written as the server's machine settings, so machine-scoped ones apply. */
  readonly settings?: Record<string, unknown>;
  /** Files to create in the workspace folder before the window opens (relative path → content). */
  readonly files?: Record<string, string | Buffer>;
  /** Environment variables for code-server and so the extension host (e.g. HF_ENDPOINT for a fake Hub). */
  readonly env?: Record<string, string>;
  /** Test-only extensions (folders under test/e2e/fixtures/), packed with vsce and installed beside Easel. */
  readonly fixtureExtensions?: readonly string[];
}

/** Packs a fixture extension (plain JS, no dependencies) into a VSIX in `outDir`. */
function packFixture(name: string, outDir: string): string {
  const out = path.join(outDir, `${name}.vsix`);
  const vsce = path.join(ROOT, "node_modules", "@vscode", "vsce", "vsce");
  const r = spawnSync(process.execPath, [vsce, "package", "--out", out, "--allow-missing-repository", "--skip-license", "--no-dependencies"], { cwd: path.join(ROOT, "test", "e2e", "fixtures", name), encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`e2e: packing the fixture extension ${name} failed:\n${r.stdout}${r.stderr}`);
  return out;
}

interface Dirs {
  readonly run: string;
  readonly home: string;
  readonly userData: string;
  readonly extensions: string;
  readonly workspace: string;
  readonly profile: string;
  readonly tmp: string;
  readonly log: string;
}

const live = new Set<ChildProcess>();
// However this process ends, code-server's whole process group goes with it (Chromium is
// playwright's: it kills the browser it launched when this process exits).
process.on("exit", () => {
  for (const p of live) if (p.pid && p.exitCode === null && p.signalCode === null) killGroup(p.pid, "SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    process.exitCode = 130;
    process.exit();
  });

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

export class Session {
  readonly consoleErrors: string[] = [];
  private shotCount = 0;
  private failed = false;

  private constructor(
    readonly name: string,
    readonly tools: Tools,
    private readonly dirs: Dirs,
    private readonly server: ChildProcess,
    readonly url: string,
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}

  get workspace(): string {
    return this.dirs.workspace;
  }

  /** The model store the extension uses in this session (XDG_CACHE_HOME is the session's own). */
  get modelStore(): string {
    return path.join(this.dirs.home, ".cache", "easel", "models");
  }

  /** Starts code-server with the extension installed and opens the workspace in Chromium. */
  static async start(opts: SessionOptions): Promise<Session> {
    const tools = await ensureTools((l) => console.log(l));
    const vsix = ensureVsix((l) => console.log(l));
    const run = fs.mkdtempSync(path.join(os.tmpdir(), `easel-e2e-${opts.name}-`));
    const dirs: Dirs = {
      run,
      home: path.join(run, "home"),
      userData: path.join(run, "user-data"),
      extensions: path.join(run, "extensions"),
      workspace: path.join(run, "workspace"),
      profile: path.join(run, "chromium-profile"),
      tmp: path.join(run, "tmp"),
      log: path.join(run, "code-server.log"),
    };
    for (const d of [dirs.home, dirs.extensions, dirs.workspace, dirs.profile, dirs.tmp]) fs.mkdirSync(d, { recursive: true });
    const settings = JSON.stringify({ ...BASE_SETTINGS, ...opts.settings }, null, 2);
    for (const scope of ["User", "Machine"]) {
      fs.mkdirSync(path.join(dirs.userData, scope), { recursive: true });
      fs.writeFileSync(path.join(dirs.userData, scope, "settings.json"), settings);
    }
    for (const [rel, content] of Object.entries(opts.files ?? {})) {
      const file = path.join(dirs.workspace, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
    fs.rmSync(path.join(SCREENSHOTS, opts.name), { recursive: true, force: true });
    fs.mkdirSync(path.join(SCREENSHOTS, opts.name), { recursive: true });

    // Isolated from the user's home: code-server otherwise writes ~/.config/code-server and
    // ~/.local/share/code-server; VS Code's sockets and temp files go to TMPDIR.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${path.dirname(tools.node24)}${path.delimiter}${process.env.PATH ?? ""}`,
      HOME: dirs.home,
      XDG_CONFIG_HOME: path.join(dirs.home, ".config"),
      XDG_DATA_HOME: path.join(dirs.home, ".local", "share"),
      XDG_CACHE_HOME: path.join(dirs.home, ".cache"),
      TMPDIR: dirs.tmp,
      ...opts.env,
    };
    delete env.VSCODE_IPC_HOOK_CLI;
    const common = ["--config", "/dev/null", "--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensions];

    const t0 = Date.now();
    // run.ts installs the VSIX once for all files (EASEL_E2E_INSTALLED); a file run on its own installs it here.
    const installed = process.env.EASEL_E2E_INSTALLED;
    if (installed) copyInstalledExtensions(installed, dirs.extensions);
    else installExtension(tools, vsix, dirs.extensions, run, env);
    for (const name of opts.fixtureExtensions ?? []) {
      const fixture = packFixture(name, dirs.run);
      const r = spawnSync(tools.node24, [tools.codeServerEntry, ...common, "--install-extension", fixture, "--force"], { env, encoding: "utf8", timeout: 120_000 });
      if (r.status !== 0 || !/successfully installed/i.test(`${r.stdout}${r.stderr}`)) throw new Error(`e2e: installing the fixture extension ${name} failed (${r.status}): ${r.stdout}${r.stderr}`);
    }

    const tInstalled = Date.now();
    const port = await freePort();
    const logFd = fs.openSync(dirs.log, "a");
    const server = spawn(
      tools.node24,
      [
        tools.codeServerEntry,
        ...common,
        "--bind-addr",
        `127.0.0.1:${port}`,
        "--auth",
        "none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--disable-getting-started-override",
        "--ignore-last-opened",
        dirs.workspace,
      ],
      { env, detached: true, stdio: ["ignore", logFd, logFd] },
    );
    fs.closeSync(logFd);
    live.add(server);
    server.on("exit", () => live.delete(server));
    const url = `http://127.0.0.1:${port}/`;

    let context: BrowserContext | undefined;
    try {
      await poll(
        "code-server to listen",
        async () => {
          if (server.exitCode !== null || server.signalCode !== null) throw new Error(`code-server exited (${server.exitCode ?? server.signalCode}):\n${fs.readFileSync(dirs.log, "utf8")}`);
          const r = await fetch(`${url}healthz`).catch(() => undefined);
          return r?.ok ? true : undefined;
        },
        60_000,
      ).catch((e: unknown) => {
        throw new Error(`e2e: ${e instanceof Error ? e.message : String(e)}`);
      });
      const tListening = Date.now();
      context = await chromium.launchPersistentContext(dirs.profile, {
        executablePath: tools.chromium,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1400, height: 900 },
      });
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(30_000);
      const session = new Session(opts.name, tools, dirs, server, url, context, page);
      page.on("console", (m) => {
        if (m.type() === "error") session.consoleErrors.push(m.text().slice(0, 300));
      });
      page.on("pageerror", (e) => session.consoleErrors.push(`pageerror: ${String(e).slice(0, 300)}`));
      await page.goto(`${url}?folder=${encodeURIComponent(dirs.workspace)}`, { waitUntil: "domcontentloaded" });
      await page.locator(".monaco-workbench .part.statusbar").waitFor({ state: "visible", timeout: 60_000 });
      // The explorer shows the folder once the remote file system is connected.
      await page.locator(".monaco-workbench .part.sidebar .explorer-folders-view").waitFor({ state: "visible", timeout: 60_000 });
      const sec = (a: number, b: number) => `${((b - a) / 1000).toFixed(1)} s`;
      console.log(`e2e: ${opts.name}: VSIX installed in ${sec(t0, tInstalled)}, code-server listening after ${sec(tInstalled, tListening)}, workbench ready after ${sec(tListening, Date.now())}`);
      return session;
    } catch (e) {
      await context?.close().catch(() => {});
      killGroup(server.pid ?? 0, "SIGKILL");
      console.error(`e2e: session ${opts.name} failed to start; kept ${dirs.run}`);
      throw e;
    }
  }

  /** Closes the browser, stops code-server's process group, and removes the run folder unless a test failed. */
  async close(): Promise<void> {
    await this.context.close().catch(() => {});
    const pid = this.server.pid;
    if (pid && this.server.exitCode === null && this.server.signalCode === null) {
      const exited = new Promise<void>((r) => this.server.once("exit", () => r()));
      killGroup(pid, "SIGTERM");
      await Promise.race([exited, sleep(5_000)]);
      killGroup(pid, "SIGKILL"); // the extension host and watchers too, whatever is left of the group
    }
    live.delete(this.server);
    if (this.failed || process.env.E2E_KEEP) console.log(`e2e: run folder kept: ${this.dirs.run}`);
    else fs.rmSync(this.dirs.run, { recursive: true, force: true });
  }

  // -------------------------------------------------------------------------------------------
  /** Saves a screenshot as test/e2e/screenshots/<session>/<NN>-<stage>.png and returns its path. */
  async shot(stage: string): Promise<string> {
    const file = path.join(SCREENSHOTS, this.name, `${String(++this.shotCount).padStart(2, "0")}-${stage.replace(/[^\w.-]+/g, "-")}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /**
   * Runs a test body; when it fails, saves a FAIL screenshot and adds the tails of the extension
   * host's and Easel's logs to the error.
   */
  async check(stage: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (e) {
      this.failed = true;
      const file = await this.shot(`FAIL-${stage}`).catch(() => "(no screenshot)");
      const logs = this.logTails();
      const message = e instanceof Error ? e.message : String(e);
      const errors = this.consoleErrors.length > 0 ? `  --- page errors (last 10)\n${this.consoleErrors.slice(-10).map((l) => `    ${l}`).join("\n")}\n` : "";
      const err = new Error(`${message}\n  screenshot: ${file}\n${errors}${logs}`);
      if (e instanceof Error && e.stack) err.stack = `${err.message}\n${e.stack.split("\n").slice(1).join("\n")}`;
      throw err;
    }
  }

  /** Last lines of the extension host log and of the extension's own output channel. */
  logTails(lines = 25): string {
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (/remoteexthost\.log$|Easel\.log$/i.test(entry.name)) found.push(p);
      }
    };
    try {
      walk(path.join(this.dirs.userData, "logs"));
    } catch {
      return "  (no logs)";
    }
    return found
      .map((f) => {
        const tail = fs.readFileSync(f, "utf8").trimEnd().split("\n").slice(-lines).join("\n    ");
        return `  --- ${path.relative(this.dirs.run, f)}\n    ${tail}`;
      })
      .join("\n");
  }

  // -------------------------------------------------------------------------------------------
  // Command palette and quick input

  get quickInput(): Locator {
    return this.page.locator(".quick-input-widget .quick-input-box input");
  }

  /** Rows of the open quick input (command palette or a quick pick), as their label text. */
  async quickInputLabels(): Promise<string[]> {
    return this.page.locator(".quick-input-widget .monaco-list-row .label-name").allInnerTexts();
  }

  /**
   * Opens the palette with `>`+`filter` and returns the command titles listed. The palette builds
   * its list when it opens, and an extension's commands show only once the extension host has
   * registered it (a few seconds after the workbench appears), so it retries until `expectTitle`
   * is listed (when given).
   */
  async paletteCommands(filter: string, expectTitle?: string, timeoutMs = 30_000): Promise<string[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      await this.page.keyboard.press("F1");
      await this.quickInput.waitFor({ state: "visible", timeout: 15_000 });
      await this.quickInput.fill(`>${filter}`);
      try {
        if (expectTitle) await this.paletteRow(expectTitle).waitFor({ state: "visible", timeout: 2_000 });
        else await this.page.locator(".quick-input-widget .monaco-list-row").first().waitFor({ state: "visible", timeout: 2_000 });
        const labels = await this.quickInputLabels();
        await this.page.keyboard.press("Escape");
        await this.quickInput.waitFor({ state: "hidden", timeout: 5_000 });
        return labels;
      } catch (e) {
        await this.page.keyboard.press("Escape");
        if (Date.now() > end) throw new Error(`"${expectTitle ?? filter}" not in the command palette after ${timeoutMs} ms: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
        await sleep(250);
      }
    }
  }

  private paletteRow(title: string): Locator {
    const exact = new RegExp(`^\\s*${title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`);
    return this.page.locator(".quick-input-widget .monaco-list-row").filter({ has: this.page.locator(".label-name", { hasText: exact }) });
  }

  /** Runs a command by its palette title ("Easel: Open Studio"), retrying while the extension registers. */
  async runCommand(title: string, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      await this.page.keyboard.press("F1");
      try {
        await this.quickInput.waitFor({ state: "visible", timeout: 15_000 });
        // Briefly inert while focus leaves a webview (an image preview): try again rather than wait 30 s.
        await this.quickInput.fill(`>${title}`, { timeout: 3_000 });
      } catch (e) {
        await this.page.keyboard.press("Escape");
        if (Date.now() > end) throw new Error(`the command palette did not take "${title}" within ${timeoutMs} ms: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
        await sleep(250);
        continue;
      }
      const row = this.paletteRow(title).first();
      try {
        await row.waitFor({ state: "visible", timeout: 2_000 });
      } catch (e) {
        await this.page.keyboard.press("Escape");
        if (Date.now() > end) throw new Error(`command "${title}" not in the palette after ${timeoutMs} ms: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
        await sleep(250);
        continue;
      }
      // Select it with the keyboard (a hover can cover rows, and the best match is not always first).
      await poll(`"${title}" to be the focused row`, async () => {
        if (((await row.getAttribute("class")) ?? "").split(/\s+/).includes("focused")) return true;
        await this.page.keyboard.press("ArrowDown");
        return undefined;
      }, 5_000, 50);
      await this.page.keyboard.press("Enter");
      // The palette is done once its widget hides or a command's own quick input takes it over
      // (VS Code reuses the widget): typing before that would go into the closing palette.
      await poll(`the palette to close after "${title}"`, async () => {
        if (!(await this.quickInput.isVisible())) return true;
        const value = await this.quickInput.inputValue().catch(() => ">");
        return value.startsWith(">") ? undefined : true;
      }, 10_000);
      return;
    }
  }

  /**
   * Runs a command and waits until `shown` (what the command opens) is visible. A webview that takes
   * the focus between the palette's Enter and the command closes the palette without running it:
   * then the command is run again, up to `tries` times.
   */
  async runCommandShowing(title: string, shown: Locator, tries = 3, waitMs = 10_000): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.page.locator(".part.sidebar .composite.title").click();
      await this.runCommand(title);
      try {
        await shown.waitFor({ state: "visible", timeout: waitMs });
        return;
      } catch (e) {
        if (attempt >= tries) throw e;
      }
    }
  }

  /** Closes every editor (File: Close All Editors), checked by the tabs being gone. */
  async closeAllEditors(): Promise<void> {
    const tabs = this.page.locator(".monaco-workbench .part.editor .tabs-container .tab");
    for (let attempt = 1; ; attempt++) {
      await this.page.locator(".part.sidebar .composite.title").click();
      await this.runCommand("View: Close All Editors");
      try {
        await poll("every editor to close", async () => ((await tabs.count()) === 0 ? true : undefined), 5_000);
        return;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  }

  /** Waits for a command's quick input (by its title, e.g. "Easel: Generate Image") to be ready for typing. */
  async waitForQuickInput(title: string): Promise<Locator> {
    await this.page.locator(".quick-input-widget .quick-input-title", { hasText: title }).waitFor({ state: "visible", timeout: 15_000 });
    await poll(`the "${title}" input to take keys`, async () => ((await this.quickInput.isEditable()) ? true : undefined), 10_000);
    return this.quickInput;
  }

  /** Types into a command's quick input (found by its title) and accepts with Enter. */
  async answerQuickInput(title: string, text: string): Promise<void> {
    const input = await this.waitForQuickInput(title);
    await input.fill(text);
    await this.page.keyboard.press("Enter");
    await input.waitFor({ state: "hidden", timeout: 10_000 });
  }

  // -------------------------------------------------------------------------------------------
  // Editors, notifications, webviews

  /** The editor tab with this title (a file's tab: its name, e.g. "cat-1.png"). */
  tab(title: string): Locator {
    const t = JSON.stringify(title);
    const tabs = ".monaco-workbench .part.editor .tabs-container .tab";
    return this.page.locator(`${tabs}[data-resource-name=${t}], ${tabs}[aria-label=${t}], ${tabs}[aria-label^=${JSON.stringify(`${title},`)}]`);
  }

  /** Notification toasts whose message contains `text`. */
  notification(text: string | RegExp): Locator {
    return this.page.locator(".notifications-toasts .notification-toast", { hasText: text });
  }

  /** Opens a workspace file in an editor through Quick Open (Ctrl+P), as a user would. */
  async openFile(rel: string, tries = 3): Promise<void> {
    const name = path.basename(rel);
    const row = this.page.locator(".quick-input-widget .monaco-list-row", { has: this.page.locator(".label-name", { hasText: name }) }).first();
    // The first file search of a new workbench can outlast one wait on a loaded machine (its
    // progress bar still running): close Quick Open and ask again, as a user would.
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press("Control+P");
      await this.quickInput.waitFor({ state: "visible", timeout: 15_000 });
      await this.quickInput.fill(rel);
      try {
        await row.waitFor({ state: "visible", timeout: 15_000 });
        break;
      } catch (error) {
        if (attempt >= tries) throw error;
        await this.page.keyboard.press("Escape");
        await this.quickInput.waitFor({ state: "hidden", timeout: 5_000 });
      }
    }
    await this.page.keyboard.press("Enter");
    await this.tab(name).waitFor({ state: "visible", timeout: 15_000 });
    await this.page.locator(".part.editor .monaco-editor.focused").waitFor({ state: "visible", timeout: 15_000 });
  }

  /** Moves the cursor of the active editor to a line (1-based) through Quick Open's ":line". */
  async goToLine(line: number): Promise<void> {
    await this.page.keyboard.press("Control+P");
    await this.quickInput.waitFor({ state: "visible", timeout: 15_000 });
    await this.quickInput.fill(`:${line}`);
    await this.page.locator(".quick-input-widget .monaco-list-row").first().waitFor({ state: "visible", timeout: 5_000 });
    await this.page.keyboard.press("Enter");
    await this.quickInput.waitFor({ state: "hidden", timeout: 5_000 });
    await this.page.locator(".part.editor .monaco-editor.focused").waitFor({ state: "visible", timeout: 5_000 });
  }

  /** Saves the active editor ("File: Save"), so that tests can read what the user sees from disk. */
  async saveActiveEditor(): Promise<void> {
    await this.runCommand("File: Save");
    await poll("the editor to be saved", async () => ((await this.page.locator(".part.editor .tab.active.dirty").count()) === 0 ? true : undefined), 10_000);
  }

  /**
   * Opens `target`'s context menu (an explorer row) and runs the item named `label`. VS Code's menus
   * ignore a click that comes in their first moments (so the right-click's own mouse-up cannot pick
   * an item), and a fast machine gets there first: the item is hovered, then clicked until the menu
   * closes. `beforeClick` runs once the item shows (a screenshot of the menu).
   */
  async contextMenuItem(target: Locator, label: RegExp, beforeClick?: () => Promise<unknown>): Promise<void> {
    await target.click({ button: "right" });
    const menu = this.page.locator(".context-view .monaco-menu");
    const item = menu.locator(".action-item:not(.disabled) .action-label", { hasText: label }).first();
    await item.waitFor({ state: "visible", timeout: 10_000 });
    await beforeClick?.();
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!(await item.isVisible())) return;
      await item.hover().catch(() => undefined);
      await sleep(150);
      await item.click({ timeout: 2_000 }).catch(() => undefined);
      if (await menu.waitFor({ state: "hidden", timeout: 1_500 }).then(() => true, () => false)) return;
    }
    throw new Error(`the context menu's "${label.source}" item did not run: the menu stayed open`);
  }

  /** Dismisses all notifications (e.g. left over from an earlier test in the session). */
  async clearNotifications(): Promise<void> {
    await this.runCommand("Notifications: Clear All Notifications");
    await poll("notifications to clear", async () => ((await this.page.locator(".notifications-toasts .notification-toast").count()) === 0 ? true : undefined), 5_000);
  }

  /** Waits until no notification toast is still fading in (for screenshots). */
  async settleToasts(): Promise<void> {
    await poll("notification toasts to finish fading in", async () => ((await this.page.locator(".notification-toast.notification-fade-in:not(.notification-fade-in-done)").count()) === 0 ? true : undefined), 5_000);
  }

  /**
   * The content frame of the visible webview: VS Code hosts a webview in <iframe class="webview
   * ready"> whose document holds <iframe id="active-frame"> with the extension's HTML.
   */
  webview(): FrameLocator {
    return this.page.locator("iframe.webview.ready:visible").first().contentFrame().frameLocator("#active-frame");
  }

  /** Picks an option of a <vscode-single-select> (vscode-elements) by clicking it open and clicking the option. */
  async chooseOption(select: Locator, label: string | RegExp): Promise<void> {
    // The list opens below the select: with the select near the webview's bottom edge its last
    // options are out of view, and scrolling the page to one moves the open list away from it.
    await select.evaluate((el) => el.scrollIntoView({ block: "start" }));
    await select.click();
    const option = select.locator("li[role=option]", { hasText: label }).first();
    await option.waitFor({ state: "visible", timeout: 10_000 });
    await option.click();
    await option.waitFor({ state: "hidden", timeout: 10_000 });
  }

  // -------------------------------------------------------------------------------------------
  // Workspace files

  path(rel: string): string {
    return path.join(this.dirs.workspace, rel);
  }

  readFile(rel: string): string {
    return fs.readFileSync(this.path(rel), "utf8");
  }

  /**
   * Changes settings in the running session: merged into the User and Machine settings.json that
   * start() wrote, which VS Code watches (machine-scoped ones such as easel.model come from the
   * Machine file). The caller waits for a visible effect of the change.
   */
  updateSettings(changes: Record<string, unknown>): void {
    for (const scope of ["User", "Machine"]) {
      const file = path.join(this.dirs.userData, scope, "settings.json");
      const current = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
      fs.writeFileSync(file, JSON.stringify({ ...current, ...changes }, null, 2));
    }
  }

  writeFile(rel: string, content: string | Buffer): void {
    fs.mkdirSync(path.dirname(this.path(rel)), { recursive: true });
    fs.writeFileSync(this.path(rel), content);
  }

  /** Files (relative paths, sorted) under a workspace folder; [] when it does not exist. */
  listFiles(relDir: string): string[] {
    const dir = this.path(relDir);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(this.dirs.workspace, path.join(e.parentPath, e.name)))
      .sort();
  }

  /** Waits until a workspace file exists and `complete` accepts its bytes; returns them. */
  async waitForFile(rel: string, complete: (bytes: Buffer) => boolean = (b) => b.length > 0, timeoutMs = 30_000): Promise<Buffer> {
    return poll(`${rel} to be written`, () => {
      const bytes = fs.readFileSync(this.path(rel));
      return complete(bytes) ? bytes : undefined;
    }, timeoutMs);
  }

  /** Waits for a new file under `relDir` matching `pattern` whose bytes `complete` accepts. */
  async waitForNewFile(relDir: string, pattern: RegExp, complete: (bytes: Buffer) => boolean, timeoutMs = 30_000, before: readonly string[] = []): Promise<{ rel: string; bytes: Buffer }> {
    return poll(`a new ${pattern} file in ${relDir}`, () => {
      for (const rel of this.listFiles(relDir)) {
        if (before.includes(rel) || !pattern.test(rel)) continue;
        const bytes = fs.readFileSync(this.path(rel));
        if (complete(bytes)) return { rel, bytes };
      }
      return undefined;
    }, timeoutMs);
  }
}

/**
 * A copy of the tiny SD 1.5 conformance model under `root` (so nothing the extension does can
 * touch the fixtures), optionally changed, e.g. broken on purpose.
 */
export function modelCopy(root: string, name: string, change?: (dir: string) => void): string {
  const dir = path.join(root, name);
  fs.cpSync(path.join(ROOT, "test", "fixtures", "conformance", "models", "tiny-sd15"), dir, { recursive: true });
  change?.(dir);
  return dir;
}
