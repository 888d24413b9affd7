import { EaselError } from "../errors";
import type { ModelInfo } from "../model/modelInfo";
import type { ModelSession } from "../onnx/session";
import type { Scheduler } from "../schedulers/scheduler";
import type { TorchGenerator } from "../random/torchGenerator";
import { keepUnmasked, withInpaintChannels } from "./inpaint";
import { img2imgSteps } from "./resolveRequest";
import type { StageClock } from "./stageClock";
import { allFinite, applyGuidance, concatBatch, NON_FINITE_ADVICE, scale } from "./tensorMath";
import { runUnet } from "./unet";

export interface DenoiseInputs {
  readonly model: ModelInfo;
  readonly unet: ModelSession;
  readonly scheduler: Scheduler;
  /** True when the scheduler is LCM's and the pipeline is LCM's: its set_timesteps takes the strength itself. */
  readonly lcmStrengthSchedule: boolean;
  readonly generator: TorchGenerator;
  readonly steps: number;
  readonly guidance: number;
  readonly cfg: boolean;
  readonly hiddenStates: Float32Array; // [cfg ? 2 : 1, 77, D] f32: uncond first, as diffusers concatenates
  readonly textLength: number;
  readonly timestepCond: Float32Array | undefined; // [1,C] f32
  /**
   * LatentConsistencyModelPipeline decodes the last step's denoised estimate; SDXL's pipeline decodes
   * the latents even with an LCM UNet (the same tensor after an LCM scheduler's last step).
   */
  readonly decodeDenoised: boolean;
  /** SDXL's added conditioning, rows as hiddenStates' (uncond first with CFG). */
  readonly added: { readonly textEmbeds: Float32Array; readonly timeIds: Float32Array } | undefined; // [cfg ? 2 : 1, P] f32, [cfg ? 2 : 1, 6] f32
  readonly width: number;
  readonly height: number;
  /** img2img: the init image's latents (already encoded with this image's generator) and the strength. */
  readonly init: { readonly latents: Float32Array; readonly strength: number } | undefined;
  /** Inpainting (never together with `init`): see DenoiseInpaint. */
  readonly inpaint?: DenoiseInpaint;
  readonly signal: AbortSignal | undefined;
  readonly clock: StageClock;
  /** After every step: the current latents and, where the scheduler computes it, its x_0 estimate. */
  readonly onStep: (step: number, steps: number, latents: Float32Array, denoised: Float32Array | undefined) => void | Promise<void>;
}

/**
 * Inpainting's latents for one image, prepared in diffusers' order of random draws (init image
 * encoding, then `noise`, then the masked image's encoding): see pipeline/inpaint.ts.
 */
export interface DenoiseInpaint {
  readonly strength: number;
  readonly noise: Float32Array; // [1,4,h,w] f32
  /** The init image's latents: needed when strength < 1, and by a 4-channel UNet at every step. */
  readonly imageLatents: Float32Array | undefined; // [1,4,h,w] f32
  readonly mask: Float32Array; // [1,1,h,w] f32 of 0|1 (1 = repaint)
  /** A 9-channel UNet's masked-image latents. */
  readonly maskedImageLatents: Float32Array | undefined; // [1,4,h,w] f32
}

function inpaintConditioning(inpaint: DenoiseInpaint | undefined): { mask: Float32Array; maskedImageLatents: Float32Array } {
  if (!inpaint?.maskedImageLatents) throw new EaselError("internal", "an inpainting UNet needs a mask and the masked image's latents");
  return { mask: inpaint.mask, maskedImageLatents: inpaint.maskedImageLatents };
}

function knownLatents(inpaint: DenoiseInpaint): { latents: Float32Array; noise: Float32Array; mask: Float32Array } {
  if (!inpaint.imageLatents) throw new EaselError("internal", "inpainting with a 4-channel UNet needs the init image's latents");
  return { latents: inpaint.imageLatents, noise: inpaint.noise, mask: inpaint.mask };
}

/**
 * Lets pending I/O (a cancel message from the host) run before the next UNet evaluation starts;
 * without it, a chain of awaited runs can start several steps before the message is read.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EaselError("cancelled", "generation cancelled");
}

/**
 * Fails the generation as soon as the latents hold a NaN or an infinity: nothing recovers from one
 * (the VAE would decode an all-black image and the run would "succeed"), so the remaining steps are
 * not run. `step` 0 is the starting latents.
 */
function checkFinite(step: number, steps: number, ...tensors: (Float32Array | undefined)[]): void {
  if (tensors.every((t) => t === undefined || allFinite(t))) return;
  const where = step === 0 ? "in the starting latents" : `at step ${step} of ${steps}`;
  throw new EaselError("model-invalid", `the model produced NaN/Inf ${where}: ${NON_FINITE_ADVICE}`);
}

