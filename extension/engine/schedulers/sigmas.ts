// Sigma-space helpers shared by the k-diffusion style schedulers (Euler, Euler a, LMS, DPM-Solver):
// sigma_t = sqrt((1 - alphas_cumprod_t) / alphas_cumprod_t), Karras' schedule, sigma -> timestep, and
// diffusers' step-index bookkeeping.

import { EaselError, notSupportedYet } from "../errors";
import { noiseSchedule, type NoiseScheduleConfig, type TimestepSpacing } from "./betas";
import { fround, logF32, sqrtF32 } from "./numerics";

/**
 * alphas_cumprod for a sigma-space scheduler's `__init__`. With rescale_betas_zero_snr the terminal
 * alpha-bar (0) becomes 2^-24 (fp16's smallest subnormal): close to 0 without being 0, so the first
 * sigma is not infinite.
 */
export function alphasCumprodForSigmas(config: NoiseScheduleConfig, className: string, rescaleBetasZeroSnr = false): Float32Array {
  const { alphasCumprod } = noiseSchedule(config, className, rescaleBetasZeroSnr);
  if (rescaleBetasZeroSnr) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
  return alphasCumprod;
}

/** `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5` as the float32 tensor diffusers computes, indexed by training timestep. */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => sqrtF32(fround(fround(1 - a) / a)));
}

/** The training sigmas of a config: `trainingSigmas` of `alphasCumprodForSigmas`. */
export function trainingSigmasFor(config: NoiseScheduleConfig, className: string, rescaleBetasZeroSnr = false): Float32Array {
  return trainingSigmas(alphasCumprodForSigmas(config, className, rescaleBetasZeroSnr));
}

/** The sigmas before `set_timesteps`: every training sigma, noisiest first, then 0 (as diffusers' `__init__`). */
export function initialSigmas(trainSigmas: Float32Array): Float32Array {
  return Float32Array.from([...trainSigmas].reverse().concat([0]));
}

/** `init_noise_sigma`: the largest sigma for linspace / trailing spacing, sqrt(max^2 + 1) for leading. */
export function initNoiseSigmaOf(sigmas: Float32Array, spacing: TimestepSpacing): number {
  let max = 0;
  for (const s of sigmas) if (s > max) max = s;
  if (spacing === "linspace" || spacing === "trailing") return max;
  return sqrtF32(fround(fround(max * max) + 1));
}

/** `np.log(sigmas)` of that float32 array (numpy keeps float32). */
export function logSigmasOf(sigmas: Float32Array): Float32Array {
  return sigmas.map((s) => logF32(s));
}

/**
 * Karras et al. 2022 (EDM), eq. 5, as k-diffusion's `get_sigmas_karras`: interpolate linearly in
 * sigma^(1/rho) from sigma_max down to sigma_min, rho = 7. Float64, like diffusers' numpy version.
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, numInferenceSteps: number, rho = 7.0): number[] {
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  const out: number[] = [];
  const denominator = numInferenceSteps - 1;
  for (let i = 0; i < numInferenceSteps; i++) {
    // np.linspace(0, 1, n): i / (n - 1), last pinned to 1.
    const ramp = denominator === 0 ? 0 : i === denominator ? 1 : i * (1 / denominator);
    out.push((maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
  }
  return out;
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose sigma is `sigma`, by linear
 * interpolation in log-sigma between the two neighbouring training sigmas (clamped to the table).
 */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // low_idx = the last index whose log-sigma is <= log_sigma (0 when none), at most len - 2.
  let count = 0;
  let lowIdx = 0;
  let best = -1;
  for (let i = 0; i < logSigmas.length; i++) {
    if (logSigma - logSigmas[i] >= 0) count++;
    if (count > best) {
      best = count;
      lowIdx = i;
    }
  }
  lowIdx = Math.min(lowIdx, logSigmas.length - 2);
  const highIdx = lowIdx + 1;
  const low = logSigmas[lowIdx];
  const high = logSigmas[highIdx];
  // numpy subtracts the two float32 table entries in float32.
  let w = (low - logSigma) / fround(low - high);
  w = Math.min(Math.max(w, 0), 1);
  return (1 - w) * lowIdx + w * highIdx;
}

/**
 * diffusers' `index_for_timestep` (Euler family, LCM): the position of `timestep` in the schedule. When
 * it occurs twice, the second one, so that starting mid-schedule (img2img) never skips a sigma.
 */
export function indexForTimestep(timesteps: readonly number[], timestep: number, className: string): number {
  const indices: number[] = [];
  for (let i = 0; i < timesteps.length; i++) if (timesteps[i] === timestep) indices.push(i);
  if (indices.length === 0) {
    throw new EaselError("bad-argument", `${className}: timestep ${timestep} is not one of this schedule's timesteps`);
  }
  return indices.length > 1 ? indices[1] : indices[0];
}

/**
 * The step-index state of diffusers' discrete schedulers: `_step_index` (set on the first
 * `scale_model_input` / `step`, then +1 per step) and `_begin_index` (from `set_begin_index`).
 */
export class StepIndex {
  private current: number | null = null;
  private begin: number | null = null;

  constructor(
    private readonly indexFor: (timestep: number) => number,
  ) {}

  /** The usual lookup: `indexForTimestep` in the schedule as it is when the index is needed. */
  static forSchedule(schedule: () => readonly number[], className: string): StepIndex {
    return new StepIndex((timestep) => indexForTimestep(schedule(), timestep, className));
  }

  reset(): void {
    this.current = null;
    this.begin = null;
  }

  get beginIndex(): number | null {
    return this.begin;
  }

  get stepIndex(): number | null {
    return this.current;
  }

  setBeginIndex(index: number): void {
    this.begin = index;
  }

  /** `_init_step_index` when needed; returns the index of the step being taken. */
  ensure(timestep: number): number {
    if (this.current === null) this.current = this.begin === null ? this.indexFor(timestep) : this.begin;
    return this.current;
  }

  /** `ensure` for a step from sigma i to sigma i + 1 of `numSigmas`: past the last one is an error. */
  ensureStep(timestep: number, numSigmas: number, className: string): number {
    const i = this.ensure(timestep);
    if (i + 1 >= numSigmas) throw new EaselError("internal", `${className}: step called past the last timestep`);
    return i;
  }

  advance(): void {
    if (this.current !== null) this.current += 1;
  }

  /**
   * The index `add_noise` uses: the timestep's own index when no begin index was set, the current
   * step after the loop started (inpainting), else the begin index (img2img's initial latents).
   */
  forAddNoise(timestep: number): number {
    if (this.begin === null) return this.indexFor(timestep);
    if (this.current !== null) return this.current;
    return this.begin;
  }
}

/** Exponential and beta sigma schedules (newer diffusers options) are refused in one line rather than ignored. */
export function refuseUnsupportedSigmaSpacing(config: { readonly use_exponential_sigmas: boolean; readonly use_beta_sigmas: boolean }, className: string): void {
  if (config.use_exponential_sigmas || config.use_beta_sigmas) {
    throw notSupportedYet(`${className} with ${config.use_beta_sigmas ? "use_beta_sigmas" : "use_exponential_sigmas"}`);
  }
}
