// Scheduler steps: deterministic samplers reproduce x_0 when the model output is the exact noise used
// (or the exact v), whole runs agree with float64 re-implementations of k-diffusion's samplers, and the
// stochastic ones draw noise exactly when diffusers does.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noiseSchedule } from "../../extension/engine/schedulers/betas";
import { createScheduler, type NoiseSource, type Scheduler } from "../../extension/engine/schedulers/index";
import { DDIMScheduler } from "../../extension/engine/schedulers/ddim";
import { DPMSolverMultistepScheduler } from "../../extension/engine/schedulers/dpmSolverMultistep";
import { EulerAncestralDiscreteScheduler } from "../../extension/engine/schedulers/eulerAncestralDiscrete";
import { EulerDiscreteScheduler } from "../../extension/engine/schedulers/eulerDiscrete";
import { LCMScheduler } from "../../extension/engine/schedulers/lcm";
import { gaussKronrod15, integrate, LMSDiscreteScheduler } from "../../extension/engine/schedulers/lmsDiscrete";
import { PNDMScheduler } from "../../extension/engine/schedulers/pndm";
import { SD15 } from "../helpers/schedulerConfigs";

const SHAPE = [1, 4, 2, 3] as const;
const N = 24;
const X0 = Float32Array.from({ length: N }, (_, k) => Math.fround(0.8 * Math.sin(0.9 * k + 0.2)));
const EPS = Float32Array.from({ length: N }, (_, k) => Math.fround(Math.cos(1.3 * k) * 1.1));

/** alphas_cumprod of the SD schedule (float32, as the schedulers use). */
const ABAR = noiseSchedule({ ...SD15, beta_schedule: "scaled_linear", trained_betas: null }, "test").alphasCumprod;

/** Records every randn call; values are a fixed deterministic pattern per call. */
class CountingNoise implements NoiseSource {
  readonly calls: number[][] = [];
  readonly draws: Float32Array[] = [];
  randn(shape: readonly number[]): Float32Array {
    this.calls.push([...shape]);
    const n = shape.reduce((a, b) => a * b, 1);
    const c = this.calls.length;
    const out = Float32Array.from({ length: n }, (_, k) => Math.fround(Math.sin(2.1 * k + 0.7 * c)));
    this.draws.push(out);
    return out;
  }
}

/** For deterministic samplers: any draw is a bug. */
const NO_NOISE: NoiseSource = {
  randn(): Float32Array {
    throw new Error("deterministic scheduler drew noise");
  },
};

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let k = 0; k < actual.length; k++) worst = Math.max(worst, Math.abs(actual[k] - expected[k]));
  assert.ok(worst <= tol, `${what}: max |diff| ${worst} > ${tol}`);
}

const combine = (a: number, x: ArrayLike<number>, b: number, y: ArrayLike<number>): number[] =>
  Array.from(x, (v, k) => a * v + b * y[k]);

/** A made-up "UNet": a smooth function of the model input and the step number (the same in float64). */
function fakeModel(input: ArrayLike<number>, i: number): number[] {
  return Array.from(input, (v, k) => 0.4 * v + 0.2 * Math.cos(0.7 * k + 0.5 * i));
}

/** The pipeline's loop, with the model output chosen per step. */
function run(
  s: Scheduler,
  latents: Float32Array,
  noise: NoiseSource,
  model: (input: Float32Array, t: number, i: number) => ArrayLike<number>,
): { latents: Float32Array; denoised?: Float32Array } {
  let x = latents;
  let denoised: Float32Array | undefined;
  s.timesteps.forEach((t, i) => {
    const input = s.scaleModelInput(x, t);
    const r = s.step(Float32Array.from(model(input, t, i)), t, x, noise, SHAPE);
    x = r.prevSample;
    denoised = r.denoised;
  });
  return { latents: x, denoised };
}

/** Integral over [a, b] of the Lagrange basis polynomial through `nodes` that is 1 at nodes[c] (exact polynomial algebra). */
function lagrangeIntegral(nodes: number[], c: number, a: number, b: number): number {
  let poly = [1]; // ascending powers
  nodes.forEach((s, k) => {
    if (k === c) return;
    const d = nodes[c] - s;
    const next = new Array<number>(poly.length + 1).fill(0);
    poly.forEach((p, i) => {
      next[i + 1] += p / d;
      next[i] -= (p * s) / d;
    });
    poly = next;
  });
  return poly.reduce((acc, p, i) => acc + (p * (b ** (i + 1) - a ** (i + 1))) / (i + 1), 0);
}

