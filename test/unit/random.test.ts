import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

import { EaselError } from "../../extension/engine/errors";
import { fmaf, logAvx, sincosAvx, type SinCos } from "../../extension/engine/random/float32Math";
import { Mt19937 } from "../../extension/engine/random/mt19937";
import { TorchGenerator, seedFromString } from "../../extension/engine/random/torchGenerator";

interface RandnCase {
  readonly seed: string;
  readonly shape: readonly number[];
  readonly head: readonly number[];
  readonly tail: readonly number[];
  readonly sum: number;
  readonly sumsq: number;
  readonly next16: readonly number[];
}

const FIXTURES = path.resolve(__dirname, "../fixtures/conformance");
const cases = JSON.parse(readFileSync(path.join(FIXTURES, "randn.json"), "utf8")) as RandnCase[];

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function assertClose(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    assert.ok(diff <= tol, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (|diff| ${diff})`);
  }
}

describe("TorchGenerator matches torch.randn (randn.json)", () => {
  for (const c of cases) {
    const n = numel(c.shape);
    it(`seed ${c.seed}, shape [${c.shape.join(", ")}] (numel ${n}${n < 16 ? ", scalar path" : n % 16 ? ", ragged tail" : ""})`, () => {
      const g = new TorchGenerator(BigInt(c.seed));
      const values = g.randn(c.shape);
      assert.equal(values.length, n);
      assertClose(values.subarray(0, c.head.length), c.head, 1e-6, "head");
      assertClose(values.subarray(n - c.tail.length), c.tail, 1e-6, "tail");
      let sum = 0;
      let sumsq = 0;
      for (const v of values) {
        sum += v;
        sumsq += v * v;
      }
      assert.ok(Math.abs(sum - c.sum) <= 1e-9 * Math.max(1, c.sumsq), `sum ${sum} vs ${c.sum}`);
      assert.ok(Math.abs(sumsq - c.sumsq) <= 1e-9 * c.sumsq, `sumsq ${sumsq} vs ${c.sumsq}`);
      // The stream continues: the next randn(16) on the same generator.
      assertClose(g.randn([16]), c.next16, 1e-6, "next16");
    });
  }

  it("reproduces the fixture bit for bit (float32 emulation of torch's AVX2 kernel)", () => {
    for (const c of cases) {
      const g = new TorchGenerator(BigInt(c.seed));
      const values = g.randn(c.shape);
      const n = values.length;
      assert.deepEqual(Array.from(values.subarray(0, c.head.length)), c.head, `seed ${c.seed} [${c.shape.join(",")}] head`);
      assert.deepEqual(Array.from(values.subarray(n - c.tail.length)), c.tail, `seed ${c.seed} [${c.shape.join(",")}] tail`);
      assert.deepEqual(Array.from(g.randn([16])), c.next16, `seed ${c.seed} [${c.shape.join(",")}] next16`);
    }
  });

  it("covers the paths the brief asks for", () => {
    const sizes = cases.map((c) => numel(c.shape));
    assert.ok(sizes.some((n) => n < 16), "a numel < 16 case");
    assert.ok(sizes.some((n) => n >= 16 && n % 16 === 0), "a multiple of 16");
    assert.ok(sizes.some((n) => n > 16 && n % 16 !== 0), "a size that is not a multiple of 16");
    assert.ok(cases.some((c) => c.seed === "4294967296"), "a seed above 2^32");
  });
});

describe("TorchGenerator behaviour", () => {
  it("uses only the low 32 bits of the seed, like torch's mt19937", () => {
    const a = new TorchGenerator(0n).randn([1, 4, 8, 8]);
    const b = new TorchGenerator(4294967296n).randn([1, 4, 8, 8]);
    const c = new TorchGenerator(18446744073709551615n).randn([1, 4, 8, 8]);
    const d = new TorchGenerator(4294967295n).randn([1, 4, 8, 8]);
    assert.deepEqual(a, b);
    assert.deepEqual(c, d);
  });

  it("gives different values for different seeds", () => {
    const seeds = [0n, 1n, 2n, 42n, 1234n, 4294967295n];
    const firsts = seeds.map((s) => Array.from(new TorchGenerator(s).randn([4, 4])).join(","));
    assert.equal(new Set(firsts).size, seeds.length);
    const scalar = seeds.map((s) => Array.from(new TorchGenerator(s).randn([3])).join(","));
    assert.equal(new Set(scalar).size, seeds.length);
  });

  it("is deterministic for a seed", () => {
    assert.deepEqual(new TorchGenerator(7n).randn([2, 4, 5, 3]), new TorchGenerator(7n).randn([2, 4, 5, 3]));
  });

  it("continues the stream across calls (later draws differ from the first)", () => {
    const g = new TorchGenerator(42n);
    const first = g.randn([1, 4, 8, 8]);
    const second = g.randn([1, 4, 8, 8]);
    assert.notDeepEqual(first, second);
  });

  it("scalar path: the cached second Box-Muller value is used by the next small draw", () => {
    // Six values in one draw = three Box-Muller pairs; two draws of three use the cached sine in between.
    const whole = new TorchGenerator(5n).randn([6]);
    const g = new TorchGenerator(5n);
    const parts = [...g.randn([3]), ...g.randn([3])];
    assert.deepEqual(Array.from(whole), parts);
    // A numel >= 16 draw in between does not consume the cached value.
    const h = new TorchGenerator(5n);
    const a = h.randn([3]);
    h.randn([16]);
    const b = h.randn([1]);
    assert.equal(a.length, 3);
    assert.equal(b[0], whole[3]);
  });

  it("handles empty and zero-size shapes", () => {
    const g = new TorchGenerator(0n);
    assert.equal(g.randn([0, 4]).length, 0);
    assert.equal(g.randn([]).length, 1);
    // Nothing was drawn by the empty tensor: the scalar draw equals a fresh generator's first value.
    assert.equal(new TorchGenerator(0n).randn([1])[0], new TorchGenerator(0n).randn([])[0]);
  });

  it("produces standard normal statistics", () => {
    const v = new TorchGenerator(99n).randn([1, 4, 128, 128]);
    let sum = 0;
    let sumsq = 0;
    for (const x of v) {
      sum += x;
      sumsq += x * x;
    }
    const mean = sum / v.length;
    const variance = sumsq / v.length - mean * mean;
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.02, `variance ${variance}`);
  });

  it("rejects invalid shapes and seeds", () => {
    const g = new TorchGenerator(0n);
    assert.throws(() => g.randn([2, -1]), RangeError);
    assert.throws(() => g.randn([1.5]), RangeError);
    assert.throws(() => new TorchGenerator(-1n), RangeError);
    assert.throws(() => new TorchGenerator(1n << 64n), RangeError);
  });
});

describe("seedFromString", () => {
  it("parses decimal seeds in 0..2^64-1", () => {
    assert.equal(seedFromString("0"), 0n);
    assert.equal(seedFromString("42"), 42n);
    assert.equal(seedFromString(" 1234 "), 1234n);
    assert.equal(seedFromString("007"), 7n);
    assert.equal(seedFromString("4294967296"), 4294967296n);
    assert.equal(seedFromString("18446744073709551615"), 18446744073709551615n);
  });

  for (const bad of ["", " ", "-1", "+1", "1.5", "1e3", "0x10", "abc", "12abc", "1 2", "18446744073709551616", "99999999999999999999999", "4\n2"]) {
    it(`rejects ${JSON.stringify(bad)} with a one-line error`, () => {
      assert.throws(
        () => seedFromString(bad),
        (err: unknown) => err instanceof EaselError && err.code === "bad-argument" && err.message.length > 0 && !err.message.includes("\n") && /seed/i.test(err.message),
      );
    });
  }
});

describe("Mt19937", () => {
  it("matches the reference generator (std::mt19937 default seed 5489)", () => {
    const mt = new Mt19937(5489n);
    assert.equal(mt.nextU32(), 3499211612);
    for (let i = 2; i < 10000; i++) mt.nextU32();
    // The C++ standard requires the 10000th output of a default-constructed mt19937 to be 4123659995.
    assert.equal(mt.nextU32(), 4123659995);
  });

  it("seeds from the low 32 bits", () => {
    const a = new Mt19937(1n);
    const b = new Mt19937((1n << 40n) + 1n);
    for (let i = 0; i < 1000; i++) assert.equal(a.nextU32(), b.nextU32());
  });
});

// Exact fused multiply-add of float32 values, through BigInt: every float is k * 2^-149.
function scaled(x: number): bigint {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  const exp = (bits >>> 23) & 0xff;
  const man = bits & 0x7fffff;
  const k = exp === 0 ? BigInt(man) : BigInt(man | 0x800000) << BigInt(exp - 1);
  return bits >>> 31 ? -k : k;
}

function exactFmaf(a: number, b: number, c: number): number {
  const s = scaled(a) * scaled(b) + (scaled(c) << 149n); // value = s * 2^-298
  if (s === 0n) return 0;
  let m = s < 0n ? -s : s;
  let e = -298;
  const shift = m.toString(2).length - 24;
  if (shift > 0) {
    const rem = m & ((1n << BigInt(shift)) - 1n);
    const half = 1n << BigInt(shift - 1);
    m >>= BigInt(shift);
    e += shift;
    if (rem > half || (rem === half && (m & 1n) === 1n)) m += 1n;
  }
  const r = Number(m) * 2 ** e;
  return s < 0n ? -r : r;
}

describe("float32 math (AVX2 kernel emulation)", () => {
  it("fmaf rounds once, even where double rounding would not", () => {
    // (1 + 2^-23)(1 - 2^-23) 2^-24 + (1 + 2^-23) lies just below a float midpoint; a double lands on it.
    const a = Math.fround((1 + 2 ** -23) * 2 ** -12);
    const b = Math.fround((1 - 2 ** -23) * 2 ** -12);
    const c = Math.fround(1 + 2 ** -23);
    assert.notEqual(Math.fround(a * b + c), exactFmaf(a, b, c));
    assert.equal(fmaf(a, b, c), exactFmaf(a, b, c));
    assert.equal(fmaf(a, b, c), 1 + 2 ** -23);
    assert.equal(fmaf(-a, b, -c), -(1 + 2 ** -23));
    // And the other direction: just above a midpoint that ties to even downwards.
    const a2 = Math.fround((1 + 2 ** -23) * 2 ** -12);
    const b2 = Math.fround((1 + 2 ** -22) * 2 ** -12);
    assert.equal(fmaf(a2, b2, 1), exactFmaf(a2, b2, 1));
  });

  it("fmaf agrees with an exact reference on random operands", () => {
    const mt = new Mt19937(2024n);
    const randFloat = (): number => {
      const mant = 1 + (mt.nextU32() & 0x7fffff) / 2 ** 23;
      const exp = (mt.nextU32() % 40) - 20;
      return Math.fround((mt.nextU32() & 1 ? -1 : 1) * mant * 2 ** exp);
    };
    for (let i = 0; i < 20000; i++) {
      const a = randFloat();
      const b = randFloat();
      const c = randFloat();
      assert.equal(fmaf(a, b, c), exactFmaf(a, b, c), `fmaf(${a}, ${b}, ${c})`);
    }
  });

  it("logAvx and sincosAvx stay within a few float ulps of the true functions", () => {
    const sc: SinCos = { sin: 0, cos: 0 };
    for (let i = 1; i <= 4096; i++) {
      const u = Math.fround(i / 4096);
      assert.ok(Math.abs(logAvx(u) - Math.log(u)) <= 4e-7 * Math.max(1, Math.abs(Math.log(u))), `log(${u})`);
      const theta = Math.fround(2 * Math.PI * ((i - 1) / 4096));
      sincosAvx(theta, sc);
      assert.ok(Math.abs(sc.sin - Math.sin(theta)) <= 3e-7, `sin(${theta})`);
      assert.ok(Math.abs(sc.cos - Math.cos(theta)) <= 3e-7, `cos(${theta})`);
    }
    assert.equal(logAvx(1), 0);
    assert.ok(Number.isNaN(logAvx(0)) && Number.isNaN(logAvx(-1)));
  });
});
