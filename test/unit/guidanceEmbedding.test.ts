import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { guidanceScaleEmbedding } from "../../extension/engine/pipeline/guidanceEmbedding";

describe("LCM guidance-scale embedding", () => {
  it("is sin then cos of 1000·(g − 1) over log-spaced frequencies from 1 to 1/10000", () => {
    const e = guidanceScaleEmbedding(8, 256);
    assert.equal(e.length, 256);
    assert.ok(Math.abs(e[0] - Math.sin(7000)) < 1e-3);
    assert.ok(Math.abs(e[128] - Math.cos(7000)) < 1e-3);
    assert.ok(Math.abs(e[127] - Math.sin(7000 / 10000)) < 1e-5);
    assert.ok(Math.abs(e[255] - Math.cos(7000 / 10000)) < 1e-5);
  });
  it("is sin 0 / cos 1 everywhere for guidance 1", () => {
    const e = guidanceScaleEmbedding(1, 8);
    assert.deepEqual([...e], [0, 0, 0, 0, 1, 1, 1, 1]);
  });
  it("leaves the last entry zero for an odd width", () => {
    const e = guidanceScaleEmbedding(2, 7);
    assert.equal(e[6], 0);
    assert.ok(Math.abs(e[3] - Math.cos(1000)) < 1e-3);
  });
});
