// PNDMScheduler: Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models on Manifolds".
// The transfer step is eq. (9) (a DDIM-like move from t to t - delta given a noise estimate); the noise
// estimate comes from pseudo Runge-Kutta (PRK, 4 model calls per step, Algorithm 2's warm-up) and then
// pseudo linear multistep (PLMS, Adams-Bashforth order 4 over past noise estimates). Stable Diffusion's
// configs set skip_prk_steps: PLMS only, warming up with lower orders (crowsonkb's PLMS).
// The counter / ets bookkeeping below is diffusers' exactly, because it decides which formula runs.

import { EaselError } from "../errors";
import { alphaProducts, checkInferenceSteps, checkTrainingTimestep, integerTimesteps, noiseSchedule } from "./betas";
import { fromConfig, PNDM_SCHEMA, type PNDMConfig } from "./config";
import { fround, sqrtF32 } from "./numerics";
import { addNoiseByAlphasCumprod, checkStepInputs, epsFromV } from "./sampleOps";
import type { NoiseSource, Scheduler, StepResult } from "./scheduler";

const CLASS_NAME = "PNDMScheduler";
const PNDM_ORDER = 4;
const SIXTH = fround(1 / 6);
const THIRD = fround(1 / 3);
const TWENTY_FOURTH = fround(1 / 24);

export class PNDMScheduler implements Scheduler {
  readonly order = 1;
  readonly karras = false;
  readonly initNoiseSigma = 1;
  readonly config: PNDMConfig;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private numInferenceSteps = 0;
  private prkTimesteps: number[] = [];
  private schedule: number[] = [];
  // Running state (diffusers' names): the RK accumulator, the step counter, the sample a PRK / first
  // PLMS step started from, and the past noise estimates ("ets").
  private curModelOutput: Float32Array | null = null;
  private counter = 0;
  private curSample: Float32Array | null = null;
  private ets: Float32Array[] = [];

  constructor(raw: Readonly<Record<string, unknown>>, overrides: Partial<PNDMConfig> = {}) {
    const config = fromConfig(CLASS_NAME, PNDM_SCHEMA, raw, overrides);
    this.config = config;
    this.alphasCumprod = noiseSchedule(config, CLASS_NAME).alphasCumprod;
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    const config = this.config;
    checkInferenceSteps(numInferenceSteps, config.num_train_timesteps, CLASS_NAME);
    const n = numInferenceSteps;
    const T = config.num_train_timesteps;
    this.numInferenceSteps = n;
    // diffusers' `_timesteps` ascend: the same spacings as DDIM, lowest first.
    const ascending = integerTimesteps(config, n).reverse();

    let plms: number[];
    if (config.skip_prk_steps) {
      // PLMS only: the second-to-last timestep is repeated, because the second PLMS step re-evaluates the
      // model at the same timestep (the pseudo-improved-Euler warm-up below).
      this.prkTimesteps = [];
      const withRepeat = ascending.slice(0, -1).concat(ascending.slice(-2, -1), ascending.slice(-1));
      plms = withRepeat.reverse();
    } else {
      if (n < PNDM_ORDER) {
        throw new EaselError("bad-argument", `${CLASS_NAME} with Runge-Kutta warm-up needs at least ${PNDM_ORDER} steps (got ${n}): use more steps or another scheduler`);
      }
      // PRK on the last 4 timesteps, each with its half-step midpoint: t, t+h/2, t+h/2, t+h (RK4's stages).
      const half = Math.floor(Math.floor(T / n) / 2);
      const lastFour = ascending.slice(-PNDM_ORDER);
      const pairs: number[] = [];
      for (const t of lastFour) pairs.push(t, t + half);
      const doubled: number[] = [];
      for (const t of pairs.slice(0, -1)) doubled.push(t, t);
      this.prkTimesteps = doubled.slice(1, -1).reverse();
      plms = ascending.slice(0, -3).reverse();
    }
    this.schedule = this.prkTimesteps.concat(plms);
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = null;
    this.curSample = null;
  }

