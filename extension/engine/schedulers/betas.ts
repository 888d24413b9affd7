// The noise schedule every scheduler starts from (betas -> alphas_cumprod), and the three ways diffusers
// spaces inference timesteps over the training timesteps. Shared by all the algorithm files.

import { EaselError } from "../errors";
import { configError } from "../model/jsonFile";
import { fround, npArange, npLinspace, roundHalfEven, sqrtF32, torchLinspaceF32 } from "./numerics";

/** The config fields that define the training noise schedule (common to every scheduler class). */
export interface NoiseScheduleConfig {
  readonly num_train_timesteps: number;
  readonly beta_start: number;
  readonly beta_end: number;
  readonly beta_schedule: BetaSchedule;
  readonly trained_betas: readonly number[] | null;
}

/** Where every scheduler config comes from, for messages. */
export const SCHEDULER_CONFIG_FILE = "scheduler/scheduler_config.json";

export const BETA_SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2"] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];

export const TIMESTEP_SPACINGS = ["linspace", "leading", "trailing"] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/**
 * diffusers' `betas_for_alpha_bar` with the cosine transform (Glide / improved DDPM, "squaredcos_cap_v2"):
 * beta_i = min(1 - alpha_bar((i+1)/T) / alpha_bar(i/T), max_beta), computed in float64 by Python and
 * stored as a float32 tensor.
 */
export function betasForAlphaBar(numDiffusionTimesteps: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const betas = new Float32Array(numDiffusionTimesteps);
  for (let i = 0; i < numDiffusionTimesteps; i++) {
    const t1 = i / numDiffusionTimesteps;
    const t2 = (i + 1) / numDiffusionTimesteps;
    betas[i] = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
  }
  return betas;
}

/** The betas of a config, as the float32 tensor diffusers' `__init__` builds. */
export function betasFor(config: NoiseScheduleConfig, className: string): Float32Array {
  const T = config.num_train_timesteps;
  if (config.trained_betas !== null) {
    if (config.trained_betas.length !== T) {
      throw configError(SCHEDULER_CONFIG_FILE, `trained_betas has ${config.trained_betas.length} values but num_train_timesteps is ${T} (${className})`);
    }
    return Float32Array.from(config.trained_betas);
  }
  switch (config.beta_schedule) {
    case "linear":
      return torchLinspaceF32(config.beta_start, config.beta_end, T);
    case "scaled_linear": {
      // "Very specific to the latent diffusion model": linear in sqrt(beta), then squared (in float32).
      const roots = torchLinspaceF32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), T);
      return roots.map((r) => fround(r * r));
    }
    case "squaredcos_cap_v2":
      return betasForAlphaBar(T);
  }
}

/**
 * `torch.cumprod(1 - betas)`: on the CPU torch accumulates a float32 cumprod in double and stores each
 * partial product rounded to float32.
 */
