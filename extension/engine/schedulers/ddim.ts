// DDIMScheduler: Song et al. 2020, "Denoising Diffusion Implicit Models", eq. 12 with eta = 0 (the
// deterministic sampler diffusers' pipelines run by default): predict x_0, then move to the previous
// timestep along the predicted noise direction.

import { alphaProducts, checkInferenceSteps, checkTrainingTimestep, integerTimesteps, noiseSchedule } from "./betas";
import { DDIM_SCHEMA, fromConfig, type DDIMConfig } from "./config";
import { sqrtF32 } from "./numerics";
import { addNoiseByAlphasCumprod, checkStepInputs, clipOrThreshold, epsFromV, epsFromX0, weightedSum, x0FromEps, x0FromV } from "./sampleOps";
import type { NoiseSource, Scheduler, StepResult } from "./scheduler";

const CLASS_NAME = "DDIMScheduler";

export class DDIMScheduler implements Scheduler {
  readonly order = 1;
  readonly karras = false;
  /** DDIM works on unscaled x_t: the initial noise is standard normal. */
  readonly initNoiseSigma = 1;
  readonly config: DDIMConfig;
  private readonly alphasCumprod: Float32Array;
  /** alpha-bar "before" timestep 0: 1 with set_alpha_to_one, else alphas_cumprod[0]. */
  private readonly finalAlphaCumprod: number;
  private schedule: number[] = [];
  private numInferenceSteps = 0;

  constructor(raw: Readonly<Record<string, unknown>>, overrides: Partial<DDIMConfig> = {}) {
    const config = fromConfig(CLASS_NAME, DDIM_SCHEMA, raw, overrides);
    this.config = config;
    this.alphasCumprod = noiseSchedule(config, CLASS_NAME, config.rescale_betas_zero_snr).alphasCumprod;
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    const config = this.config;
    checkInferenceSteps(numInferenceSteps, config.num_train_timesteps, CLASS_NAME);
    this.numInferenceSteps = numInferenceSteps;
    // Integer timesteps: linspace is rounded here (unlike the Euler family).
    this.schedule = integerTimesteps(config, numInferenceSteps);
  }

  /** diffusers' DDIM has no `set_begin_index`: img2img just starts later in `timesteps`. */
  setBeginIndex(_index: number): void {}

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _noise: NoiseSource, shape: readonly number[]): StepResult {
    checkStepInputs(this.numInferenceSteps > 0, sample, modelOutput, CLASS_NAME, shape);
    const config = this.config;
    checkTrainingTimestep(timestep, this.alphasCumprod, CLASS_NAME);
    // 1. The previous timestep is always one "leading" stride back (even for other spacings, as diffusers does).
    const prevTimestep = timestep - Math.floor(config.num_train_timesteps / this.numInferenceSteps);

    // 2. alpha-bar at t and at t_prev.
    const { alphaProdT, alphaProdTPrev, betaProdT, betaProdTPrev } = alphaProducts(
      this.alphasCumprod,
      this.finalAlphaCumprod,
      timestep,
      prevTimestep,
    );
    const sqrtAlpha = sqrtF32(alphaProdT);
    const sqrtBeta = sqrtF32(betaProdT);

    // 3. Predicted x_0 and predicted noise (eq. 12's "predicted x_0" and epsilon_theta).
    let predOriginal: Float32Array;
    let predEpsilon: Float32Array;
    switch (config.prediction_type) {
      case "epsilon":
        predOriginal = x0FromEps(sample, modelOutput, sqrtAlpha, sqrtBeta);
        predEpsilon = modelOutput;
        break;
      case "sample":
        predOriginal = modelOutput;
        predEpsilon = epsFromX0(sample, predOriginal, sqrtAlpha, sqrtBeta);
        break;
      case "v_prediction":
        // v = sqrt(abar) eps - sqrt(1 - abar) x_0, so x_0 = sqrt(abar) x - sqrt(1 - abar) v
        // and eps = sqrt(abar) v + sqrt(1 - abar) x.
        predOriginal = x0FromV(sample, modelOutput, sqrtAlpha, sqrtBeta);
        predEpsilon = epsFromV(sample, modelOutput, sqrtAlpha, sqrtBeta);
        break;
    }

    // 4. Clip or threshold the predicted x_0 (pixel-space models; off for latent models).
    predOriginal = clipOrThreshold(predOriginal, shape, config);

    // 5. With eta = 0 the variance term sigma_t is 0: x_{t-1} = sqrt(abar_prev) x_0 + sqrt(1 - abar_prev) eps.
    const prev = weightedSum(sqrtF32(alphaProdTPrev), predOriginal, sqrtF32(betaProdTPrev), predEpsilon);
    return { prevSample: prev, denoised: predOriginal };
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseByAlphasCumprod(this.alphasCumprod, original, noise, timestep, CLASS_NAME);
  }
}
