import fs from "node:fs";
import path from "node:path";
import { badArgument, EaselError, firstLine } from "./errors";
import { decodeImageRgb, decodeImageToRgb } from "./image/decode";
import { encodePng } from "./image/encode";
import { type CatalogLora, type DecoderOutput, decoderForFamily, fastLorasForFamily, findCatalogLora } from "./hub/catalog";
import { findStoreDecoder, type StoreDecoder } from "./hub/decoders";
import { ModelStore } from "./hub/store";
import { formatInfotext, type HiresInfo } from "./image/infotext";
import { latentPreviewRgb } from "./image/preview";
import { checkProviderSupport } from "./model/providerSupport";
import { readModelFolder, type ModelFolder } from "./model/modelFolder";
import { describeModel, type ModelInfo } from "./model/modelInfo";
import { ComponentSessions, type Ports, type SessionComponent, type SessionVariant } from "./onnx/componentSessions";
import { type AttemptContext, type Loaded, modelIdentity, type Precision, ProviderSelector, realProviderDeps, type Stage } from "./onnx/providerChoice";
import { defaultMemoryFile, memoryFileIn, ProviderMemory } from "./onnx/providerMemory";
import { ProviderRunError, type ModelSession } from "./onnx/session";
import { type ProbeResult, providerLabel, type ProviderName } from "./onnx/providers";
import { denoise, throwIfCancelled, type DenoiseInpaint } from "./pipeline/denoise";
import { guidanceScaleEmbedding } from "./pipeline/guidanceEmbedding";
import { fullMask, latentMask, maskedPixels, readMask, type PixelMask } from "./pipeline/inpaint";
import { checkOutpaint, outpaintMask, outpaintSize, padImage, type OutpaintSides } from "./pipeline/outpaint";
import { hiresSize, resolveRequest } from "./pipeline/resolveRequest";
import { StageClock } from "./pipeline/stageClock";
import { encodeConditioning, type TextEncoderRunner } from "./pipeline/conditioning";
import { decodeLatents, decodeLatentsTaesd, encodeImage, encodePixels, rgbToPixels, type DecodedImage } from "./pipeline/vae";
import { TorchGenerator } from "./random/torchGenerator";
import { createScheduler, samplerLabel, schedulerNameForClass } from "./schedulers";
import type { SchedulerName } from "./schedulers/scheduler";
import { ClipTokenizer, type TokenizeResult } from "./text/clipTokenizer";
import type { EngineOptions, GenerateOptions, GenerateRequest, GenerateResult, GeneratedImage, HiresRequest, ResolvedRequest } from "./types";
import { SuperResolution } from "./upscale/superResolution";
import { upscaleTo } from "./upscale/upscaleImage";
import { resolveUpscaler } from "./upscale/upscalers";
import { EASEL_VERSION } from "./version";
import { storeLoraFolder } from "./lora/library";
import { LoraState } from "./lora/loraState";

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

