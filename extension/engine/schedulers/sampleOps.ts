// Latent-sized operations shared by several schedulers, written as the float32 tensor ops diffusers runs
// (each torch op rounds to float32, so each one is rounded here too).

import { EaselError } from "../errors";
import { fround, sqrtF32 } from "./numerics";

export function checkSameLength(a: Float32Array, b: Float32Array, what: string, className: string): void {
  if (a.length !== b.length) {
    throw new EaselError("internal", `${className}: ${what} has ${b.length} values, expected ${a.length}`);
  }
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The shape the pipeline passed must describe the latents it passed. */
export function checkShape(shape: readonly number[], sample: Float32Array, className: string): void {
  if (shape.length === 0 || numelOf(shape) !== sample.length) {
    throw new EaselError("internal", `${className}: shape [${shape.join(", ")}] does not match ${sample.length} latent values`);
  }
}

/**
 * DDPM's `add_noise` (DDIM, PNDM, LCM use it): q(x_t | x_0) = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
 */
export function addNoiseByAlphasCumprod(
  alphasCumprod: Float32Array,
  original: Float32Array,
  noise: Float32Array,
  timestep: number,
  className: string,
): Float32Array {
  if (!Number.isInteger(timestep) || timestep < 0 || timestep >= alphasCumprod.length) {
    throw new EaselError("bad-argument", `${className}: cannot add noise at timestep ${timestep}`);
  }
  checkSameLength(original, noise, "noise", className);
  const abar = alphasCumprod[timestep];
  const sqrtAlphaProd = sqrtF32(abar);
  const sqrtOneMinusAlphaProd = sqrtF32(fround(1 - abar));
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = fround(sqrtAlphaProd * original[i]) + fround(sqrtOneMinusAlphaProd * noise[i]);
  }
  return out;
}

/** The k-diffusion forward process (Euler family, LMS): x_t = x_0 + sigma * eps. */
export function addNoiseBySigma(original: Float32Array, noise: Float32Array, sigma: number, className: string): Float32Array {
  checkSameLength(original, noise, "noise", className);
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) out[i] = original[i] + fround(noise[i] * sigma);
  return out;
}

/** `sample.clamp(-range, range)`: the "clip_sample" option of DDPM-style schedulers. */
export function clipSample(sample: Float32Array, range: number): Float32Array {
  const r = fround(range);
  return sample.map((v) => (v < -r ? -r : v > r ? r : v));
}

/**
 * Imagen's dynamic thresholding (Saharia et al. 2022), diffusers' `_threshold_sample`: per image, s is
 * the `ratio` quantile of |x_0|, clamped to [1, max]; x_0 is clamped to [-s, s] and divided by s.
 */
export function thresholdSample(
  sample: Float32Array,
  shape: readonly number[],
  ratio: number,
  sampleMaxValue: number,
): Float32Array {
  const batch = shape[0];
  const per = sample.length / batch;
  const out = new Float32Array(sample.length);
  const q = fround(ratio);
  for (let b = 0; b < batch; b++) {
    const start = b * per;
    const sorted = Float32Array.from(sample.subarray(start, start + per), (v) => Math.abs(v)).sort();
    // torch.quantile, linear interpolation: rank = q * (n - 1) in the input dtype, then lerp.
    const rank = fround(q * (per - 1));
    const below = Math.floor(rank);
    const above = Math.ceil(rank);
    const weight = fround(rank - below);
    const lo = sorted[below];
    const hi = sorted[above];
    const quantile =
      weight < 0.5 ? fround(lo + fround(weight * fround(hi - lo))) : fround(hi - fround(fround(hi - lo) * fround(1 - weight)));
    const s = Math.min(Math.max(quantile, 1), fround(sampleMaxValue));
    for (let i = start; i < start + per; i++) {
      const v = sample[i];
      out[i] = fround((v < -s ? -s : v > s ? s : v) / s);
    }
  }
  return out;
}
