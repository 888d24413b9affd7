import { randomInt } from "node:crypto";
import { badArgument, EaselError } from "../errors";
import type { ModelInfo } from "../model/modelInfo";
import { MAX_SEED } from "../random/torchGenerator";
import { SCHEDULER_CHOICES, SCHEDULER_NAMES, type SchedulerChoice, type SchedulerName } from "../schedulers/scheduler";
import { TIMESTEP_SPACINGS, type TimestepSpacing } from "../schedulers/betas";
import { isPromptSyntax, PROMPT_SYNTAXES } from "../text/a1111Prompt";
import { loneSurrogateIndex } from "../text/unicodeText";
import { MAX_SIDE, MIN_SIDE } from "../model/imageSizes";
import { type Decoder, DECODERS, type GenerateRequest, type ResolvedRequest } from "../types";

// Every limit on a request is defined here once; the CLI, the Studio's message checks, the webview's
// form (through the limits the host sends it) and the settings all use these.
export { MAX_SEED };
export { MAX_SIDE, MIN_SIDE };
export const MAX_STEPS = 150;
export const MAX_BATCH = 64;
/** Guidance beyond this is never useful and usually a typo (1e30 turned every latent to Inf); 0 turns classifier-free guidance off. */
export const MAX_GUIDANCE = 100;
/**
 * The longest prompt (and negative prompt) accepted, in UTF-16 units: far more than the text encoder
 * reads; the cap only keeps a runaway paste from costing much (tokenizing 20k characters takes tens
 * of milliseconds). The Studio's form uses the same limit.
 */
export const MAX_PROMPT_CHARS = 20_000;
/** diffusers' img2img default. */
export const DEFAULT_STRENGTH = 0.8;
/** diffusers' inpainting default: the masked area starts from pure noise. */
export const DEFAULT_INPAINT_STRENGTH = 1;

export function isSchedulerChoice(value: string): value is SchedulerChoice {
  return (SCHEDULER_CHOICES as readonly string[]).includes(value);
}

export function isTimestepSpacing(value: unknown): value is TimestepSpacing {
  return (TIMESTEP_SPACINGS as readonly unknown[]).includes(value);
}

/**
 * diffusers' LCMScheduler accepts a timestep_spacing and ignores it (it steps through its
 * distillation schedule): refused rather than recorded as if it had acted.
 */
function checkSpacingFor(sampler: SchedulerChoice | undefined, spacing: TimestepSpacing | undefined): void {
  if (sampler === "lcm" && spacing !== undefined) {
    throw badArgument(`the LCM scheduler steps through its own distillation schedule, which a timestep spacing (${spacing}) does not change: leave the spacing out or choose another scheduler`);
  }
}

export function randomSeed(): bigint {
  return BigInt(randomInt(0, 2 ** 32 - 1));
}

/** Steps diffusers' img2img actually runs: get_timesteps' init_timestep. */
export function img2imgSteps(steps: number, strength: number): number {
  return Math.min(Math.trunc(steps * strength), steps);
}

/**
 * The checks that need no model: each value the request gives is of the right kind and in range.
 * Cheap and done first, so a bad option is refused before outputs are planned or a model is loaded
 * (the CLI and the engine process run it on what they were given); resolveRequest runs it again
 * with the defaults filled in.
 */
export function checkRequestRanges(req: GenerateRequest): void {
  checkPrompts(req);
  const { steps, guidance, seed, batch, width, height, strength } = req;
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS)) {
    throw badArgument(`steps must be a whole number from 1 to ${MAX_STEPS} (got ${steps})`);
  }
  if (guidance !== undefined && (typeof guidance !== "number" || !Number.isFinite(guidance) || guidance < 0 || guidance > MAX_GUIDANCE)) {
    throw badArgument(`guidance must be a number from 0 to ${MAX_GUIDANCE} such as 7.5 (got ${guidance})`);
  }
  if (seed !== undefined && (typeof seed !== "bigint" || seed < 0n || seed > MAX_SEED)) {
    throw badArgument(`seed must be a whole number from 0 to ${MAX_SEED} (got ${String(seed)})`);
  }
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH)) {
    throw badArgument(`batch must be a whole number from 1 to ${MAX_BATCH} (got ${batch})`);
  }
  if (seed !== undefined && seed + BigInt((batch ?? 1) - 1) > MAX_SEED) {
    throw badArgument(`seed + batch - 1 must stay within ${MAX_SEED}: choose a smaller seed`);
  }
  if (width !== undefined) checkSideRange("width", width);
  if (height !== undefined) checkSideRange("height", height);
  if (strength !== undefined && (typeof strength !== "number" || !Number.isFinite(strength) || strength <= 0 || strength > 1)) {
    throw badArgument(`strength must be a number in (0, 1], e.g. 0.6 (got ${strength})`);
  }
  checkDecoder(req.decoder);
  if (req.timestepSpacing !== undefined && !isTimestepSpacing(req.timestepSpacing)) {
    throw badArgument(`unknown timestep spacing "${String(req.timestepSpacing)}": use one of ${TIMESTEP_SPACINGS.join(", ")}`);
  }
  // A named LCM sampler is refused here, before anything loads; "default" resolving to LCM, in resolveRequest.
  checkSpacingFor(req.scheduler, req.timestepSpacing);
  if (req.fastLora !== undefined && (typeof req.fastLora !== "string" || req.fastLora === "")) throw badArgument("the fast-mode LoRA must be a catalog id such as lcm-lora-sdv1-5");
  if (req.fastLora !== undefined && req.fast !== true) throw badArgument(`a fast-mode LoRA (${req.fastLora}) goes with fast mode: ask for fast mode too, or merge it as a plain LoRA`);
  if (req.hires !== undefined) checkHiresRanges(req);
}

