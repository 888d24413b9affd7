// Schedules, configs and the scheduler factory: timesteps and sigmas checked against values derived
// independently (closed-form float64 formulas, published SD numbers, hand-computed spacings).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { alphasCumprodOf, betasFor, noiseSchedule, rescaleZeroTerminalSnr, spacedTimesteps } from "../../extension/engine/schedulers/betas";
import { DDIM_SCHEMA, EULER_DISCRETE_SCHEMA, fromConfig, LCM_SCHEMA, PNDM_SCHEMA } from "../../extension/engine/schedulers/config";
import { createScheduler, samplerLabel, SCHEDULER_NAMES, type SchedulerName, schedulerNameForClass } from "../../extension/engine/schedulers/index";
import { DDIMScheduler } from "../../extension/engine/schedulers/ddim";
import { DPMSolverMultistepScheduler } from "../../extension/engine/schedulers/dpmSolverMultistep";
import { EulerAncestralDiscreteScheduler } from "../../extension/engine/schedulers/eulerAncestralDiscrete";
import { EulerDiscreteScheduler } from "../../extension/engine/schedulers/eulerDiscrete";
import { LCMScheduler } from "../../extension/engine/schedulers/lcm";
import { LMSDiscreteScheduler } from "../../extension/engine/schedulers/lmsDiscrete";
import { PNDMScheduler } from "../../extension/engine/schedulers/pndm";
import { npArange, npLinspace, roundHalfEven } from "../../extension/engine/schedulers/numerics";
import { indexForTimestep, sigmaToT, logSigmasOf, trainingSigmas } from "../../extension/engine/schedulers/sigmas";
import { SD15 } from "../helpers/schedulerConfigs";

/** SD's training sigmas in float64 straight from the definition: beta_i = lerp(sqrt(b0), sqrt(b1))^2. */
function sdSigmas64(): number[] {
  const T = 1000;
  const r0 = Math.sqrt(0.00085);
  const r1 = Math.sqrt(0.012);
  let abar = 1;
  const out: number[] = [];
  for (let i = 0; i < T; i++) {
    const beta = (r0 + ((r1 - r0) * i) / (T - 1)) ** 2;
    abar *= 1 - beta;
    out.push(Math.sqrt((1 - abar) / abar));
  }
  return out;
}

function close(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), 1e-12), `${what}: ${actual} vs ${expected}`);
}

const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

describe("numpy numerics", () => {
  test("round half to even, as np.round", () => {
    assert.deepEqual([0.5, 1.5, 2.5, 498.5, 499.5, -1.5, 3.4999, 3.5001].map(roundHalfEven), [0, 2, 2, 498, 500, -2, 3, 4]);
  });
  test("linspace pins the end point and arange with a float step", () => {
    const l = npLinspace(0, 999, 20);
    assert.equal(l[19], 999);
    assert.equal(l[1], 999 / 19);
    // np.arange(1000, 0, -1000/3) has 3 elements; the last one is not exactly 1000/3.
    const a = npArange(1000, 0, -1000 / 3);
    assert.equal(a.length, 3);
    close(a[2], 1000 / 3, 1e-12, "arange[2]");
  });
});