export function alphasCumprodOf(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= fround(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

/**
 * `rescale_zero_terminal_snr` (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
 * Flawed", Algorithm 1): shift sqrt(alphas_cumprod) so the last one is 0 (zero SNR at t = T), scale it
 * so the first is unchanged, and turn it back into betas. All in float32, like the torch original.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const cumprod = alphasCumprodOf(betas);
  const sqrtBar = cumprod.map((a) => sqrtF32(a));
  const first = sqrtBar[0];
  const last = sqrtBar[sqrtBar.length - 1];
  const scale = fround(first / fround(first - last));
  // Shift so the last timestep is zero, then scale so the first is back to its old value.
  const shifted = sqrtBar.map((v) => fround(fround(v - last) * scale));
  const bar = shifted.map((v) => fround(v * v));
  const out = new Float32Array(betas.length);
  // Undo the cumprod: alpha_i = bar_i / bar_{i-1}, alpha_0 = bar_0.
  for (let i = 0; i < bar.length; i++) {
    const alpha = i === 0 ? bar[0] : fround(bar[i] / bar[i - 1]);
    out[i] = fround(1 - alpha);
  }
  return out;
}

/** betas -> alphas_cumprod for a config, with the optional zero-terminal-SNR rescale applied first. */
export function noiseSchedule(
  config: NoiseScheduleConfig,
  className: string,
  rescaleBetasZeroSnr = false,
): { betas: Float32Array; alphasCumprod: Float32Array } {
  let betas = betasFor(config, className);
  if (rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas);
  return { betas, alphasCumprod: alphasCumprodOf(betas) };
}

/**
 * The three timestep spacings of Lin et al. 2023, Table 2, as diffusers' discrete schedulers write them,
 * from the noisiest timestep down (float64 values before any per-class cast):
 * - linspace: `np.linspace(0, T - 1, n)[::-1]` (kept fractional unless `roundLinspace`);
 * - leading:  `np.arange(0, n) * (T // n)`, reversed, plus `steps_offset`;
 * - trailing: `np.arange(T, 0, -T / n).round() - 1`.
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  numInferenceSteps: number,
  stepsOffset: number,
  roundLinspace: boolean,
): number[] {
  const T = numTrainTimesteps;
  const n = numInferenceSteps;
  switch (spacing) {
    case "linspace": {
      const values = npLinspace(0, T - 1, n).reverse();
      return roundLinspace ? values.map(roundHalfEven) : values;
    }
    case "leading": {
      // Integer timesteps from an integer ratio; the offset shifts them off 0 (SD uses steps_offset=1).
      const ratio = Math.floor(T / n);
      const values: number[] = [];
      for (let i = n - 1; i >= 0; i--) values.push(i * ratio + stepsOffset);
      return values;
    }
    case "trailing": {
      // Count down from T with a fractional ratio so the schedule always includes T - 1.
      const ratio = T / n;
      return npArange(T, 0, -ratio).map((t) => roundHalfEven(t) - 1);
    }
  }
}

/** The config fields a spacing reads. */
export interface SpacingConfig {
  readonly timestep_spacing: TimestepSpacing;
  readonly num_train_timesteps: number;
  readonly steps_offset: number;
}

/** The DDPM family's (DDIM, PNDM) timesteps: whole numbers, linspace rounded. */
export function integerTimesteps(config: SpacingConfig, numInferenceSteps: number): number[] {
  return spacedTimesteps(config.timestep_spacing, config.num_train_timesteps, numInferenceSteps, config.steps_offset, true);
}

/** The Euler family's timesteps: linspace kept fractional, all as float32 (np.float32 linspace / astype(np.float32)). */
export function float32Timesteps(config: SpacingConfig, numInferenceSteps: number): number[] {
  return spacedTimesteps(config.timestep_spacing, config.num_train_timesteps, numInferenceSteps, config.steps_offset, false).map(fround);
}

/** Checks a requested step count the way the pipeline must before `set_timesteps`. */
export function checkInferenceSteps(numInferenceSteps: number, numTrainTimesteps: number, className: string): void {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
    throw new EaselError("bad-argument", `${className}: the number of steps must be a whole number of at least 1, got ${numInferenceSteps}`);
  }
  if (numInferenceSteps > numTrainTimesteps) {
    throw new EaselError(
      "bad-argument",
      `${className}: ${numInferenceSteps} steps is more than the model's ${numTrainTimesteps} training timesteps`,
    );
  }
}

// ---- alpha-bar lookups of the DDPM-family steps (DDIM, PNDM, LCM) ----

/** A timestep a DDPM-family step looks alpha-bar up at must be a whole training timestep. */
export function checkTrainingTimestep(timestep: number, alphasCumprod: Float32Array, className: string): void {
  if (!Number.isInteger(timestep) || timestep < 0 || timestep >= alphasCumprod.length) {
    throw new EaselError("bad-argument", `${className}: timestep ${timestep} is outside the training schedule`);
  }
}

export interface AlphaProducts {
  readonly alphaProdT: number;
  readonly alphaProdTPrev: number;
  readonly betaProdT: number;
  readonly betaProdTPrev: number;
}

/** alpha-bar and 1 - alpha-bar at the step's timestep and at the one it moves to (final_alpha_cumprod below 0). */
export function alphaProducts(
  alphasCumprod: Float32Array,
  finalAlphaCumprod: number,
  timestep: number,
  prevTimestep: number,
): AlphaProducts {
  const alphaProdT = alphasCumprod[timestep];
  const alphaProdTPrev = prevTimestep >= 0 ? alphasCumprod[prevTimestep] : finalAlphaCumprod;
  return { alphaProdT, alphaProdTPrev, betaProdT: fround(1 - alphaProdT), betaProdTPrev: fround(1 - alphaProdTPrev) };
}
