// LMSDiscreteScheduler: k-diffusion's `sample_lms`, a linear multistep method (order 4) on the
// probability-flow ODE dx/dsigma = (x - x_0) / sigma. The derivative history is combined with weights
// obtained by integrating the Lagrange basis polynomials through the past sigmas over the current
// step [sigma_i, sigma_{i+1}] (variable-step Adams-Bashforth). diffusers integrates with
// scipy.integrate.quad; here an adaptive Gauss-Kronrod (7, 15) rule does it to ~1e-12.

import { checkInferenceSteps, float32Timesteps } from "./betas";
import { fromConfig, LMS_DISCRETE_SCHEMA, type LMSDiscreteConfig } from "./config";
import { fround, npInterpOverIndex } from "./numerics";
import { denoisedFromEps, denoisedFromV, odeDerivative } from "./sampleOps";
import type { NoiseSource, Scheduler, StepResult } from "./scheduler";
import { SigmaScheduler } from "./sigmaScheduler";
import { karrasSigmas, logSigmasOf, refuseUnsupportedSigmaSpacing, sigmaToT, trainingSigmasFor } from "./sigmas";

const CLASS_NAME = "LMSDiscreteScheduler";
/** diffusers' `step(order=4)` default. */
const LMS_ORDER = 4;

export class LMSDiscreteScheduler extends SigmaScheduler implements Scheduler {
  readonly config: LMSDiscreteConfig;
  private readonly logSigmas: Float32Array;
  /** The last (up to 4) ODE derivatives, oldest first. */
  private derivatives: Float32Array[] = [];

  constructor(raw: Readonly<Record<string, unknown>>, overrides: Partial<LMSDiscreteConfig> = {}) {
    const config = fromConfig(CLASS_NAME, LMS_DISCRETE_SCHEMA, raw, overrides);
    refuseUnsupportedSigmaSpacing(config, CLASS_NAME);
    super(CLASS_NAME, trainingSigmasFor(config, CLASS_NAME), config.timestep_spacing);
    this.config = config;
    this.logSigmas = logSigmasOf(this.trainSigmas);
  }

  get karras(): boolean {
    return this.config.use_karras_sigmas;
  }

  setTimesteps(numInferenceSteps: number): void {
    checkInferenceSteps(numInferenceSteps, this.config.num_train_timesteps, CLASS_NAME);
    let timesteps = float32Timesteps(this.config, numInferenceSteps);
    let sigmas = timesteps.map((t) => npInterpOverIndex(t, this.trainSigmas));
    if (this.config.use_karras_sigmas) {
      sigmas = karrasSigmas(sigmas[sigmas.length - 1], sigmas[0], numInferenceSteps);
      timesteps = sigmas.map((s) => fround(sigmaToT(s, this.logSigmas)));
    }
    this.setSchedule(timesteps, Float32Array.from(sigmas.concat([0])));
    this.derivatives = [];
  }