describe("noise schedule (betas.ts)", () => {
  test("scaled_linear alphas_cumprod match the float64 definition; SD's sigma range is 0.0292..14.6146", () => {
    const { alphasCumprod } = noiseSchedule({ ...SD15, beta_schedule: "scaled_linear", trained_betas: null }, "test");
    const sigmas = trainingSigmas(alphasCumprod);
    const ref = sdSigmas64();
    for (const i of [0, 1, 10, 250, 500, 750, 998, 999]) close(sigmas[i], ref[i], 2e-5, `sigma[${i}]`);
    close(sigmas[999], 14.6146, 1e-4, "sigma_max");
    close(sigmas[0], 0.0292, 5e-3, "sigma_min");
  });
  test("linear betas run from beta_start to beta_end; trained_betas are taken as given", () => {
    const betas = betasFor({ num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: "linear", trained_betas: null }, "t");
    assert.equal(betas[0], Math.fround(0.0001));
    assert.equal(betas[999], Math.fround(0.02));
    close(betas[500], 0.0001 + (0.0199 * 500) / 999, 1e-6, "beta[500]");
    const trained = betasFor({ num_train_timesteps: 3, beta_start: 0, beta_end: 0, beta_schedule: "linear", trained_betas: [0.1, 0.2, 0.3] }, "t");
    assert.deepEqual(Array.from(trained), [0.1, 0.2, 0.3].map(Math.fround));
    assert.throws(
      () => betasFor({ num_train_timesteps: 4, beta_start: 0, beta_end: 0, beta_schedule: "linear", trained_betas: [0.1] }, "X"),
      /trained_betas has 1 values but num_train_timesteps is 4/,
    );
  });
  test("squaredcos_cap_v2 follows the Glide cosine alpha-bar, capped at 0.999", () => {
    const betas = betasFor({ num_train_timesteps: 1000, beta_start: 0, beta_end: 0, beta_schedule: "squaredcos_cap_v2", trained_betas: null }, "t");
    const abar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    close(betas[0], 1 - abar(0.001) / abar(0), 1e-6, "beta[0]");
    close(betas[500], 1 - abar(0.501) / abar(0.5), 1e-6, "beta[500]");
    assert.equal(betas[999], Math.fround(0.999));
  });
  test("rescale_betas_zero_snr: terminal alpha-bar is 0, the first is unchanged", () => {
    const betas = betasFor({ ...SD15, beta_schedule: "scaled_linear", trained_betas: null }, "t");
    const before = alphasCumprodOf(betas);
    const after = alphasCumprodOf(rescaleZeroTerminalSnr(betas));
    assert.equal(after[999], 0);
    close(after[0], before[0], 1e-6, "alpha-bar[0]");
    assert.ok(after[500] < before[500]);
  });
  test("spacings: linspace / leading (+ steps_offset) / trailing", () => {
    assert.deepEqual(spacedTimesteps("linspace", 1000, 10, 1, false), range(10, (i) => 999 - 111 * i));
    assert.deepEqual(spacedTimesteps("leading", 1000, 10, 1, false), range(10, (i) => 901 - 100 * i));
    assert.deepEqual(spacedTimesteps("trailing", 1000, 4, 1, false), [999, 749, 499, 249]);
    assert.deepEqual(spacedTimesteps("trailing", 1000, 1, 0, false), [999]);
    assert.deepEqual(spacedTimesteps("linspace", 1000, 3, 0, true), [999, 500, 0]);
  });
});