describe("DDIM (eta = 0)", () => {
  test("with the exact noise, every step lands on q(x_prev | x_0) and the last one returns x_0", () => {
    for (const prediction of ["epsilon", "v_prediction", "sample"] as const) {
      const s = new DDIMScheduler(SD15, { prediction_type: prediction, set_alpha_to_one: true });
      s.setTimesteps(10);
      let x = s.addNoise(X0, EPS, s.timesteps[0]);
      s.timesteps.forEach((t, i) => {
        const a = ABAR[t];
        const out =
          prediction === "epsilon" ? EPS : prediction === "sample" ? X0 : combine(Math.sqrt(a), EPS, -Math.sqrt(1 - a), X0);
        const r = s.step(Float32Array.from(out), t, x, NO_NOISE, SHAPE);
        assertClose(r.denoised ?? [], X0, 2e-5, `${prediction} x_0 at t=${t}`);
        const prevT = s.timesteps[i + 1];
        const expected = prevT === undefined ? X0 : combine(Math.sqrt(ABAR[prevT]), X0, Math.sqrt(1 - ABAR[prevT]), EPS);
        assertClose(r.prevSample, expected, 3e-5, `${prediction} x_prev at t=${t}`);
        x = r.prevSample;
      });
    }
  });
  test("without set_alpha_to_one the last step stops at alpha-bar[0]; clip_sample clamps x_0", () => {
    const s = new DDIMScheduler(SD15);
    s.setTimesteps(4);
    const last = s.timesteps[3];
    const x = s.addNoise(X0, EPS, last);
    const r = s.step(EPS, last, x, NO_NOISE, SHAPE);
    assertClose(r.prevSample, combine(Math.sqrt(ABAR[0]), X0, Math.sqrt(1 - ABAR[0]), EPS), 3e-5, "final");
    const clipped = new DDIMScheduler({ ...SD15, clip_sample: true, clip_sample_range: 0.5 });
    clipped.setTimesteps(4);
    const rc = clipped.step(EPS, last, x, NO_NOISE, SHAPE);
    assert.ok((rc.denoised ?? []).every((v) => Math.abs(v) <= 0.5));
  });
});

describe("PNDM", () => {
  test("PLMS warm-up: step 2 restarts from step 1's sample with the averaged noise; step 3 is AB2", () => {
    const s = new PNDMScheduler(SD15);
    s.setTimesteps(50);
    const [t0, t1, t2] = s.timesteps; // 981, 961, 961
    const transfer = (x: ArrayLike<number>, t: number, tp: number, e: ArrayLike<number>): number[] => {
      const a = ABAR[t];
      const ap = ABAR[tp];
      const denom = a * Math.sqrt(1 - ap) + Math.sqrt(a * (1 - a) * ap);
      return Array.from(x, (v, k) => Math.sqrt(ap / a) * v - ((ap - a) * e[k]) / denom);
    };
    const e0 = Float32Array.from(EPS, (v) => v * 0.9);
    const e1 = Float32Array.from(EPS, (v) => v * 1.1);
    const e2 = Float32Array.from(EPS, (v) => v * 0.7);
    const x = s.addNoise(X0, EPS, t0);
    const r0 = s.step(e0, t0, x, NO_NOISE, SHAPE);
    assertClose(r0.prevSample, transfer(x, 981, 961, e0), 2e-5, "step 1");
    // The sample passed in is ignored: the step goes again from x, 981 -> 961, with (e0 + e1) / 2.
    const garbage = new Float32Array(N).fill(123);
    const r1 = s.step(e1, t1, garbage, NO_NOISE, SHAPE);
    assertClose(r1.prevSample, transfer(x, 981, 961, combine(0.5, e0, 0.5, e1)), 2e-5, "step 2");
    assert.equal(t2, 961);
    const r2 = s.step(e2, t2, r1.prevSample, NO_NOISE, SHAPE);
    assertClose(r2.prevSample, transfer(r1.prevSample, 961, 941, combine(1.5, e2, -0.5, e0)), 2e-5, "step 3 (AB2)");
  });
  test("with the exact noise a whole run (PLMS or PRK + PLMS) ends on q(x | x_0) at the final alpha", () => {
    for (const skip of [true, false]) {
      for (const one of [false, true]) {
        const s = new PNDMScheduler({ ...SD15, skip_prk_steps: skip, set_alpha_to_one: one });
        s.setTimesteps(20);
        const { latents } = run(s, s.addNoise(X0, EPS, s.timesteps[0]), NO_NOISE, () => EPS);
        const aEnd = one ? 1 : ABAR[0];
        assertClose(latents, combine(Math.sqrt(aEnd), X0, Math.sqrt(1 - aEnd), EPS), 1e-4, `skip_prk=${skip} one=${one}`);
      }
    }
  });
  test("v-prediction is converted to the noise before the transfer", () => {
    const s = new PNDMScheduler({ ...SD15, prediction_type: "v_prediction" });
    s.setTimesteps(10);
    const [t0, t1] = s.timesteps;
    const v = combine(Math.sqrt(ABAR[t0]), EPS, -Math.sqrt(1 - ABAR[t0]), X0);
    const r = s.step(Float32Array.from(v), t0, s.addNoise(X0, EPS, t0), NO_NOISE, SHAPE);
    assertClose(r.prevSample, combine(Math.sqrt(ABAR[t1]), X0, Math.sqrt(1 - ABAR[t1]), EPS), 3e-5, "x_prev");
  });
});