/** A1111's hires-fix slider goes up to 4. */
export const MAX_HIRES_SCALE = 4;

function checkHiresRanges(req: GenerateRequest): void {
  const { scale, strength, steps } = req.hires ?? { scale: 2, strength: 0.5 };
  if (typeof scale !== "number" || !Number.isFinite(scale) || scale <= 1 || scale > MAX_HIRES_SCALE) {
    throw badArgument(`hires scale must be a number above 1 and at most ${MAX_HIRES_SCALE}, e.g. 2 (got ${scale})`);
  }
  if (typeof strength !== "number" || !Number.isFinite(strength) || strength <= 0 || strength > 1) {
    throw badArgument(`hires strength must be a number in (0, 1], e.g. 0.5 (got ${strength})`);
  }
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS)) {
    throw badArgument(`hires steps must be a whole number from 1 to ${MAX_STEPS} (got ${steps})`);
  }
  if (req.initImage !== undefined || req.mask !== undefined || req.outpaint !== undefined) {
    throw badArgument("the hires fix upscales a generated image: leave out the init image, mask and outpainting");
  }
  if (req.width !== undefined && req.height !== undefined) hiresSize(req.width, req.height, scale, 8);
}

/**
 * The hires fix's target size: the base size times the scale, to the nearest multiple of the model's
 * granularity; one line when it passes MAX_SIDE.
 */
export function hiresSize(width: number, height: number, scale: number, granularity: number): { readonly width: number; readonly height: number } {
  const target = (side: number) => Math.max(granularity, Math.round((side * scale) / granularity) * granularity);
  const out = { width: target(width), height: target(height) };
  if (out.width > MAX_SIDE || out.height > MAX_SIDE) {
    const most = Math.floor((MAX_SIDE / Math.max(width, height)) * 100) / 100;
    throw badArgument(`hires scale ${scale} makes ${out.width}x${out.height} from ${width}x${height}, over the ${MAX_SIDE}-pixel limit: use a hires scale of at most ${most} or a smaller size`);
  }
  return out;
}

/** A decoder a request may name (absent: the engine's default), else one line saying which exist. */
export function checkDecoder(value: unknown): asserts value is Decoder | undefined {
  if (value !== undefined && !(DECODERS as readonly unknown[]).includes(value)) {
    throw badArgument(`unknown decoder "${String(value)}": use vae (the full VAE) or taesd (a fast draft)`);
  }
}

/**
 * The prompt and negative prompt as text the pipeline can use: strings, at most MAX_PROMPT_CHARS
 * long, and well-formed Unicode (a lone UTF-16 surrogate, which a JSON message or a webview can carry,
 * cannot be written into the PNG's infotext, and used to fail only after the whole generation ran).
 */
export function checkPrompts(req: Pick<GenerateRequest, "prompt" | "negativePrompt">): void {
  checkPromptText("prompt", req.prompt);
  if (req.negativePrompt !== undefined) checkPromptText("negative prompt", req.negativePrompt);
}

function checkPromptText(what: "prompt" | "negative prompt", text: unknown): void {
  if (typeof text !== "string") throw badArgument(`the ${what} must be text`);
  if (text.length > MAX_PROMPT_CHARS) {
    throw badArgument(`the ${what} is ${text.length} characters; the limit is ${MAX_PROMPT_CHARS} — far more than a prompt needs (the text encoder reads 75 tokens, a few hundred characters, a chunk): shorten it`);
  }
  const at = loneSurrogateIndex(text);
  if (at >= 0) {
    const unit = text.charCodeAt(at).toString(16).toUpperCase();
    throw badArgument(`the ${what} holds a lone UTF-16 surrogate (\\u${unit}) at character ${at + 1}, which is not valid Unicode text: remove it or retype the text`);
  }
}

