// scheduler_config.json -> a typed config per scheduler class, with diffusers' `from_config` semantics:
// a class takes only the fields its `__init__` accepts, every field the file does not give gets THAT
// class's own default (defaults differ between classes), and fields meant for other classes are ignored.
// Keys listed in `_use_default_values` (diffusers' record of which values were defaults, not read from a
// file) are dropped first, as `extract_init_dict` does, so they cannot leak across classes.
//
// The defaults below are the `__init__` signatures of diffusers v0.35.

import { checkNumber, configError, describeValue, type NumberRange } from "../model/jsonFile";
import { BETA_SCHEDULES, SCHEDULER_CONFIG_FILE, TIMESTEP_SPACINGS } from "./betas";

interface FieldSpec<T> {
  readonly defaultValue: T;
  /** Validates a value read from the file (the key is for messages). */
  parse(value: unknown, key: string, className: string): T;
}

type Schema = Record<string, FieldSpec<unknown>>;
export type ConfigOf<S extends Schema> = { readonly [K in keyof S]: S[K] extends FieldSpec<infer T> ? T : never };

function invalid(className: string, key: string, value: unknown, expected: string): Error {
  return configError(SCHEDULER_CONFIG_FILE, `${key} ${describeValue(value)} is not valid for ${className} (expected ${expected})`);
}

// Bounds of the numeric fields: generous around every diffusers config seen (1000 training timesteps,
// betas near 1e-4..2e-2, steps_offset 0 or 1, ranges of 1.0, sigma_max 14.6 for SD and 80 for EDM
// models). Anything outside is a damaged or hostile file: unbounded it allocates gigabytes
// (num_train_timesteps 2e9) or turns every latent to NaN (a negative or infinite beta).
const TRAIN_TIMESTEPS: NumberRange = { min: 2, max: 10000, integer: true };
const BETA: NumberRange = { min: 0, max: 1, exclusive: true };
const STEPS_OFFSET: NumberRange = { min: 0, max: 1000, integer: true };
export const INFERENCE_STEPS: NumberRange = { min: 1, max: 1000, integer: true };
const SOLVER_ORDER: NumberRange = { min: 1, max: 3, integer: true };
const SAMPLE_RANGE: NumberRange = { min: 0, max: 1000, exclusive: true };
const RATIO: NumberRange = { min: 0, max: 1 };
const SIGMA: NumberRange = { min: 0, max: 10000, exclusive: true };
const SCALE: NumberRange = { min: 0, max: 1000, exclusive: true };
const LAMBDA: NumberRange = { min: -1000, max: 1000 };

function numberField(defaultValue: number, range: NumberRange): FieldSpec<number> {
  return {
    defaultValue,
    parse: (value, key) => checkNumber(value, SCHEDULER_CONFIG_FILE, key, range),
  };
}

function booleanField(defaultValue: boolean): FieldSpec<boolean> {
  return {
    defaultValue,
    parse(value, key, className) {
      if (typeof value !== "boolean") throw invalid(className, key, value, "true or false");
      return value;
    },
  };
}

function optionalNumberField(range: NumberRange): FieldSpec<number | null> {
  return {
    defaultValue: null,
    parse: (value, key) => (value === null ? null : checkNumber(value, SCHEDULER_CONFIG_FILE, key, range)),
  };
}

/** lambda_min_clipped: diffusers' default is -inf (no clipping), which a file can only write as -1e999. */
function lambdaField(): FieldSpec<number> {
  return {
    defaultValue: Number.NEGATIVE_INFINITY,
    parse: (value, key) => (value === Number.NEGATIVE_INFINITY ? value : checkNumber(value, SCHEDULER_CONFIG_FILE, key, LAMBDA)),
  };
}

function optionalStringField(): FieldSpec<string | null> {
  return {
    defaultValue: null,
    parse(value, key, className) {
      if (value === null || typeof value === "string") return value;
      throw invalid(className, key, value, "a string or null");
    },
  };
}

/** Every value a beta (its length is checked against num_train_timesteps when the schedule is built). */
function trainedBetasField(): FieldSpec<readonly number[] | null> {
  return {
    defaultValue: null,
    parse(value, key, className) {
      if (value === null) return null;
      if (!Array.isArray(value)) throw invalid(className, key, value, "a list of numbers or null");
      if (value.length > TRAIN_TIMESTEPS.max) {
        throw configError(SCHEDULER_CONFIG_FILE, `${key} must hold at most ${TRAIN_TIMESTEPS.max} values (got ${value.length})`);
      }
      return value.map((v: unknown, i) => checkNumber(v, SCHEDULER_CONFIG_FILE, `${key}[${i}]`, BETA));
    },
  };
}