describe("Euler", () => {
  test("scale_model_input divides by sqrt(sigma^2 + 1); the exact noise walks x_0 + sigma eps down to x_0", () => {
    const s = new EulerDiscreteScheduler(SD15);
    s.setTimesteps(12);
    const sig = s.scheduleSigmas;
    let x: Float32Array = Float32Array.from(combine(1, X0, sig[0], EPS));
    s.timesteps.forEach((t, i) => {
      const scaled = s.scaleModelInput(x, t);
      assertClose(scaled, Array.from(x, (v) => v / Math.sqrt(sig[i] * sig[i] + 1)), 1e-6, "scaled");
      const r = s.step(EPS, t, x, NO_NOISE, SHAPE);
      assertClose(r.denoised ?? [], X0, 2e-5, "denoised");
      assertClose(r.prevSample, combine(1, X0, sig[i + 1], EPS), 2e-5, `x at step ${i}`);
      x = r.prevSample;
    });
    assertClose(x, X0, 2e-5, "x_0");
  });
  test("v-prediction: x_0 = c_skip x + c_out v", () => {
    const s = new EulerDiscreteScheduler(SD15, { prediction_type: "v_prediction" });
    s.setTimesteps(8);
    const sig = s.scheduleSigmas;
    const x = Float32Array.from(combine(1, X0, sig[0], EPS));
    const alpha = 1 / Math.sqrt(sig[0] * sig[0] + 1);
    const v = combine(alpha, EPS, -sig[0] * alpha, X0);
    const r = s.step(Float32Array.from(v), s.timesteps[0], x, NO_NOISE, SHAPE);
    assertClose(r.denoised ?? [], X0, 2e-5, "x_0 from v");
  });
  test("a whole run agrees with k-diffusion's sample_euler in float64 (linspace and Karras)", () => {
    for (const karras of [false, true]) {
      const s = new EulerDiscreteScheduler(SD15, { use_karras_sigmas: karras });
      s.setTimesteps(15);
      const sig = Array.from(s.scheduleSigmas);
      const init = Float32Array.from(EPS, (v) => Math.fround(v * s.initNoiseSigma));
      const ours = run(s, init, NO_NOISE, (input, _t, i) => fakeModel(input, i)).latents;
      let x = Array.from(init, Number);
      for (let i = 0; i < sig.length - 1; i++) {
        const eps = fakeModel(x.map((v) => v / Math.sqrt(sig[i] ** 2 + 1)), i);
        const denoised = x.map((v, k) => v - sig[i] * eps[k]);
        x = x.map((v, k) => v + ((v - denoised[k]) / sig[i]) * (sig[i + 1] - sig[i]));
      }
      assertClose(ours, x, 2e-4, `euler karras=${karras}`);
    }
  });
  test("EDM churn draws one noise per churned step, shaped like the output", () => {
    const s = new EulerDiscreteScheduler(SD15, {}, { sChurn: 1, sTmin: 0, sTmax: Number.POSITIVE_INFINITY, sNoise: 1 });
    s.setTimesteps(5);
    const noise = new CountingNoise();
    run(s, Float32Array.from(EPS), noise, () => EPS);
    assert.equal(noise.calls.length, 5);
    assert.deepEqual(noise.calls[0], [...SHAPE]);
  });
  test("img2img: add_noise uses the begin index before the loop and the current step after it starts", () => {
    const s = new EulerDiscreteScheduler(SD15);
    s.setTimesteps(20);
    s.setBeginIndex(8);
    const t = s.timesteps[8];
    assertClose(s.addNoise(X0, EPS, t), combine(1, X0, s.scheduleSigmas[8], EPS), 1e-6, "begin index");
    s.step(EPS, t, X0, NO_NOISE, SHAPE);
    assertClose(s.addNoise(X0, EPS, t), combine(1, X0, s.scheduleSigmas[9], EPS), 1e-6, "step index");
  });
  test("step before set_timesteps is an error", () => {
    assert.throws(() => new EulerDiscreteScheduler(SD15).step(EPS, 999, X0, NO_NOISE, SHAPE), /setTimesteps must be called before step/);
  });
});