describe("timesteps and sigmas per scheduler (SD 1.5 config)", () => {
  test("Euler, linspace: 999 first, sigmas interpolated, init_noise_sigma = sigma_max", () => {
    const s = new EulerDiscreteScheduler(SD15);
    s.setTimesteps(10);
    assert.deepEqual(s.timesteps, range(10, (i) => 999 - 111 * i));
    const ref = sdSigmas64();
    const sig = s.scheduleSigmas;
    assert.equal(sig.length, 11);
    assert.equal(sig[10], 0);
    close(sig[1], ref[888], 2e-5, "sigma at t=888");
    close(s.initNoiseSigma, 14.6146, 1e-4, "init_noise_sigma");

    s.setTimesteps(20);
    const t1 = 999 - 999 / 19;
    assert.equal(s.timesteps[1], Math.fround(t1), "float32 timestep");
    const frac = Math.fround(t1) - 946;
    close(s.scheduleSigmas[1], ref[946] + frac * (ref[947] - ref[946]), 3e-5, "interpolated sigma");
  });
  test("Euler, leading spacing: init_noise_sigma = sqrt(sigma_max^2 + 1); trailing 1 step = [999]", () => {
    const lead = new EulerDiscreteScheduler(SD15, { timestep_spacing: "leading" });
    lead.setTimesteps(10);
    assert.deepEqual(lead.timesteps, range(10, (i) => 901 - 100 * i));
    const max = lead.scheduleSigmas[0];
    close(lead.initNoiseSigma, Math.sqrt(max * max + 1), 1e-6, "leading init sigma");

    const turbo = createScheduler("default", { ...SD15, _class_name: "EulerDiscreteScheduler", timestep_spacing: "trailing" });
    turbo.setTimesteps(1);
    assert.deepEqual(turbo.timesteps, [999]);
    close(turbo.initNoiseSigma, 14.6146, 1e-4, "trailing init sigma");
  });
  test("Euler with Karras sigmas: rho=7 between the schedule's end sigmas; timesteps from sigma_to_t", () => {
    const s = new EulerDiscreteScheduler(SD15, { use_karras_sigmas: true });
    s.setTimesteps(11);
    const sig = s.scheduleSigmas;
    const ref = sdSigmas64();
    close(sig[0], ref[999], 2e-5, "Karras sigma_max");
    close(sig[10], ref[0], 2e-5, "Karras sigma_min");
    assert.equal(sig[11], 0);
    const mid = ((ref[999] ** (1 / 7) + ref[0] ** (1 / 7)) / 2) ** 7;
    close(sig[5], mid, 2e-5, "Karras midpoint");
    close(s.timesteps[0], 999, 1e-5, "first timestep");
    close(s.timesteps[10], 0, 1e-9, "last timestep");
    assert.equal(s.karras, true);
    // Each timestep maps back to its sigma through the training table.
    const logs = logSigmasOf(trainingSigmas(noiseSchedule({ ...SD15, trained_betas: null }, "t").alphasCumprod));
    close(sigmaToT(ref[500], logs), 500, 1e-4, "sigma_to_t(sigma_500)");
  });
  test("Euler a and LMS use the same linspace schedule; LMS can use Karras", () => {
    const a = new EulerAncestralDiscreteScheduler(SD15);
    a.setTimesteps(10);
    assert.deepEqual(a.timesteps, range(10, (i) => 999 - 111 * i));
    const l = new LMSDiscreteScheduler(SD15);
    l.setTimesteps(10);
    assert.deepEqual(Array.from(l.scheduleSigmas), Array.from(a.scheduleSigmas));
    const lk = new LMSDiscreteScheduler(SD15, { use_karras_sigmas: true });
    lk.setTimesteps(8);
    close(lk.scheduleSigmas[0], 14.6146, 1e-4, "LMS Karras sigma_max");
    assert.equal(lk.karras, true);
  });
  test("DDIM: leading 20 steps with steps_offset 1 -> 951, 901, ..., 1", () => {
    const s = new DDIMScheduler(SD15);
    s.setTimesteps(20);
    assert.deepEqual(s.timesteps, range(20, (i) => 951 - 50 * i));
    assert.equal(s.initNoiseSigma, 1);
  });
  test("PNDM (PLMS only): 50 steps -> 981, 961, 961, 941, ..., 1", () => {
    const s = new PNDMScheduler(SD15);
    s.setTimesteps(50);
    const expected = [981, ...range(49, (i) => 961 - 20 * i)];
    expected.splice(2, 0, 961);
    assert.deepEqual(s.timesteps, expected);
    assert.equal(s.timesteps.length, 51);
  });
  test("PNDM with Runge-Kutta warm-up: 12 PRK timesteps with half-step midpoints, then PLMS", () => {
    const s = new PNDMScheduler({ ...SD15, skip_prk_steps: false });
    s.setTimesteps(10);
    assert.deepEqual(s.timesteps, [901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1]);
  });
  test("DPM-Solver: n+1 linspace points minus the last; Karras endpoints are the training sigma range", () => {
    const s = new DPMSolverMultistepScheduler(SD15);
    s.setTimesteps(20);
    assert.deepEqual(s.timesteps, [999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50]);
    assert.equal(s.initNoiseSigma, 1);
    const k = createScheduler("dpmpp-2m-karras", SD15) as DPMSolverMultistepScheduler;
    k.setTimesteps(12);
    const ref = sdSigmas64();
    close(k.scheduleSigmas[0], ref[999], 2e-5, "sigma_max");
    close(k.scheduleSigmas[11], ref[0], 2e-5, "sigma_min");
    assert.equal(k.scheduleSigmas[12], 0);
    assert.equal(k.timesteps[0], 999);
    assert.equal(k.timesteps[11], 0);
    assert.ok(k.timesteps.every((t) => Number.isInteger(t)));
  });
  test("LCM: 4 steps -> 999, 759, 499, 259; strength keeps the low part of the distillation schedule", () => {
    const s = new LCMScheduler({ ...SD15, _class_name: "LCMScheduler" });
    s.setTimesteps(4);
    assert.deepEqual(s.timesteps, [999, 759, 499, 259]);
    s.setTimesteps(4, { strength: 0.5 });
    assert.deepEqual(s.timesteps, [499, 379, 259, 139]);
    assert.throws(() => s.setTimesteps(60), /60 steps is more than the 50/);
    assert.throws(() => s.setTimesteps(8, { strength: 0.1 }), /strength of at least/);
  });
  test("index_for_timestep takes the second of two equal timesteps (img2img never skips a sigma)", () => {
    assert.equal(indexForTimestep([981, 961, 961, 941], 961, "t"), 2);
    assert.equal(indexForTimestep([981, 961, 941], 961, "t"), 1);
    assert.throws(() => indexForTimestep([981], 5, "X"), /X: timestep 5 is not one/);
  });
});