interface TaesdDecoder {
  readonly file: string;
  readonly output: DecoderOutput;
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
function taesdFile(folder: ModelFolder, configured: string | undefined): TaesdDecoder | undefined {
  if (configured) {
    if (!fs.existsSync(configured)) throw new EaselError("model-missing", `TAESD decoder ${configured} does not exist: fix the setting or clear it`);
    return { file: configured, output: taesdOutput(configured) };
  }
  const bundled = path.join(folder.dir, "taesd_decoder", "model.onnx");
  return fs.existsSync(bundled) ? { file: bundled, output: taesdOutput(bundled) } : undefined;
}

/**
 * A graph exported from diffusers' AutoencoderTiny (its config.json beside it says so, as optimum
 * and `save_config` leave it) returns [-1, 1]; taesd.py's own decoder returns [0, 1].
 */
function taesdOutput(file: string): DecoderOutput {
  try {
    const config: unknown = JSON.parse(fs.readFileSync(path.join(path.dirname(file), "config.json"), "utf8"));
    if (typeof config === "object" && config !== null && (config as { _class_name?: unknown })._class_name === "AutoencoderTiny") return "minus-one-to-one";
  } catch {
    // No readable config: taesd.py's convention.
  }
  return "zero-to-one";
}

/** A store decoder that does not load is damaged: say how to replace it rather than fail obscurely. */
async function loadStoreDecoder(sessions: ComponentSessions, found: StoreDecoder): Promise<void> {
  try {
    await sessions.add("taesd_decoder", found.file);
  } catch (error) {
    const id = found.decoder.id;
    throw new EaselError("model-invalid", `the TAESD decoder ${found.file} does not load (${firstLine(error)}): remove it with 'easel models rm ${id}' and pull it again ('easel models pull ${id}')`);
  }
}

/** What a hires fix's second pass records in its PNG: the first pass's request and the hires keys. */
interface HiresRecord {
  readonly base: ResolvedRequest;
  readonly hires: HiresInfo;
  readonly strength: number;
}

/** The share of UNet time previews may take (the engine-process issue's goal). */
const PREVIEW_BUDGET = 0.03;

/** A model loaded on one provider. */
interface ModelOnProvider {
  readonly sessions: ComponentSessions;
  readonly info: ModelInfo;
  /** How the loaded TAESD decoder's output reads (meaningless without one). */
  readonly taesdOutput: DecoderOutput;
  /** The graphs loaded (a precision variant may stand for a model.onnx). */
  readonly files: ModelFolder["files"];
}

/**
 * The model's graphs in the precision a GPU provider runs: an fp16 or fp32 variant beside a
 * model.onnx (model.fp16.onnx / model.fp32.onnx, diffusers' variant names) is used when the provider
 * runs that precision. An fp32 VAE chosen for force_upcast (SDXL) stays fp32.
 */
function filesFor(folder: ModelFolder, precision: Precision | undefined): ModelFolder["files"] {
  if (precision === undefined) return folder.files;
  const files = { ...folder.files };
  for (const [component, file] of Object.entries(files) as [keyof ModelFolder["files"], string | undefined][]) {
    if (!file || path.basename(file) !== "model.onnx") continue;
    const variant = path.join(path.dirname(file), `model.${precision}.onnx`);
    if (fs.existsSync(variant)) files[component] = variant;
  }
  return files;
}

/** The UNet's precision when the provider cannot run it: a load failure, so the next provider is tried. */
function checkPrecision(provider: ProviderName, precision: Precision | undefined, unet: Ports): void {
  if (precision !== "fp32" || !unet.inputs.some((p) => p.type === "float16")) return;
  throw new EaselError(
    "model-unsupported",
    `${providerLabel(provider)} runs fp32 only on this adapter (no shader-f16, or an NVIDIA GPU under Vulkan) and this model's UNet is fp16 with no unet/model.fp32.onnx beside it`,
  );
}

/**
 * A loaded model: its ONNX sessions are created once and serve any number of generations, so the
 * engine process (and the CLI) pay the load once. Not re-entrant: callers queue generations.
 * A GPU provider that fails the model (at load, at its first run, or out of memory later) hands it
 * to the next provider (providerChoice.ts).
 */
export class Engine {
  private disposed = false;
  /** What the last TAESD preview took, to keep previews within budget. */
  private lastTaesdMs = 0;

  private constructor(
    readonly folder: ModelFolder,
    /** One per text encoder, in info.textEncoders' order. */
    private readonly tokenizers: readonly ClipTokenizer[],
    private readonly selector: ProviderSelector,
    private current: Loaded<ModelOnProvider>,
    /** Loads the model on the first of these providers that works. */
    private readonly loadOn: (candidates: readonly ProviderName[]) => Promise<Loaded<ModelOnProvider>>,
    /** The model store whose upscalers a hires fix may use (undefined: the default store). */
    private readonly modelStore: string | undefined,
    /** The LoRAs merged into the sessions. */
    private readonly loras: LoraState,
  ) {}

  get provider(): ProviderName {
    return this.current.provider;
  }

  /** Providers passed over for this model, and why. */
  get skippedProviders(): readonly ProbeResult[] {
    return this.selector.skipped;
  }

  get info(): ModelInfo {
    return this.current.value.info;
  }

  private get sessions(): ComponentSessions {
    return this.current.value.sessions;
  }

