// Float32 arithmetic as PyTorch's AVX2 normal kernel does it (aten/src/ATen/native/cpu/avx_mathfun.h,
// compiled by GCC with -mfma, which fuses a multiply into the add or subtract that is its only use).
// Every step is rounded to float32, so the results match torch bit for bit rather than to within an ulp.

const fround = Math.fround;

const bitsView = new Float32Array(1);
const intView = new Int32Array(bitsView.buffer);

function floatBits(x: number): number {
  bitsView[0] = x;
  return intView[0];
}

function floatFromBits(bits: number): number {
  intView[0] = bits;
  return bitsView[0];
}

/**
 * Fused multiply-add on float32 operands, rounded once to float32 (`fmaf`). The product of two floats
 * is exact in a double; the sum is then rounded to a double and to a float, and the one case where
 * that double rounding can differ from a single rounding (the double lands exactly halfway between
 * two floats while the exact sum does not) is corrected with the error term of the double sum.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = fround(s);
  if (r === s) return r;
  const bp = s - p;
  const err = p - (s - bp) + (c - bp);
  if (err === 0) return r;
  const towardS = s > r ? 1 : -1;
  // Neighbouring float of r on the side of s (floats are ordered like their bit patterns, sign-magnitude).
  const other = floatFromBits(floatBits(r) + (r > 0 ? towardS : -towardS));
  if ((r + other) / 2 !== s) return r;
  return err > 0 === other > r ? other : r;
}

const ONE = 1;
const HALF = 0.5;
const SQRTHF = fround(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(fround);
const LOG_Q1 = fround(-2.1219444e-4);
const LOG_Q2 = fround(0.693359375);
const MIN_NORM_POS = floatFromBits(0x00800000);
const HALF_BITS = floatBits(HALF);

/** `log256_ps` for one lane: Cephes' logf polynomial in float32. NaN for x <= 0. */
export function logAvx(xIn: number): number {
  if (!(xIn > 0)) return Number.NaN;
  let x = xIn < MIN_NORM_POS ? MIN_NORM_POS : xIn;
  const xb = floatBits(x);
  let e = fround(((xb >>> 23) - 0x7f) + ONE);
  // Keep the mantissa, with the exponent of 0.5: x in [0.5, 1).
  x = floatFromBits((xb & ~0x7f800000) | HALF_BITS);
  const below = x < SQRTHF;
  const tmp = below ? x : 0;
  x = fround(x - ONE);
  if (below) e = fround(e - ONE);
  x = fround(x + tmp);
  const z = fround(x * x);
  let y = LOG_P[0];
  for (let i = 1; i < LOG_P.length; i++) y = fmaf(y, x, LOG_P[i]);
  y = fround(y * x);
  // y * z + e * q1: GCC fuses the first multiply (y * z) into the add.
  y = fmaf(y, z, fround(e * LOG_Q1));
  y = fmaf(-z, HALF, y);
  x = fround(x + y);
  return fmaf(e, LOG_Q2, x);
}

const FOPI = fround(1.27323954473516);
const DP1 = fround(-0.78515625);
const DP2 = fround(-2.4187564849853515625e-4);
const DP3 = fround(-3.77489497744594108e-8);
const SINCOF_P0 = fround(-1.9515295891e-4);
const SINCOF_P1 = fround(8.3321608736e-3);
const SINCOF_P2 = fround(-1.6666654611e-1);
const COSCOF_P0 = fround(2.443315711809948e-5);
const COSCOF_P1 = fround(-1.388731625493765e-3);
const COSCOF_P2 = fround(4.166664568298827e-2);

/** Result holder for `sincosAvx`, reused to keep the hot loop allocation-free. */
export interface SinCos {
  sin: number;
  cos: number;
}

/** `sincos256_ps` for one lane: Cephes' sinf/cosf in float32 (accurate for |x| < 8192). */
export function sincosAvx(xIn: number, out: SinCos): void {
  let x = Math.abs(xIn);
  const negativeInput = xIn < 0;
  // j = (trunc(x * 4/pi) + 1) & ~1
  const j = ((Math.trunc(fround(x * FOPI)) + 1) & ~1) | 0;
  const y = j;
  const swapSignSin = (j & 4) !== 0;
  const sinPolyFirst = (j & 2) === 0;
  const negCos = (~(j - 2) & 4) !== 0;
  // Extended precision modular arithmetic: x = ((x - y*DP1) - y*DP2) - y*DP3, each step fused.
  x = fmaf(y, DP1, x);
  x = fmaf(y, DP2, x);
  x = fmaf(y, DP3, x);
  const z = fround(x * x);

  // Cosine polynomial on [0, pi/4]: y*z*z - z/2 + 1, the second multiply fused into the subtract.
  let c = fmaf(COSCOF_P0, z, COSCOF_P1);
  c = fmaf(c, z, COSCOF_P2);
  c = fround(c * z);
  c = fmaf(c, z, -fround(z * HALF));
  c = fround(c + ONE);

  // Sine polynomial on [0, pi/4]: x + x*z*(...).
  let s = fmaf(SINCOF_P0, z, SINCOF_P1);
  s = fmaf(s, z, SINCOF_P2);
  s = fround(s * z);
  s = fmaf(s, x, x);

  const sinValue = sinPolyFirst ? s : c;
  const cosValue = sinPolyFirst ? c : s;
  out.sin = negativeInput !== swapSignSin ? -sinValue : sinValue;
  out.cos = negCos ? -cosValue : cosValue;
}
