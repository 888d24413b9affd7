import fs from "node:fs";
import path from "node:path";
import { badArgument, EaselError } from "./errors";
import { decodeImageRgb, decodeImageToRgb } from "./image/decode";
import { encodePng } from "./image/encode";
import { formatInfotext } from "./image/infotext";
import { latentPreviewRgb } from "./image/preview";
import { checkProviderSupport } from "./model/providerSupport";
import { readModelFolder, type ModelFolder } from "./model/modelFolder";
import { describeModel, type ModelInfo } from "./model/modelInfo";
import { ComponentSessions, type Ports, type SessionComponent } from "./onnx/componentSessions";
import type { ModelSession } from "./onnx/session";
import { resolveProvider, type ProbeResult, type ProviderName } from "./onnx/providers";
import { denoise, throwIfCancelled, type DenoiseInpaint } from "./pipeline/denoise";
import { guidanceScaleEmbedding } from "./pipeline/guidanceEmbedding";
import { fullMask, latentMask, maskedPixels, readMask, type PixelMask } from "./pipeline/inpaint";
import { checkOutpaint, outpaintMask, outpaintSize, padImage, type OutpaintSides } from "./pipeline/outpaint";
import { resolveRequest } from "./pipeline/resolveRequest";
import { StageClock } from "./pipeline/stageClock";
import { encodeConditioning, type TextEncoderRunner } from "./pipeline/conditioning";
import { decodeLatents, decodeLatentsTaesd, encodeImage, encodePixels, rgbToPixels, type DecodedImage } from "./pipeline/vae";
import { TorchGenerator } from "./random/torchGenerator";
import { createScheduler, samplerLabel, schedulerNameForClass } from "./schedulers";
import type { SchedulerName } from "./schedulers/scheduler";
import { ClipTokenizer, type TokenizeResult } from "./text/clipTokenizer";
import type { EngineOptions, GenerateOptions, GenerateRequest, GenerateResult, GeneratedImage, ResolvedRequest } from "./types";
import { EASEL_VERSION } from "./version";

/** Outpainting's sides and the image to extend, and the size they make, checked against the model. */
async function outpaintGeometry(
  request: GenerateRequest,
  granularity: number,
): Promise<{ readonly image: Awaited<ReturnType<typeof decodeImageRgb>>; readonly width: number; readonly height: number; readonly sides: OutpaintSides }> {
  const sides = checkOutpaint(request.outpaint ?? {});
  if (request.width !== undefined || request.height !== undefined) {
    throw badArgument("outpainting takes its size from the image and the sides: leave out width and height");
  }
  if (request.mask !== undefined) throw badArgument("outpainting makes its own mask: drop the mask");
  if (!request.initImage) throw badArgument("outpainting extends an image: give it with --image FILE");
  const image = await decodeImageRgb(request.initImage);
  const { width, height } = outpaintSize(image.width, image.height, sides, granularity);
  return { image, width, height, sides };
}

/**
 * A mask is drawn on the init image, so inpainting without a width or height takes the image's own
 * size (A1111's habit) rather than the model's default, which would stretch the image away from its mask.
 */
async function withInpaintSize(request: GenerateRequest): Promise<GenerateRequest> {
  if (request.mask === undefined || !request.initImage || (request.width !== undefined && request.height !== undefined)) return request;
  const image = await decodeImageRgb(request.initImage);
  return { ...request, width: request.width ?? image.width, height: request.height ?? image.height };
}

function requirePorts(sessions: ComponentSessions, component: SessionComponent): Ports {
  const ports = sessions.ports(component);
  if (!ports) throw new EaselError("internal", `${component} was not loaded`);
  return ports;
}

/**
 * A UNet exported for one sequence length (static-shape exports fix encoder_hidden_states at 77) takes
 * one chunk only: a longer a1111-syntax prompt is refused before the first step, in one line.
 */
function checkTextLength(unet: Ports, textLength: number): void {
  const declared = unet.inputs.find((p) => p.name === "encoder_hidden_states")?.shape[1];
  if (typeof declared === "number" && declared > 0 && declared !== textLength) {
    throw new EaselError(
      "bad-argument",
      `this model's UNet was exported for ${declared} text positions only, and the prompts need ${textLength} (${textLength / 77} chunks of 75 tokens): shorten the prompt or negative prompt to 75 tokens without BREAK, or use the plain prompt syntax`,
    );
  }
}

