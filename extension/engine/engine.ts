import fs from "node:fs";
import path from "node:path";
import { EaselError } from "./errors";
import { decodeImageToRgb } from "./image/decode";
import { encodePng } from "./image/encode";
import { formatInfotext } from "./image/infotext";
import { latentPreviewRgb } from "./image/preview";
import { checkProviderSupport } from "./model/providerSupport";
import { readModelFolder, type ModelFolder } from "./model/modelFolder";
import { describeModel, type ModelInfo } from "./model/modelInfo";
import { ComponentSessions, type Ports, type SessionComponent } from "./onnx/componentSessions";
import { resolveProvider, type ProbeResult, type ProviderName } from "./onnx/providers";
import { denoise, throwIfCancelled } from "./pipeline/denoise";
import { guidanceScaleEmbedding } from "./pipeline/guidanceEmbedding";
import { resolveRequest } from "./pipeline/resolveRequest";
import { StageClock } from "./pipeline/stageClock";
import { encodePromptPair, promptPairChunks } from "./pipeline/promptEncoding";
import { encodeTokens } from "./pipeline/textEncoder";
import { decodeLatents, decodeLatentsTaesd, encodeImage, type DecodedImage } from "./pipeline/vae";
import { TorchGenerator } from "./random/torchGenerator";
import { createScheduler, samplerLabel, schedulerNameForClass } from "./schedulers";
import type { SchedulerName } from "./schedulers/scheduler";
import { ClipTokenizer, type TokenizeResult } from "./text/clipTokenizer";
import type { EngineOptions, GenerateOptions, GenerateRequest, GenerateResult, GeneratedImage } from "./types";
import { EASEL_VERSION } from "./version";

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

/**
 * A loaded model: its ONNX sessions are created once and serve any number of generations, so the
 * engine process (and the CLI) pay the load once. Not re-entrant: callers queue generations.
 */
/** The share of UNet time previews may take (the engine-process issue's goal). */
const PREVIEW_BUDGET = 0.03;

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
    private readonly tokenizer: ClipTokenizer,
    private readonly sessions: ComponentSessions,
  ) {}

  static async load(modelDir: string, options: EngineOptions = {}): Promise<Engine> {
    const folder = await readModelFolder(modelDir);
    const tokenizer = await ClipTokenizer.load(folder.tokenizerDir);
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
        unet: requirePorts(sessions, "unet"),
        vaeDecoder: requirePorts(sessions, "vae_decoder"),
        vaeEncoder: sessions.ports("vae_encoder"),
      });
      // Fails now, not at the first generation, when the scheduler config names an unknown class.
      createScheduler("default", folder.schedulerConfig);
      return new Engine(folder, info, provider, skipped, tokenizer, sessions);
    } catch (error) {
      await sessions.releaseAll();
      throw error;
    }
  }

  /** True when a TAESD decoder is available for previews and fast decode. */
  get hasTaesd(): boolean {
    return this.sessions.has("taesd_decoder");
  }

  tokenize(text: string): TokenizeResult {
    return this.tokenizer.encode(text);
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
    const r = resolveRequest(request, this.info, sampler);
    const { info, sessions } = this;
    const fastDecode = options.fastDecode === true && this.hasTaesd;
    const initRgb = r.initImage ? await decodeImageToRgb(r.initImage, r.width, r.height) : undefined;
    throwIfCancelled(options.signal);

    const clock = new StageClock();
    const lcmPipeline = info.timestepCondDim !== undefined;
    const cfg = r.guidance > 1 && !lcmPipeline;
    const rows = clock.timeSync("tokenize", () => promptPairChunks(this.tokenizer, r.prompt, r.negativePrompt, cfg, r.promptSyntax));
    const { hiddenStates, chunks } = await clock.time("textEncoder", () =>
      sessions.use("text_encoder", (s) => encodePromptPair(async (ids) => ({ hidden: await encodeTokens(s, ids) }), rows)),
    ); // hiddenStates [1|2,77k,D] f32
    const textLength = chunks * this.tokenizer.maxLength;
    checkTextLength(requirePorts(sessions, "unet"), textLength);
    const timestepCond = lcmPipeline ? guidanceScaleEmbedding(r.guidance, info.timestepCondDim!) : undefined;
    const latentHeight = r.height / info.vaeScaleFactor;
    const latentWidth = r.width / info.vaeScaleFactor;

    const seeds = Array.from({ length: r.batch }, (_, i) => r.seed + BigInt(i));
    const generators = seeds.map((seed) => new TorchGenerator(seed));
    let initLatents: Float32Array[] | undefined;
    if (initRgb) {
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
            hiddenStates,
            textLength,
            timestepCond,
            width: r.width,
            height: r.height,
            init: initLatents && r.strength !== undefined ? { latents: initLatents[i], strength: r.strength } : undefined,
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
              ? await decodeLatentsTaesd(decoder, latents, latentHeight, latentWidth)
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
        promptSyntax: r.promptSyntax,
        version: EASEL_VERSION,
      });
      const png = await clock.time("png", () => encodePng(rgb, width, height, infotext));
      images.push({ png, seed: seeds[i], width, height, infotext });
    }
    const seconds = (performance.now() - started) / 1000;
    return { images, request: r, sampler, provider: this.provider, seconds, timings: { stages: clock.totals, unetRuns: clock.unetRuns } };
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
    return { rgb: latentPreviewRgb(latents, latentHeight, latentWidth), width: latentWidth, height: latentHeight };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.sessions.releaseAll();
  }
}
