// Illustrating Markdown without leaving the document: "Easel: Illustrate Selection" puts an image
// link below the paragraph, and the CodeLens on an empty `![alt]()` fills its target in. The links
// are relative to the document; the images land in the workspace's assets/generated/.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { isCompletePng, pngTextChunks, modelCopy, Session } from "./harness";

const POST = ["# Trip notes", "", "A *lighthouse* on a cliff at dawn, waves below.", "", "More words later.", ""].join("\n");
const ALT = ["# Gallery", "", "![a red fox in the snow]()", "", "The end.", ""].join("\n");

describe("Easel in VS Code: Markdown", { timeout: 180_000 }, () => {
  let s: Session;
  let modelRoot: string;
  before(async () => {
    modelRoot = fs.mkdtempSync(path.join(os.tmpdir(), "easel-e2e-model-"));
    const model = modelCopy(modelRoot, "tiny-sd15");
    s = await Session.start({
      name: "markdown",
      settings: { "easel.model": model, "easel.defaults.width": 64, "easel.defaults.height": 64, "easel.defaults.steps": 3, "easel.provider": "cpu" },
      files: { "docs/post.md": POST, "docs/gallery.md": ALT },
    });
  });
  after(async () => {
    await s?.close();
    if (modelRoot) fs.rmSync(modelRoot, { recursive: true, force: true });
  });

  it("Illustrate Selection: the paragraph is the prompt, the link goes below it", { timeout: 60_000 }, async () => {
    await s.check("illustrate", async () => {
      await s.openFile("docs/post.md");
      await s.goToLine(3); // the cursor in the paragraph, nothing selected
      await s.shot("post-open");
      const before = s.listFiles("assets/generated");
      await s.runCommand("Easel: Illustrate Selection");
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000, before);
      assert.ok(pngTextChunks(bytes).get("parameters")?.startsWith("A lighthouse on a cliff at dawn, waves below."), "prompt from the paragraph, Markdown stripped");
      await s.saveActiveEditor();
      const link = `![A lighthouse on a cliff at dawn, waves below.](../${rel.split(path.sep).join("/")})`;
      const expected = ["# Trip notes", "", "A *lighthouse* on a cliff at dawn, waves below.", "", link, "", "More words later.", ""].join("\n");
      assert.equal(s.readFile("docs/post.md"), expected);
      await s.settleToasts();
      await s.shot("post-illustrated");
    });
  });

  it("Generate from Alt Text: the CodeLens on ![alt]() fills in the image", { timeout: 60_000 }, async () => {
    await s.check("alt-text", async () => {
      await s.openFile("docs/gallery.md");
      const lens = s.page.locator(".part.editor .editor-group-container.active .codelens-decoration a", { hasText: "Generate image from alt text" });
      await lens.first().waitFor({ state: "visible", timeout: 20_000 });
      await s.shot("gallery-codelens");
      const before = s.listFiles("assets/generated");
      await lens.first().click();
      const { rel, bytes } = await s.waitForNewFile("assets/generated", /\.png$/, isCompletePng, 45_000, before);
      assert.ok(pngTextChunks(bytes).get("parameters")?.startsWith("a red fox in the snow"), "the alt text is the prompt");
      await s.saveActiveEditor();
      const expected = ["# Gallery", "", `![a red fox in the snow](../${rel.split(path.sep).join("/")})`, "", "The end.", ""].join("\n");
      assert.equal(s.readFile("docs/gallery.md"), expected);
      await lens.first().waitFor({ state: "detached", timeout: 10_000 }); // no empty link left
      await s.settleToasts();
      await s.shot("gallery-filled");
    });
  });
});