  /**
   * The weight of the derivative `currentOrder` steps back: the integral over [sigma_t, sigma_{t+1}] of
   * the Lagrange basis polynomial that is 1 at sigma_{t - currentOrder} and 0 at the other past sigmas.
   */
  lmsCoefficient(order: number, t: number, currentOrder: number): number {
    const sigmas = this.sigmas;
    const basis = (tau: number): number => {
      let prod = 1;
      for (let k = 0; k < order; k++) {
        if (k === currentOrder) continue;
        prod *= (tau - sigmas[t - k]) / (sigmas[t - currentOrder] - sigmas[t - k]);
      }
      return prod;
    };
    return integrate(basis, sigmas[t], sigmas[t + 1]);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _noise: NoiseSource, _shape: readonly number[]): StepResult {
    // LMS never uses the shape (no noise, no thresholding), so it is not checked.
    const { i, sigma } = this.beginStep(modelOutput, timestep, sample);

    // 1. x_0 from the model output.
    let denoised: Float32Array;
    switch (this.config.prediction_type) {
      case "epsilon":
        denoised = denoisedFromEps(sample, modelOutput, sigma);
        break;
      case "v_prediction":
        denoised = denoisedFromV(sample, modelOutput, sigma);
        break;
      case "sample":
        denoised = modelOutput.slice();
        break;
    }

    // 2. The ODE derivative, kept in a window of the last 4.
    this.derivatives.push(odeDerivative(sample, denoised, sigma));
    if (this.derivatives.length > LMS_ORDER) this.derivatives.shift();

    // 3. Multistep weights; the order grows with the step index (not with the history length, so an
    //    img2img start at a later index pairs only the available derivatives, as Python's zip does).
    const order = Math.min(i + 1, LMS_ORDER);
    const coeffs: number[] = [];
    for (let c = 0; c < order; c++) coeffs.push(this.lmsCoefficient(order, i, c));

    // 4. x_{i+1} = x_i + sum_c coeff_c * d_{i-c}.
    const history = [...this.derivatives].reverse();
    const terms = Math.min(coeffs.length, history.length);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      let sum = 0;
      for (let c = 0; c < terms; c++) sum = fround(sum + fround(fround(coeffs[c]) * history[c][k]));
      prev[k] = sample[k] + sum;
    }
    this.index.advance();
    return { prevSample: prev, denoised };
  }
}

// ---- adaptive Gauss-Kronrod quadrature (QUADPACK's 7/15-point pair) ----

/** Kronrod abscissae on [-1, 1] (odd entries are also the Gauss nodes), descending to 0. */
const XGK = [
  0.991455371120812639206854697526329, 0.949107912342758524526189684047851, 0.864864423359769072789712788640926,
  0.741531185599394439863864773280788, 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
  0.207784955007898467600689403773245, 0,
];
const WGK = [
  0.02293532201052922496373200805897, 0.063092092629978553290700663189204, 0.104790010322250183839876322541518,
  0.140653259715525918745189590510238, 0.16900472663926790282658342659855, 0.190350578064785409913256402421014,
  0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
];
/** 7-point Gauss weights for XGK[1], XGK[3], XGK[5], XGK[7]. */
const WG = [0.129484966168869693270611432679082, 0.27970539148927666790146777142378, 0.381830050505118944950369775488975, 0.417959183673469387755102040816327];

/** One Gauss-Kronrod (7, 15) panel: the Kronrod estimate and |Kronrod - Gauss| as its error. */
export function gaussKronrod15(f: (x: number) => number, a: number, b: number): { value: number; error: number } {
  const center = 0.5 * (a + b);
  const halfLength = 0.5 * (b - a);
  const fc = f(center);
  let gauss = fc * WG[3];
  let kronrod = fc * WGK[7];
  for (let j = 0; j < 7; j++) {
    const x = halfLength * XGK[j];
    const pair = f(center - x) + f(center + x);
    kronrod += WGK[j] * pair;
    if (j % 2 === 1) gauss += WG[(j - 1) / 2] * pair;
  }
  return { value: kronrod * halfLength, error: Math.abs((kronrod - gauss) * halfLength) };
}

/** ∫_a^b f, bisecting panels until each one's Gauss-Kronrod error is below tolerance. */
export function integrate(f: (x: number) => number, a: number, b: number, relTol = 1e-12, absTol = 1e-14): number {
  const whole = gaussKronrod15(f, a, b);
  const tolerance = Math.max(absTol, relTol * Math.abs(whole.value));
  const refine = (lo: number, hi: number, panel: { value: number; error: number }, depth: number): number => {
    if (panel.error <= tolerance * (Math.abs(hi - lo) / Math.max(Math.abs(b - a), Number.MIN_VALUE)) || depth >= 40) {
      return panel.value;
    }
    const mid = 0.5 * (lo + hi);
    return refine(lo, mid, gaussKronrod15(f, lo, mid), depth + 1) + refine(mid, hi, gaussKronrod15(f, mid, hi), depth + 1);
  };
  if (a === b) return 0;
  return refine(a, b, whole, 0);
}