describe("from_config semantics (config.ts)", () => {
  test("missing fields take the class's own defaults", () => {
    const bare = { _class_name: "Whatever" };
    const ddim = fromConfig("DDIMScheduler", DDIM_SCHEMA, bare);
    assert.equal(ddim.clip_sample, true);
    assert.equal(ddim.set_alpha_to_one, true);
    assert.equal(ddim.timestep_spacing, "leading");
    const pndm = fromConfig("PNDMScheduler", PNDM_SCHEMA, bare);
    assert.equal(pndm.skip_prk_steps, false);
    assert.equal(pndm.set_alpha_to_one, false);
    assert.equal(pndm.timestep_spacing, "leading");
    const euler = fromConfig("EulerDiscreteScheduler", EULER_DISCRETE_SCHEMA, bare);
    assert.equal(euler.timestep_spacing, "linspace");
    assert.equal(euler.final_sigmas_type, "zero");
    assert.equal(euler.beta_schedule, "linear");
    const lcm = fromConfig("LCMScheduler", LCM_SCHEMA, bare);
    assert.equal(lcm.beta_schedule, "scaled_linear");
    assert.equal(lcm.beta_start, 0.00085);
    assert.equal(lcm.original_inference_steps, 50);
    assert.equal(lcm.timestep_scaling, 10);
  });
  test("switching class keeps the file's fields but not the old class's defaults", () => {
    // SD 1.5's PNDM config has no timestep_spacing: Euler gets its own "linspace", DDIM its own "leading".
    const euler = new EulerDiscreteScheduler(SD15);
    assert.equal(euler.config.timestep_spacing, "linspace");
    assert.equal(euler.config.steps_offset, 1);
    assert.equal(euler.config.beta_schedule, "scaled_linear");
    const ddim = new DDIMScheduler(SD15);
    assert.equal(ddim.config.clip_sample, false, "clip_sample from the file");
    assert.equal(ddim.config.set_alpha_to_one, false, "set_alpha_to_one from the file");
    // Values diffusers recorded as defaults (_use_default_values) are not carried over.
    const saved = { ...SD15, timestep_spacing: "leading", _use_default_values: ["timestep_spacing"] };
    assert.equal(new EulerDiscreteScheduler(saved).config.timestep_spacing, "linspace");
  });
  test("unknown or mistyped values are one-line errors that say what is wrong", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...SD15, prediction_type: "x0" }, /^scheduler\/scheduler_config\.json: prediction_type "x0" is not valid for EulerDiscreteScheduler \(expected one of epsilon/],
      [{ ...SD15, beta_schedule: "cosine" }, /beta_schedule "cosine" is not valid .* linear, scaled_linear, squaredcos_cap_v2/],
      [{ ...SD15, timestep_spacing: "even" }, /timestep_spacing "even" is not valid .* linspace, leading, trailing/],
      [{ ...SD15, steps_offset: 0.5 }, /steps_offset must be a whole number from 0 to 1000 \(got 0.5\)/],
    ];
    for (const [config, pattern] of cases) {
      assert.throws(() => createScheduler("euler", config), (e: Error) => pattern.test(e.message) && !e.message.includes("\n"));
    }
    assert.throws(() => createScheduler("euler-a", { ...SD15, prediction_type: "sample" }), /prediction_type "sample" is not valid for EulerAncestralDiscreteScheduler/);
  });
});