/** An explicitly configured TAESD decoder, else one shipped in the model folder's taesd_decoder/. */
function taesdFile(folder: ModelFolder, configured: string | undefined): string | undefined {
  if (configured) {
    if (!fs.existsSync(configured)) throw new EaselError("model-missing", `TAESD decoder ${configured} does not exist: fix the setting or clear it`);
    return configured;
  }
  const bundled = path.join(folder.dir, "taesd_decoder", "model.onnx");
  return fs.existsSync(bundled) ? bundled : undefined;
}

/** The share of UNet time previews may take (the engine-process issue's goal). */
const PREVIEW_BUDGET = 0.03;

/**
 * A loaded model: its ONNX sessions are created once and serve any number of generations, so the
 * engine process (and the CLI) pay the load once. Not re-entrant: callers queue generations.
 */
export class Engine {
  private disposed = false;
  /** What the last TAESD preview took, to keep previews within budget. */
  private lastTaesdMs = 0;

  private constructor(
    readonly folder: ModelFolder,
    readonly info: ModelInfo,
    readonly provider: ProviderName,
    /** Providers `auto` tried first and why they were skipped. */
    readonly skippedProviders: readonly ProbeResult[],
    /** One per text encoder, in info.textEncoders' order. */
    private readonly tokenizers: readonly ClipTokenizer[],
    private readonly sessions: ComponentSessions,
  ) {}

  static async load(modelDir: string, options: EngineOptions = {}): Promise<Engine> {
    const folder = await readModelFolder(modelDir);
    // Read before any session loads, so a broken tokenizer fails in milliseconds.
    const tokenizer = await ClipTokenizer.load(folder.tokenizerDir);
    const tokenizer2 = folder.tokenizer2Dir ? await ClipTokenizer.load(folder.tokenizer2Dir) : undefined;
    const { provider, skipped } = await resolveProvider(options.provider ?? "auto");
    checkProviderSupport(folder, provider);
    const sessions = new ComponentSessions(
      { ...folder.files, taesd_decoder: taesdFile(folder, options.taesdDecoder) },
      provider,
      options.lowMemory ?? false,
      { onProgress: options.onProgress, onSessionCreated: options.onSessionCreated },
    );
    await sessions.loadAll();
    try {
      const info = describeModel(folder, {
        textEncoder: requirePorts(sessions, "text_encoder"),
        textEncoder2: sessions.ports("text_encoder_2"),
        unet: requirePorts(sessions, "unet"),
        vaeDecoder: requirePorts(sessions, "vae_decoder"),
        vaeEncoder: sessions.ports("vae_encoder"),
      });
      // Fails now, not at the first generation, when the scheduler config names an unknown class.
      createScheduler("default", folder.schedulerConfig);
      const tokenizers = info.textEncoders.map((e) => (e.component === "text_encoder_2" && tokenizer2 ? tokenizer2 : tokenizer));
      return new Engine(folder, info, provider, skipped, tokenizers, sessions);
    } catch (error) {
      await sessions.releaseAll();
      throw error;
    }
  }

  /** True when a TAESD decoder is available for previews and fast decode. */
  get hasTaesd(): boolean {
    return this.sessions.has("taesd_decoder");
  }

  /** The first text encoder's tokens (SDXL's two tokenizers split the same tokens; only their padding differs). */
  tokenize(text: string): TokenizeResult {
    return this.tokenizers[0].encode(text);
  }

  /** The algorithm a request's scheduler name runs (`default` is the model's own). */
  samplerFor(scheduler: SchedulerName | "default" | undefined): SchedulerName {
    return scheduler && scheduler !== "default" ? scheduler : schedulerNameForClass(this.info.schedulerClass);
  }

  /**
   * Runs stage by stage over the batch (text encoder, VAE encoder, UNet loops, decoder), so
   * low-memory mode loads each component once per generation. Every image has its own generator,
   * seeded seed + i, so the order of stages across images changes no image.
   */
  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    if (this.disposed) throw new EaselError("internal", "the engine was disposed: load the model again");
    const started = performance.now();
    const sampler = this.samplerFor(request.scheduler);
    const outpaint = request.outpaint ? await outpaintGeometry(request, this.info.granularity) : undefined;
    const r = resolveRequest(outpaint ? { ...request, width: outpaint.width, height: outpaint.height } : await withInpaintSize(request), this.info, sampler);
    const { info, sessions } = this;
    const fastDecode = options.fastDecode === true && this.hasTaesd;
    // The "noise" fill draws from the resolved seed, so the infotext's seed regenerates it.
    const canvas = outpaint
      ? { rgb: padImage(outpaint.image.rgb, outpaint.image.width, outpaint.image.height, outpaint.sides, r.seed), mask: outpaintMask(outpaint.image.width, outpaint.image.height, outpaint.sides) }
      : undefined;
    const initRgb = canvas?.rgb ?? (r.initImage ? await decodeImageToRgb(r.initImage, r.width, r.height) : undefined); // [H,W,3] u8
    // Inpainting whenever there is a mask; an inpainting UNet without one repaints everything (A1111's txt2img/img2img conditioning).
    const pixelMask: PixelMask | undefined = canvas?.mask ?? (r.mask ? await readMask(r.mask, r.width, r.height) : info.inpainting ? fullMask(r.width, r.height) : undefined);
    throwIfCancelled(options.signal);

