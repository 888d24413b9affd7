// One engine process for the whole window, started on first use and stopped with the extension.
// Everything that generates goes through here, so generations queue in order and the status bar
// sees every state change.
import * as path from "node:path";
import * as vscode from "vscode";
import { readSettings } from "./config";
import { EngineClient, type EngineState, type GenerateHandlers } from "./engineClient";
import type { ProviderChoice, ProviderName } from "./engine/onnx/providers";
import type { CutoutEvent, ResultEvent, UpscaledEvent } from "./engine/host/engineEvents";
import type { EngineSettings, RemoveBackgroundMessage, UpscaleMessage, WireGenerateRequest } from "./engine/host/engineRequests";
import type { EaselSettings } from "./settings";
import { modelStore } from "./models/modelResolver";

export function engineSettings(s: EaselSettings): EngineSettings {
  return {
    provider: s.provider,
    previews: s.previews,
    taesdDecoder: s.taesdDecoder || undefined,
    fastDecode: s.fastDecode,
    modelStore: modelStore(s).root,
    loraFolders: s.loraFolders,
    lowMemory: s.lowMemory,
    idleUnloadMs: Math.round(s.idleUnloadMinutes * 60_000),
  };
}

export class EngineService implements vscode.Disposable {
  private readonly client: EngineClient;
  private readonly stateEmitter = new vscode.EventEmitter<EngineState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly running = new Set<AbortController>();
  private readonly log: vscode.LogOutputChannel;
  private readonly probes = new Map<ProviderChoice, Promise<ProviderName | undefined>>();
  private readonly answered = new Map<ProviderChoice, ProviderName>();

  constructor(context: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel("Easel", { log: true });
    this.client = new EngineClient({
      enginePath: path.join(context.extensionPath, "dist", "engineHost.js"),
      settings: () => engineSettings(readSettings()),
      onStateChange: (state) => this.stateEmitter.fire(state),
      onLog: (line) => this.log.info(line),
    });
  }

  get state(): EngineState {
    return this.client.engineState;
  }

  get output(): vscode.LogOutputChannel {
    return this.log;
  }

  /** Queues a generation; `handlers.signal` or `cancelAll` stops it. */
  async generate(modelDir: string, request: WireGenerateRequest, handlers: GenerateHandlers): Promise<ResultEvent> {
    const controller = new AbortController();
    const forward = () => controller.abort();
    handlers.signal?.addEventListener("abort", forward, { once: true });
    if (handlers.signal?.aborted) controller.abort();
    this.running.add(controller);
    void vscode.commands.executeCommand("setContext", "easel.generating", true);
    try {
      const result = await this.client.generate(modelDir, request, { ...handlers, signal: controller.signal });
      this.log.info(`generated ${result.images.length} image(s) with ${result.sampler} on ${result.provider} in ${result.seconds.toFixed(1)}s`);
      return result;
    } finally {
      handlers.signal?.removeEventListener("abort", forward);
      this.running.delete(controller);
      if (this.running.size === 0) void vscode.commands.executeCommand("setContext", "easel.generating", false);
    }
  }

  /** Makes an image's background transparent in the engine process (after any queued generation). */
  async removeBackground(request: Omit<RemoveBackgroundMessage, "type" | "id" | "settings">, signal?: AbortSignal): Promise<CutoutEvent> {
    const result = await this.client.removeBackground(request, { signal });
    this.log.info(`removed a background in ${result.seconds.toFixed(1)}s`);
    return result;
  }

  /** Enlarges an image in the engine process (after any queued generation); the signal cancels it. */
  async upscale(request: Omit<UpscaleMessage, "type" | "id" | "settings">, handlers: Pick<GenerateHandlers, "signal" | "onUpscaleProgress"> = {}): Promise<UpscaledEvent> {
    const result = await this.client.upscale(request, handlers);
    this.log.info(`upscaled to ${result.width}x${result.height} with ${result.upscaler} in ${result.seconds.toFixed(1)}s`);
    return result;
  }

  /**
   * The provider generations run on with the current setting (the engine process probes once per
   * setting), or undefined when that cannot be told within `timeoutMs`.
   */
  runsOn(timeoutMs = 10_000): Promise<ProviderName | undefined> {
    const choice = readSettings().provider;
    let probe = this.probes.get(choice);
    if (!probe) {
      probe = this.client.providers(choice).then(
        (event) => {
          for (const s of event.skipped) this.log.info(`provider ${s.provider} skipped: ${s.reason}`);
          this.log.info(`generations run on ${event.provider} (setting: ${choice})`);
          this.answered.set(choice, event.provider);
          return event.provider;
        },
        (error: unknown) => {
          this.log.warn(`could not tell which provider runs here: ${error instanceof Error ? error.message : String(error)}`);
          this.probes.delete(choice);
          return undefined;
        },
      );
      this.probes.set(choice, probe);
    }
    return Promise.race([probe, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref())]);
  }

  /** What `runsOn` has found for the current setting, without waiting; undefined until then. */
  get knownRunsOn(): ProviderName | undefined {
    return this.answered.get(readSettings().provider);
  }

  /** Releases the loaded model (its files can then be removed); the next generation loads again. */
  unload(): Promise<void> {
    return this.client.unload();
  }

  /** A fresh engine process for the next request (after the CUDA libraries were installed), with providers probed again. */
  async restartWhenIdle(): Promise<void> {
    if (await this.client.restartWhenIdle()) {
      this.probes.clear();
      this.answered.clear();
    } else {
      this.log.info("the engine is busy: it uses CUDA once it restarts (reload the window to do it now)");
    }
  }

  /** Easel: Cancel Generation — stops the running generation and everything queued. */
  cancelAll(): number {
    const n = this.running.size;
    for (const c of this.running) c.abort();
    return n;
  }

  dispose(): void {
    void this.client.dispose();
    this.stateEmitter.dispose();
    this.log.dispose();
  }
}
