// Easel's language model tools through the real VS Code API. Copilot is not in code-server, so a
// test-only extension (fixtures/lm-probe) calls vscode.lm.invokeTool the way an agent's host does,
// from a palette command, and writes what it got into the workspace. VS Code asks for the tool's
// confirmation in a dialog (a call outside a chat session); the test reads and answers it like a user.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { isCompletePng, modelCopy, poll, Session } from "./harness";

interface ProbeResult {
  readonly tools: { readonly name: string; readonly description: string; readonly inputSchema?: { readonly required?: string[]; readonly properties?: Record<string, unknown> } }[];
  readonly parts?: ({ readonly kind: "text"; readonly value: string } | { readonly kind: "data"; readonly mimeType: string; readonly base64: string })[];
  readonly thrown?: string;
}

interface Lockfile {
  readonly assets: Record<string, { readonly generation?: { readonly seed: string; readonly prompt: string; readonly initImage?: { readonly path: string } }; readonly source?: { readonly path: string } }>;
}

describe("Easel in VS Code: language model tools (vscode.lm.invokeTool)", { timeout: 420_000 }, () => {
  let s: Session;
  let modelDir: string;
  before(async () => {
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelDir, "tiny-sd15");
    s = await Session.start({
      name: "lmtools",
      settings: {
        "easel.model": model,
        "easel.defaults.width": 64,
        "easel.defaults.height": 64,
        "easel.defaults.steps": 2,
        "easel.provider": "cpu",
        // The tools service is part of the chat feature, which the other sessions turn off.
        "chat.disableAIFeatures": false,
      },
      fixtureExtensions: ["lm-probe"],
    });
  });
  after(async () => {
    await s?.close();
    if (modelDir) fs.rmSync(modelDir, { recursive: true, force: true });
  });

  const dialog = () => s.page.locator(".monaco-dialog-box");

  /**
   * Calls a tool through the probe. `answer`: how to answer VS Code's confirmation dialog (none:
   * there must be none); returns the probe's result and the dialog's text.
   */
  async function call(tool: string, input: unknown, answer: "confirm" | "cancel" | "none", whileRunning?: () => Promise<void>): Promise<{ result: ProbeResult; asked: string }> {
    fs.rmSync(s.path(".probe/result.json"), { force: true });
    s.writeFile(".probe/request.json", JSON.stringify({ tool, input }));
    await s.runCommand("LM Probe: Invoke Tool");
    let asked = "";
    if (answer !== "none") {
      await dialog().waitFor({ state: "visible", timeout: 30_000 });
      asked = await dialog().innerText();
      await s.shot(`confirm-${tool}`);
      // The dialog's buttons: "Cancel", then the primary "Yes".
      const button = dialog().locator(".dialog-buttons .monaco-button", { hasText: answer === "confirm" ? /^\s*Yes\s*$/ : /^\s*Cancel\s*$/ });
      await button.click();
      await dialog().waitFor({ state: "hidden", timeout: 10_000 });
    }
    await whileRunning?.();
    const result = await poll("the probe's result", () => (fs.existsSync(s.path(".probe/result.json")) ? (JSON.parse(s.readFile(".probe/result.json")) as ProbeResult) : undefined), 120_000);
    if (answer === "none") assert.equal(await dialog().count(), 0, "no confirmation for a call that cannot run");
    return { result, asked };
  }

  const text = (r: ProbeResult) => (r.parts ?? []).flatMap((p) => (p.kind === "text" ? [p.value] : [])).join("\n");
  const images = (r: ProbeResult) => (r.parts ?? []).flatMap((p) => (p.kind === "data" ? [p] : []));
  const lockfile = () => JSON.parse(s.readFile("easel-assets.json")) as Lockfile;

  it("lists the tools with their schemas, confirms, generates into the workspace and answers with text and a PNG part", { timeout: 150_000 }, async () => {
    await s.check("generate", async () => {
      const { result, asked } = await call("easel_generate_image", { prompt: "a red boat", seed: 7, destination: "art/boat.png" }, "confirm");
      assert.deepEqual(result.tools.map((t) => t.name).sort(), ["easel_edit_image", "easel_generate_image", "easel_icon_set"]);
      const generate = result.tools.find((t) => t.name === "easel_generate_image")!;
      assert.deepEqual(generate.inputSchema?.required, ["prompt"]);
      assert.match(generate.description, /must already be downloaded/);
      assert.match(asked, /Easel: Generate image/);
      assert.match(asked, /Prompt: "a red boat"/);
      assert.match(asked, /Model: .*tiny-sd15/);
      assert.match(asked, /Files: art\/boat\.png/);

      assert.equal(result.thrown, undefined);
      const t = text(result);
      assert.match(t, /^Made 1 image \(64x64, 2 steps, /);
      assert.match(t, /- art\/boat\.png \(seed 7\)/);
      assert.match(t, /!\[a red boat\]\(art\/boat\.png\)/);
      assert.match(t, /Recorded in easel-assets\.json/);
      const [part] = images(result);
      assert.equal(part?.mimeType, "image/png");
      const meta = await sharp(Buffer.from(part.base64, "base64")).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["png", 64, 64]);
      assert.ok(isCompletePng(fs.readFileSync(s.path("art/boat.png"))));
      assert.equal(lockfile().assets["art/boat.png"]?.generation?.seed, "7");
      assert.equal(lockfile().assets["art/boat.png"]?.generation?.prompt, "a red boat");
    });
  });

  it("never replaces a file, edits an image (recorded with its input) and makes an icon set", { timeout: 150_000 }, async () => {
    await s.check("edit-icons", async () => {
      const again = await call("easel_generate_image", { prompt: "a red boat", seed: 7, destination: "art/boat.png" }, "confirm");
      assert.match(text(again.result), /- art\/boat-2\.png \(seed 7\)/);
      assert.deepEqual(s.listFiles("art"), ["art/boat-2.png", "art/boat.png"]);

      const edit = await call("easel_edit_image", { prompt: "a blue boat", image: "art/boat.png", strength: 0.5, seed: 3 }, "confirm");
      assert.match(edit.asked, /from art\/boat\.png \(img2img\)/);
      assert.match(text(edit.result), /- art\/a-blue-boat-3\.png \(seed 3\)/);
      assert.equal(images(edit.result).length, 1);
      assert.equal(lockfile().assets["art/a-blue-boat-3.png"]?.generation?.initImage?.path, "art/boat.png");

      const icons = await call("easel_icon_set", { image: "art/boat.png" }, "confirm");
      assert.match(text(icons.result), /^Icon set from art\/boat\.png .* in art\/boat-icons\/:/);
      assert.deepEqual(s.listFiles("art/boat-icons"), [16, 32, 48, 64, 128, 256].map((n) => `art/boat-icons/boat-${n}.png`).sort());
      assert.equal(lockfile().assets["art/boat-icons/boat-16.png"]?.source?.path, "art/boat.png");
      assert.equal(images(icons.result)[0]?.mimeType, "image/png");
    });
  });

  it("answers errors as results: outside the workspace (no confirmation), a model not downloaded, the user's Cancel", { timeout: 120_000 }, async () => {
    await s.check("errors", async () => {
      const outside = await call("easel_generate_image", { prompt: "x", destination: "../outside" }, "none");
      assert.equal(outside.result.thrown, undefined);
      assert.match(text(outside.result), /^error: the destination "\.\.\/outside" .*without "\.\."/);

      const missing = await call("easel_generate_image", { prompt: "x", model: "sd-turbo" }, "confirm");
      assert.match(text(missing.result), /^error: sd-turbo is not downloaded yet: .*'Easel: Download Model'.*\(the user can fix this with the command 'Easel: Choose Model' or the command 'Easel: Download Model…'\)$/);

      const before = s.listFiles("assets");
      const declined = await call("easel_generate_image", { prompt: "declined" }, "cancel");
      assert.match(declined.result.thrown ?? "", /Canceled/i, "VS Code throws to the caller when the user declines");
      assert.deepEqual(s.listFiles("assets"), before, "nothing written");
    });
  });

  it("stops a running generation when the caller's token is cancelled, and writes nothing", { timeout: 150_000 }, async () => {
    await s.check("cancel", async () => {
      // 8 × 150 steps at 128² take about 40 s on a quiet 2-core machine (the tiny model's attention
      // makes 512² or more take minutes before the first step is reported).
      const { result } = await call("easel_generate_image", { prompt: "a slow one", steps: 150, count: 8, width: 128, height: 128, destination: "slow" }, "confirm", async () => {
        await s.notification(/step \d+\/150/).first().waitFor({ state: "visible", timeout: 60_000 });
        await s.shot("running");
        await s.runCommand("LM Probe: Cancel Tool Call");
      });
      // Easel answers a cancelled call with a result; VS Code may instead reject the caller's
      // promise once its token is cancelled. Either way the generation stopped: nothing written.
      console.log(`e2e: lmtools: a cancelled call ${result.thrown ? `threw ${result.thrown}` : `answered ${JSON.stringify(text(result))}`}`);
      if (result.thrown === undefined) assert.equal(text(result), "error: cancelled: nothing was written");
      else assert.match(result.thrown, /Cancel/i);
      await s.notification(/step \d+\/150/).first().waitFor({ state: "hidden", timeout: 30_000 });
      assert.deepEqual(s.listFiles("slow"), []);
    });
  });
});
