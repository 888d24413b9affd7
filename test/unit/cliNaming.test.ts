import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { outputPaths } from "../../extension/engine/cli/outputPaths";
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
  it("uses --out as given for one image", () => {
    assert.deepEqual(outputPaths("cat.png", "x", 5n, 1, cwd), [path.join(cwd, "cat.png")]);
  });
  it("appends seed + i to --out's stem for a batch", () => {
    assert.deepEqual(outputPaths("dir/cat.png", "x", 5n, 2, cwd), [path.join(cwd, "dir/cat-5.png"), path.join(cwd, "dir/cat-6.png")]);
  });
  it("defaults to <slug>-<seed>.png, exact for 64-bit seeds", () => {
    assert.deepEqual(outputPaths(undefined, "Red boat", 18446744073709551614n, 2, cwd), [
      path.join(cwd, "red-boat-18446744073709551614.png"),
      path.join(cwd, "red-boat-18446744073709551615.png"),
    ]);
  });
});
