// "Check Workspace Assets"' controller: entries read from a real easel-assets.json, each made
// again by an injected regenerator (here: known pixels) and compared with the file on disk.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { checkAssets } from "../../extension/assets/assetChecks";
import { derivedEntry } from "../../extension/engine/assets/assetRecord";
import { type AssetEntry, updateAssets } from "../../extension/engine/assets/lockfile";
import { EaselError } from "../../extension/engine/errors";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-assetchecks-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const png = (r: number) => sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 10, b: 20 } } }).png().toBuffer();

describe("checkAssets", () => {
  it("reports ok, differs (with mean/max), missing and failed, in path order", async () => {
    const root = fs.mkdtempSync(path.join(tmp, "ws-"));
    const made = new Map<string, Buffer>([
      ["a.png", await png(100)],
      ["b.png", await png(100)],
      ["c.png", await png(100)],
    ]);
    fs.writeFileSync(path.join(root, "a.png"), made.get("a.png")!);
    fs.writeFileSync(path.join(root, "b.png"), await png(103));
    const entries: [string, AssetEntry][] = [];
    for (const rel of ["d.png", "c.png", "b.png", "a.png"]) entries.push([rel, await derivedEntry({ path: rel, pixels: `sha256:${"0".repeat(64)}` }, made.get(rel) ?? (await png(1)), [{ op: "icon", size: 8 }])]);
    await updateAssets(root, (assets) => entries.forEach(([rel, e]) => assets.set(rel, e)));
    const seen: string[] = [];
    const results = await checkAssets(
      [root],
      {
        regenerator: () => ({
          regenerate: async (entry) => {
            const rel = entry.source!.path!;
            if (rel === "d.png") throw new EaselError("model-missing", "its model sd15 is not on this machine");
            return made.get(rel)!;
          },
        }),
        readFile: async (r, rel) => fs.promises.readFile(path.join(r, rel)).catch(() => undefined),
      },
      new AbortController().signal,
      (done, total, rel) => seen.push(`${done + 1}/${total} ${rel}`),
    );
    assert.deepEqual(seen, ["1/4 a.png", "2/4 b.png", "3/4 c.png", "4/4 d.png"]);
    assert.deepEqual(
      results.map((r) => [r.rel, r.status]),
      [
        ["a.png", "ok"],
        ["b.png", "differs"],
        ["c.png", "missing"],
        ["d.png", "failed"],
      ],
    );
    // 3 levels on the red channel of every pixel: mean 0.75 over RGBA, max 3.
    assert.equal(results[1].line, "differs b.png: mean difference 0.7500, max 3 (of 255)");
    assert.match(results[2].line, /^missing c\.png: the file is gone/);
    assert.equal(results[3].line, "cannot check d.png: its model sd15 is not on this machine");
  });

  it("stops when cancelled", async () => {
    const root = fs.mkdtempSync(path.join(tmp, "ws-"));
    const e = await derivedEntry({ path: "x.png", pixels: `sha256:${"0".repeat(64)}` }, await png(5), []);
    await updateAssets(root, (assets) => void assets.set("x.png", e));
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(checkAssets([root], { regenerator: () => ({ regenerate: async () => png(5) }), readFile: async () => undefined }, controller.signal), /cancelled/);
  });
});