/**
 * diffusers' denoising loop for one image: initial latents (pure noise, or the init image's latents
 * noised to the first timestep), then scale → UNet → guidance → scheduler step for every timestep.
 * Returns the latents to decode (LCM decodes the last step's denoised estimate).
 */
export async function denoise(x: DenoiseInputs): Promise<Float32Array> {
  const { model, scheduler, generator } = x;
  const latentHeight = x.height / model.vaeScaleFactor;
  const latentWidth = x.width / model.vaeScaleFactor;
  const shape = [1, model.latentChannels, latentHeight, latentWidth] as const;

  scheduler.setTimesteps(x.steps, x.init && x.lcmStrengthSchedule ? { strength: x.init.strength } : undefined);
  let timesteps = scheduler.timesteps;
  let latents: Float32Array; // [1,4,h,w] f32
  const inpaint = x.inpaint;
  if (inpaint) {
    // diffusers' inpaint pipeline: get_timesteps as img2img (set_begin_index even at strength 1),
    // but strength 1 starts from pure noise × init_noise_sigma, not from the noised image.
    const start = (x.steps - img2imgSteps(x.steps, inpaint.strength)) * scheduler.order;
    timesteps = timesteps.slice(start);
    scheduler.setBeginIndex(start);
    if (inpaint.strength === 1) {
      latents = scale(inpaint.noise, scheduler.initNoiseSigma);
    } else {
      if (!inpaint.imageLatents) throw new EaselError("internal", "inpainting with strength < 1 needs the init image's latents");
      latents = scheduler.addNoise(inpaint.imageLatents, inpaint.noise, timesteps[0]);
    }
  } else if (x.init) {
    if (!x.lcmStrengthSchedule) {
      // get_timesteps: skip the first steps - int(steps * strength) steps of the schedule.
      const start = (x.steps - img2imgSteps(x.steps, x.init.strength)) * scheduler.order;
      timesteps = timesteps.slice(start);
      scheduler.setBeginIndex(start);
    }
    const noise = generator.randn(shape); // [1,4,h,w] f32
    latents = scheduler.addNoise(x.init.latents, noise, timesteps[0]);
  } else {
    latents = scale(generator.randn(shape), scheduler.initNoiseSigma);
  }
  checkFinite(0, timesteps.length, latents);
  const inpaintChannels = model.inpainting ? inpaintConditioning(inpaint) : undefined;
  const blendKnown = inpaint && !model.inpainting ? knownLatents(inpaint) : undefined;

  let denoised: Float32Array | undefined;
  for (let i = 0; i < timesteps.length; i++) {
    await yieldToEventLoop();
    throwIfCancelled(x.signal);
    const t = timesteps[i];
    const scaled = scheduler.scaleModelInput(latents, t); // [1,4,h,w] f32
    const batch = x.cfg ? 2 : 1;
    const rows = x.cfg ? concatBatch(scaled, scaled) : scaled; // [b,4,h,w] f32
    const pred = await x.clock.time("unet", () => runUnet(x.unet, model.unetFixedBatch, {
      sample: inpaintChannels ? withInpaintChannels(rows, batch, inpaintChannels) : rows, // [b,4|9,h,w] f32
      batch,
      latentHeight,
      latentWidth,
      timestep: t,
      hiddenStates: x.hiddenStates,
      textLength: x.textLength,
      textWidth: model.textWidth,
      timestepCond: x.timestepCond,
      added: x.added,
    }));
    const result = x.clock.timeSync("scheduler", () => {
      const guided = x.cfg ? applyGuidance(pred, x.guidance) : pred; // [1,4,h,w] f32
      return scheduler.step(guided, t, latents, generator, shape);
    });
    latents = result.prevSample;
    denoised = result.denoised;
    if (blendKnown) {
      // diffusers: the original latents noised to the next timestep (clean after the last step).
      const known = i < timesteps.length - 1 ? scheduler.addNoise(blendKnown.latents, blendKnown.noise, timesteps[i + 1]) : blendKnown.latents;
      latents = keepUnmasked(latents, known, blendKnown.mask);
      // LCM decodes the step's x_0 estimate: it keeps the original outside the mask too.
      if (denoised) denoised = keepUnmasked(denoised, blendKnown.latents, blendKnown.mask);
    }
    checkFinite(i + 1, timesteps.length, latents, denoised);
    await x.onStep(i + 1, timesteps.length, latents, denoised);
  }
  throwIfCancelled(x.signal);
  return x.decodeDenoised && denoised ? denoised : latents;
}
