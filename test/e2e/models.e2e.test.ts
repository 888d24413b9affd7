// Getting a model from inside VS Code, against a fake Hugging Face Hub on 127.0.0.1 (HF_ENDPOINT):
// "Easel: Download Model…" for a repository typed as owner/name (licence dialog, progress
// notification, "Use it now", then an image from it), and the Studio's model picker for a catalog
// model (licence dialog, progress bar, Cancel Download leaves no model folder, picking it again
// resumes and finishes, then the Studio generates with it).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "./env";
import { isCompletePng, pngTextChunks, poll, Session } from "./harness";
import { FakeHub, hostFolder } from "../hub/fakeHub";

interface CatalogEntryData {
  readonly id: string;
  readonly name: string;
  readonly repo: string;
  readonly ref: string;
  readonly revision?: string;
  readonly subfolder?: string;
  readonly family: string;
  readonly files?: Record<string, unknown>;
  readonly license: { readonly name: string };
  readonly providers: { readonly unsupported: readonly { readonly provider: string }[] };
}
const catalog = JSON.parse(fs.readFileSync(path.join(ROOT, "models", "catalog.json"), "utf8")) as { models: CatalogEntryData[] };
// A catalog SD 1.x model the tiny SD 1.5 fixture can stand in for: one that pins no file sizes or
// hashes (the fixture's files are not the real ones).
const CATALOG_MODEL = catalog.models.find((m) => m.family === "sd1" && !m.files && !m.subfolder);
const notForCpu = (m: CatalogEntryData) => m.providers.unsupported.some((u) => u.provider === "cpu");
const TINY = path.join(ROOT, "test", "fixtures", "conformance", "models", "tiny-sd15");
const TYPED_REPO = "easel-test/tiny-sd15";

/** The store's complete model folders for a repo (owner--name@commit with its manifest). */
function pulledFolders(store: string, repo: string): string[] {
  if (!fs.existsSync(store)) return [];
  return fs.readdirSync(store).filter((n) => n.startsWith(`${repo.replace("/", "--")}@`) && fs.existsSync(path.join(store, n, ".easel-manifest.json")));
}