describe("config bounds: numbers no diffusers model uses are refused up front", () => {
  const FILE = /^scheduler\/scheduler_config\.json: /;
  /** JSON as a hostile file holds it: 1e999 parses as Infinity, which JSON.stringify cannot write. */
  const parsed = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["huge num_train_timesteps", { num_train_timesteps: 2e9 }, /num_train_timesteps must be a whole number from 2 to 10000 \(got 2000000000\)/],
    ["negative beta_start", { beta_start: -0.1 }, /beta_start must be a number above 0 and below 1 \(got -0.1\)/],
    ["beta_end above 1", { beta_end: 1.5 }, /beta_end must be a number above 0 and below 1 \(got 1.5\)/],
    ["infinite beta_end", parsed('{"beta_end": 1e999}'), /beta_end must be .* \(got Infinity\)/],
    ["a negative trained beta", { trained_betas: [0.1, -0.2, 0.3], num_train_timesteps: 3 }, /trained_betas\[1\] must be a number above 0 and below 1 \(got -0.2\)/],
    ["too many trained betas", { trained_betas: new Array<number>(20000).fill(0.01) }, /trained_betas must hold at most 10000 values \(got 20000\)/],
    ["trained betas not matching the timesteps", { trained_betas: [0.1, 0.2] }, /trained_betas has 2 values but num_train_timesteps is 1000/],
    ["huge steps_offset", { steps_offset: 1e6 }, /steps_offset must be a whole number from 0 to 1000 \(got 1000000\)/],
    ["steps_offset past the schedule", { steps_offset: 100, num_train_timesteps: 100 }, /steps_offset 100 must be below num_train_timesteps 100/],
    ["a string for a number", { beta_start: "0.1" }, /beta_start must be a number above 0 and below 1 \(got "0.1"\)/],
  ];
  for (const [what, patch, pattern] of cases) {
    test(`${what}: every sampler refuses it, naming the field and the file`, () => {
      for (const name of SCHEDULER_NAMES) {
        assert.throws(
          () => createScheduler(name, { ...SD15, ...patch }).setTimesteps(4),
          (e: Error) => FILE.test(e.message) && pattern.test(e.message) && !e.message.includes("\n") && /download the model again$/.test(e.message),
          name,
        );
      }
    });
  }
  test("each class's own numeric fields are bounded too", () => {
    const perClass: [SchedulerName | "default", Record<string, unknown>, RegExp][] = [
      ["default", { _class_name: "DPMSolverMultistepScheduler", solver_order: 7 }, /solver_order must be a whole number from 1 to 3 \(got 7\)/],
      ["dpmpp-2m", { flow_shift: -1 }, /flow_shift must be a number above 0 and below 1000/],
      ["dpmpp-2m", parsed('{"lambda_min_clipped": 1e999}'), /lambda_min_clipped must be a number from -1000 to 1000 \(got Infinity\)/],
      ["dpmpp-2m", { sample_max_value: 0 }, /sample_max_value must be a number above 0/],
      ["ddim", { clip_sample_range: -1 }, /clip_sample_range must be a number above 0/],
      ["ddim", { dynamic_thresholding_ratio: 2 }, /dynamic_thresholding_ratio must be a number from 0 to 1 \(got 2\)/],
      ["euler", parsed('{"sigma_max": 1e999}'), /sigma_max must be a number above 0 and below 10000 \(got Infinity\)/],
      ["euler", { sigma_min: -1 }, /sigma_min must be a number above 0/],
      ["lcm", { original_inference_steps: 1e7 }, /original_inference_steps must be a whole number from 1 to 1000 \(got 10000000\)/],
      ["lcm", { timestep_scaling: 0 }, /timestep_scaling must be a number above 0/],
    ];
    for (const [name, patch, pattern] of perClass) {
      assert.throws(() => createScheduler(name, { ...SD15, ...patch }), (e: Error) => FILE.test(e.message) && pattern.test(e.message), JSON.stringify(patch));
    }
  });
  test("values real configs hold still load: -inf lambda_min_clipped, 0.999 betas, 10000 timesteps", () => {
    const dpm = createScheduler("dpmpp-2m", { ...SD15, ...parsed('{"lambda_min_clipped": -1e999}') }) as DPMSolverMultistepScheduler;
    assert.equal(dpm.config.lambda_min_clipped, Number.NEGATIVE_INFINITY);
    createScheduler("euler", { ...SD15, lambda_min_clipped: -5.1, beta_end: 0.999, num_train_timesteps: 10000, steps_offset: 0 }).setTimesteps(4);
  });
});

