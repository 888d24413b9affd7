// The engine process's side of the protocol: one loaded Engine at a time, generations run in
// arrival order, cancel by id, idle unload. Transport-agnostic (main.ts wires it to IPC), so tests
// can drive it in-process too.
import type { EngineEvent } from "./engineEvents";
import type { EngineRequest, EngineSettings, GenerateMessage, LoadRequest, RemoveBackgroundMessage, UpscaleMessage } from "./engineRequests";
import { removeBackground } from "../matte/backgroundRemoval";
import { type LoadedRemover, openRemover } from "../matte/remover";
import { parseEngineRequest } from "./engineMessageValidation";
import { Engine } from "../engine";
import type { EngineOptions } from "../types";
import { EaselError, firstLine } from "../errors";
import { encodePreviewPng } from "../image/preview";
import { resolveProvider } from "../onnx/providers";
import { checkPrompts } from "../pipeline/resolveRequest";
import { SuperResolution } from "../upscale/superResolution";
import { decodeForUpscale, upscaledSize, upscaleToPng } from "../upscale/upscaleImage";

/** The longest delay setTimeout honours (a signed 32-bit count of milliseconds). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

type Send = (event: EngineEvent) => void;

interface Loaded {
  readonly key: string;
  readonly engine: Engine;
}

function engineKey(modelDir: string, s: EngineSettings): string {
  return JSON.stringify([modelDir, s.provider, s.lowMemory, s.taesdDecoder ?? "", s.modelStore ?? "", s.loraFolders ?? []]);
}

export class EngineHost {
  private loaded: Loaded | undefined;
  /** The background-removal session, kept for the next image until the model is unloaded. */
  private remover: { readonly key: string; readonly session: LoadedRemover } | undefined;
  /** The super-resolution session, kept for the next upscale until the model is unloaded. */
  private upscaler: { readonly key: string; readonly sr: SuperResolution } | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly controllers = new Map<number, AbortController>();
  private idleTimer: NodeJS.Timeout | undefined;
  /** ONNX sessions this process has created, for tests and the bench (warm reuse creates none). */
  sessionsCreated = 0;

  /** The request running now: fallback notices from the engine are sent under its id. */
  private activeId: number | undefined;

  /** `engineOptions`: the provider environment and session opener (tests inject GPU faults; the process uses the real ones). */
  constructor(
    private readonly send: Send,
    private readonly engineOptions: Pick<EngineOptions, "providerDeps" | "openSession"> = {},
  ) {}

  /** Entry point for every message that arrives; never throws. */
  handle(raw: unknown): void {
    let message: EngineRequest;
    try {
      message = parseEngineRequest(raw);
    } catch (error) {
      const id = typeof raw === "object" && raw !== null && typeof (raw as { id?: unknown }).id === "number" ? (raw as { id: number }).id : undefined;
      this.send({ type: "error", id, code: "internal", message: `malformed request refused: ${firstLine(error)}`, retryable: false });
      return;
    }
    switch (message.type) {
      case "cancel":
        this.controllers.get(message.id)?.abort();
        return;
      case "dispose":
        void this.dispose();
        return;
      case "providers":
        // Not queued: the answer must not wait for a generation (the probe is cached after the first).
        resolveProvider(message.choice).then(
          ({ provider, skipped }) => this.send({ type: "providers", id: message.id, provider, skipped: skipped.map((p) => ({ provider: p.provider, reason: p.reason ?? "unavailable" })) }),
          (error: unknown) => {
            const e = error instanceof EaselError ? error : new EaselError("internal", firstLine(error));
            this.send({ type: "error", id: message.id, code: e.code, message: e.message, retryable: e.retryable });
          },
        );
        return;
      case "generate": {
        const controller = new AbortController();
        this.controllers.set(message.id, controller);
        this.enqueue(message.id, () => this.generate(message, controller.signal));
        return;
      }
      case "load":
        this.enqueue(message.id, () => this.load(message));
        return;
      case "removeBackground":
        this.enqueue(message.id, () => this.removeBackground(message));
        return;
      case "upscale": {
        const controller = new AbortController();
        this.controllers.set(message.id, controller);
        this.enqueue(message.id, () => this.upscale(message, controller.signal));
        return;
      }
      case "unload":
        this.enqueue(message.id, async () => {
          await this.unloadAll();
          this.send({ type: "unloaded", id: message.id });
        });
        return;
    }
  }

  private enqueue(id: number, work: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      clearTimeout(this.idleTimer);
      this.activeId = id;
      try {
        await work();
      } catch (error) {
        const e = error instanceof EaselError ? error : new EaselError("internal", firstLine(error));
        this.send({ type: "error", id, code: e.code, message: e.message, retryable: e.retryable });
      } finally {
        this.activeId = undefined;
        this.controllers.delete(id);
      }
    });
  }

  private async engineFor(modelDir: string, settings: EngineSettings, id: number): Promise<Engine> {
    const key = engineKey(modelDir, settings);
    if (this.loaded?.key === key) return this.loaded.engine;
    // Switching models: the old sessions are released (awaited) before the new ones take memory.
    await this.unload();
    const started = performance.now();
    const engine = await Engine.load(modelDir, {
      provider: settings.provider,
      lowMemory: settings.lowMemory,
      taesdDecoder: settings.taesdDecoder,
      modelStore: settings.modelStore,
      loraFolders: settings.loraFolders,
      ...this.engineOptions,
      onNotice: (message) => {
        if (this.activeId !== undefined) this.send({ type: "notice", id: this.activeId, message });
      },
      onSessionCreated: () => this.sessionsCreated++,
      onProgress: (component, index, total) => this.send({ type: "loadProgress", id, component, index, total }),
    });
    this.loaded = { key, engine };
    this.send({
      type: "loaded", id, model: engine.info.name, family: engine.info.family, provider: engine.provider,
      seconds: (performance.now() - started) / 1000,
    });
    return engine;
  }

  private async load(message: LoadRequest): Promise<void> {
    await this.engineFor(message.modelDir, message.settings, message.id);
    this.scheduleIdleUnload(message.settings);
  }

  private async generate(message: GenerateMessage, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new EaselError("cancelled", "generation cancelled");
    // A bad prompt is refused before a model is loaded for it.
    checkPrompts(message.request);
    const { id, settings } = message;
    const engine = await this.engineFor(message.modelDir, settings, id);
    // Previews are encoded off the JS thread while the next step runs, and sent in step order,
    // all before the result.
    let previews: Promise<void> = Promise.resolve();
    const result = await engine.generate(message.request, {
      signal,
      fastDecode: settings.fastDecode,
      onStep: (p) => this.send({ type: "progress", id, image: p.image, images: p.images, step: p.step, steps: p.steps, itPerSec: p.elapsedMs > 0 ? (p.step * 1000) / p.elapsedMs : 0 }),
      onPreview: settings.previews
        ? (frame) => {
            const png = encodePreviewPng(frame);
            previews = previews.then(
              () => png.then((bytes) => this.send({ type: "preview", id, image: frame.image, step: frame.step, png: bytes, width: frame.width, height: frame.height })),
            ).catch(() => undefined); // a lost preview frame never fails the generation
          }
        : undefined,
    });
    await previews;
    this.send({
      type: "result", id, sampler: result.sampler, provider: result.provider, seconds: result.seconds, stages: result.timings.stages,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      sessionsCreated: this.sessionsCreated,
      warnings: result.warnings,
      loras: result.loras,
      images: result.images.map((img) => ({ png: img.png, seed: img.seed, width: img.width, height: img.height, infotext: img.infotext })),
    });
    this.scheduleIdleUnload(settings);
  }

  private async removeBackground(message: RemoveBackgroundMessage): Promise<void> {
    const started = performance.now();
    const { provider } = await resolveProvider(message.settings.provider);
    const key = JSON.stringify([message.remover.file, provider]);
    if (this.remover?.key !== key) {
      await this.releaseRemover();
      // Low memory: the diffusion model's sessions go before the remover's come.
      if (message.settings.lowMemory) await this.unload();
      this.remover = { key, session: await openRemover(message.remover.file, provider) };
      this.sessionsCreated++;
    }
    const image = await removeBackground(message.image, this.remover.session, message.remover.spec, { matte: message.matte, format: message.format, remover: message.remover.name });
    if (message.settings.lowMemory) await this.releaseRemover();
    this.send({ type: "cutout", id: message.id, image, seconds: (performance.now() - started) / 1000 });
    this.scheduleIdleUnload(message.settings);
  }

  /**
   * An image enlarged 2x or 4x: the super-resolution graph tile by tile (one tile's tensors at a
   * time, written into the 8-bit result), then Lanczos; Lanczos alone without one. Refused over the
   * size limit before any session is made.
   */
  private async upscale(message: UpscaleMessage, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const { id } = message;
    const image = await decodeForUpscale(message.image, message.name);
    upscaledSize(message.name, image.width, image.height, message.scale);
    let sr: SuperResolution | undefined;
    if (message.upscaler) {
      const { provider } = await resolveProvider(message.settings.provider);
      const key = JSON.stringify([message.upscaler.file, provider]);
      if (this.upscaler?.key !== key) {
        await this.releaseUpscaler();
        // Low memory: the diffusion model's sessions go before the upscaler's come.
        if (message.settings.lowMemory) await this.unload();
        this.upscaler = { key, sr: await SuperResolution.load(message.upscaler.file, provider) };
        this.sessionsCreated++;
      }
      sr = this.upscaler.sr;
    }
    if (signal.aborted) throw new EaselError("cancelled", "upscaling was cancelled");
    const out = await upscaleToPng(image, message.image, message.scale, sr, {
      tile: message.tile,
      overlap: message.overlap,
      wrap: message.wrap,
      signal,
      onProgress: (p) => this.send({ type: "upscaleProgress", id, pass: p.pass, passes: p.passes, tile: p.tile, tiles: p.tiles }),
    });
    if (message.settings.lowMemory) await this.releaseUpscaler();
    this.send({ type: "upscaled", id, png: out.png, width: out.width, height: out.height, upscaler: message.upscaler?.name ?? "Lanczos", seconds: (performance.now() - started) / 1000 });
    this.scheduleIdleUnload(message.settings);
  }

  private async releaseUpscaler(): Promise<void> {
    const upscaler = this.upscaler;
    this.upscaler = undefined;
    await upscaler?.sr.release();
  }

  private async releaseRemover(): Promise<void> {
    const remover = this.remover;
    this.remover = undefined;
    await remover?.session.release();
  }

  private scheduleIdleUnload(settings: EngineSettings): void {
    clearTimeout(this.idleTimer);
    if (settings.idleUnloadMs > 0) {
      // setTimeout fires after 1 ms for a delay over 2^31-1 ms (about 24.8 days), which unloaded the
      // model after every image; a longer wait is as good as that one.
      this.idleTimer = setTimeout(() => {
        this.queue = this.queue.then(() => this.unloadAll());
      }, Math.min(settings.idleUnloadMs, MAX_TIMER_DELAY_MS));
      this.idleTimer.unref();
    }
  }

  private async unload(): Promise<void> {
    const loaded = this.loaded;
    this.loaded = undefined;
    await loaded?.engine.dispose();
  }

  /** Idle unload and dispose free everything, the background remover and the upscaler too. */
  private async unloadAll(): Promise<void> {
    await this.unload();
    await this.releaseRemover();
    await this.releaseUpscaler();
  }

  /** Cancels everything, releases the sessions; the process can then exit cleanly. */
  async dispose(): Promise<void> {
    for (const c of this.controllers.values()) c.abort();
    clearTimeout(this.idleTimer);
    await this.queue;
    await this.unloadAll();
  }
}