function checkSideRange(name: "width" | "height", value: number): void {
  if (!Number.isInteger(value) || value < MIN_SIDE || value > MAX_SIDE) {
    throw badArgument(`${name} must be a whole number of pixels from ${MIN_SIDE} to ${MAX_SIDE} (got ${value})`);
  }
}

/**
 * Fills defaults from the model family and checks every value against the model, so a bad
 * request fails before any tensor is touched. `sampler` is the algorithm `default` resolves to;
 * `decoder` the one used when the request names none.
 */
export function resolveRequest(req: GenerateRequest, model: ModelInfo, sampler: SchedulerName, decoder: Decoder = "vae"): ResolvedRequest {
  const scheduler = req.scheduler ?? "default";
  if (!isSchedulerChoice(scheduler)) {
    throw badArgument(`unknown scheduler "${String(scheduler)}": use one of default, ${SCHEDULER_NAMES.join(", ")}`);
  }
  const steps = req.steps ?? model.defaults.steps;
  const guidance = req.guidance ?? model.defaults.guidance;
  const seed = req.seed ?? randomSeed();
  const batch = req.batch ?? 1;
  const width = req.width ?? model.defaults.width;
  const height = req.height ?? model.defaults.height;
  checkRequestRanges({ ...req, steps, guidance, seed, batch, width, height });
  if (sampler === "lcm" && steps > model.originalInferenceSteps) {
    throw badArgument(`the LCM scheduler takes at most ${model.originalInferenceSteps} steps (its original_inference_steps); got ${steps}`);
  }
  checkSpacingFor(sampler, req.timestepSpacing);
  checkGranularity("width", width, model);
  checkGranularity("height", height, model);
  if (model.fixedSize && (width !== model.fixedSize.width || height !== model.fixedSize.height)) {
    throw badArgument(`this model's UNet was exported for ${model.fixedSize.width}x${model.fixedSize.height} only: use that size`);
  }

  const masked = req.mask !== undefined || req.outpaint !== undefined;
  if (req.mask !== undefined && req.outpaint !== undefined) throw badArgument("outpainting makes its own mask: drop the mask");
  if (masked && !req.initImage) {
    throw badArgument(req.outpaint ? "outpainting extends an image: give it with --image FILE" : "a mask needs the image it masks: add --init-image FILE");
  }
  // An inpainting UNet always takes a masked image (no mask: everything repainted), so it always needs the encoder.
  if ((req.initImage || model.inpainting) && !model.canImg2Img) {
    const what = masked || model.inpainting ? "inpaint" : "start from an init image";
    throw new EaselError("model-invalid", `this model has no vae_encoder/model.onnx, so it cannot ${what}: use a model export that includes the VAE encoder`);
  }
  let strength: number | undefined;
  if (req.initImage) {
    // checkRequestRanges has checked a given strength; the default is.
    strength = req.strength ?? (masked ? DEFAULT_INPAINT_STRENGTH : DEFAULT_STRENGTH);
    if (img2imgSteps(steps, strength) === 0) {
      throw badArgument(`steps × strength (${steps} × ${strength}) is below 1, so no denoising step would run: raise --steps or --strength`);
    }
  } else if (req.strength !== undefined) {
    throw badArgument("strength only applies to img2img: add an init image (--init-image FILE)");
  }
  if (req.hires) hiresSize(width, height, req.hires.scale, model.granularity);
  const promptSyntax = req.promptSyntax ?? "plain";
  if (!isPromptSyntax(promptSyntax)) {
    throw badArgument(`unknown prompt syntax "${String(promptSyntax)}": use one of ${PROMPT_SYNTAXES.join(", ")}`);
  }
  return {
    prompt: req.prompt,
    negativePrompt: req.negativePrompt ?? "",
    scheduler,
    timestepSpacing: req.timestepSpacing,
    steps,
    guidance,
    seed,
    width,
    height,
    batch,
    initImage: req.initImage,
    strength,
    decoder: req.decoder ?? decoder,
    mask: req.mask,
    outpaint: req.outpaint,
    promptSyntax,
    tileable: req.tileable === true,
    hires: req.hires,
  };
}

function checkGranularity(name: "width" | "height", value: number, model: ModelInfo): void {
  if (value % model.granularity !== 0) {
    const lower = Math.max(model.granularity, Math.floor(value / model.granularity) * model.granularity);
    throw badArgument(`${name} ${value} is not a multiple of ${model.granularity}, which this model needs: try ${lower} or ${lower + model.granularity}`);
  }
}
