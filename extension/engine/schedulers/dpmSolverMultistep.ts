// DPMSolverMultistepScheduler: Lu et al. 2022, DPM-Solver (arXiv 2206.00927) and DPM-Solver++
// (arXiv 2211.01095), multistep variant. The diffusion ODE is solved exactly in its linear part and the
// model term is integrated in lambda = log(alpha_t / sigma_t) (half log-SNR) with a Taylor expansion
// whose derivatives come from previous model outputs. "dpmsolver++" works on data predictions x_0 (what
// A1111 calls DPM++ 2M for order 2); "dpmsolver" on noise predictions.

import { EaselError, notSupportedYet } from "../errors";
import { checkInferenceSteps } from "./betas";
import { DPM_SOLVER_MULTISTEP_SCHEMA, fromConfig, type DPMSolverMultistepConfig } from "./config";
import { expF32, fround, logF32, npArange, npInterpOverIndex, npLinspace, roundHalfEven, sqrtF32 } from "./numerics";
import { checkSameLength, checkStepInputs, epsFromV, epsFromX0, thresholdSample, weightedSum, x0FromEps, x0FromV } from "./sampleOps";
import type { NoiseSource, Scheduler, StepResult } from "./scheduler";
import { alphasCumprodForSigmas, karrasSigmas, logSigmasOf, sigmaToT, StepIndex, trainingSigmas } from "./sigmas";

const CLASS_NAME = "DPMSolverMultistepScheduler";

/** alpha_t and sigma_t (VP) of a VE sigma: alpha = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha. */
function alphaSigma(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = fround(1 / sqrtF32(fround(fround(sigma * sigma) + 1)));
  const sigmaT = fround(sigma * alpha);
  return { alpha, sigmaT, lambda: fround(logF32(alpha) - logF32(sigmaT)) };
}

