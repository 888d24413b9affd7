import { EaselError } from "./errors";
import { decodeImageToRgb } from "./image/decode";
import { encodePng } from "./image/encode";
import { formatInfotext } from "./image/infotext";
import { readModelFolder, type ModelFolder } from "./model/modelFolder";
import { describeModel, type ModelInfo } from "./model/modelInfo";
import { resolveProvider, type ProbeResult, type ProviderName } from "./onnx/providers";
import { ModelSession } from "./onnx/session";
import { denoise, throwIfCancelled } from "./pipeline/denoise";
import { guidanceScaleEmbedding } from "./pipeline/guidanceEmbedding";
import { resolveRequest } from "./pipeline/resolveRequest";
import { StageClock } from "./pipeline/stageClock";
import { encodeTokens } from "./pipeline/textEncoder";
import { decodeLatents } from "./pipeline/vae";
import { TorchGenerator } from "./random/torchGenerator";
import { createScheduler, samplerLabel, schedulerNameForClass } from "./schedulers";
import type { SchedulerName } from "./schedulers/scheduler";
import { ClipTokenizer, type TokenizeResult } from "./text/clipTokenizer";
import type { EngineOptions, GenerateOptions, GenerateRequest, GenerateResult, GeneratedImage } from "./types";
import { EASEL_VERSION } from "./version";

interface Sessions {
  readonly textEncoder: ModelSession;
  readonly unet: ModelSession;
  readonly vaeDecoder: ModelSession;
  readonly vaeEncoder: ModelSession | undefined;
}

/**
 * A loaded model: its ONNX sessions are created once and serve any number of generations, so the
 * engine process (and the CLI) pay the load once. Not re-entrant: callers queue generations.
 */
export class Engine {
  private disposed = false;

  private constructor(
    readonly folder: ModelFolder,
    readonly info: ModelInfo,
    readonly provider: ProviderName,
    /** Providers `auto` tried first and why they were skipped. */
    readonly skippedProviders: readonly ProbeResult[],
    private readonly tokenizer: ClipTokenizer,
    private readonly sessions: Sessions,
  ) {}

  static async load(modelDir: string, options: EngineOptions = {}): Promise<Engine> {
    const folder = await readModelFolder(modelDir);
    const tokenizer = await ClipTokenizer.load(folder.tokenizerDir);
    const { provider, skipped } = await resolveProvider(options.provider ?? "auto");
    const created: ModelSession[] = [];
    const open = async (component: string, file: string) => {
      const session = await ModelSession.create(component, file, provider);
      created.push(session);
      return session;
    };
    try {
      const sessions: Sessions = {
        textEncoder: await open("text_encoder", folder.files.text_encoder!),
        unet: await open("unet", folder.files.unet!),
        vaeDecoder: await open("vae_decoder", folder.files.vae_decoder!),
        vaeEncoder: folder.files.vae_encoder ? await open("vae_encoder", folder.files.vae_encoder) : undefined,
      };
      const info = describeModel(folder, {
        textEncoder: sessions.textEncoder,
        unet: sessions.unet,
        vaeDecoder: sessions.vaeDecoder,
        vaeEncoder: sessions.vaeEncoder,
      });
      // Fails now, not at the first generation, when the scheduler config names an unknown class.
      createScheduler("default", folder.schedulerConfig);
      return new Engine(folder, info, provider, skipped, tokenizer, sessions);
    } catch (error) {
      await Promise.all(created.map((s) => s.release()));
      throw error;
    }
  }

  tokenize(text: string): TokenizeResult {
    return this.tokenizer.encode(text);
  }

  /** The algorithm a request's scheduler name runs (`default` is the model's own). */
  samplerFor(scheduler: SchedulerName | "default" | undefined): SchedulerName {
    return scheduler && scheduler !== "default" ? scheduler : schedulerNameForClass(this.info.schedulerClass);
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    if (this.disposed) throw new EaselError("internal", "the engine was disposed: load the model again");
    const started = performance.now();
    const sampler = this.samplerFor(request.scheduler);
    const r = resolveRequest(request, this.info, sampler);
    const { info, sessions } = this;
    const initRgb = r.initImage ? await decodeImageToRgb(r.initImage, r.width, r.height) : undefined;
    throwIfCancelled(options.signal);

    const lcmPipeline = info.timestepCondDim !== undefined;
    const cfg = r.guidance > 1 && !lcmPipeline;
    const clock = new StageClock();
    const promptIds = clock.timeSync("tokenize", () => this.tokenizer.encode(r.prompt).ids);
    const rows = cfg ? [clock.timeSync("tokenize", () => this.tokenizer.encode(r.negativePrompt).ids), promptIds] : [promptIds];
    const hiddenStates = await clock.time("textEncoder", () => encodeTokens(sessions.textEncoder, rows)); // [1|2,77,D] f32
    const timestepCond = lcmPipeline ? guidanceScaleEmbedding(r.guidance, info.timestepCondDim!) : undefined;

    const images: GeneratedImage[] = [];
    for (let i = 0; i < r.batch; i++) {
      const seed = r.seed + BigInt(i);
      const scheduler = createScheduler(r.scheduler, this.folder.schedulerConfig);
      const imageStart = performance.now();
      const latents = await denoise({
        model: info,
        unet: sessions.unet,
        vaeEncoder: sessions.vaeEncoder,
        scheduler,
        lcmStrengthSchedule: lcmPipeline && sampler === "lcm",
        generator: new TorchGenerator(seed),
        steps: r.steps,
        guidance: r.guidance,
        cfg,
        hiddenStates,
        textLength: promptIds.length,
        timestepCond,
        width: r.width,
        height: r.height,
        init: initRgb && r.strength !== undefined ? { rgb: initRgb, strength: r.strength } : undefined,
        signal: options.signal,
        clock,
        onStep: (step, steps) =>
          options.onStep?.({ image: i, images: r.batch, step, steps, elapsedMs: performance.now() - imageStart }),
      });
      const { rgb, width, height } = await clock.time("vaeDecode", () =>
        decodeLatents(sessions.vaeDecoder, latents, r.height / info.vaeScaleFactor, r.width / info.vaeScaleFactor, info.scalingFactor),
      );
      throwIfCancelled(options.signal);
      const infotext = formatInfotext({
        prompt: r.prompt,
        negativePrompt: r.negativePrompt,
        steps: r.steps,
        sampler: samplerLabel(sampler),
        karras: scheduler.karras,
        guidance: r.guidance,
        seed,
        width,
        height,
        model: info.name,
        denoisingStrength: r.strength,
        version: EASEL_VERSION,
      });
      const png = await clock.time("png", () => encodePng(rgb, width, height, infotext));
      images.push({ png, seed, width, height, infotext });
    }
    const seconds = (performance.now() - started) / 1000;
    return { images, request: r, sampler, provider: this.provider, seconds, timings: { stages: clock.totals, unetRuns: clock.unetRuns } };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const { textEncoder, unet, vaeDecoder, vaeEncoder } = this.sessions;
    await Promise.all([textEncoder, unet, vaeDecoder, vaeEncoder].map((s) => s?.release()));
  }
}
