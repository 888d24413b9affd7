// EulerDiscreteScheduler: Karras et al. 2022 (EDM) Algorithm 2, the Euler method on the probability-flow
// ODE in sigma space, as k-diffusion's `sample_euler` and diffusers' scheduling_euler_discrete.py do it.

import { notSupportedYet } from "../errors";
import { checkInferenceSteps, float32Timesteps } from "./betas";
import { EULER_DISCRETE_SCHEMA, fromConfig, type EulerDiscreteConfig } from "./config";
import { expF32, fround, logF32, npInterpOverIndex, sqrtF32, torchLinspaceF32 } from "./numerics";
import { addNoiseBySigma, checkSameLength, checkStepInputs, denoisedFromEps, denoisedFromV, eulerStep, scaleBySigma } from "./sampleOps";
import type { NoiseSource, Scheduler, StepResult } from "./scheduler";
import { initialSigmas, initNoiseSigmaOf, karrasSigmas, logSigmasOf, sigmaToT, StepIndex, trainingSigmasFor } from "./sigmas";

const CLASS_NAME = "EulerDiscreteScheduler";

/** The "churn" parameters of EDM's stochastic sampler; diffusers' `step` defaults make it deterministic. */
export interface EulerChurn {
  readonly sChurn: number;
  readonly sTmin: number;
  readonly sTmax: number;
  readonly sNoise: number;
}

const NO_CHURN: EulerChurn = { sChurn: 0, sTmin: 0, sTmax: Number.POSITIVE_INFINITY, sNoise: 1 };

export class EulerDiscreteScheduler implements Scheduler {
  readonly order = 1;
  readonly config: EulerDiscreteConfig;
  /** sigma of every training timestep (float32), and its log. */
  private readonly trainSigmas: Float32Array;
  private readonly logSigmas: Float32Array;
  /** The schedule's sigmas (float32 tensor in diffusers), one more than the timesteps. */
  private sigmas: Float32Array;
  private schedule: number[] = [];
  private readonly index = StepIndex.forSchedule(() => this.schedule, CLASS_NAME);