    const clock = new StageClock();
    const lcmPipeline = info.timestepCondDim !== undefined;
    const cfg = r.guidance > 1 && !lcmPipeline;
    const encoders: TextEncoderRunner[] = info.textEncoders.map((use, i) => ({
      use,
      tokenizer: this.tokenizers[i],
      run: (work) => sessions.use(use.component, work),
    }));
    const conditioning = await encodeConditioning(info, encoders, { prompt: r.prompt, negativePrompt: r.negativePrompt, syntax: r.promptSyntax, cfg, width: r.width, height: r.height }, clock);
    checkTextLength(requirePorts(sessions, "unet"), conditioning.textLength);
    const timestepCond = lcmPipeline ? guidanceScaleEmbedding(r.guidance, info.timestepCondDim!) : undefined;
    const latentHeight = r.height / info.vaeScaleFactor;
    const latentWidth = r.width / info.vaeScaleFactor;

    const seeds = Array.from({ length: r.batch }, (_, i) => r.seed + BigInt(i));
    const generators = seeds.map((seed) => new TorchGenerator(seed));
    let initLatents: Float32Array[] | undefined;
    let inpaints: DenoiseInpaint[] | undefined;
    if (pixelMask) {
      inpaints = await clock.time("vaeEncode", () =>
        sessions.use("vae_encoder", (s) => this.prepareInpaint(s, r, initRgb, pixelMask, generators)),
      );
    } else if (initRgb) {
      initLatents = await clock.time("vaeEncode", () =>
        sessions.use("vae_encoder", async (s) => {
          const out: Float32Array[] = [];
          for (const g of generators) out.push(await encodeImage(s, initRgb, r.width, r.height, info.scalingFactor, g)); // [1,4,h,w] f32
          return out;
        }),
      );
    }

    const schedulers = seeds.map(() => createScheduler(r.scheduler, this.folder.schedulerConfig));
    const finalLatents = await sessions.use("unet", async (unet) => {
      const out: Float32Array[] = [];
      for (let i = 0; i < r.batch; i++) {
        const imageStart = performance.now();
        out.push(
          await denoise({
            model: info,
            unet,
            scheduler: schedulers[i],
            lcmStrengthSchedule: lcmPipeline && sampler === "lcm",
            generator: generators[i],
            steps: r.steps,
            guidance: r.guidance,
            cfg,
            hiddenStates: conditioning.hiddenStates,
            textLength: conditioning.textLength,
            timestepCond,
            decodeDenoised: lcmPipeline && !info.addedConditioning,
            added: conditioning.added,
            width: r.width,
            height: r.height,
            init: initLatents && r.strength !== undefined ? { latents: initLatents[i], strength: r.strength } : undefined,
            inpaint: inpaints?.[i],
            signal: options.signal,
            clock,
            onStep: async (step, steps, latents, denoised) => {
              options.onStep?.({ image: i, images: r.batch, step, steps, elapsedMs: performance.now() - imageStart });
              if (options.onPreview) {
                const frame = await clock.time("preview", () => this.previewOf(denoised ?? latents, latentHeight, latentWidth, clock));
                options.onPreview({ image: i, step, steps, ...frame });
              }
            },
          }),
        );
      }
      return out;
    });

    const decoded = await clock.time("vaeDecode", () =>
      sessions.use(fastDecode ? "taesd_decoder" : "vae_decoder", async (decoder) => {
        const out: DecodedImage[] = [];
        for (const latents of finalLatents) {
          throwIfCancelled(options.signal);
          out.push(
            fastDecode
              ? await decodeLatentsTaesd(decoder, latents, latentHeight, latentWidth, true)
              : await decodeLatents(decoder, latents, latentHeight, latentWidth, info.scalingFactor),
          );
        }
        return out;
      }),
    );
    throwIfCancelled(options.signal);

