// EulerDiscreteScheduler: Karras et al. 2022 (EDM) Algorithm 2, the Euler method on the probability-flow
// ODE in sigma space, as k-diffusion's `sample_euler` and diffusers' scheduling_euler_discrete.py do it.

import { checkInferenceSteps, float32Timesteps } from "./betas";
import { EULER_DISCRETE_SCHEMA, fromConfig, type EulerDiscreteConfig } from "./config";
import { expF32, fround, logF32, npInterpOverIndex, sqrtF32, torchLinspaceF32 } from "./numerics";
import { checkSameLength, denoisedFromEps, denoisedFromV, eulerStep } from "./sampleOps";
import type { NoiseSource, Scheduler, StepResult } from "./scheduler";
import { SigmaScheduler } from "./sigmaScheduler";
import { karrasSigmas, logSigmasOf, refuseUnsupportedSigmaSpacing, sigmaToT, trainingSigmasFor } from "./sigmas";

const CLASS_NAME = "EulerDiscreteScheduler";

/** The "churn" parameters of EDM's stochastic sampler; diffusers' `step` defaults make it deterministic. */
export interface EulerChurn {
  readonly sChurn: number;
  readonly sTmin: number;
  readonly sTmax: number;
  readonly sNoise: number;
}

const NO_CHURN: EulerChurn = { sChurn: 0, sTmin: 0, sTmax: Number.POSITIVE_INFINITY, sNoise: 1 };

export class EulerDiscreteScheduler extends SigmaScheduler implements Scheduler {
  readonly config: EulerDiscreteConfig;
  /** log sigma of every training timestep, for sigma -> timestep. */
  private readonly logSigmas: Float32Array;

  constructor(
    raw: Readonly<Record<string, unknown>>,
    overrides: Partial<EulerDiscreteConfig> = {},
    private readonly churn: EulerChurn = NO_CHURN,
  ) {
    const config = fromConfig(CLASS_NAME, EULER_DISCRETE_SCHEMA, raw, overrides);
    refuseUnsupportedSigmaSpacing(config, CLASS_NAME);
    super(CLASS_NAME, trainingSigmasFor(config, CLASS_NAME, config.rescale_betas_zero_snr), config.timestep_spacing);
    this.config = config;
    this.logSigmas = logSigmasOf(this.trainSigmas);
  }

  get karras(): boolean {
    return this.config.use_karras_sigmas;
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
    const scheduleSigmas = Float32Array.from(sigmas.concat([sigmaLast]));

    // EDM-style conditioning (continuous v-prediction): the model is fed c_noise = 0.25 * ln(sigma).
    const edm = config.timestep_type === "continuous" && config.prediction_type === "v_prediction";
    this.setSchedule(edm ? Array.from(scheduleSigmas.subarray(0, scheduleSigmas.length - 1), (s) => fround(0.25 * logF32(s))) : timesteps, scheduleSigmas);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, noise: NoiseSource, shape: readonly number[]): StepResult {
    const { i, sigma } = this.beginStep(modelOutput, timestep, sample, shape);

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
}