  constructor(
    raw: Readonly<Record<string, unknown>>,
    overrides: Partial<EulerDiscreteConfig> = {},
    private readonly churn: EulerChurn = NO_CHURN,
  ) {
    const config = fromConfig(CLASS_NAME, EULER_DISCRETE_SCHEMA, raw, overrides);
    this.config = config;
    if (config.use_exponential_sigmas || config.use_beta_sigmas) {
      throw notSupportedYet(`${CLASS_NAME} with ${config.use_beta_sigmas ? "use_beta_sigmas" : "use_exponential_sigmas"}`);
    }
    this.trainSigmas = trainingSigmasFor(config, CLASS_NAME, config.rescale_betas_zero_snr);
    this.logSigmas = logSigmasOf(this.trainSigmas);
    this.sigmas = initialSigmas(this.trainSigmas);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  get karras(): boolean {
    return this.config.use_karras_sigmas;
  }

  /** `init_noise_sigma`: the largest sigma for linspace / trailing spacing, sqrt(max^2 + 1) for leading. */
  get initNoiseSigma(): number {
    return initNoiseSigmaOf(this.sigmas, this.config.timestep_spacing);
  }

  /** The schedule's sigma at each step (plus the final one): exposed for tests and reporting. */
  get scheduleSigmas(): Float32Array {
    return this.sigmas;
  }

  setTimesteps(numInferenceSteps: number): void {
    const config = this.config;
    checkInferenceSteps(numInferenceSteps, config.num_train_timesteps, CLASS_NAME);
    const n = numInferenceSteps;
    let timesteps = float32Timesteps(config, n);

    let sigmas: number[];
    if (config.interpolation_type === "linear") {
      // Each inference timestep's sigma, interpolated linearly between training timesteps.
      sigmas = timesteps.map((t) => npInterpOverIndex(t, this.trainSigmas));
    } else {
      // log_linear: n + 1 sigmas evenly spaced in log-sigma (torch float32 linspace, then exp).
      const last = this.trainSigmas[this.trainSigmas.length - 1];
      sigmas = Array.from(torchLinspaceF32(logF32(last), logF32(this.trainSigmas[0]), n + 1), (v) => expF32(v));
    }

    if (config.use_karras_sigmas) {
      // Karras' rho = 7 spacing between the schedule's end sigmas (or the configured sigma_min / sigma_max),
      // and the (fractional) training timesteps those sigmas correspond to.
      const sigmaMin = config.sigma_min ?? sigmas[sigmas.length - 1];
      const sigmaMax = config.sigma_max ?? sigmas[0];
      sigmas = karrasSigmas(sigmaMin, sigmaMax, n);
      timesteps = sigmas.map((s) => fround(sigmaToT(s, this.logSigmas)));
    }

    // The last step lands on sigma 0 (a clean sample) or on the smallest training sigma.
    const sigmaLast = config.final_sigmas_type === "zero" ? 0 : this.trainSigmas[0];
    this.sigmas = Float32Array.from(sigmas.concat([sigmaLast]));

    if (config.timestep_type === "continuous" && config.prediction_type === "v_prediction") {
      // EDM-style conditioning: the model is fed c_noise = 0.25 * ln(sigma).
      this.schedule = Array.from(this.sigmas.subarray(0, this.sigmas.length - 1), (s) => fround(0.25 * logF32(s)));
    } else {
      this.schedule = timesteps;
    }
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBeginIndex(index);
  }

  /** Divides by sqrt(sigma^2 + 1), so the UNet sees unit-variance input (the VP <-> VE change of variables). */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    return scaleBySigma(sample, this.sigmas[this.index.ensure(timestep)]);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, noise: NoiseSource, shape: readonly number[]): StepResult {
    checkStepInputs(this.schedule.length > 0, sample, modelOutput, CLASS_NAME, shape);
    const i = this.index.ensureStep(timestep, this.sigmas.length, CLASS_NAME);
    const sigma = this.sigmas[i];

    // EDM's churn: raise the noise level from sigma to sigma_hat = sigma (1 + gamma) by adding fresh noise.
    const { sChurn, sTmin, sTmax, sNoise } = this.churn;
    const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (this.sigmas.length - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = fround(sigma * fround(gamma + 1));
    let x = sample;
    if (gamma > 0) {
      const eps = noise.randn(shape);
      checkSameLength(sample, eps, "noise", CLASS_NAME);
      const extra = sqrtF32(fround(fround(sigmaHat * sigmaHat) - fround(sigma * sigma)));
      x = sample.map((v, k) => v + fround(fround(eps[k] * sNoise) * extra));
    }

    // 1. The denoised estimate x_0 from the model output.
    const denoised = this.predictOriginal(modelOutput, x, sigma, sigmaHat);
    // 2. The ODE derivative d = (x - x_0) / sigma_hat, and 3. one Euler step to the next sigma.
    const prev = eulerStep(x, denoised, sigmaHat, this.sigmas[i + 1]);
    this.index.advance();
    return { prevSample: prev, denoised };
  }

  private predictOriginal(modelOutput: Float32Array, x: Float32Array, sigma: number, sigmaHat: number): Float32Array {
    switch (this.config.prediction_type) {
      case "epsilon":
        // x = x_0 + sigma * eps (at the churned sigma_hat).
        return denoisedFromEps(x, modelOutput, sigmaHat);
      case "v_prediction":
        // v-prediction (Salimans & Ho 2022) in sigma space, at the unchurned sigma as diffusers has it.
        return denoisedFromV(x, modelOutput, sigma);
      case "sample":
      case "original_sample":
        return modelOutput.slice();
    }
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseBySigma(original, noise, this.sigmas[this.index.forAddNoise(timestep)], CLASS_NAME);
  }
}
