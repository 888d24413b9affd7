// MT19937 exactly as PyTorch's CPU generator runs it (aten/src/ATen/core/MT19937RNGEngine.h): the
// reference Matsumoto–Nishimura generator, seeded with init_genrand from the low 32 bits of the seed.

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class Mt19937 {
  private readonly state = new Uint32Array(N);
  /** Index of the next state word to temper; N means the state must be regenerated first. */
  private index = N;

  /** Seeds from the low 32 bits of `seed` (0..2^64-1), as `at::mt19937(seed)` does. */
  constructor(seed: bigint) {
    const state = this.state;
    state[0] = Number(BigInt.asUintN(32, seed));
    for (let j = 1; j < N; j++) {
      const prev = state[j - 1];
      state[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
    }
    this.index = N;
  }

  /** The next 32-bit output, as an unsigned integer in 0..2^32-1. */
  nextU32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    let k = 0;
    for (; k < N - M; k++) {
      const y = (s[k] & UPPER_MASK) | (s[k + 1] & LOWER_MASK);
      s[k] = s[k + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; k < N - 1; k++) {
      const y = (s[k] & UPPER_MASK) | (s[k + 1] & LOWER_MASK);
      s[k] = s[k + M - N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    const y = (s[N - 1] & UPPER_MASK) | (s[0] & LOWER_MASK);
    s[N - 1] = s[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.index = 0;
  }
}
