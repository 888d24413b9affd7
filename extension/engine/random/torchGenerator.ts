// A re-implementation of `torch.Generator("cpu").manual_seed(seed)` + `torch.randn(shape, generator=g)`
// (float32), so that a seed gives the same initial latents, and the same later noise, as diffusers.
//
// torch's CPU normal kernel (aten/src/ATen/native/cpu/DistributionTemplates.h) has two paths:
// * numel >= 16 (contiguous float): `normal_fill`. Every element first gets a 24-bit uniform float,
//   then Box–Muller runs on blocks of 16 (u1 = 1 - data[j], u2 = data[j + 8]); when numel is not a
//   multiple of 16 the last 16 positions get 16 fresh uniforms and are transformed again. On x86 torch
//   runs the AVX2 variant (`normal_fill_16_AVX2`, Cephes log/sincos in float32, GCC-fused multiply-adds),
//   which is what is emulated here, bit for bit (see float32Math.ts).
// * numel < 16: `at::normal_distribution<double>` per element: 53-bit uniforms from random64 (first
//   32-bit draw is the high word), r = sqrt(-2 log1p(-u2)), theta = 2 pi u1, r cos(theta) returned and
//   r sin(theta) cached in the generator for the next scalar draw.

import { badArgument } from "../errors";
import { logAvx, sincosAvx, type SinCos } from "./float32Math";
import { Mt19937 } from "./mt19937";

const fround = Math.fround;
const TWO_PI_F32 = fround(2 * Math.PI);
const MINUS_TWO = -2;
const TWO_POW_24 = 16777216;
const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
/** torch.Generator.manual_seed takes a uint64: seeds are 0..2^64-1 everywhere in Easel. */
export const MAX_SEED = (1n << 64n) - 1n;

export class TorchGenerator {
  private readonly engine: Mt19937;
  /** torch's `next_double_normal_sample`: the second Box–Muller value of the scalar path. */
  private nextDoubleNormal: number | undefined;
  private readonly sincos: SinCos = { sin: 0, cos: 0 };

  /** Same as `torch.Generator("cpu").manual_seed(seed)`; `seed` must be in 0..2^64-1. */
  constructor(seed: bigint) {
    if (seed < 0n || seed > MAX_SEED) {
      throw new RangeError(`Seed ${seed} is out of range: use an integer from 0 to ${MAX_SEED}.`);
    }
    this.engine = new Mt19937(seed);
    this.nextDoubleNormal = undefined;
  }

  /** Standard normal float32 values, as `torch.randn(shape, generator=g)` would draw them next. */
  randn(shape: readonly number[]): Float32Array {
    let numel = 1;
    for (const dim of shape) {
      if (!Number.isSafeInteger(dim) || dim < 0) {
        throw new RangeError(`randn: invalid shape [${shape.join(", ")}]: sizes must be non-negative integers.`);
      }
      numel *= dim;
    }
    if (!Number.isSafeInteger(numel)) {
      throw new RangeError(`randn: shape [${shape.join(", ")}] is too large.`);
    }
    const out = new Float32Array(numel);
    if (numel >= 16) this.normalFill(out);
    else for (let i = 0; i < numel; i++) out[i] = this.scalarNormal();
    return out;
  }

  /** `uniform_real_distribution<float>(0, 1)`: the low 24 bits of one 32-bit draw, / 2^24. */
  private uniformFloat(): number {
    return (this.engine.nextU32() & 0xffffff) / TWO_POW_24;
  }

  /** `uniform_real_distribution<double>(0, 1)`: the low 53 bits of random64 (hi = first draw), / 2^53. */
  private uniformDouble(): number {
    const hi = this.engine.nextU32();
    const lo = this.engine.nextU32();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) / TWO_POW_53;
  }

  private normalFill(data: Float32Array): void {
    const size = data.length;
    for (let i = 0; i < size; i++) data[i] = this.uniformFloat();
    for (let i = 0; i + 16 <= size; i += 16) this.normalFill16(data, i);
    if (size % 16 !== 0) {
      const start = size - 16;
      for (let i = 0; i < 16; i++) data[start + i] = this.uniformFloat();
      this.normalFill16(data, start);
    }
  }

  /** `normal_fill_16_AVX2` with mean 0 and std 1. */
  private normalFill16(data: Float32Array, offset: number): void {
    const sc = this.sincos;
    for (let j = 0; j < 8; j++) {
      const u1 = fround(1 - data[offset + j]);
      const u2 = data[offset + j + 8];
      const radius = fround(Math.sqrt(fround(MINUS_TWO * logAvx(u1))));
      const theta = fround(TWO_PI_F32 * u2);
      sincosAvx(theta, sc);
      // fmadd(n, std = 1, mean = 0) is n itself, except that -0 becomes +0.
      data[offset + j] = fround(radius * sc.cos) + 0;
      data[offset + j + 8] = fround(radius * sc.sin) + 0;
    }
  }

  /** One value of `at::normal_distribution<double>(0, 1)`, cast to float. */
  private scalarNormal(): number {
    const cached = this.nextDoubleNormal;
    if (cached !== undefined) {
      this.nextDoubleNormal = undefined;
      return fround(cached);
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.nextDoubleNormal = r * Math.sin(theta);
    return fround(r * Math.cos(theta));
  }
}

/**
 * Parses a decimal seed (as typed on a command line or in a settings field) into 0..2^64-1.
 * Throws a one-line EaselError ("bad-argument") for anything else (signs, fractions, exponents, hex, out of range).
 */
export function seedFromString(s: string): bigint {
  const text = s.trim();
  if (!/^[0-9]+$/.test(text)) {
    throw badArgument(`invalid seed ${JSON.stringify(s)}: use a whole number from 0 to ${MAX_SEED}`);
  }
  const seed = BigInt(text);
  if (seed > MAX_SEED) {
    throw badArgument(`seed ${text} is too large: use a whole number from 0 to ${MAX_SEED}`);
  }
  return seed;
}
