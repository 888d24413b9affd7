// Deterministic weights: every tensor gets its own xoshiro128** stream, seeded from the model seed
// and the tensor's name, so a tensor's bytes depend on nothing else (order, other tensors, chunking).

/** 32-bit FNV-1a of a string, folded with a seed. */
function hash32(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: string) {
    // splitmix32 spreads the 32-bit hash over the 128-bit state (never all zero).
    let s = hash32(seed, stream);
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /**
   * Fills `out` with uniform values of mean `mean` and standard deviation `std` (half-width
   * std·√3). The 24-bit grid is centred on half-steps, so no value is exactly `mean`, and none
   * is denormal for any std above 1e-30.
   */
  fillUniform(out: Float32Array, std: number, mean = 0): void {
    const step = (2 * Math.sqrt(3) * std) / 16777216;
    for (let i = 0; i < out.length; i++) out[i] = mean + ((this.nextU32() >>> 8) - 8388607.5) * step;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