  private get taesdOutput(): DecoderOutput {
    return this.current.value.taesdOutput;
  }

  static async load(modelDir: string, options: EngineOptions = {}): Promise<Engine> {
    const folder = await readModelFolder(modelDir);
    // Read before any session loads, so a broken tokenizer fails in milliseconds.
    const tokenizer = await ClipTokenizer.load(folder.tokenizerDir);
    const tokenizer2 = folder.tokenizer2Dir ? await ClipTokenizer.load(folder.tokenizer2Dir) : undefined;
    // Fails now, not at the first generation, when the scheduler config names an unknown class.
    createScheduler("default", folder.schedulerConfig);
    const configuredTaesd = taesdFile(folder, options.taesdDecoder);
    const selector = new ProviderSelector(
      options.provider ?? "auto",
      await modelIdentity(folder.dir, Object.values(folder.files)),
      // The memory lives in the model store the engine was given (the extension's cache folder), else the default one.
      realProviderDeps({ memory: ProviderMemory.open(options.modelStore === undefined ? defaultMemoryFile() : memoryFileIn(options.modelStore)), ...options.providerDeps }),
      options.onNotice,
    );
    const candidates = selector.candidates();
    const attempt = async (provider: ProviderName, context: AttemptContext): Promise<ModelOnProvider> => {
      checkProviderSupport(folder, provider);
      let taesd = configuredTaesd;
      const files = filesFor(folder, context.precision);
      const sessions = new ComponentSessions(
        { ...files, taesd_decoder: taesd?.file },
        provider,
        options.lowMemory ?? false,
        { onProgress: options.onProgress, onSessionCreated: options.onSessionCreated, openSession: options.openSession, freeMemory: options.freeMemory },
      );
      await sessions.loadAll();
      try {
        const unet = requirePorts(sessions, "unet");
        checkPrecision(provider, context.precision, unet);
        const info = describeModel(folder, {
          textEncoder: requirePorts(sessions, "text_encoder"),
          textEncoder2: sessions.ports("text_encoder_2"),
          unet,
          vaeDecoder: requirePorts(sessions, "vae_decoder"),
          vaeEncoder: sessions.ports("vae_encoder"),
        });
        // Neither configured nor in the folder: the store's decoder for this family (sdxl and sdxl-turbo share TAESDXL), if it was fetched.
        if (!taesd && options.modelStore !== undefined) {
          const found = await findStoreDecoder(ModelStore.open(options.modelStore), info.family);
          if (found) await loadStoreDecoder(sessions, found);
          taesd = found;
        }
        return { sessions, info, taesdOutput: taesd?.output ?? "zero-to-one", files };
      } catch (error) {
        await sessions.releaseAll();
        throw error;
      }
    };
    const loadOn = (list: readonly ProviderName[]) => selector.load(list, attempt);
    const current = await loadOn(candidates);
    const info = current.value.info;
    const tokenizers = info.textEncoders.map((e) => (e.component === "text_encoder_2" && tokenizer2 ? tokenizer2 : tokenizer));
    const loraFolders = [...(options.loraFolders ?? []), ...(options.modelStore !== undefined ? [storeLoraFolder(options.modelStore)] : [])];
    return new Engine(folder, tokenizers, selector, current, loadOn, options.modelStore, new LoraState(folder, loraFolders, options.modelStore));
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
  async generate(asked: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    // Fast mode's recipe first, so a hires fix's passes both run it.
    const request = asked.fast ? this.fastRequest(asked) : asked;
    if (request.hires) return this.generateHires(request, request.hires, options);
    return this.generatePass(request, options);
  }

  /**
   * A1111's hires fix: the images at the request's size, each upscaled to the target size (the
   * super-resolution model, else Lanczos) and run through img2img there with the hires strength and
   * steps, seeded as the first pass. The PNG records the base size and steps with A1111's hires keys.
   */
  private async generateHires(request: GenerateRequest, hires: HiresRequest, options: GenerateOptions): Promise<GenerateResult> {
    const started = performance.now();
    const base = resolveRequest(request, this.info, this.samplerFor(request.scheduler));
    const target = hiresSize(base.width, base.height, hires.scale, this.info.granularity);
    // Resolved (and a missing one refused) before the first pass runs.
    const upscaler = await resolveUpscaler(hires.upscaler, ModelStore.open(this.modelStore), hires.scale);
    const first = await this.generatePass({ ...request, hires: undefined, seed: base.seed }, options);
    const sr = upscaler ? await SuperResolution.load(upscaler.file, this.provider) : undefined;
    const images: GeneratedImage[] = [];
    let last: GenerateResult | undefined;
    try {
      for (const image of first.images) {
        throwIfCancelled(options.signal);
        const decoded = await decodeImageRgb(image.png, "first pass");
        // A tileable image is upscaled wrapped around, so the second pass starts from an image whose edges still meet.
        const up = await upscaleTo(decoded, target.width, target.height, sr, { signal: options.signal, wrap: base.tileable });
        const initImage = await encodePng(up.rgb, up.width, up.height, "");
        last = await this.generatePass(
          { ...request, hires: undefined, initImage, width: target.width, height: target.height, strength: hires.strength, steps: hires.steps ?? base.steps, seed: image.seed, batch: 1 },
          options,
          { base, hires: { scale: hires.scale, steps: hires.steps, upscaler: upscaler?.name ?? "Lanczos" }, strength: hires.strength },
        );
        images.push(last.images[0]);
      }
    } finally {
      await sr?.release();
    }
    const seconds = (performance.now() - started) / 1000;
    return { ...(last ?? first), images, request: base, seconds };
  }

  private async generatePass(request: GenerateRequest, options: GenerateOptions, hiresRecord?: HiresRecord): Promise<GenerateResult> {
    if (this.disposed) throw new EaselError("internal", "the engine was disposed: load the model again");
    for (;;) {
      try {
        const result = await this.generateOnce(request, options, hiresRecord);
        if (!this.current.verified) {
          await this.selector.succeeded(this.provider);
          this.current = { ...this.current, verified: true };
        }
        return result;
      } catch (error) {
        if (!(error instanceof ProviderRunError)) throw error;
        const firstRun = !this.current.verified;
        await this.fallBack(error, firstRun ? "first run" : "generation");
        // A first run that failed is the provider's probe failing: the same request goes on at once.
        if (!firstRun) {
          throw new EaselError(
            "provider-unavailable",
            `${providerLabel(error.provider)} ${error.outOfMemory ? "ran out of GPU memory" : "failed"} during this generation (${error.reason}): the next generation runs on ${providerLabel(this.provider)} (remembered until the model or the GPU driver changes)`,
            true,
          );
        }
      }
    }
  }

  /**
   * A GPU provider failed the model: remembered, its sessions released (freeing its memory) and the
   * model loaded on the next provider. A forced provider has no next one: one line says what to do.
   */
  private async fallBack(error: ProviderRunError, stage: Stage): Promise<void> {
    const next = this.selector.choice === "auto" ? this.current.rest[0] : undefined;
    await this.selector.failed(error.provider, stage, error.reason, stage === "first run" ? next : undefined);
    if (!next) {
      throw new EaselError("provider-unavailable", `${providerLabel(error.provider)} ${stage === "first run" ? "failed at its first run on this model" : "failed during this generation"} (${error.reason}): use --provider auto or cpu`, true);
    }
    await this.sessions.releaseAll();
    this.current = await this.loadOn(this.current.rest);
  }

  private async generateOnce(request: GenerateRequest, options: GenerateOptions, hiresRecord: HiresRecord | undefined): Promise<GenerateResult> {
    const started = performance.now();
    const sampler = this.samplerFor(request.scheduler);
    const outpaint = request.outpaint ? await outpaintGeometry(request, this.info.granularity) : undefined;
    const { info, sessions } = this;
    const r = resolveRequest(
      outpaint ? { ...request, width: outpaint.width, height: outpaint.height } : await withInpaintSize(request),
      this.info,
      sampler,
      options.fastDecode === true && this.hasTaesd ? "taesd" : "vae",
    );
    if (r.decoder === "taesd" && !this.hasTaesd) throw this.noTaesdError();
    const fastDecode = r.decoder === "taesd";
    // The "noise" fill draws from the resolved seed, so the infotext's seed regenerates it.
    const canvas = outpaint
      ? { rgb: padImage(outpaint.image.rgb, outpaint.image.width, outpaint.image.height, outpaint.sides, r.seed), mask: outpaintMask(outpaint.image.width, outpaint.image.height, outpaint.sides) }
      : undefined;
    const initRgb = canvas?.rgb ?? (r.initImage ? await decodeImageToRgb(r.initImage, r.width, r.height) : undefined); // [H,W,3] u8
    // Inpainting whenever there is a mask; an inpainting UNet without one repaints everything (A1111's txt2img/img2img conditioning).
    const pixelMask: PixelMask | undefined = canvas?.mask ?? (r.mask ? await readMask(r.mask, r.width, r.height) : info.inpainting ? fullMask(r.width, r.height) : undefined);
    throwIfCancelled(options.signal);
    // Seamless tiling: the UNet and VAE (and a TAESD draft's decoder) run their circular-padding graphs.
    const variant: SessionVariant = r.tileable ? "tiled" : "plain";

    const loras = await this.loras.prepare(sessions, this.current.value.files, info, r.prompt, r.promptSyntax, request.loras ?? []);
    throwIfCancelled(options.signal);

    const clock = new StageClock();
    const lcmPipeline = info.timestepCondDim !== undefined;
    const cfg = r.guidance > 1 && !lcmPipeline;
    const encoders: TextEncoderRunner[] = info.textEncoders.map((use, i) => ({
      use,
      tokenizer: this.tokenizers[i],
      run: (work) => sessions.use(use.component, work),
    }));
    const conditioning = await encodeConditioning(info, encoders, { prompt: loras.prompt, negativePrompt: r.negativePrompt, syntax: r.promptSyntax, cfg, width: r.width, height: r.height }, clock);
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
        sessions.use("vae_encoder", (s) => this.prepareInpaint(s, r, initRgb, pixelMask, generators), variant),
      );
    } else if (initRgb) {
      initLatents = await clock.time("vaeEncode", () =>
        sessions.use("vae_encoder", async (s) => {
          const out: Float32Array[] = [];
          for (const g of generators) out.push(await encodeImage(s, initRgb, r.width, r.height, info.scalingFactor, g)); // [1,4,h,w] f32
          return out;
        }, variant),
      );
    }

