// The one interface every sampler implements. It mirrors diffusers' SchedulerMixin closely enough
// that each algorithm can be written out the way diffusers writes it, while keeping the UNet out:
// a scheduler sees latents, model outputs and a noise source, nothing else.

/** Where ancestral / stochastic samplers draw their noise from (the image's torch-compatible generator). */
export interface NoiseSource {
  /** Standard normal values, drawn exactly as `torch.randn(shape, generator=g)` would. */
  randn(shape: readonly number[]): Float32Array;
}

export interface StepResult {
  /** x_{t-1}: the latents to feed to the next step. */
  readonly prevSample: Float32Array;
  /** The model's estimate of x_0 at this step, where the algorithm computes one (LCM decodes from it). */
  readonly denoised?: Float32Array;
}

export interface SetTimestepsOptions {
  /** img2img strength, for schedulers whose timestep choice depends on it (LCM). */
  readonly strength?: number;
}

export interface Scheduler {
  /** diffusers' `order`: how many model evaluations one step of `timesteps` takes (used by img2img's start index). */
  readonly order: number;
  /** Standard deviation of the initial noise: the pipeline multiplies randn latents by it. */
  readonly initNoiseSigma: number;
  /** The timesteps the denoising loop runs over, after `setTimesteps`, as diffusers lists them. */
  readonly timesteps: readonly number[];
  /** True when the sigma schedule is Karras' (written as `Schedule type: Karras` in the infotext). */
  readonly karras: boolean;
  setTimesteps(numInferenceSteps: number, options?: SetTimestepsOptions): void;
  /** img2img: the loop starts at this index of `timesteps` (diffusers' `set_begin_index`); a no-op where diffusers has none. */
  setBeginIndex(index: number): void;
  /** Scales the denoising model input (Euler-family samplers divide by sqrt(sigma^2 + 1)); returns a new array or the input. */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  /**
   * One step back from `timestep`: the model output (already guided) and current latents give the previous latents.
   * `shape` is the latents' NCHW shape (e.g. [1, 4, h / 8, w / 8]; `sample` and `modelOutput` are that tensor
   * flattened): stochastic samplers (Euler a, LCM) draw `noise.randn(shape)` with it, exactly when diffusers
   * draws `randn_tensor(model_output.shape, generator=...)`, and dynamic thresholding needs the batch size.
   */
  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    noise: NoiseSource,
    shape: readonly number[],
  ): StepResult;
  /** Forward diffusion used by img2img: noises clean latents to `timestep`. */
  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array;
}

/** The scheduler names the CLI and the UI accept; `default` keeps the class named in scheduler_config.json. */
export const SCHEDULER_NAMES = ["euler", "euler-a", "ddim", "pndm", "lms", "dpmpp-2m", "dpmpp-2m-karras", "lcm"] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];
/** What a request, a setting or the Studio may name: an algorithm, or "default" (the model's own). */
export const SCHEDULER_CHOICES = ["default", ...SCHEDULER_NAMES] as const;
export type SchedulerChoice = (typeof SCHEDULER_CHOICES)[number];
