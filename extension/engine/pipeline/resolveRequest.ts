import { randomInt } from "node:crypto";
import { badArgument, EaselError } from "../errors";
import type { ModelInfo } from "../model/modelInfo";
import { SCHEDULER_NAMES, type SchedulerName } from "../schedulers/scheduler";
import { isPromptSyntax, PROMPT_SYNTAXES } from "../text/a1111Prompt";
import type { GenerateRequest, ResolvedRequest } from "../types";

export const MAX_SEED = (1n << 64n) - 1n;
export const MIN_SIDE = 64;
export const MAX_SIDE = 2048;
export const MAX_STEPS = 150;
export const MAX_BATCH = 64;
/** diffusers' img2img default. */
export const DEFAULT_STRENGTH = 0.8;

export function isSchedulerChoice(value: string): value is SchedulerName | "default" {
  return value === "default" || (SCHEDULER_NAMES as readonly string[]).includes(value);
}

export function randomSeed(): bigint {
  return BigInt(randomInt(0, 2 ** 32 - 1));
}

/** Steps diffusers' img2img actually runs: get_timesteps' init_timestep. */
export function img2imgSteps(steps: number, strength: number): number {
  return Math.min(Math.trunc(steps * strength), steps);
}

/**
 * Fills defaults from the model family and checks every value against the model, so a bad
 * request fails before any tensor is touched. `sampler` is the algorithm `default` resolves to.
 */
export function resolveRequest(req: GenerateRequest, model: ModelInfo, sampler: SchedulerName): ResolvedRequest {
  if (typeof req.prompt !== "string") throw badArgument("the prompt must be text");
  const scheduler = req.scheduler ?? "default";
  if (!isSchedulerChoice(scheduler)) {
    throw badArgument(`unknown scheduler "${String(scheduler)}": use one of default, ${SCHEDULER_NAMES.join(", ")}`);
  }
  const steps = req.steps ?? model.defaults.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) {
    throw badArgument(`steps must be a whole number from 1 to ${MAX_STEPS} (got ${steps})`);
  }
  if (sampler === "lcm" && steps > model.originalInferenceSteps) {
    throw badArgument(`the LCM scheduler takes at most ${model.originalInferenceSteps} steps (its original_inference_steps); got ${steps}`);
  }
  const guidance = req.guidance ?? model.defaults.guidance;
  if (typeof guidance !== "number" || !Number.isFinite(guidance)) {
    throw badArgument(`guidance must be a finite number such as 7.5 (got ${guidance})`);
  }
  const seed = req.seed ?? randomSeed();
  if (typeof seed !== "bigint" || seed < 0n || seed > MAX_SEED) {
    throw badArgument(`seed must be a whole number from 0 to ${MAX_SEED} (got ${String(seed)})`);
  }
  const batch = req.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) {
    throw badArgument(`batch must be a whole number from 1 to ${MAX_BATCH} (got ${batch})`);
  }
  if (seed + BigInt(batch - 1) > MAX_SEED) {
    throw badArgument(`seed + batch - 1 must stay within ${MAX_SEED}: choose a smaller seed`);
  }
  const width = req.width ?? model.defaults.width;
  const height = req.height ?? model.defaults.height;
  checkSide("width", width, model);
  checkSide("height", height, model);
  if (model.fixedSize && (width !== model.fixedSize.width || height !== model.fixedSize.height)) {
    throw badArgument(`this model's UNet was exported for ${model.fixedSize.width}x${model.fixedSize.height} only: use that size`);
  }

  let strength: number | undefined;
  if (req.initImage) {
    if (!model.canImg2Img) {
      throw new EaselError("model-invalid", "this model has no vae_encoder/model.onnx, so it cannot start from an init image: use a model export that includes the VAE encoder");
    }
    strength = req.strength ?? DEFAULT_STRENGTH;
    if (typeof strength !== "number" || !Number.isFinite(strength) || strength <= 0 || strength > 1) {
      throw badArgument(`strength must be a number in (0, 1], e.g. 0.6 (got ${strength})`);
    }
    if (img2imgSteps(steps, strength) === 0) {
      throw badArgument(`steps × strength (${steps} × ${strength}) is below 1, so no denoising step would run: raise --steps or --strength`);
    }
  } else if (req.strength !== undefined) {
    throw badArgument("strength only applies to img2img: add an init image (--init-image FILE)");
  }
  const promptSyntax = req.promptSyntax ?? "plain";
  if (!isPromptSyntax(promptSyntax)) {
    throw badArgument(`unknown prompt syntax "${String(promptSyntax)}": use one of ${PROMPT_SYNTAXES.join(", ")}`);
  }
  return {
    prompt: req.prompt,
    negativePrompt: req.negativePrompt ?? "",
    scheduler,
    steps,
    guidance,
    seed,
    width,
    height,
    batch,
    initImage: req.initImage,
    strength,
    promptSyntax,
  };
}

function checkSide(name: "width" | "height", value: number, model: ModelInfo): void {
  if (!Number.isInteger(value) || value < MIN_SIDE || value > MAX_SIDE) {
    throw badArgument(`${name} must be a whole number of pixels from ${MIN_SIDE} to ${MAX_SIDE} (got ${value})`);
  }
  if (value % model.granularity !== 0) {
    const lower = Math.max(model.granularity, Math.floor(value / model.granularity) * model.granularity);
    throw badArgument(`${name} ${value} is not a multiple of ${model.granularity}, which this model needs: try ${lower} or ${lower + model.granularity}`);
  }
}