export class DPMSolverMultistepScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly config: DPMSolverMultistepConfig;
  private readonly algorithm: "dpmsolver++" | "dpmsolver";
  private readonly solverType: "midpoint" | "heun";
  private readonly trainSigmas: Float32Array;
  private readonly logSigmas: Float32Array;
  /** log(alpha_t) - log(sigma_t) per training timestep, for lambda_min_clipped. */
  private readonly lambdaT: Float32Array;
  private sigmas: Float32Array = new Float32Array(0);
  private schedule: number[] = [];
  /** The last `solver_order` converted model outputs, oldest first (null until filled). */
  private modelOutputs: (Float32Array | null)[] = [];
  private lowerOrderNums = 0;
  private readonly index = new StepIndex((t) => this.indexForTimestep(t));

  constructor(raw: Readonly<Record<string, unknown>>, overrides: Partial<DPMSolverMultistepConfig> = {}) {
    const config = fromConfig(CLASS_NAME, DPM_SOLVER_MULTISTEP_SCHEMA, raw, overrides);
    this.config = config;
    // Deprecated names diffusers maps onto supported ones.
    const algorithm = config.algorithm_type === "deis" ? "dpmsolver++" : config.algorithm_type;
    if (algorithm === "sde-dpmsolver++" || algorithm === "sde-dpmsolver") throw notSupportedYet(`${CLASS_NAME} with algorithm_type ${algorithm}`);
    this.algorithm = algorithm;
    this.solverType = config.solver_type === "heun" ? "heun" : "midpoint";
    if (config.solver_order > 3) throw new EaselError("model-invalid", `${CLASS_NAME}: solver_order ${config.solver_order} is not 1, 2 or 3`);
    if (this.algorithm === "dpmsolver" && config.final_sigmas_type === "zero") {
      throw new EaselError(
        "model-invalid",
        `${CLASS_NAME}: final_sigmas_type "zero" is not supported with algorithm_type dpmsolver (use sigma_min)`,
      );
    }
    for (const flag of ["use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas"] as const) {
      if (config[flag]) throw notSupportedYet(`${CLASS_NAME} with ${flag}`);
    }
    if (config.prediction_type === "flow_prediction") throw notSupportedYet(`${CLASS_NAME} with prediction_type flow_prediction`);
    if (config.variance_type !== null) throw notSupportedYet(`${CLASS_NAME} with variance_type ${config.variance_type}`);

    const alphasCumprod = alphasCumprodForSigmas(config, CLASS_NAME, config.rescale_betas_zero_snr);
    this.trainSigmas = trainingSigmas(alphasCumprod);
    this.logSigmas = logSigmasOf(this.trainSigmas);
    this.lambdaT = alphasCumprod.map((a) => fround(logF32(sqrtF32(a)) - logF32(sqrtF32(fround(1 - a)))));
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  get karras(): boolean {
    return this.config.use_karras_sigmas;
  }

  get scheduleSigmas(): Float32Array {
    return this.sigmas;
  }

  setTimesteps(numInferenceSteps: number): void {
    const config = this.config;
    const T = config.num_train_timesteps;
    checkInferenceSteps(numInferenceSteps, T, CLASS_NAME);
    const n = numInferenceSteps;

    // Clip the smallest lambdas (numerical stability for cosine schedules): count how many of the
    // ascending lambdas lie below lambda_min_clipped (torch.searchsorted, left).
    let clippedIdx = 0;
    for (let i = this.lambdaT.length - 1; i >= 0 && this.lambdaT[i] < config.lambda_min_clipped; i--) clippedIdx++;
    const lastTimestep = T - clippedIdx;

    // n + 1 points with the last (t = 0 end) dropped: the solver steps to sigma_last after them.
    let timesteps: number[];
    switch (config.timestep_spacing) {
      case "linspace":
        timesteps = npLinspace(0, lastTimestep - 1, n + 1)
          .map(roundHalfEven)
          .reverse()
          .slice(0, -1);
        break;
      case "leading": {
        const ratio = Math.floor(lastTimestep / (n + 1));
        timesteps = [];
        for (let i = n; i >= 1; i--) timesteps.push(i * ratio + config.steps_offset);
        break;
      }
      case "trailing":
        timesteps = npArange(lastTimestep, 0, -(T / n)).map((t) => roundHalfEven(t) - 1);
        break;
    }

    let sigmas: number[];
    if (config.use_karras_sigmas) {
      // Karras' schedule between the largest and smallest training sigma; timesteps are the nearest
      // integer training timesteps of those sigmas.
      sigmas = karrasSigmas(this.trainSigmas[0], this.trainSigmas[this.trainSigmas.length - 1], n);
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToT(s, this.logSigmas)));
    } else {
      sigmas = timesteps.map((t) => npInterpOverIndex(t, this.trainSigmas));
    }
    const sigmaLast = config.final_sigmas_type === "zero" ? 0 : this.trainSigmas[0];
    this.sigmas = Float32Array.from(sigmas.concat([sigmaLast]));
    this.schedule = timesteps.map((t) => Math.trunc(t));
    this.modelOutputs = new Array<Float32Array | null>(config.solver_order).fill(null);
    this.lowerOrderNums = 0;
    this.index.reset();
  }

  /** DPM-Solver's own `index_for_timestep`: an unknown timestep means the last step; a repeated one, its second occurrence. */
  private indexForTimestep(timestep: number): number {
    const candidates: number[] = [];
    for (let i = 0; i < this.schedule.length; i++) if (this.schedule[i] === timestep) candidates.push(i);
    if (candidates.length === 0) return this.schedule.length - 1;
    return candidates.length > 1 ? candidates[1] : candidates[0];
  }

  setBeginIndex(index: number): void {
    this.index.setBeginIndex(index);
  }

  /** DPM-Solver takes the unscaled x_t. */
  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return sample;
  }

  /** `convert_model_output`: x_0 (dpmsolver++) or epsilon (dpmsolver) from the raw model output. */
  private convertModelOutput(modelOutput: Float32Array, sample: Float32Array, stepIndex: number, shape: readonly number[]): Float32Array {
    const { alpha, sigmaT } = alphaSigma(this.sigmas[stepIndex]);
    const config = this.config;
    let x0: Float32Array;
    switch (config.prediction_type) {
      case "epsilon":
        x0 = x0FromEps(sample, modelOutput, alpha, sigmaT);
        break;
      case "sample":
        x0 = modelOutput;
        break;
      case "v_prediction":
        x0 = x0FromV(sample, modelOutput, alpha, sigmaT);
        break;
      case "flow_prediction":
        throw notSupportedYet(`${CLASS_NAME} with prediction_type flow_prediction`);
    }
    if (this.algorithm === "dpmsolver++") {
      return config.thresholding ? thresholdSample(x0, shape, config.dynamic_thresholding_ratio, config.sample_max_value) : x0;
    }
    // dpmsolver: noise prediction.
    if (config.prediction_type === "epsilon" && !config.thresholding) return modelOutput;
    if (config.prediction_type === "v_prediction" && !config.thresholding) return epsFromV(sample, modelOutput, alpha, sigmaT);
    const x0Final = config.thresholding ? thresholdSample(x0, shape, config.dynamic_thresholding_ratio, config.sample_max_value) : x0;
    return epsFromX0(sample, x0Final, alpha, sigmaT);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _noise: NoiseSource, shape: readonly number[]): StepResult {
    checkStepInputs(this.schedule.length > 0, sample, modelOutput, CLASS_NAME, shape);
    const config = this.config;
    const i = this.index.ensureStep(timestep, this.sigmas.length, CLASS_NAME);
    const steps = this.schedule.length;

    // Lower orders near the end stabilise short schedules (< 15 steps); a final sigma of 0 always ends
    // with a first-order step (the higher-order terms divide by an infinite h there).
    const lowerOrderFinal =
      i === steps - 1 && (config.euler_at_final || (config.lower_order_final && steps < 15) || config.final_sigmas_type === "zero");
    const lowerOrderSecond = i === steps - 2 && config.lower_order_final && steps < 15;

    const converted = this.convertModelOutput(modelOutput, sample, i, shape);
    this.modelOutputs.shift();
    this.modelOutputs.push(converted);

    let prev: Float32Array;
    if (config.solver_order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      prev = this.firstOrderUpdate(converted, sample, i);
    } else if (config.solver_order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
      prev = this.secondOrderUpdate(sample, i);
    } else {
      prev = this.thirdOrderUpdate(sample, i);
    }
    if (this.lowerOrderNums < config.solver_order) this.lowerOrderNums += 1;
    this.index.advance();
    return this.algorithm === "dpmsolver++" ? { prevSample: prev, denoised: converted } : { prevSample: prev };
  }

  private history(back: number): Float32Array {
    const m = this.modelOutputs[this.modelOutputs.length - back];
    if (!m) throw new EaselError("internal", `${CLASS_NAME}: missing model output ${back} steps back`);
    return m;
  }

  /** DPM-Solver-1 (= DDIM): x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) x_0 for ++. */
  private firstOrderUpdate(m0: Float32Array, sample: Float32Array, i: number): Float32Array {
    const t = alphaSigma(this.sigmas[i + 1]);
    const s = alphaSigma(this.sigmas[i]);
    const h = fround(t.lambda - s.lambda);
    if (this.algorithm === "dpmsolver++") {
      const ratio = fround(t.sigmaT / s.sigmaT);
      const coeff = fround(t.alpha * fround(expF32(-h) - 1));
      return sample.map((x, k) => fround(ratio * x) - fround(coeff * m0[k]));
    }
    const ratio = fround(t.alpha / s.alpha);
    const coeff = fround(t.sigmaT * fround(expF32(h) - 1));
    return sample.map((x, k) => fround(ratio * x) - fround(coeff * m0[k]));
  }

  /** Multistep DPM-Solver(++)-2: D1 = (m0 - m1) / r0 estimates the derivative from the previous output. */
  private secondOrderUpdate(sample: Float32Array, i: number): Float32Array {
    const t = alphaSigma(this.sigmas[i + 1]);
    const s0 = alphaSigma(this.sigmas[i]);
    const s1 = alphaSigma(this.sigmas[i - 1]);
    const m0 = this.history(1);
    const m1 = this.history(2);
    const h = fround(t.lambda - s0.lambda);
    const h0 = fround(s0.lambda - s1.lambda);
    const r0 = fround(h0 / h);
    const invR0 = fround(1 / r0);
    const d1 = m0.map((v, k) => invR0 * fround(v - m1[k]));
    const out = new Float32Array(sample.length);
    if (this.algorithm === "dpmsolver++") {
      const ratio = fround(t.sigmaT / s0.sigmaT);
      const phi = fround(expF32(-h) - 1);
      const c0 = fround(t.alpha * phi);
      if (this.solverType === "midpoint") {
        const c1 = fround(0.5 * c0);
        for (let k = 0; k < out.length; k++) out[k] = fround(fround(ratio * sample[k]) - fround(c0 * m0[k])) - fround(c1 * d1[k]);
      } else {
        const c1 = fround(t.alpha * fround(fround(phi / h) + 1));
        for (let k = 0; k < out.length; k++) out[k] = fround(fround(ratio * sample[k]) - fround(c0 * m0[k])) + fround(c1 * d1[k]);
      }
      return out;
    }
    const ratio = fround(t.alpha / s0.alpha);
    const phi = fround(expF32(h) - 1);
    const c0 = fround(t.sigmaT * phi);
    const c1 = this.solverType === "midpoint" ? fround(0.5 * c0) : fround(t.sigmaT * fround(fround(phi / h) - 1));
    for (let k = 0; k < out.length; k++) out[k] = fround(fround(ratio * sample[k]) - fround(c0 * m0[k])) - fround(c1 * d1[k]);
    return out;
  }

  /** Multistep DPM-Solver(++)-3: first and second divided differences of the last three outputs. */
  private thirdOrderUpdate(sample: Float32Array, i: number): Float32Array {
    const t = alphaSigma(this.sigmas[i + 1]);
    const s0 = alphaSigma(this.sigmas[i]);
    const s1 = alphaSigma(this.sigmas[i - 1]);
    const s2 = alphaSigma(this.sigmas[i - 2]);
    const m0 = this.history(1);
    const m1 = this.history(2);
    const m2 = this.history(3);
    const h = fround(t.lambda - s0.lambda);
    const h0 = fround(s0.lambda - s1.lambda);
    const h1 = fround(s1.lambda - s2.lambda);
    const r0 = fround(h0 / h);
    const r1 = fround(h1 / h);
    const inv0 = fround(1 / r0);
    const inv1 = fround(1 / r1);
    const w = fround(r0 / fround(r0 + r1));
    const inv01 = fround(1 / fround(r0 + r1));
    const out = new Float32Array(sample.length);
    const plusPlus = this.algorithm === "dpmsolver++";
    const ratio = plusPlus ? fround(t.sigmaT / s0.sigmaT) : fround(t.alpha / s0.alpha);
    const phi = plusPlus ? fround(expF32(-h) - 1) : fround(expF32(h) - 1);
    const scale = plusPlus ? t.alpha : t.sigmaT;
    const c0 = fround(scale * phi);
    const c1 = plusPlus ? fround(scale * fround(fround(phi / h) + 1)) : fround(scale * fround(fround(phi / h) - 1));
    const c2 = plusPlus
      ? fround(scale * fround(fround(fround(fround(phi + h) / fround(h * h))) - 0.5))
      : fround(scale * fround(fround(fround(fround(phi - h) / fround(h * h))) - 0.5));
    for (let k = 0; k < out.length; k++) {
      const d10 = fround(inv0 * fround(m0[k] - m1[k]));
      const d11 = fround(inv1 * fround(m1[k] - m2[k]));
      const d1 = fround(d10 + fround(w * fround(d10 - d11)));
      const d2 = fround(inv01 * fround(d10 - d11));
      const base = fround(fround(ratio * sample[k]) - fround(c0 * m0[k]));
      out[k] = fround(fround(base + (plusPlus ? fround(c1 * d1) : -fround(c1 * d1))) - fround(c2 * d2));
    }
    return out;
  }

  /** Forward process in VP form at the step's sigma: alpha_t x_0 + sigma_t eps. */
  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    checkSameLength(original, noise, "noise", CLASS_NAME);
    const { alpha, sigmaT } = alphaSigma(this.sigmas[this.index.forAddNoise(timestep)]);
    return weightedSum(alpha, original, sigmaT, noise);
  }
}