  /** diffusers' PNDM has no `set_begin_index`. */
  setBeginIndex(_index: number): void {}

  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _noise: NoiseSource, _shape: readonly number[]): StepResult {
    checkStepInputs(this.numInferenceSteps > 0, sample, modelOutput, CLASS_NAME);
    if (this.counter < this.prkTimesteps.length && !this.config.skip_prk_steps) {
      return this.stepPrk(modelOutput, timestep, sample);
    }
    return this.stepPlms(modelOutput, timestep, sample);
  }

  /** Pseudo Runge-Kutta: four model calls per step, combined as RK4's (1, 2, 2, 1) / 6 weights. */
  private stepPrk(modelOutput: Float32Array, timestep: number, sample: Float32Array): StepResult {
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(this.config.num_train_timesteps / this.numInferenceSteps) / 2);
    const prevTimestep = timestep - diffToPrev;
    const stageTimestep = this.prkTimesteps[Math.floor(this.counter / 4) * 4];

    let eps = modelOutput;
    const stage = this.counter % 4;
    if (stage === 0) {
      this.curModelOutput = accumulate(this.curModelOutput, modelOutput, SIXTH);
      // Copies: the pipeline may reuse its buffers between steps.
      this.ets.push(modelOutput.slice());
      this.curSample = sample.slice();
    } else if (stage === 1 || stage === 2) {
      this.curModelOutput = accumulate(this.curModelOutput, modelOutput, THIRD);
    } else {
      // Last stage: the weighted average of the four noise estimates is the step's estimate.
      eps = accumulate(this.curModelOutput, modelOutput, SIXTH);
      this.curModelOutput = null;
    }
    // Every stage moves from the sample the step started at.
    const from = this.curSample ?? sample;
    const prev = this.transfer(from, stageTimestep, prevTimestep, eps);
    this.counter += 1;
    return { prevSample: prev };
  }

  /** Pseudo linear multistep: Adams-Bashforth combinations of the last (up to 4) noise estimates. */
  private stepPlms(modelOutput: Float32Array, timestepIn: number, sampleIn: Float32Array): StepResult {
    if (!this.config.skip_prk_steps && this.ets.length < 3) {
      throw new EaselError("internal", `${CLASS_NAME}: PLMS steps can only run after the Runge-Kutta warm-up`);
    }
    const stride = Math.floor(this.config.num_train_timesteps / this.numInferenceSteps);
    let timestep = timestepIn;
    let sample = sampleIn;
    let prevTimestep = timestep - stride;

    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(modelOutput.slice());
    } else {
      // Second step of the warm-up: re-evaluated at the same timestep, it completes an improved-Euler
      // (Heun-like) step from t + stride to t, starting again from the stored sample.
      prevTimestep = timestep;
      timestep = timestep + stride;
    }

    let eps: Float32Array;
    const ets = this.ets;
    const e = (back: number): Float32Array => ets[ets.length - back];
    if (ets.length === 1 && this.counter === 0) {
      eps = modelOutput;
      this.curSample = sample.slice();
    } else if (ets.length === 1 && this.counter === 1) {
      const first = e(1);
      eps = modelOutput.map((v, k) => fround(v + first[k]) / 2);
      if (this.curSample === null) throw new EaselError("internal", `${CLASS_NAME}: missing the warm-up sample`);
      sample = this.curSample;
      this.curSample = null;
    } else if (ets.length === 2) {
      // AB2: (3 e_1 - e_2) / 2.
      const [e1, e2] = [e(1), e(2)];
      eps = e1.map((v, k) => fround(fround(3 * v) - e2[k]) / 2);
    } else if (ets.length === 3) {
      // AB3: (23 e_1 - 16 e_2 + 5 e_3) / 12.
      const [e1, e2, e3] = [e(1), e(2), e(3)];
      eps = e1.map((v, k) => fround(fround(fround(23 * v) - fround(16 * e2[k])) + fround(5 * e3[k])) / 12);
    } else {
      // AB4: (55 e_1 - 59 e_2 + 37 e_3 - 9 e_4) / 24.
      const [e1, e2, e3, e4] = [e(1), e(2), e(3), e(4)];
      eps = e1.map((v, k) => {
        const sum = fround(fround(fround(fround(55 * v) - fround(59 * e2[k])) + fround(37 * e3[k])) - fround(9 * e4[k]));
        return TWENTY_FOURTH * sum;
      });
    }

    const prev = this.transfer(sample, timestep, prevTimestep, eps);
    this.counter += 1;
    return { prevSample: prev };
  }

  /**
   * PNDM eq. (9), diffusers' `_get_prev_sample`: x_{t-d} = sqrt(a_{t-d} / a_t) x_t
   *   - (a_{t-d} - a_t) eps / (a_t sqrt(1 - a_{t-d}) + sqrt(a_t (1 - a_t) a_{t-d})), with a = alpha-bar.
   */
  private transfer(sample: Float32Array, timestep: number, prevTimestep: number, modelOutput: Float32Array): Float32Array {
    checkTrainingTimestep(timestep, this.alphasCumprod, CLASS_NAME);
    const { alphaProdT, alphaProdTPrev, betaProdT, betaProdTPrev } = alphaProducts(
      this.alphasCumprod,
      this.finalAlphaCumprod,
      timestep,
      prevTimestep,
    );

    // The transfer needs the noise: eps = sqrt(a_t) v + sqrt(1 - a_t) x_t.
    const eps =
      this.config.prediction_type === "v_prediction"
        ? epsFromV(sample, modelOutput, sqrtF32(alphaProdT), sqrtF32(betaProdT))
        : modelOutput;

    const sampleCoeff = sqrtF32(fround(alphaProdTPrev / alphaProdT));
    const denomCoeff = fround(
      fround(alphaProdT * sqrtF32(betaProdTPrev)) + sqrtF32(fround(fround(alphaProdT * betaProdT) * alphaProdTPrev)),
    );
    const diff = fround(alphaProdTPrev - alphaProdT);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      prev[k] = fround(sampleCoeff * sample[k]) - fround(fround(diff * eps[k]) / denomCoeff);
    }
    return prev;
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return addNoiseByAlphasCumprod(this.alphasCumprod, original, noise, timestep, CLASS_NAME);
  }
}

/** `acc += weight * x` with diffusers' starting value 0 (the first call just scales). */
function accumulate(acc: Float32Array | null, x: Float32Array, weight: number): Float32Array {
  if (acc === null) return x.map((v) => weight * v);
  return acc.map((a, k) => a + fround(weight * x[k]));
}
