import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { outputTargets, type OutputTarget } from "../../extension/engine/cli/outputPaths";
import { promptSlug } from "../../extension/engine/cli/slug";

describe("prompt slug", () => {
  it("keeps lower-case ASCII words joined by dashes", () => {
    assert.equal(promptSlug("A Café, at Night!"), "a-cafe-at-night");
    assert.equal(promptSlug("  🍅🥕  "), "image");
    assert.equal(promptSlug(""), "image");
  });
  it("cuts long prompts at a word boundary", () => {
    const slug = promptSlug("a castle on a hill at sunset, oil painting by a famous artist, highly detailed");
    assert.ok(slug.length <= 48);
    assert.equal(slug, "a-castle-on-a-hill-at-sunset-oil-painting-by-a");
  });
});

describe("output paths", () => {
  const cwd = path.resolve("/work/out");
  const files = (targets: readonly OutputTarget[]) => targets.map((t) => t.file);
  it("uses --out as given for one image, and only that name may replace a file", () => {
    assert.deepEqual(outputTargets("cat.png", "x", 5n, 1, cwd), [{ file: path.join(cwd, "cat.png"), replace: true, stem: path.join(cwd, "cat") }]);
    assert.deepEqual(outputTargets("cat.png", "x", 5n, 1, cwd, new Set(["cat.png"])).map((t) => t.file), [path.join(cwd, "cat.png")]);
  });
  it("appends seed + i to --out's stem for a batch", () => {
    const targets = outputTargets("dir/cat.png", "x", 5n, 2, cwd);
    assert.deepEqual(files(targets), [path.join(cwd, "dir/cat-5.png"), path.join(cwd, "dir/cat-6.png")]);
    assert.ok(targets.every((t) => !t.replace));
  });
  it("defaults to <slug>-<seed>.png, exact for 64-bit seeds", () => {
    assert.deepEqual(files(outputTargets(undefined, "Red boat", 18446744073709551614n, 2, cwd)), [
      path.join(cwd, "red-boat-18446744073709551614.png"),
      path.join(cwd, "red-boat-18446744073709551615.png"),
    ]);
  });
  it("never picks a made-up name that is taken: -2, -3… as the extension does", () => {
    assert.deepEqual(files(outputTargets(undefined, "Red boat", 7n, 1, cwd, new Set(["red-boat-7.png"]))), [path.join(cwd, "red-boat-7-2.png")]);
    assert.deepEqual(files(outputTargets(undefined, "Red boat", 7n, 2, cwd, new Set(["RED-BOAT-7.png", "red-boat-7-2.png", "red-boat-8.png"]))), [
      path.join(cwd, "red-boat-7-3.png"),
      path.join(cwd, "red-boat-8-2.png"),
    ]);
    assert.deepEqual(files(outputTargets("boat.png", "x", 1n, 2, cwd, new Set(["boat-1.png"]))), [path.join(cwd, "boat-1-2.png"), path.join(cwd, "boat-2.png")]);
  });
});