/** A string field whose value must be one of `choices` (an unknown one is an error that names them). */
function choiceField<const C extends readonly string[]>(choices: C, defaultValue: C[number]): FieldSpec<C[number]> {
  return {
    defaultValue,
    parse(value, key, className) {
      if (typeof value === "string" && (choices as readonly string[]).includes(value)) return value as C[number];
      throw invalid(className, key, value, `one of ${choices.join(", ")}`);
    },
  };
}

// ---- the fields every class shares (defaults included: they are the same in every class below except LCM) ----

function noiseScheduleFields(betaStart: number, betaEnd: number, betaSchedule: (typeof BETA_SCHEDULES)[number]) {
  return {
    num_train_timesteps: numberField(1000, TRAIN_TIMESTEPS),
    beta_start: numberField(betaStart, BETA),
    beta_end: numberField(betaEnd, BETA),
    beta_schedule: choiceField(BETA_SCHEDULES, betaSchedule),
    trained_betas: trainedBetasField(),
  };
}

// ---- per-class schemas (diffusers v0.35 `__init__` defaults) ----

export const EULER_DISCRETE_SCHEMA = {
  ...noiseScheduleFields(0.0001, 0.02, "linear"),
  prediction_type: choiceField(["epsilon", "v_prediction", "sample", "original_sample"] as const, "epsilon"),
  interpolation_type: choiceField(["linear", "log_linear"] as const, "linear"),
  use_karras_sigmas: booleanField(false),
  use_exponential_sigmas: booleanField(false),
  use_beta_sigmas: booleanField(false),
  sigma_min: optionalNumberField(SIGMA),
  sigma_max: optionalNumberField(SIGMA),
  timestep_spacing: choiceField(TIMESTEP_SPACINGS, "linspace"),
  timestep_type: choiceField(["discrete", "continuous"] as const, "discrete"),
  steps_offset: numberField(0, STEPS_OFFSET),
  rescale_betas_zero_snr: booleanField(false),
  final_sigmas_type: choiceField(["zero", "sigma_min"] as const, "zero"),
};
export type EulerDiscreteConfig = ConfigOf<typeof EULER_DISCRETE_SCHEMA>;

export const EULER_ANCESTRAL_SCHEMA = {
  ...noiseScheduleFields(0.0001, 0.02, "linear"),
  // diffusers accepts "sample" in the config but raises in `step`: refuse it up front instead.
  prediction_type: choiceField(["epsilon", "v_prediction"] as const, "epsilon"),
  timestep_spacing: choiceField(TIMESTEP_SPACINGS, "linspace"),
  steps_offset: numberField(0, STEPS_OFFSET),
  rescale_betas_zero_snr: booleanField(false),
};
export type EulerAncestralConfig = ConfigOf<typeof EULER_ANCESTRAL_SCHEMA>;

export const DDIM_SCHEMA = {
  ...noiseScheduleFields(0.0001, 0.02, "linear"),
  clip_sample: booleanField(true),
  set_alpha_to_one: booleanField(true),
  steps_offset: numberField(0, STEPS_OFFSET),
  prediction_type: choiceField(["epsilon", "v_prediction", "sample"] as const, "epsilon"),
  thresholding: booleanField(false),
  dynamic_thresholding_ratio: numberField(0.995, RATIO),
  clip_sample_range: numberField(1.0, SAMPLE_RANGE),
  sample_max_value: numberField(1.0, SAMPLE_RANGE),
  timestep_spacing: choiceField(TIMESTEP_SPACINGS, "leading"),
  rescale_betas_zero_snr: booleanField(false),
};
export type DDIMConfig = ConfigOf<typeof DDIM_SCHEMA>;

export const PNDM_SCHEMA = {
  ...noiseScheduleFields(0.0001, 0.02, "linear"),
  skip_prk_steps: booleanField(false),
  set_alpha_to_one: booleanField(false),
  prediction_type: choiceField(["epsilon", "v_prediction"] as const, "epsilon"),
  timestep_spacing: choiceField(TIMESTEP_SPACINGS, "leading"),
  steps_offset: numberField(0, STEPS_OFFSET),
};
export type PNDMConfig = ConfigOf<typeof PNDM_SCHEMA>;

export const LMS_DISCRETE_SCHEMA = {
  ...noiseScheduleFields(0.0001, 0.02, "linear"),
  use_karras_sigmas: booleanField(false),
  use_exponential_sigmas: booleanField(false),
  use_beta_sigmas: booleanField(false),
  prediction_type: choiceField(["epsilon", "v_prediction", "sample"] as const, "epsilon"),
  timestep_spacing: choiceField(TIMESTEP_SPACINGS, "linspace"),
  steps_offset: numberField(0, STEPS_OFFSET),
};
export type LMSDiscreteConfig = ConfigOf<typeof LMS_DISCRETE_SCHEMA>;