    const images: GeneratedImage[] = [];
    for (let i = 0; i < r.batch; i++) {
      const { rgb, width, height } = decoded[i];
      const infotext = formatInfotext({
        prompt: r.prompt,
        negativePrompt: r.negativePrompt,
        steps: r.steps,
        sampler: samplerLabel(sampler),
        karras: schedulers[i].karras,
        guidance: r.guidance,
        seed: seeds[i],
        width,
        height,
        model: info.name,
        denoisingStrength: r.strength,
        maskBlur: r.mask !== undefined || outpaint ? 0 : undefined,
        outpaint: outpaint?.sides,
        promptSyntax: r.promptSyntax,
        version: EASEL_VERSION,
      });
      const png = await clock.time("png", () => encodePng(rgb, width, height, infotext));
      images.push({ png, seed: seeds[i], width, height, infotext });
    }
    const seconds = (performance.now() - started) / 1000;
    const vaeDecoder = fastDecode ? "taesd" : path.relative(this.folder.dir, this.folder.files.vae_decoder ?? "").split(path.sep).join("/");
    return { images, request: r, sampler, provider: this.provider, vaeDecoder, seconds, timings: { stages: clock.totals, unetRuns: clock.unetRuns } };
  }

  /**
   * Inpainting's latents for each image, drawing from its generator in diffusers' order
   * (prepare_latents, then prepare_mask_latents): the init image's latents when strength < 1 or the
   * UNet has 4 channels (it blends them back every step), then the noise, then the masked image's
   * latents. A 4-channel UNet does not use those, but diffusers encodes them anyway; they are
   * encoded here only when the encoder samples (latent_parameters), where it moves the random stream.
   */
  private async prepareInpaint(
    encoder: ModelSession,
    r: ResolvedRequest,
    initRgb: Uint8Array | undefined, // [H,W,3] u8
    pixelMask: PixelMask,
    generators: readonly TorchGenerator[],
  ): Promise<DenoiseInpaint[]> {
    const { info } = this;
    const strength = r.strength ?? 1;
    const latentHeight = r.height / info.vaeScaleFactor;
    const latentWidth = r.width / info.vaeScaleFactor;
    const shape = [1, info.latentChannels, latentHeight, latentWidth];
    const pixels = initRgb ? rgbToPixels(initRgb, r.width, r.height) : new Float32Array(3 * r.width * r.height); // [1,3,H,W] f32
    const masked = maskedPixels(pixels, pixelMask); // [1,3,H,W] f32
    const mask = latentMask(pixelMask, r.width, r.height, latentWidth, latentHeight); // [1,1,h,w] f32
    const needImage = !info.inpainting || strength < 1;
    const needMasked = info.inpainting || info.vaeEncoderOutput === "latent_parameters";
    if (needImage && !initRgb) throw new EaselError("internal", "inpainting needs the init image");
    const out: DenoiseInpaint[] = [];
    for (const g of generators) {
      const imageLatents = needImage ? await encodePixels(encoder, pixels, r.width, r.height, info.scalingFactor, g) : undefined; // [1,4,h,w] f32
      const noise = g.randn(shape); // [1,4,h,w] f32
      const maskedLatents = needMasked ? await encodePixels(encoder, masked, r.width, r.height, info.scalingFactor, g) : undefined; // [1,4,h,w] f32
      out.push({ strength, noise, imageLatents, mask, maskedImageLatents: info.inpainting ? maskedLatents : undefined });
    }
    return out;
  }

  /**
   * TAESD's picture of the x_0 estimate when the model has one, else the linear approximation.
   * A TAESD preview costs about a tenth of a 512² step on a CPU, so it runs only while previews
   * stay within PREVIEW_BUDGET of the UNet's time; the linear approximation fills the other steps.
   */
  private async previewOf(latents: Float32Array, latentHeight: number, latentWidth: number, clock: StageClock): Promise<DecodedImage> {
    if (this.hasTaesd && clock.totals.preview + this.lastTaesdMs <= PREVIEW_BUDGET * clock.totals.unet) {
      const started = performance.now();
      const image = await this.sessions.use("taesd_decoder", (s) => decodeLatentsTaesd(s, latents, latentHeight, latentWidth));
      this.lastTaesdMs = performance.now() - started;
      return image;
    }
    const space = this.info.addedConditioning ? "sdxl" : "sd";
    return { rgb: latentPreviewRgb(latents, latentHeight, latentWidth, space), width: latentWidth, height: latentHeight };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.sessions.releaseAll();
  }
}