describe("Easel in VS Code: downloading models", { timeout: 300_000 }, () => {
  let s: Session;
  let hub: FakeHub;

  before(async () => {
    assert.ok(CATALOG_MODEL, "the catalog has an SD 1.x model without pinned files");
    hub = await new FakeHub().start();
    hub.add(hostFolder(TYPED_REPO, TINY, { license: "mit" }));
    const ref = CATALOG_MODEL.revision ?? CATALOG_MODEL.ref;
    const hosted = hostFolder(CATALOG_MODEL.repo, TINY, CATALOG_MODEL.revision ? { commit: CATALOG_MODEL.revision } : {});
    hub.add({ ...hosted, branches: { ...hosted.branches, [ref]: hosted.commit } });
    s = await Session.start({
      name: "models",
      settings: { "easel.provider": "cpu", "easel.defaults.width": 64, "easel.defaults.height": 64, "easel.defaults.steps": 3 },
      env: { HF_ENDPOINT: hub.hubUrl, HF_TOKEN: "" },
    });
  });
  after(async () => {
    await s?.close();
    await hub?.close();
  });

  /** The workbench's modal dialog (a licence), answered with one of its buttons. */
  async function answerDialog(text: RegExp, button: string, shot = "licence-dialog"): Promise<string> {
    const dialog = s.page.locator(".monaco-dialog-box", { hasText: text });
    await dialog.waitFor({ state: "visible", timeout: 20_000 });
    const message = await dialog.innerText();
    await s.shot(shot);
    await dialog.locator(".monaco-button", { hasText: new RegExp(`^${button}$`) }).click();
    await dialog.waitFor({ state: "hidden", timeout: 10_000 });
    return message;
  }

  it('"Download Model…" pulls a typed owner/name repository after its licence, and "Use it now" makes images with it', { timeout: 120_000 }, async () => {
    await s.check("download-typed", async () => {
      await s.runCommandShowing("Easel: Download Model…", s.page.locator(".quick-input-widget .quick-input-title", { hasText: "Easel: Download Model" }));
      // The pick shows its title before its items are listed (the store is read first).
      let labels: string[] = [];
      await poll("the catalog's models in the pick", async () => {
        labels = await s.quickInputLabels();
        return catalog.models.every((m) => labels.some((l) => l.includes(m.name))) ? true : undefined;
      }, 15_000).catch(() => undefined);
      for (const m of catalog.models) assert.ok(labels.some((l) => l.includes(m.name)), `the catalog's "${m.name}" is offered (listed: ${labels.join(" | ")})`);
      await s.shot("download-pick");
      await s.quickInput.fill("Hugging Face repository");
      await s.page.locator(".quick-input-widget .monaco-list-row.focused", { hasText: "Hugging Face repository" }).waitFor({ state: "visible", timeout: 10_000 });
      await s.page.keyboard.press("Enter");
      await s.answerQuickInput("Easel: Hugging Face model", TYPED_REPO);

      const licence = await answerDialog(/is licensed under the MIT License/, "Accept");
      assert.match(licence, new RegExp(`${TYPED_REPO} is licensed under the MIT License`), licence);
      const done = s.notification(/is downloaded and verified/);
      await done.waitFor({ state: "visible", timeout: 60_000 });
      await s.settleToasts();
      await s.shot("download-done");
      const folders = pulledFolders(s.modelStore, TYPED_REPO);
      assert.equal(folders.length, 1, `one verified folder for ${TYPED_REPO} in ${s.modelStore}`);
      const manifest = JSON.parse(fs.readFileSync(path.join(s.modelStore, folders[0], ".easel-manifest.json"), "utf8")) as { commit: string; files: { path: string; sha256?: string }[] };
      assert.equal(manifest.commit, hub.add(hostFolder(TYPED_REPO, TINY, { license: "mit" })).commit, "the commit the Hub reported");
      assert.ok(manifest.files.some((f) => f.path === "unet/model.onnx" && f.sha256), "the UNet's sha256 recorded");
      assert.equal(fs.existsSync(path.join(s.modelStore, folders[0], "unet", "diffusion_pytorch_model.safetensors")), false, "PyTorch weights are not fetched");

      await done.locator(".monaco-button", { hasText: "Use it now" }).click();
      await s.clearNotifications();
      await s.runCommand("Easel: Generate Image…");
      const input = await s.waitForQuickInput("Easel: Generate Image");
      await input.fill("a lighthouse at dusk");
      await s.page.locator(".quick-input-widget .monaco-list-row .label-name", { hasText: "a lighthouse at dusk" }).first().waitFor();
      await s.page.keyboard.press("Enter");
      const { bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000);
      assert.ok(pngTextChunks(bytes).get("parameters")?.startsWith("a lighthouse at dusk"), "the image from the downloaded model");
      await s.notification(/Easel: saved/).waitFor({ state: "visible", timeout: 20_000 });
      // The image preview, a webview, keeps F1 to itself: the explorer takes the focus first.
      await s.page.locator(".part.sidebar .composite.title").click();
      await s.clearNotifications();

      // "Choose Model" lists it among the models on this machine, chosen by its repo id.
      await s.runCommandShowing("Easel: Choose Model", s.page.locator(".quick-input-widget .quick-input-title", { hasText: "Easel: Choose Model" }));
      const choices = await s.quickInputLabels();
      assert.ok(choices.some((l) => l.trim() === TYPED_REPO), `${TYPED_REPO} is offered (listed: ${choices.join(" | ")})`);
      await s.shot("choose-model");
      await s.page.keyboard.press("Escape");
    });
  });

  it("the walkthrough: three steps whose buttons run Easel's commands, each step done once its command ran", { timeout: 180_000 }, async () => {
    await s.check("walkthrough", async () => {
      const openWalkthrough = async () => {
        await s.runCommandShowing("Welcome: Open Walkthrough...", s.page.locator(".quick-input-widget .monaco-list-row", { hasText: "Make images with Easel" }).first());
        await s.quickInput.fill("Make images with Easel");
        await s.page.keyboard.press("Enter");
      };
      await openWalkthrough();
      const page = s.page.locator(".gettingStartedContainer");
      await page.getByText("Make images with Easel").first().waitFor({ state: "visible", timeout: 20_000 });
      const step = (title: string) => page.locator("button.getting-started-step", { hasText: title }).first();
      const done = (title: string) => step(title).locator("[role=checkbox]").first();
      // An Escape that reaches the page (after a quick input closed) takes it back to the Welcome
      // landing page: come back to the walkthrough through its card.
      const backToWalkthrough = async () => {
        await s.quickInput.waitFor({ state: "hidden", timeout: 10_000 });
        if (await step("Try the Studio").isVisible()) return;
        // Whatever the Welcome tab shows now (its landing page, or nothing in front), open the walkthrough again.
        await openWalkthrough();
        await step("Try the Studio").waitFor({ state: "visible", timeout: 15_000 });
      };
      // Opens a step and presses its button, until that works: when the page went back to its landing
      // page meanwhile (the late Escape above) it opens the walkthrough again, and while the page
      // re-renders its steps (a context key changed: a model chosen, an image made) a step's button
      // is disabled for a moment.
      const pressStepButton = async (title: string, button: string) => {
        await poll(
          `the "${title}" step's ${button} button`,
          async () => {
            if (!(await step(title).isVisible())) {
              await backToWalkthrough();
              return undefined;
            }
            if (!(await step(title).isEnabled({ timeout: 1_000 }))) return undefined;
            await step(title).click({ timeout: 3_000 });
            await page.getByRole("button", { name: button }).first().click({ timeout: 3_000 });
            return true;
          },
          60_000,
          250,
        );
      };
      for (const title of ["Get a model", "Make your first image", "Try the Studio"]) await step(title).waitFor({ state: "visible", timeout: 10_000 });
      await s.shot("walkthrough");

      await pressStepButton("Get a model", "Choose Model");
      await s.page.locator(".quick-input-widget .quick-input-title", { hasText: "Easel: Choose Model" }).waitFor({ state: "visible", timeout: 15_000 });
      await s.page.keyboard.press("Escape");
      await backToWalkthrough();

      await pressStepButton("Make your first image", "Generate Image");
      await s.waitForQuickInput("Easel: Generate Image");
      await s.page.keyboard.press("Escape");
      await backToWalkthrough();
      await poll("the first-image step to be done", async () => ((await done("Make your first image").getAttribute("aria-checked")) === "true" ? true : undefined), 10_000);

      await pressStepButton("Try the Studio", "Open Studio");
      await s.tab("Easel Studio").waitFor({ state: "visible", timeout: 20_000 });
      // Back to the walkthrough (the Welcome tab now shows its landing page).
      await s.runCommandShowing("Welcome: Open Walkthrough...", s.page.locator(".quick-input-widget .monaco-list-row", { hasText: "Make images with Easel" }).first());
      await s.quickInput.fill("Make images with Easel");
      await s.page.keyboard.press("Enter");
      await step("Try the Studio").waitFor({ state: "visible", timeout: 15_000 });
      await poll("the Studio step to be done", async () => ((await done("Try the Studio").getAttribute("aria-checked")) === "true" ? true : undefined), 10_000);
      assert.equal(await done("Make your first image").getAttribute("aria-checked"), "true");
      await s.shot("walkthrough-done");
      await s.closeAllEditors();
    });
  });

  it("a catalog model that cannot run on this machine's provider is marked, asks before downloading, and downloads when the user insists", { timeout: 60_000 }, async () => {
    // One without pinned files: the tiny weights stand in for it.
    const refusing = catalog.models.find((m) => notForCpu(m) && !m.files);
    assert.ok(refusing, "the catalog has a model that does not run on the CPU");
    const hosted = hostFolder(refusing.repo, TINY);
    hub.add({ ...hosted, branches: { ...hosted.branches, [refusing.ref]: hosted.commit } });
    await s.check("download-misfit", async () => {
      const pick = async () => {
        await s.runCommandShowing("Easel: Download Model…", s.page.locator(".quick-input-widget .quick-input-title", { hasText: "Easel: Download Model" }));
        const row = s.page.locator(".quick-input-widget .monaco-list-row", { hasText: refusing.name }).first();
        await row.waitFor({ state: "visible", timeout: 15_000 });
        assert.match(await row.innerText(), /not for the CPU, which Easel uses here/);
        await s.quickInput.fill(refusing.name);
        await s.page.locator(".quick-input-widget .monaco-list-row.focused", { hasText: refusing.name }).waitFor({ state: "visible", timeout: 10_000 });
        await s.page.keyboard.press("Enter");
      };
      await pick();
      const before = hub.requests.length;
      const warning = await answerDialog(/cannot run on the CPU, which Easel uses on this machine/, "Cancel", "misfit-warning");
      assert.match(warning, new RegExp(`${refusing.name.replace(/[()]/g, "\\$&")} cannot run on the CPU`));
      assert.equal(hub.requests.length, before, "nothing was asked of the Hub");
      assert.deepEqual(pulledFolders(s.modelStore, refusing.repo), []);

      // "Download Anyway": an explicit download goes ahead, even with easel.provider set to cpu.
      await pick();
      await answerDialog(/cannot run on the CPU, which Easel uses on this machine/, "Download Anyway", "misfit-anyway");
      await answerDialog(/is licensed under/, "Accept");
      await s.notification(/is downloaded and verified/).waitFor({ state: "visible", timeout: 60_000 });
      assert.equal(pulledFolders(s.modelStore, refusing.repo).length, 1, "the model is in the cache");
      await s.page.locator(".part.sidebar .composite.title").click();
      await s.clearNotifications();
    });
  });

  it("the Studio downloads a catalog model with a progress bar; Cancel Download leaves no model folder; picking it again resumes", { timeout: 150_000 }, async () => {
    assert.ok(CATALOG_MODEL);
    await s.check("studio-download", async () => {
      await s.closeAllEditors();
      await s.runCommandShowing("Easel: Open Studio", s.tab("Easel Studio"));
      const wv = s.webview();
      await wv.locator("#prompt").waitFor({ state: "visible", timeout: 20_000 });
      const picker = wv.locator("#model");
      await picker.locator("li[role=option]", { hasText: `${CATALOG_MODEL.name} (download)` }).first().waitFor({ state: "attached", timeout: 20_000 });
      // Catalog models that cannot run on the CPU say so in the picker.
      for (const m of catalog.models.filter(notForCpu)) {
        await picker.locator("li[role=option]", { hasText: `${m.name} (not for this machine)` }).first().waitFor({ state: "attached", timeout: 10_000 });
      }

      // Slow enough to watch and cancel: the ~5 MB model at 300 kB/s.
      hub.faults = [() => ({ bytesPerSecond: 300_000 })];
      await s.chooseOption(picker, `${CATALOG_MODEL.name} (download)`);
      const licence = await answerDialog(new RegExp(`licensed under ${CATALOG_MODEL.license.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`), "Accept");
      assert.match(licence, new RegExp(CATALOG_MODEL.repo), licence);
      const text = wv.locator("#download-text");
      await text.waitFor({ state: "visible", timeout: 20_000 });
      await poll("the download bar to move", async () => {
        const value = await wv.locator("#download-progress").evaluate((el: { value?: number }) => el.value ?? 0);
        return value > 5 ? value : undefined;
      }, 30_000);
      assert.match(await text.innerText(), new RegExp(`Downloading ${CATALOG_MODEL.id}: .*(MB|kB|B)`));
      await s.shot("studio-downloading");

      await wv.locator("#cancel-download").click();
      await wv.locator("#download").waitFor({ state: "hidden", timeout: 15_000 });
      await wv.getByText(`Download of ${CATALOG_MODEL.id} cancelled.`).waitFor({ state: "visible", timeout: 10_000 });
      assert.deepEqual(pulledFolders(s.modelStore, CATALOG_MODEL.repo), [], "no model folder after a cancel");
      assert.equal(await picker.evaluate((el: { value: string }) => el.value), TYPED_REPO, "the picker is back to the model in use");
      await s.shot("studio-download-cancelled");

      // Again, at full speed: the bytes already here are not fetched twice.
      hub.faults = [];
      const requestsBefore = hub.requests.length;
      await s.chooseOption(picker, `${CATALOG_MODEL.name} (download)`);
      await wv.getByText(`${CATALOG_MODEL.id} is downloaded and verified.`).waitFor({ state: "visible", timeout: 60_000 });
      const resumed = hub.requests.slice(requestsBefore).filter((r) => r.range && !/^bytes=0-/.test(r.range));
      assert.ok(resumed.length > 0, `at least one file resumed with a Range request (requests: ${hub.requests.slice(requestsBefore).map((r) => `${r.file ?? r.path} ${r.range ?? ""}`).join(", ")})`);
      assert.equal(pulledFolders(s.modelStore, CATALOG_MODEL.repo).length, 1, "the model folder is there, verified");
      await poll("the picker to show the catalog model", async () => ((await picker.evaluate((el: { value: string }) => el.value)) === CATALOG_MODEL.id ? true : undefined), 20_000);

      await wv.locator("#prompt textarea").fill("a paper crane");
      await wv.locator("#prompt-tokens", { hasText: /\d+\/75/ }).waitFor({ state: "visible", timeout: 10_000 });
      await wv.locator("#steps input").fill("3");
      await s.chooseOption(wv.locator("#size"), "Custom…");
      await wv.locator("#width input").fill("64");
      await wv.locator("#height input").fill("64");
      const before = s.listFiles("assets/generated");
      await wv.locator("#generate").click();
      const { bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000, before);
      const params = pngTextChunks(bytes).get("parameters") ?? "";
      assert.ok(params.startsWith("a paper crane"), params);
      await s.shot("studio-generated-with-download");
    });
  });
  it('"Remove Downloaded Model…" deletes a model from the cache after asking, even the one in use', { timeout: 60_000 }, async () => {
    assert.ok(CATALOG_MODEL);
    await s.check("remove-model", async () => {
      assert.equal(pulledFolders(s.modelStore, CATALOG_MODEL.repo).length, 1, "the Studio test downloaded the catalog model, now in use");
      for (const repo of [TYPED_REPO, CATALOG_MODEL.repo]) {
        await s.runCommandShowing("Easel: Remove Downloaded Model…", s.page.locator(".quick-input-widget .quick-input-title", { hasText: "Easel: Remove Downloaded Model" }));
        await s.quickInput.fill(repo);
        const row = s.page.locator(".quick-input-widget .monaco-list-row.focused", { hasText: repo });
        await row.waitFor({ state: "visible", timeout: 10_000 });
        assert.match(await row.innerText(), /\d+(\.\d+)? (kB|MB) · /, "the size it frees");
        if (repo === TYPED_REPO) await s.shot("remove-pick");
        await s.page.keyboard.press("Enter");
        const dialog = await answerDialog(new RegExp(`Remove ${repo.replace("/", "\\/")}@[0-9a-f]{12}`), "Remove", "remove-confirm");
        assert.match(dialog, /downloads it again/);
        // Said once the removal is complete (the manifest goes first, then the files).
        await s.notification(/Easel: removed/).waitFor({ state: "visible", timeout: 15_000 });
        assert.deepEqual(pulledFolders(s.modelStore, repo), []);
        assert.deepEqual(fs.readdirSync(s.modelStore).filter((n) => n.startsWith(repo.replace("/", "--"))), [], "nothing of it is left");
        await s.clearNotifications();
      }
      // The open Studio's picker follows: the catalog model needs a download again.
      await s.webview().locator("#model li[role=option]", { hasText: `${CATALOG_MODEL.name} (download)` }).first().waitFor({ state: "attached", timeout: 15_000 });
    });
  });
});
