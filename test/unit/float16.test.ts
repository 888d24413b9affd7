import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { float16BitsToFloat32, float32ToFloat16Bits, fromFloat16, toFloat16 } from "../../extension/engine/onnx/float16";

describe("float16 conversion", () => {
  it("encodes known values", () => {
    assert.equal(float32ToFloat16Bits(1), 0x3c00);
    assert.equal(float32ToFloat16Bits(-2), 0xc000);
    assert.equal(float32ToFloat16Bits(65504), 0x7bff);
    assert.equal(float32ToFloat16Bits(1e6), 0x7c00);
    assert.equal(float32ToFloat16Bits(2 ** -24), 0x0001);
    assert.equal(float32ToFloat16Bits(0.1), 0x2e66);
    assert.equal(float32ToFloat16Bits(-0), 0x8000);
    assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN))));
  });
  it("rounds halves to even", () => {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: even mantissa (1) wins.
    assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00);
    // 1 + 3·2^-11 lies halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
    assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02);
  });
  it("round-trips every finite half exactly", () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      assert.equal(float32ToFloat16Bits(float16BitsToFloat32(h)), h);
    }
  });
  it("converts arrays within half precision", () => {
    const values = Float32Array.from([0.5, -3.25, 1.2345, 100.7]);
    const back = fromFloat16(toFloat16(values));
    for (let i = 0; i < values.length; i++) assert.ok(Math.abs(back[i] - values[i]) <= Math.abs(values[i]) * 2 ** -11);
  });
});
