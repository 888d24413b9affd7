// easel-assets.json's entries following renames and deletions (what VS Code's file events apply).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AssetEntry, type Assets, moveEntries, parseAssets, removeEntries, serializeAssets } from "../../extension/engine/assets/lockfile";

const HASH = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}`;

function generated(n: number, init?: string): AssetEntry {
  return {
    pixels: HASH(n),
    width: 64,
    height: 64,
    generation: {
      prompt: "p",
      negativePrompt: "",
      promptSyntax: "plain",
      seed: String(n),
      model: { name: "m", folder: "/models/m" },
      scheduler: "default",
      sampler: "pndm",
      steps: 2,
      guidance: 7.5,
      width: 64,
      height: 64,
      decoder: "vae",
      ...(init ? { initImage: { path: init, pixels: HASH(99) }, strength: 0.5 } : {}),
    },
    post: [{ op: "encode", format: "png" }],
    easelVersion: "easel-test",
  };
}

function sample(): Assets {
  return new Map<string, AssetEntry>([
    ["art/a.png", generated(1)],
    ["art/b.png", generated(2, "art/a.png")],
    ["art/a-icons/a-16.png", { pixels: HASH(3), width: 16, height: 16, source: { path: "art/a.png", pixels: HASH(1) }, post: [{ op: "icon", size: 16 }], easelVersion: "easel-test" }],
    ["other/c.png", generated(4)],
  ]);
}

describe("easel-assets.json entries and file events", () => {
  it("a renamed file keeps its entry under the new path, and entries using it as input follow", () => {
    const assets = sample();
    assert.equal(moveEntries(assets, "art/a.png", "hero/a.png"), true);
    assert.deepEqual([...assets.keys()].sort(), ["art/a-icons/a-16.png", "art/b.png", "hero/a.png", "other/c.png"]);
    assert.equal(assets.get("hero/a.png")?.pixels, HASH(1));
    assert.equal(assets.get("art/b.png")?.generation?.initImage?.path, "hero/a.png");
    assert.equal(assets.get("art/a-icons/a-16.png")?.source?.path, "hero/a.png");
  });

  it("an input stored in a renamed file's chunk follows it; a mask kept in the entry stays as it is", () => {
    const assets = sample();
    const g = generated(5).generation!;
    const mask = { pixels: HASH(7), data: "iVBORw0KGgo=" };
    assets.set("art/c.png", { ...generated(5), generation: { ...g, initImage: { path: "art/a.png", pixels: HASH(1), chunk: "esIn" }, mask, strength: 0.7 } });
    assert.equal(moveEntries(assets, "art/a.png", "hero/a.png"), true);
    assert.deepEqual(assets.get("art/c.png")?.generation?.initImage, { path: "hero/a.png", pixels: HASH(1), chunk: "esIn" });
    assert.deepEqual(assets.get("art/c.png")?.generation?.mask, mask);
    assert.equal(serializeAssets(parseAssets(serializeAssets(assets), "f")), serializeAssets(assets));
  });

  it("a moved folder takes every entry inside it, and only those", () => {
    const assets = sample();
    assert.equal(moveEntries(assets, "art", "images/art"), true);
    assert.deepEqual([...assets.keys()].sort(), ["images/art/a-icons/a-16.png", "images/art/a.png", "images/art/b.png", "other/c.png"]);
    assert.equal(assets.get("images/art/b.png")?.generation?.initImage?.path, "images/art/a.png");
    // "art" is not a prefix of "artwork": nothing else moves.
    assert.equal(moveEntries(assets, "oth", "x"), false);
  });

  it("a deleted file or folder takes its entries", () => {
    const assets = sample();
    assert.equal(removeEntries(assets, "art/b.png"), true);
    assert.equal(removeEntries(assets, "art/b.png"), false);
    assert.equal(removeEntries(assets, "art"), true);
    assert.deepEqual([...assets.keys()], ["other/c.png"]);
  });

  it("serializes with sorted keys in a stable order, and reads back what it wrote", () => {
    const a = sample();
    const b = new Map([...sample()].reverse());
    assert.equal(serializeAssets(a), serializeAssets(b));
    const text = serializeAssets(a);
    assert.deepEqual(parseAssets(text, "f"), new Map([...a].sort(([x], [y]) => (x < y ? -1 : 1))));
    assert.equal(serializeAssets(parseAssets(text, "f")), text);
  });
});