describe("createScheduler / names / labels (index.ts)", () => {
  test("default keeps the configured class", () => {
    const cases: [string, abstract new (...args: never[]) => unknown][] = [
      ["PNDMScheduler", PNDMScheduler],
      ["DDIMScheduler", DDIMScheduler],
      ["EulerDiscreteScheduler", EulerDiscreteScheduler],
      ["EulerAncestralDiscreteScheduler", EulerAncestralDiscreteScheduler],
      ["LMSDiscreteScheduler", LMSDiscreteScheduler],
      ["DPMSolverMultistepScheduler", DPMSolverMultistepScheduler],
      ["LCMScheduler", LCMScheduler],
    ];
    for (const [className, ctor] of cases) assert.ok(createScheduler("default", { ...SD15, _class_name: className }) instanceof ctor, className);
    // A DPM-Solver config keeps its own order under `default`.
    const third = createScheduler("default", { ...SD15, _class_name: "DPMSolverMultistepScheduler", solver_order: 3 }) as DPMSolverMultistepScheduler;
    assert.equal(third.config.solver_order, 3);
  });
  test("an unsupported class is a 'not supported yet' error; a missing one is a config error", () => {
    assert.throws(
      () => createScheduler("default", { ...SD15, _class_name: "HeunDiscreteScheduler" }),
      (e: Error) => e.message.startsWith("not supported yet: scheduler class HeunDiscreteScheduler"),
    );
    assert.throws(() => createScheduler("default", { beta_start: 0.1 }), /no _class_name/);
    assert.throws(
      () => schedulerNameForClass("UniPCMultistepScheduler"),
      (e: Error) => e.message === "not supported yet: scheduler class UniPCMultistepScheduler",
    );
  });
  test("names switch the algorithm; dpmpp-2m forces dpmsolver++ order 2 and the Karras flag", () => {
    const plain = createScheduler("dpmpp-2m", { ...SD15, use_karras_sigmas: true, solver_order: 3, algorithm_type: "dpmsolver" }) as DPMSolverMultistepScheduler;
    assert.equal(plain.karras, false);
    assert.equal(plain.config.solver_order, 2);
    assert.equal(plain.config.algorithm_type, "dpmsolver++");
    const karras = createScheduler("dpmpp-2m-karras", SD15);
    assert.equal(karras.karras, true);
    assert.ok(createScheduler("euler-a", SD15) instanceof EulerAncestralDiscreteScheduler);
    assert.ok(createScheduler("lms", SD15) instanceof LMSDiscreteScheduler);
    assert.ok(createScheduler("lcm", SD15) instanceof LCMScheduler);
    for (const name of SCHEDULER_NAMES) assert.equal(typeof createScheduler(name, SD15).setTimesteps, "function");
  });
  test("class -> name and A1111 labels", () => {
    assert.equal(schedulerNameForClass("PNDMScheduler"), "pndm");
    assert.equal(schedulerNameForClass("EulerAncestralDiscreteScheduler"), "euler-a");
    assert.equal(schedulerNameForClass("DPMSolverMultistepScheduler"), "dpmpp-2m");
    assert.equal(schedulerNameForClass("DPMSolverMultistepScheduler", { use_karras_sigmas: true }), "dpmpp-2m-karras");
    assert.equal(schedulerNameForClass("LCMScheduler"), "lcm");
    const labels = SCHEDULER_NAMES.map((n) => samplerLabel(n));
    assert.deepEqual(labels, ["Euler", "Euler a", "DDIM", "PLMS", "LMS", "DPM++ 2M", "DPM++ 2M", "LCM"]);
  });
});
