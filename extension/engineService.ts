// One engine process for the whole window, started on first use and stopped with the extension.
// Everything that generates goes through here, so generations queue in order and the status bar
// sees every state change.
import * as path from "node:path";
import * as vscode from "vscode";
import { readSettings } from "./config";
import { EngineClient, type EngineState, type GenerateHandlers } from "./engineClient";
import type { ResultEvent } from "./protocol/engineEvents";
import type { EngineSettings, WireGenerateRequest } from "./protocol/engineRequests";
import type { EaselSettings } from "./settings";

export function engineSettings(s: EaselSettings): EngineSettings {
  return {
    provider: s.provider,
    previews: s.previews,
    taesdDecoder: s.taesdDecoder || undefined,
    fastDecode: s.fastDecode,
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