    const schedulers = seeds.map(() => createScheduler(r.scheduler, this.folder.schedulerConfig, { timestepSpacing: r.timestepSpacing }));
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
    }, variant);

    const decoded = await clock.time("vaeDecode", () =>
      sessions.use(fastDecode ? "taesd_decoder" : "vae_decoder", async (decoder) => {
        const out: DecodedImage[] = [];
        for (const latents of finalLatents) {
          throwIfCancelled(options.signal);
          out.push(
            fastDecode
              ? await decodeLatentsTaesd(decoder, latents, latentHeight, latentWidth, this.taesdOutput, true)
              : await decodeLatents(decoder, latents, latentHeight, latentWidth, info.scalingFactor),
          );
        }
        return out;
      }, variant),
    );
    throwIfCancelled(options.signal);

    const images: GeneratedImage[] = [];
    for (let i = 0; i < r.batch; i++) {
      const { rgb, width, height } = decoded[i];
      const infotext = formatInfotext({
        prompt: r.prompt,
        negativePrompt: r.negativePrompt,
        // A hires image records its first pass's size and steps (A1111), and the hires keys.
        steps: hiresRecord?.base.steps ?? r.steps,
        sampler: samplerLabel(sampler),
        karras: schedulers[i].karras,
        timestepSpacing: r.timestepSpacing,
        guidance: r.guidance,
        seed: seeds[i],
        width: hiresRecord?.base.width ?? width,
        height: hiresRecord?.base.height ?? height,
        model: info.name,
        denoisingStrength: hiresRecord?.strength ?? r.strength,
        hires: hiresRecord?.hires,
        taesd: fastDecode,
        maskBlur: r.mask !== undefined || outpaint ? 0 : undefined,
        outpaint: outpaint?.sides,
        promptSyntax: r.promptSyntax,
        loras: loras.applied,
        tiling: r.tileable,
        version: EASEL_VERSION,
      });
      const png = await clock.time("png", () => encodePng(rgb, width, height, infotext));
      images.push({ png, seed: seeds[i], width, height, infotext });
    }
    const seconds = (performance.now() - started) / 1000;
    const vaeDecoder = fastDecode ? "taesd" : path.relative(this.folder.dir, this.current.value.files.vae_decoder ?? "").split(path.sep).join("/");
    return { images, request: r, sampler, provider: this.provider, vaeDecoder, seconds, loras: loras.applied, warnings: loras.warnings, timings: { stages: clock.totals, unetRuns: clock.unetRuns } };
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
      const image = await this.sessions.use("taesd_decoder", (s) => decodeLatentsTaesd(s, latents, latentHeight, latentWidth, this.taesdOutput));
      this.lastTaesdMs = performance.now() - started;
      return image;
    }
    const space = this.info.addedConditioning ? "sdxl" : "sd";
    return { rgb: latentPreviewRgb(latents, latentHeight, latentWidth, space), width: latentWidth, height: latentHeight };
  }

  /**
   * The catalog LoRA fast mode merges into this model: `id` (a fast-mode LoRA made for the model's
   * family), else the family's default (LCM-LoRA); or one line saying why there is none.
   */
  fastLora(id?: string): CatalogLora {
    const { family, name } = this.info;
    const fitting = fastLorasForFamily(family);
    if (id !== undefined) {
      const entry = findCatalogLora(id);
      if (entry && (entry.families as readonly string[]).includes(family)) return entry;
      const choose = fitting.length > 0 ? `use one of ${fitting.map((l) => l.id).join(", ")}` : "this model has no fast mode";
      if (!entry) throw badArgument(`unknown fast-mode LoRA "${id}" (see 'easel models list'): for ${name} (${family}) ${choose}`);
      throw badArgument(`${entry.id} is made for ${entry.families.join("/")} models and ${name} is ${family}: ${choose}`);
    }
    if (fitting.length > 0) return fitting[0];
    if (family === "lcm" || family === "turbo" || family === "sdxl-turbo") {
      throw badArgument(`${name} already draws in a few steps (${family}): leave out fast mode`);
    }
    throw badArgument(`fast mode merges a step-distillation LoRA (LCM-LoRA, SDXL-Lightning, Hyper-SD), which exist for SD 1.x and SDXL models, and ${name} is ${family}: use a normal quality, or an SD 1.x / SDXL model`);
  }

  /**
   * A fast-mode request: its LoRA merged, the LoRA's sampler and timestep spacing (unless a sampler
   * is named: then the request's spacing, or the LoRA's unless the sampler is LCM, which has none),
   * steps and guidance (unless given).
   */
  private fastRequest(request: GenerateRequest): GenerateRequest {
    const entry = this.fastLora(request.fastLora);
    const scheduler = request.scheduler !== undefined && request.scheduler !== "default" ? request.scheduler : entry.fast.scheduler;
    const timestepSpacing = request.timestepSpacing ?? (scheduler === "lcm" ? undefined : entry.fast.timestepSpacing);
    return {
      ...request,
      scheduler,
      ...(timestepSpacing !== undefined ? { timestepSpacing } : {}),
      steps: request.steps ?? entry.fast.steps,
      guidance: request.guidance ?? entry.fast.guidance,
      loras: [...(request.loras ?? []).filter((l) => l.name !== entry.id), { name: entry.id, weight: 1 }],
    };
  }

  /** A draft asked for without a TAESD decoder: says which one the family needs and how to get it. */
  private noTaesdError(): EaselError {
    const decoder = decoderForFamily(this.info.family);
    const how = decoder
      ? `download ${decoder.name} with 'easel models pull ${decoder.id}' (the extension offers it with the first model of the family), or set easel.taesdDecoder to a TAESD decoder file`
      : `set easel.taesdDecoder to a TAESD decoder file for ${this.info.family} models`;
    return new EaselError("model-missing", `a draft (decoder taesd) needs a TAESD decoder and ${this.info.name} has none: ${how}; or decode with the full VAE (decoder vae)`);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.sessions.releaseAll();
  }
}
