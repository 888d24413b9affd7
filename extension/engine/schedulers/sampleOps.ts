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
 * The checks every `step` opens with: `set_timesteps` has run, the model output matches the latents and,
 * for the schedulers that use the shape, the shape describes them.
 */
export function checkStepInputs(
  scheduled: boolean,
  sample: Float32Array,
  modelOutput: Float32Array,
  className: string,
  shape?: readonly number[],
): void {
  if (!scheduled) throw new EaselError("internal", `${className}: setTimesteps must be called before step`);
  checkSameLength(sample, modelOutput, "model output", className);
  if (shape !== undefined) checkShape(shape, sample, className);
}

/** `a * x + b * y` on two latents, each product rounded to float32 as torch does. */
export function weightedSum(a: number, x: Float32Array, b: number, y: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = fround(a * x[i]) + fround(b * y[i]);
  return out;
}

// ---- VP form, x_t = alpha_t x_0 + sigma_t eps (DDIM, PNDM, LCM: alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t)) ----

/** x_0 from predicted noise: (x_t - sigma_t eps) / alpha_t. */
export function x0FromEps(sample: Float32Array, eps: Float32Array, alpha: number, sigma: number): Float32Array {
  return sample.map((x, k) => fround(x - fround(sigma * eps[k])) / alpha);
}

/** The noise from a predicted x_0: (x_t - alpha_t x_0) / sigma_t. */
export function epsFromX0(sample: Float32Array, original: Float32Array, alpha: number, sigma: number): Float32Array {
  return sample.map((x, k) => fround(x - fround(alpha * original[k])) / sigma);
}

/** v-prediction (Salimans & Ho 2022), v = alpha_t eps - sigma_t x_0, so x_0 = alpha_t x_t - sigma_t v. */
export function x0FromV(sample: Float32Array, v: Float32Array, alpha: number, sigma: number): Float32Array {
  return sample.map((x, k) => fround(alpha * x) - fround(sigma * v[k]));
}

/** ... and eps = alpha_t v + sigma_t x_t. */
export function epsFromV(sample: Float32Array, v: Float32Array, alpha: number, sigma: number): Float32Array {
  return weightedSum(alpha, v, sigma, sample);
}

// ---- sigma (VE) form, x = x_0 + sigma eps (the k-diffusion samplers: Euler, Euler a, LMS) ----

/** `scale_model_input`: x / sqrt(sigma^2 + 1), so the UNet sees unit-variance input (the VE -> VP change of variables). */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const scale = sqrtF32(fround(fround(sigma * sigma) + 1));
  return sample.map((v) => v / scale);
}

/** x_0 from predicted noise: x - sigma eps. */
export function denoisedFromEps(sample: Float32Array, eps: Float32Array, sigma: number): Float32Array {
  return sample.map((v, k) => v - fround(sigma * eps[k]));
}

/**
 * v-prediction rewritten in sigma space: x_0 = c_skip x + c_out v with c_skip = 1 / (sigma^2 + 1) and
 * c_out = -sigma / sqrt(sigma^2 + 1).
 */
export function denoisedFromV(sample: Float32Array, v: Float32Array, sigma: number): Float32Array {
  const s2p1 = fround(fround(sigma * sigma) + 1);
  const cOut = fround(-sigma / sqrtF32(s2p1));
  return sample.map((x, k) => fround(v[k] * cOut) + fround(x / s2p1));
}

/** k-diffusion's `to_d`: the probability-flow ODE derivative dx/dsigma = (x - x_0) / sigma. */
export function odeDerivative(sample: Float32Array, denoised: Float32Array, sigma: number): Float32Array {
  return sample.map((x, k) => fround(x - denoised[k]) / sigma);
}

/** One Euler step of that ODE from sigma to sigma_next: x + d * (sigma_next - sigma). */
export function eulerStep(sample: Float32Array, denoised: Float32Array, sigma: number, sigmaNext: number): Float32Array {
  const derivative = odeDerivative(sample, denoised, sigma);
  const dt = fround(sigmaNext - sigma);
  return sample.map((x, k) => x + fround(derivative[k] * dt));
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
  return weightedSum(sqrtF32(abar), original, sqrtF32(fround(1 - abar)), noise);
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

/** The DDPM-family options that clip or threshold the predicted x_0 (for pixel-space models; latent models leave them off). */
export interface SampleClipping {
  readonly thresholding: boolean;
  readonly dynamic_thresholding_ratio: number;
  readonly sample_max_value: number;
  readonly clip_sample: boolean;
  readonly clip_sample_range: number;
}

/** "Clip or threshold predicted x_0": dynamic thresholding when enabled, else `clip_sample`, else unchanged. */
export function clipOrThreshold(original: Float32Array, shape: readonly number[], config: SampleClipping): Float32Array {
  if (config.thresholding) return thresholdSample(original, shape, config.dynamic_thresholding_ratio, config.sample_max_value);
  if (config.clip_sample) return clipSample(original, config.clip_sample_range);
  return original;
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
