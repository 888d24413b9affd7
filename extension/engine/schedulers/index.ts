// Picks a scheduler: `default` keeps the class named in scheduler_config.json; a sampler name switches
// the algorithm while keeping the model's noise-schedule fields (diffusers' `NewClass.from_config(config)`).

import { EaselError, notSupportedYet } from "../errors";
import { DDIMScheduler } from "./ddim";
import { DPMSolverMultistepScheduler } from "./dpmSolverMultistep";
import { EulerAncestralDiscreteScheduler } from "./eulerAncestralDiscrete";
import { EulerDiscreteScheduler } from "./eulerDiscrete";
import { LCMScheduler } from "./lcm";
import { LMSDiscreteScheduler } from "./lmsDiscrete";
import { PNDMScheduler } from "./pndm";
import type { TimestepSpacing } from "./betas";
import type { Scheduler, SchedulerName } from "./scheduler";

export { SCHEDULER_NAMES } from "./scheduler";
export { TIMESTEP_SPACINGS, type TimestepSpacing } from "./betas";
export type { NoiseSource, Scheduler, SchedulerName, SetTimestepsOptions, StepResult } from "./scheduler";
export {
  DDIMScheduler,
  DPMSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  LCMScheduler,
  LMSDiscreteScheduler,
  PNDMScheduler,
};

/** The diffusers class each sampler name runs. */
export const SCHEDULER_CLASS_FOR_NAME: Readonly<Record<SchedulerName, string>> = {
  euler: "EulerDiscreteScheduler",
  "euler-a": "EulerAncestralDiscreteScheduler",
  ddim: "DDIMScheduler",
  pndm: "PNDMScheduler",
  lms: "LMSDiscreteScheduler",
  "dpmpp-2m": "DPMSolverMultistepScheduler",
  "dpmpp-2m-karras": "DPMSolverMultistepScheduler",
  lcm: "LCMScheduler",
};

/**
 * What a request may set beyond the model's scheduler_config.json, as diffusers'
 * `Class.from_config(config, timestep_spacing=...)` does (SDXL-Lightning's and Hyper-SD's cards ask for
 * "trailing"). Absent: the config's own value.
 */
export interface SchedulerOverrides {
  readonly timestepSpacing?: TimestepSpacing;
}

function createByName(name: SchedulerName, config: Readonly<Record<string, unknown>>, overrides: SchedulerOverrides): Scheduler {
  const spacing = overrides.timestepSpacing === undefined ? {} : { timestep_spacing: overrides.timestepSpacing };
  switch (name) {
    case "euler":
      return new EulerDiscreteScheduler(config, spacing);
    case "euler-a":
      return new EulerAncestralDiscreteScheduler(config, spacing);
    case "ddim":
      return new DDIMScheduler(config, spacing);
    case "pndm":
      return new PNDMScheduler(config, spacing);
    case "lms":
      return new LMSDiscreteScheduler(config, spacing);
    case "dpmpp-2m":
      return new DPMSolverMultistepScheduler(config, { ...spacing, algorithm_type: "dpmsolver++", solver_order: 2, use_karras_sigmas: false });
    case "dpmpp-2m-karras":
      return new DPMSolverMultistepScheduler(config, { ...spacing, algorithm_type: "dpmsolver++", solver_order: 2, use_karras_sigmas: true });
    case "lcm":
      // LCM steps through its distillation schedule (original_inference_steps), which no spacing changes; resolveRequest refuses the pair.
      return new LCMScheduler(config);
  }
}

function classNameOf(config: Readonly<Record<string, unknown>>): string {
  const className = config["_class_name"];
  if (typeof className !== "string" || className === "") {
    throw new EaselError("model-invalid", "scheduler_config.json has no _class_name naming the scheduler class");
  }
  return className;
}

/**
 * The sampler name a diffusers scheduler class corresponds to (for reporting which sampler ran). A
 * DPMSolverMultistepScheduler is "dpmpp-2m-karras" when its config uses Karras sigmas.
 */
export function schedulerNameForClass(className: string, config: Readonly<Record<string, unknown>> = {}): SchedulerName {
  switch (className) {
    case "EulerDiscreteScheduler":
      return "euler";
    case "EulerAncestralDiscreteScheduler":
      return "euler-a";
    case "DDIMScheduler":
      return "ddim";
    case "PNDMScheduler":
      return "pndm";
    case "LMSDiscreteScheduler":
      return "lms";
    case "DPMSolverMultistepScheduler":
      return config["use_karras_sigmas"] === true ? "dpmpp-2m-karras" : "dpmpp-2m";
    case "LCMScheduler":
      return "lcm";
    default:
      throw notSupportedYet(`scheduler class ${className}`);
  }
}

/**
 * A scheduler for a model's scheduler_config.json: `default` builds the class it names; a sampler
 * name builds that algorithm from the same config (fields it does not accept are ignored, fields the
 * file lacks take the new class's defaults).
 */
export function createScheduler(name: SchedulerName | "default", config: Readonly<Record<string, unknown>>, overrides: SchedulerOverrides = {}): Scheduler {
  if (name === "default") {
    const className = classNameOf(config);
    const sampler = schedulerNameForClass(className, config);
    // The class as configured: no forced fields (a DPM-Solver keeps its own algorithm and order).
    if (sampler === "dpmpp-2m" || sampler === "dpmpp-2m-karras") {
      return new DPMSolverMultistepScheduler(config, overrides.timestepSpacing === undefined ? {} : { timestep_spacing: overrides.timestepSpacing });
    }
    return createByName(sampler, config, overrides);
  }
  return createByName(name, config, overrides);
}

/** The sampler label A1111 writes in its infotext ("Sampler: ..."); Karras is reported separately. */
export function samplerLabel(name: SchedulerName): string {
  switch (name) {
    case "euler":
      return "Euler";
    case "euler-a":
      return "Euler a";
    case "ddim":
      return "DDIM";
    case "pndm":
      return "PLMS";
    case "lms":
      return "LMS";
    case "dpmpp-2m":
    case "dpmpp-2m-karras":
      return "DPM++ 2M";
    case "lcm":
      return "LCM";
  }
}
