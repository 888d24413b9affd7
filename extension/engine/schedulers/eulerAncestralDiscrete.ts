// EulerAncestralDiscreteScheduler: k-diffusion's `sample_euler_ancestral` ("Euler a"). Each step goes
// deterministically down to sigma_down with an Euler step, then adds fresh noise of size sigma_up, where
// sigma_down^2 + sigma_up^2 = sigma_next^2 (eta = 1): the ancestral sampling step of DDPM in sigma space.

import { EaselError } from "../errors";
import { checkInferenceSteps, noiseSchedule, spacedTimesteps } from "./betas";
import { EULER_ANCESTRAL_SCHEMA, fromConfig, type EulerAncestralConfig } from "./config";
import { fround, npInterpOverIndex, sqrtF32 } from "./numerics";
import { addNoiseBySigma, checkSameLength, checkShape } from "./sampleOps";
import type { NoiseSource, Scheduler, StepResult } from "./scheduler";
import { indexForTimestep, StepIndex, trainingSigmas } from "./sigmas";

const CLASS_NAME = "EulerAncestralDiscreteScheduler";

export class EulerAncestralDiscreteScheduler implements Scheduler {
  readonly order = 1;
  readonly karras = false;
  readonly config: EulerAncestralConfig;
  private readonly trainSigmas: Float32Array;
  private sigmas: Float32Array;
  private schedule: number[] = [];
  private readonly index = new StepIndex((t) => indexForTimestep(this.schedule, t, CLASS_NAME));

  constructor(raw: Readonly<Record<string, unknown>>, overrides: Partial<EulerAncestralConfig> = {}) {
    const config = fromConfig(CLASS_NAME, EULER_ANCESTRAL_SCHEMA, raw, overrides);
    this.config = config;
    const { alphasCumprod } = noiseSchedule(config, CLASS_NAME, config.rescale_betas_zero_snr);
    if (config.rescale_betas_zero_snr) {
      // Close to 0 without being 0, so the first sigma is not infinite.
      alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
    }
    this.trainSigmas = trainingSigmas(alphasCumprod);
    this.sigmas = Float32Array.from([...this.trainSigmas].reverse().concat([0]));
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /** As Euler: the largest sigma for linspace / trailing spacing, sqrt(max^2 + 1) for leading. */
  get initNoiseSigma(): number {
    let max = 0;
    for (const s of this.sigmas) if (s > max) max = s;
    if (this.config.timestep_spacing === "linspace" || this.config.timestep_spacing === "trailing") return max;
    return sqrtF32(fround(fround(max * max) + 1));
  }

  get scheduleSigmas(): Float32Array {
    return this.sigmas;
  }

  setTimesteps(numInferenceSteps: number): void {
    const config = this.config;
    checkInferenceSteps(numInferenceSteps, config.num_train_timesteps, CLASS_NAME);
    const timesteps = spacedTimesteps(
      config.timestep_spacing,
      config.num_train_timesteps,
      numInferenceSteps,
      config.steps_offset,
      false,
    ).map(fround);
    // Each timestep's sigma, interpolated between training timesteps, and a final 0.
    const sigmas = timesteps.map((t) => npInterpOverIndex(t, this.trainSigmas));
    this.sigmas = Float32Array.from(sigmas.concat([0]));
    this.schedule = timesteps;
    this.index.reset();
  }

  setBeginIndex(index: number): void {
    this.index.setBeginIndex(index);
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    const sigma = this.sigmas[this.index.ensure(timestep)];
    const scale = sqrtF32(fround(fround(sigma * sigma) + 1));
    return sample.map((v) => v / scale);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, noise: NoiseSource, shape: readonly number[]): StepResult {
    if (this.schedule.length === 0) throw new EaselError("internal", `${CLASS_NAME}: setTimesteps must be called before step`);
    checkSameLength(sample, modelOutput, "model output", CLASS_NAME);
    checkShape(shape, sample, CLASS_NAME);
    const i = this.index.ensure(timestep);
    if (i + 1 >= this.sigmas.length) throw new EaselError("internal", `${CLASS_NAME}: step called past the last timestep`);
    const sigma = this.sigmas[i];

    // 1. x_0 from the model output.
    let denoised: Float32Array;
    if (this.config.prediction_type === "epsilon") {
      denoised = sample.map((v, k) => v - fround(sigma * modelOutput[k]));
    } else {
      // v-prediction in sigma space: x_0 = x / (sigma^2 + 1) - v * sigma / sqrt(sigma^2 + 1).
      const s2p1 = fround(fround(sigma * sigma) + 1);
      const cOut = fround(-sigma / sqrtF32(s2p1));
      denoised = sample.map((v, k) => fround(modelOutput[k] * cOut) + fround(v / s2p1));
    }

    // 2. Split the next noise level: sigma_up = sqrt(to^2 (from^2 - to^2) / from^2) is re-injected as
    //    fresh noise, sigma_down = sqrt(to^2 - up^2) is where the deterministic step lands.
    const sigmaFrom = sigma;
    const sigmaTo = this.sigmas[i + 1];
    const to2 = fround(sigmaTo * sigmaTo);
    const from2 = fround(sigmaFrom * sigmaFrom);
    const sigmaUp = sqrtF32(fround(fround(to2 * fround(from2 - to2)) / from2));
    const sigmaDown = sqrtF32(fround(to2 - fround(sigmaUp * sigmaUp)));

    // 3. Euler step to sigma_down along d = (x - x_0) / sigma.
    const dt = fround(sigmaDown - sigma);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) {
      const derivative = fround(fround(sample[k] - denoised[k]) / sigma);
      prev[k] = sample[k] + fround(derivative * dt);
    }
    // 4. Ancestral noise: drawn on every step (the last one too, where sigma_up is 0), shaped like the output.
    const eps = noise.randn(shape);
    checkSameLength(prev, eps, "noise", CLASS_NAME);
    for (let k = 0; k < prev.length; k++) prev[k] = prev[k] + fround(eps[k] * sigmaUp);
    this.index.advance();
    return { prevSample: prev, denoised };
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseBySigma(original, noise, this.sigmas[this.index.forAddNoise(timestep)], CLASS_NAME);
  }
}