describe("Euler a", () => {
  test("one noise draw per step (the last too), shaped like the output, added with sigma_up", () => {
    const s = new EulerAncestralDiscreteScheduler(SD15);
    s.setTimesteps(6);
    const noise = new CountingNoise();
    const sig = s.scheduleSigmas;
    let x: Float32Array = Float32Array.from(combine(1, X0, sig[0], EPS));
    s.timesteps.forEach((t, i) => {
      s.scaleModelInput(x, t);
      // The exact noise of the current latents: x = x_0 + sigma eps.
      const eps = Float32Array.from(x, (v, k) => (v - X0[k]) / sig[i]);
      const r = s.step(eps, t, x, noise, SHAPE);
      assert.equal(noise.calls.length, i + 1, "one draw per step");
      const from = sig[i];
      const to = sig[i + 1];
      const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
      const down = Math.sqrt(to * to - up * up);
      assert.ok(Math.abs(up * up + down * down - to * to) < 1e-9 * Math.max(1, to * to));
      // The deterministic part lands on x_0 + sigma_down eps; fresh noise z adds sigma_up z.
      const expected = Array.from(X0, (v, k) => v + down * eps[k] + up * noise.draws[i][k]);
      assertClose(r.prevSample, expected, 3e-5, `step ${i}`);
      x = r.prevSample;
    });
    assert.deepEqual(noise.calls, Array.from({ length: 6 }, () => [...SHAPE]));
    assertClose(x, X0, 3e-5, "ends on x_0 (sigma_up is 0 at the end)");
  });
  test("v-prediction (SD 2.x configs): x_0 = c_skip x + c_out v", () => {
    const s = createScheduler("euler-a", { ...SD15, _class_name: "DDIMScheduler", prediction_type: "v_prediction" });
    s.setTimesteps(12);
    const sigma = (s as EulerAncestralDiscreteScheduler).scheduleSigmas[0];
    const alpha = 1 / Math.sqrt(sigma * sigma + 1);
    const x = Float32Array.from(combine(1, X0, sigma, EPS));
    const v = Float32Array.from(combine(alpha, EPS, -sigma * alpha, X0));
    const r = s.step(v, s.timesteps[0], x, new CountingNoise(), SHAPE);
    assertClose(r.denoised ?? [], X0, 2e-5, "x_0");
  });
});

