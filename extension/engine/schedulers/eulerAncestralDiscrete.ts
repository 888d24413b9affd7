// EulerAncestralDiscreteScheduler: k-diffusion's `sample_euler_ancestral` ("Euler a"). Each step goes
// deterministically down to sigma_down with an Euler step, then adds fresh noise of size sigma_up, where
// sigma_down^2 + sigma_up^2 = sigma_next^2 (eta = 1): the ancestral sampling step of DDPM in sigma space.

import { checkInferenceSteps, float32Timesteps } from "./betas";
import { EULER_ANCESTRAL_SCHEMA, fromConfig, type EulerAncestralConfig } from "./config";
import { fround, npInterpOverIndex, sqrtF32 } from "./numerics";
import { checkSameLength, denoisedFromEps, denoisedFromV, eulerStep } from "./sampleOps";
import type { NoiseSource, Scheduler, StepResult } from "./scheduler";
import { SigmaScheduler } from "./sigmaScheduler";
import { trainingSigmasFor } from "./sigmas";

const CLASS_NAME = "EulerAncestralDiscreteScheduler";

export class EulerAncestralDiscreteScheduler extends SigmaScheduler implements Scheduler {
  readonly karras = false;
  readonly config: EulerAncestralConfig;

  constructor(raw: Readonly<Record<string, unknown>>, overrides: Partial<EulerAncestralConfig> = {}) {
    const config = fromConfig(CLASS_NAME, EULER_ANCESTRAL_SCHEMA, raw, overrides);
    super(CLASS_NAME, trainingSigmasFor(config, CLASS_NAME, config.rescale_betas_zero_snr), config.timestep_spacing);
    this.config = config;
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.config.num_train_timesteps, CLASS_NAME);
    const timesteps = float32Timesteps(this.config, numInferenceSteps);
    // Each timestep's sigma, interpolated between training timesteps, and a final 0.
    const sigmas = timesteps.map((t) => npInterpOverIndex(t, this.trainSigmas));
    this.setSchedule(timesteps, Float32Array.from(sigmas.concat([0])));
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, noise: NoiseSource, shape: readonly number[]): StepResult {
    const { i, sigma } = this.beginStep(modelOutput, timestep, sample, shape);

    // 1. x_0 from the model output (epsilon, or v in sigma space).
    const denoised =
      this.config.prediction_type === "epsilon"
        ? denoisedFromEps(sample, modelOutput, sigma)
        : denoisedFromV(sample, modelOutput, sigma);

    // 2. Split the next noise level: sigma_up = sqrt(to^2 (from^2 - to^2) / from^2) is re-injected as
    //    fresh noise, sigma_down = sqrt(to^2 - up^2) is where the deterministic step lands.
    const sigmaFrom = sigma;
    const sigmaTo = this.sigmas[i + 1];
    const to2 = fround(sigmaTo * sigmaTo);
    const from2 = fround(sigmaFrom * sigmaFrom);
    const sigmaUp = sqrtF32(fround(fround(to2 * fround(from2 - to2)) / from2));
    const sigmaDown = sqrtF32(fround(to2 - fround(sigmaUp * sigmaUp)));

    // 3. Euler step to sigma_down along d = (x - x_0) / sigma.
    const prev = eulerStep(sample, denoised, sigma, sigmaDown);
    // 4. Ancestral noise: drawn on every step (the last one too, where sigma_up is 0), shaped like the output.
    const eps = noise.randn(shape);
    checkSameLength(prev, eps, "noise", CLASS_NAME);
    for (let k = 0; k < prev.length; k++) prev[k] = prev[k] + fround(eps[k] * sigmaUp);
    this.index.advance();
    return { prevSample: prev, denoised };
  }
}
