// What the schedulers that walk a table of sigmas share (k-diffusion's Euler, Euler ancestral and
// LMS, as diffusers ports them): the schedule's timesteps and sigmas, where the loop is, the
// model-input scaling, the sigma a step starts from, and img2img's noising. Each subclass writes out
// its own `setTimesteps` and `step`.

import type { TimestepSpacing } from "./betas";
import { addNoiseBySigma, checkStepInputs, scaleBySigma } from "./sampleOps";
import { initialSigmas, initNoiseSigmaOf, StepIndex } from "./sigmas";

export abstract class SigmaScheduler {
  readonly order = 1;
  /** The schedule's sigmas (float32 tensor in diffusers), one more than the timesteps. */
  protected sigmas: Float32Array;
  protected schedule: number[] = [];
  protected readonly index: StepIndex;

  protected constructor(
    protected readonly className: string,
    /** sigma of every training timestep (float32). */
    protected readonly trainSigmas: Float32Array,
    private readonly spacing: TimestepSpacing,
  ) {
    this.sigmas = initialSigmas(trainSigmas);
    this.index = StepIndex.forSchedule(() => this.schedule, className);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /** `init_noise_sigma`: the largest sigma for linspace / trailing spacing, sqrt(max^2 + 1) for leading. */
  get initNoiseSigma(): number {
    return initNoiseSigmaOf(this.sigmas, this.spacing);
  }

  /** The schedule's sigma at each step (plus the final one): exposed for tests and reporting. */
  get scheduleSigmas(): Float32Array {
    return this.sigmas;
  }

  setBeginIndex(index: number): void {
    this.index.setBeginIndex(index);
  }

  /** Divides by sqrt(sigma^2 + 1), so the UNet sees unit-variance input (the VP <-> VE change of variables). */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    return scaleBySigma(sample, this.sigmas[this.index.ensure(timestep)]);
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseBySigma(original, noise, this.sigmas[this.index.forAddNoise(timestep)], this.className);
  }

  /** A new schedule: its timesteps and its sigmas (one more, the last step's target); the loop starts over. */
  protected setSchedule(timesteps: number[], sigmas: Float32Array): void {
    this.schedule = timesteps;
    this.sigmas = sigmas;
    this.index.reset();
  }

  /** Checks a step's inputs (and `shape`, for samplers that use it); returns the step's index and its sigma. */
  protected beginStep(modelOutput: Float32Array, timestep: number, sample: Float32Array, shape?: readonly number[]): { readonly i: number; readonly sigma: number } {
    checkStepInputs(this.schedule.length > 0, sample, modelOutput, this.className, shape);
    const i = this.index.ensureStep(timestep, this.sigmas.length, this.className);
    return { i, sigma: this.sigmas[i] };
  }
}