describe("LMS", () => {
  test("Gauss-Kronrod: exact for polynomials on one panel, adaptive to 1e-12 otherwise", () => {
    assert.ok(Math.abs(gaussKronrod15((x) => x ** 20, 0, 1).value - 1 / 21) < 1e-15);
    assert.ok(Math.abs(integrate(Math.sin, 0, Math.PI) - 2) < 1e-12);
    assert.ok(Math.abs(integrate((x) => Math.exp(-x * x), -6, 6) - Math.sqrt(Math.PI)) < 1e-12);
  });
  test("coefficients are the integrals of the Lagrange basis through the past sigmas", () => {
    const s = new LMSDiscreteScheduler(SD15);
    s.setTimesteps(10);
    const sig = Array.from(s.scheduleSigmas);
    for (const [order, t] of [[1, 0], [2, 1], [3, 2], [4, 5], [4, 9]] as const) {
      const nodes = Array.from({ length: order }, (_, k) => sig[t - k]);
      for (let c = 0; c < order; c++) {
        const expected = lagrangeIntegral(nodes, c, sig[t], sig[t + 1]);
        assert.ok(Math.abs(s.lmsCoefficient(order, t, c) - expected) < 1e-10, `order ${order} t ${t} c ${c}`);
      }
    }
  });
  test("a whole run agrees with k-diffusion's sample_lms, and the exact noise ends on x_0", () => {
    const s = new LMSDiscreteScheduler(SD15);
    s.setTimesteps(12);
    const sig = Array.from(s.scheduleSigmas);
    const init = Float32Array.from(EPS, (v) => Math.fround(v * s.initNoiseSigma));
    const ours = run(s, init, NO_NOISE, (input, _t, i) => fakeModel(input, i)).latents;
    let x = Array.from(init, Number);
    const ds: number[][] = [];
    for (let i = 0; i < sig.length - 1; i++) {
      const eps = fakeModel(x.map((v) => v / Math.sqrt(sig[i] ** 2 + 1)), i);
      ds.push(eps); // d = (x - (x - sigma eps)) / sigma
      if (ds.length > 4) ds.shift();
      const order = Math.min(i + 1, 4);
      const nodes = Array.from({ length: order }, (_, k) => sig[i - k]);
      const coeffs = Array.from({ length: order }, (_, c) => lagrangeIntegral(nodes, c, sig[i], sig[i + 1]));
      const recent = [...ds].reverse();
      x = x.map((v, k) => v + coeffs.reduce((acc, coeff, c) => acc + coeff * recent[c][k], 0));
    }
    assertClose(ours, x, 2e-4, "sample_lms");

    s.setTimesteps(12);
    const exact = run(s, Float32Array.from(combine(1, X0, sig[0], EPS)), NO_NOISE, () => EPS).latents;
    assertClose(exact, X0, 5e-5, "x_0");
  });
});

