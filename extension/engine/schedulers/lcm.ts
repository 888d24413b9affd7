// LCMScheduler: Luo et al. 2023, "Latent Consistency Models". The model is a consistency function
// f(x_t, t) = c_skip(t) x_t + c_out(t) x_0-estimate, whose boundary-condition scalings make f the
// identity at t = 0. Multistep sampling alternates: denoise to f(x_t, t), then re-noise that estimate to
// the next (lower) timestep with fresh noise, except after the last step, whose denoised output is final.

import { EaselError } from "../errors";
import { alphaProducts, checkInferenceSteps, noiseSchedule } from "./betas";
import { fromConfig, LCM_SCHEMA, type LCMConfig } from "./config";
import { fround, npLinspaceNoEndpoint, sqrtF32 } from "./numerics";
import { addNoiseByAlphasCumprod, checkSameLength, checkStepInputs, clipOrThreshold, weightedSum, x0FromEps, x0FromV } from "./sampleOps";
import type { NoiseSource, Scheduler, SetTimestepsOptions, StepResult } from "./scheduler";
import { StepIndex } from "./sigmas";

const CLASS_NAME = "LCMScheduler";
/** sigma_data of the consistency-model parameterisation (Song et al. 2023). */
const SIGMA_DATA = 0.5;

export class LCMScheduler implements Scheduler {
  readonly order = 1;
  readonly karras = false;
  readonly initNoiseSigma = 1;
  readonly config: LCMConfig;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private schedule: number[] = [];
  private numInferenceSteps = 0;
  private readonly index = StepIndex.forSchedule(() => this.schedule, CLASS_NAME);

  constructor(raw: Readonly<Record<string, unknown>>, overrides: Partial<LCMConfig> = {}) {
    const config = fromConfig(CLASS_NAME, LCM_SCHEMA, raw, overrides);
    this.config = config;
    this.alphasCumprod = noiseSchedule(config, CLASS_NAME, config.rescale_betas_zero_snr).alphasCumprod;
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /**
   * LCM's schedule: the distillation ran on `original_inference_steps` evenly spaced timesteps
   * (k = T // original_steps: k-1, 2k-1, ..., T-1); inference picks `n` of them, evenly by index, from
   * the noisiest down. img2img (`strength` < 1) keeps only the lowest `original_steps * strength` of them.
   */
  setTimesteps(numInferenceSteps: number, options: SetTimestepsOptions = {}): void {
    const config = this.config;
    const T = config.num_train_timesteps;
    const n = numInferenceSteps;
    const strength = options.strength ?? 1;
    const originalSteps = config.original_inference_steps;
    checkInferenceSteps(n, T, CLASS_NAME);
    if (originalSteps > T) {
      throw new EaselError("model-invalid", `${CLASS_NAME}: original_inference_steps ${originalSteps} is more than num_train_timesteps ${T}`);
    }
    if (n > originalSteps) {
      throw new EaselError("bad-argument", `${CLASS_NAME}: ${n} steps is more than the ${originalSteps} this model was distilled with`);
    }
    if (!(strength > 0 && strength <= 1)) throw new EaselError("bad-argument", `${CLASS_NAME}: strength must be in (0, 1], got ${strength}`);

    // The skipping step k from the paper, and the distillation schedule.
    const k = Math.floor(T / originalSteps);
    const count = Math.trunc(originalSteps * strength);
    const origin: number[] = [];
    for (let i = 1; i <= count; i++) origin.push(i * k - 1);
    if (Math.floor(origin.length / n) < 1) {
      throw new EaselError(
        "bad-argument",
        `${CLASS_NAME}: ${n} steps need strength of at least ${n / originalSteps} (original_inference_steps ${originalSteps} x strength ${strength} gives ${count} timesteps)`,
      );
    }
    origin.reverse();
    // Approximately evenly spaced indices: floor(linspace(0, len, n, endpoint=False)).
    const indices = npLinspaceNoEndpoint(0, origin.length, n).map((v) => Math.floor(v));
    this.schedule = indices.map((i) => origin[i]);
    this.numInferenceSteps = n;
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBeginIndex(index);
  }

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  /** c_skip and c_out at a timestep, with t scaled by `timestep_scaling` (10: nearly a delta at t = 0). */
  boundaryScalings(timestep: number): { cSkip: number; cOut: number } {
    const scaled = fround(timestep * fround(this.config.timestep_scaling));
    const denominator = fround(fround(scaled * scaled) + SIGMA_DATA * SIGMA_DATA);
    return { cSkip: fround((SIGMA_DATA * SIGMA_DATA) / denominator), cOut: fround(scaled / sqrtF32(denominator)) };
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, noise: NoiseSource, shape: readonly number[]): StepResult {
    checkStepInputs(this.numInferenceSteps > 0, sample, modelOutput, CLASS_NAME, shape);
    const config = this.config;
    const i = this.index.ensure(timestep);

    // 1. The next timestep of the schedule (the same one on the last step).
    const prevTimestep = i + 1 < this.schedule.length ? this.schedule[i + 1] : timestep;
    // 2. alpha-bar at both.
    const { alphaProdT, alphaProdTPrev, betaProdT, betaProdTPrev } = alphaProducts(
      this.alphasCumprod,
      this.finalAlphaCumprod,
      timestep,
      prevTimestep,
    );
    // 3. Boundary-condition scalings.
    const { cSkip, cOut } = this.boundaryScalings(timestep);

    // 4. The x_0 estimate from the model output.
    const sqrtAlpha = sqrtF32(alphaProdT);
    const sqrtBeta = sqrtF32(betaProdT);
    let predicted: Float32Array;
    switch (config.prediction_type) {
      case "epsilon":
        predicted = x0FromEps(sample, modelOutput, sqrtAlpha, sqrtBeta);
        break;
      case "sample":
        predicted = modelOutput;
        break;
      case "v_prediction":
        predicted = x0FromV(sample, modelOutput, sqrtAlpha, sqrtBeta);
        break;
    }
    // 5. Clip or threshold it.
    predicted = clipOrThreshold(predicted, shape, config);
    // 6. The consistency function: f = c_out * x_0 + c_skip * x_t.
    const denoised = weightedSum(cOut, predicted, cSkip, sample);

    // 7. Every step but the last re-noises the estimate to the next timestep with fresh noise.
    let prev: Float32Array;
    if (i !== this.numInferenceSteps - 1) {
      const eps = noise.randn(shape);
      checkSameLength(denoised, eps, "noise", CLASS_NAME);
      prev = weightedSum(sqrtF32(alphaProdTPrev), denoised, sqrtF32(betaProdTPrev), eps);
    } else {
      prev = denoised;
    }
    this.index.advance();
    return { prevSample: prev, denoised };
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseByAlphasCumprod(this.alphasCumprod, original, noise, timestep, CLASS_NAME);
  }
}