export const DPM_SOLVER_MULTISTEP_SCHEMA = {
  ...noiseScheduleFields(0.0001, 0.02, "linear"),
  solver_order: numberField(2, SOLVER_ORDER),
  prediction_type: choiceField(["epsilon", "v_prediction", "sample", "flow_prediction"] as const, "epsilon"),
  thresholding: booleanField(false),
  dynamic_thresholding_ratio: numberField(0.995, RATIO),
  sample_max_value: numberField(1.0, SAMPLE_RANGE),
  // "deis" is a deprecated alias diffusers maps to dpmsolver++.
  algorithm_type: choiceField(["dpmsolver++", "dpmsolver", "sde-dpmsolver++", "sde-dpmsolver", "deis"] as const, "dpmsolver++"),
  // logrho / bh1 / bh2 are other solvers' names diffusers maps to midpoint.
  solver_type: choiceField(["midpoint", "heun", "logrho", "bh1", "bh2"] as const, "midpoint"),
  lower_order_final: booleanField(true),
  euler_at_final: booleanField(false),
  use_karras_sigmas: booleanField(false),
  use_exponential_sigmas: booleanField(false),
  use_beta_sigmas: booleanField(false),
  use_lu_lambdas: booleanField(false),
  use_flow_sigmas: booleanField(false),
  flow_shift: numberField(1.0, SCALE),
  final_sigmas_type: choiceField(["zero", "sigma_min"] as const, "zero"),
  lambda_min_clipped: lambdaField(),
  variance_type: optionalStringField(),
  timestep_spacing: choiceField(TIMESTEP_SPACINGS, "linspace"),
  steps_offset: numberField(0, STEPS_OFFSET),
  rescale_betas_zero_snr: booleanField(false),
};
export type DPMSolverMultistepConfig = ConfigOf<typeof DPM_SOLVER_MULTISTEP_SCHEMA>;

export const LCM_SCHEMA = {
  ...noiseScheduleFields(0.00085, 0.012, "scaled_linear"),
  original_inference_steps: numberField(50, INFERENCE_STEPS),
  clip_sample: booleanField(false),
  clip_sample_range: numberField(1.0, SAMPLE_RANGE),
  set_alpha_to_one: booleanField(true),
  steps_offset: numberField(0, STEPS_OFFSET),
  prediction_type: choiceField(["epsilon", "v_prediction", "sample"] as const, "epsilon"),
  thresholding: booleanField(false),
  dynamic_thresholding_ratio: numberField(0.995, RATIO),
  sample_max_value: numberField(1.0, SAMPLE_RANGE),
  timestep_spacing: choiceField(TIMESTEP_SPACINGS, "leading"),
  timestep_scaling: numberField(10.0, SCALE),
  rescale_betas_zero_snr: booleanField(false),
};
export type LCMConfig = ConfigOf<typeof LCM_SCHEMA>;

/**
 * `Class.from_config(raw, **overrides)`: the fields of `schema` read from `raw` where present (and not
 * recorded as defaults in `_use_default_values`), the class defaults elsewhere, then `overrides`.
 */
export function fromConfig<S extends Schema>(
  className: string,
  schema: S,
  raw: Readonly<Record<string, unknown>>,
  overrides: Partial<ConfigOf<S>> = {},
): ConfigOf<S> {
  const usedDefaults = new Set<string>();
  const marker = raw["_use_default_values"];
  if (Array.isArray(marker)) for (const key of marker) if (typeof key === "string") usedDefaults.add(key);

  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const overridden = Object.prototype.hasOwnProperty.call(overrides, key);
    if (overridden) {
      out[key] = (overrides as Record<string, unknown>)[key];
    } else if (Object.prototype.hasOwnProperty.call(raw, key) && !usedDefaults.has(key) && raw[key] !== undefined) {
      out[key] = spec.parse(raw[key], key, className);
    } else {
      out[key] = spec.defaultValue;
    }
  }
  // "leading" spacing adds steps_offset to timesteps up to T - 1: an offset of T or more points past the schedule.
  const offset = out["steps_offset"];
  const trainSteps = out["num_train_timesteps"];
  if (typeof offset === "number" && typeof trainSteps === "number" && offset >= trainSteps) {
    throw configError(SCHEDULER_CONFIG_FILE, `steps_offset ${offset} must be below num_train_timesteps ${trainSteps}`);
  }
  return out as ConfigOf<S>;
}