describe("DPM-Solver++ 2M", () => {
  test("with the exact noise every step is exact in VP form and the run ends on x_0", () => {
    const s = createScheduler("dpmpp-2m-karras", SD15) as DPMSolverMultistepScheduler;
    s.setTimesteps(12);
    const sig = s.scheduleSigmas;
    const vp = (sigma: number): number[] => {
      const alpha = 1 / Math.sqrt(sigma * sigma + 1);
      return combine(alpha, X0, sigma * alpha, EPS);
    };
    let x: Float32Array = Float32Array.from(vp(sig[0]));
    s.timesteps.forEach((t, i) => {
      const r = s.step(EPS, t, s.scaleModelInput(x, t), NO_NOISE, SHAPE);
      assertClose(r.denoised ?? [], X0, 3e-5, "denoised");
      assertClose(r.prevSample, vp(sig[i + 1]), 5e-5, `step ${i}`);
      x = r.prevSample;
    });
    assertClose(x, X0, 5e-5, "x_0");
  });
  test("whole runs agree with k-diffusion's sample_dpmpp_2m in float64 (12 Karras steps, 20 linspace steps)", () => {
    for (const [name, steps] of [["dpmpp-2m-karras", 12], ["dpmpp-2m", 20]] as const) {
      const s = createScheduler(name, SD15) as DPMSolverMultistepScheduler;
      s.setTimesteps(steps);
      const sig = Array.from(s.scheduleSigmas);
      const init = Float32Array.from(EPS, (v) => Math.fround(v * s.initNoiseSigma));
      const ours = run(s, init, NO_NOISE, (input, _t, i) => fakeModel(input, i)).latents;
      // k-diffusion works on VE latents x_ve = x_vp * sqrt(sigma^2 + 1), with lambda = -log(sigma).
      let x = Array.from(init, (v) => v * Math.sqrt(sig[0] ** 2 + 1));
      let old: number[] | null = null;
      for (let i = 0; i < sig.length - 1; i++) {
        const eps = fakeModel(x.map((v) => v / Math.sqrt(sig[i] ** 2 + 1)), i);
        const denoised = x.map((v, k) => v - sig[i] * eps[k]);
        const h = -Math.log(sig[i + 1]) + Math.log(sig[i]);
        let target = denoised;
        if (old !== null && sig[i + 1] !== 0) {
          const r = (Math.log(sig[i - 1]) - Math.log(sig[i])) / h;
          const prevDenoised: number[] = old;
          target = denoised.map((d, k) => (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * prevDenoised[k]);
        }
        const ratio = sig[i + 1] / sig[i];
        x = x.map((v, k) => ratio * v - Math.expm1(-h) * target[k]);
        old = denoised;
      }
      assertClose(ours, x, 2e-4, name);
    }
  });
  test("add_noise is alpha x_0 + sigma_t eps at the begin index; unsupported variants are refused", () => {
    const s = new DPMSolverMultistepScheduler(SD15);
    s.setTimesteps(20);
    s.setBeginIndex(5);
    const sigma = s.scheduleSigmas[5];
    const alpha = 1 / Math.sqrt(sigma * sigma + 1);
    assertClose(s.addNoise(X0, EPS, s.timesteps[5]), combine(alpha, X0, sigma * alpha, EPS), 1e-6, "add_noise");
    assert.throws(() => new DPMSolverMultistepScheduler({ ...SD15, algorithm_type: "dpmsolver" }), /final_sigmas_type "zero" is not supported with algorithm_type dpmsolver/);
    assert.throws(
      () => new DPMSolverMultistepScheduler({ ...SD15, algorithm_type: "sde-dpmsolver++" }),
      (e: Error) => e.message.startsWith("not supported yet: DPMSolverMultistepScheduler with algorithm_type sde-dpmsolver++"),
    );
  });
  test("orders 1 and 3 and the noise-prediction variant also reproduce x_0 from the exact noise", () => {
    for (const overrides of [{ solver_order: 1 }, { solver_order: 3 }, { algorithm_type: "dpmsolver", final_sigmas_type: "sigma_min", solver_type: "heun" }] as const) {
      const s = new DPMSolverMultistepScheduler(SD15, overrides);
      s.setTimesteps(10);
      const sig = s.scheduleSigmas;
      const alpha0 = 1 / Math.sqrt(sig[0] ** 2 + 1);
      const last = sig[sig.length - 1];
      const alphaEnd = 1 / Math.sqrt(last * last + 1);
      const out = run(s, Float32Array.from(combine(alpha0, X0, sig[0] * alpha0, EPS)), NO_NOISE, () => EPS).latents;
      assertClose(out, combine(alphaEnd, X0, last * alphaEnd, EPS), 1e-4, JSON.stringify(overrides));
    }
  });
});

describe("LCM", () => {
  test("boundary conditions: c_skip = 1, c_out = 0 at t = 0; almost the reverse at t = 999", () => {
    const s = new LCMScheduler(SD15);
    assert.deepEqual(s.boundaryScalings(0), { cSkip: 1, cOut: 0 });
    const { cSkip, cOut } = s.boundaryScalings(999);
    assert.ok(Math.abs(cSkip - 0.25 / (9990 ** 2 + 0.25)) < 1e-12);
    assert.ok(Math.abs(cOut - 9990 / Math.sqrt(9990 ** 2 + 0.25)) < 1e-7);
  });
  test("noise is drawn for every step but the last; the last step's output is the denoised estimate", () => {
    const s = createScheduler("default", { ...SD15, _class_name: "LCMScheduler" }) as LCMScheduler;
    s.setTimesteps(4);
    const noise = new CountingNoise();
    let x = s.addNoise(X0, EPS, 999);
    s.timesteps.forEach((t, i) => {
      // The exact noise of the current latents: x = sqrt(abar) x_0 + sqrt(1 - abar) eps.
      const eps = Float32Array.from(x, (v, k) => (v - Math.sqrt(ABAR[t]) * X0[k]) / Math.sqrt(1 - ABAR[t]));
      const r = s.step(eps, t, x, noise, SHAPE);
      const { cSkip, cOut } = s.boundaryScalings(t);
      const denoised = combine(cOut, X0, cSkip, x);
      assertClose(r.denoised ?? [], denoised, 3e-5, `denoised ${i}`);
      const next = s.timesteps[i + 1];
      if (next === undefined) {
        assert.equal(noise.calls.length, 3);
        assert.deepEqual(Array.from(r.prevSample), Array.from(r.denoised ?? []), "last step returns denoised");
      } else {
        assert.equal(noise.calls.length, i + 1);
        assert.deepEqual(noise.calls[i], [...SHAPE]);
        const renoised = combine(Math.sqrt(ABAR[next]), denoised, Math.sqrt(1 - ABAR[next]), noise.draws[i]);
        assertClose(r.prevSample, renoised, 3e-5, `re-noised ${i}`);
      }
      x = r.prevSample;
    });
  });
});
