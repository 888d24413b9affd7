// The extension host's side of the engine process: starts it lazily, sends one request at a time
// from an ordered queue, restarts it after it dies (rejecting only what was in flight), cancels by
// message and, if a single UNet evaluation outlasts the grace period, by killing the process.
// Pure Node, so tests drive it against a real child process.
import { type ChildProcess, fork } from "node:child_process";
import { EaselError, firstLine } from "./engine/errors";
import type { ProviderChoice } from "./engine/onnx/providers";
import type {
  CutoutEvent, EngineEvent, LoadedEvent, LoadProgressEvent, PreviewEvent, ProgressEvent, ProvidersEvent, ResultEvent, UpscaledEvent, UpscaleProgressEvent,
} from "./engine/host/engineEvents";
import { parseEngineEvent } from "./engine/host/engineMessageValidation";
import type { EngineRequest, EngineSettings, RemoveBackgroundMessage, UpscaleMessage, WireGenerateRequest } from "./engine/host/engineRequests";

export type EngineState =
  | { readonly kind: "stopped" }
  | { readonly kind: "idle" }
  | { readonly kind: "loading"; readonly component?: string }
  | { readonly kind: "generating"; readonly step: number; readonly steps: number; readonly itPerSec: number };

export interface EngineClientOptions {
  /** The bundled engine process entry (dist/engineHost.js). */
  readonly enginePath: string;
  /** Read at every request, so changed settings apply to the next generation. */
  readonly settings: () => EngineSettings;
  /** Node to run the engine with; the extension host's own (Electron runs as Node) by default. */
  readonly execPath?: string;
  /** After a cancel, how long to wait for the engine to stop before killing it. */
  readonly cancelGraceMs?: number;
  readonly onStateChange?: (state: EngineState) => void;
  readonly onLog?: (line: string) => void;
}

export interface GenerateHandlers {
  readonly signal?: AbortSignal;
  readonly onLoadProgress?: (event: LoadProgressEvent) => void;
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly onPreview?: (event: PreviewEvent) => void;
  /** A provider fallback while this request ran (also logged). */
  readonly onNotice?: (message: string) => void;
  /** An upscale's tiles as they are done. */
  readonly onUpscaleProgress?: (event: UpscaleProgressEvent) => void;
}

type Terminal = ResultEvent | LoadedEvent | CutoutEvent | UpscaledEvent | { readonly type: "unloaded"; readonly id: number };

interface Job {
  readonly id: number;
  readonly message: EngineRequest;
  readonly handlers: GenerateHandlers;
  readonly resolve: (event: Terminal) => void;
  readonly reject: (error: EaselError) => void;
  /** Set once the user cancelled: whatever ends the job then ends it as cancelled. */
  cancelled: boolean;
  graceTimer?: NodeJS.Timeout;
}

const cancelledError = () => new EaselError("cancelled", "generation cancelled");

/** Asks the engine process to dispose and exit; killed after 3 s. Resolves when it has exited. */
async function stopChild(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    child.send({ type: "dispose" });
  } catch {
    child.kill("SIGKILL");
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

export class EngineClient {
  private child: ChildProcess | undefined;
  private stderrTail = "";
  private readonly queue: Job[] = [];
  private current: Job | undefined;
  private nextId = 1;
  /** Questions answered beside the queue (which provider runs here), by request id. */
  private readonly asides = new Map<number, { readonly resolve: (event: ProvidersEvent) => void; readonly reject: (error: EaselError) => void }>();
  private disposed = false;
  private state: EngineState = { kind: "stopped" };

  constructor(private readonly options: EngineClientOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get engineState(): EngineState {
    return this.state;
  }

  generate(modelDir: string, request: WireGenerateRequest, handlers: GenerateHandlers = {}): Promise<ResultEvent> {
    return this.submit((id) => ({ type: "generate", id, modelDir, settings: this.options.settings(), request }), handlers) as Promise<ResultEvent>;
  }

  /** Makes an image's background transparent in the engine process (queued behind any generation). */
  removeBackground(request: Omit<RemoveBackgroundMessage, "type" | "id" | "settings">, handlers: Pick<GenerateHandlers, "signal"> = {}): Promise<CutoutEvent> {
    return this.submit((id) => ({ type: "removeBackground", id, settings: this.options.settings(), ...request }), handlers) as Promise<CutoutEvent>;
  }

  /** Enlarges an image in the engine process (queued behind any generation; the signal cancels it between tiles). */
  upscale(request: Omit<UpscaleMessage, "type" | "id" | "settings">, handlers: Pick<GenerateHandlers, "signal" | "onUpscaleProgress"> = {}): Promise<UpscaledEvent> {
    return this.submit((id) => ({ type: "upscale", id, settings: this.options.settings(), ...request }), handlers) as Promise<UpscaledEvent>;
  }

  /** Loads a model ahead of the first generation (it stays loaded until idle unload or a switch). */
  load(modelDir: string, handlers: Pick<GenerateHandlers, "onLoadProgress" | "signal"> = {}): Promise<LoadedEvent> {
    return this.submit((id) => ({ type: "load", id, modelDir, settings: this.options.settings() }), handlers) as Promise<LoadedEvent>;
  }

  /** Which provider `choice` gives here; answered even while a generation runs. */
  providers(choice: ProviderChoice): Promise<ProvidersEvent> {
    if (this.disposed) return Promise.reject(new EaselError("internal", "the engine client was disposed"));
    return new Promise<ProvidersEvent>((resolve, reject) => {
      const id = this.nextId++;
      this.asides.set(id, { resolve, reject });
      try {
        this.ensureChild().send({ type: "providers", id, choice });
      } catch (error) {
        this.asides.delete(id);
        reject(new EaselError("internal", `could not reach the engine process: ${firstLine(error)}`, true));
      }
    });
  }

  async unload(): Promise<void> {
    if (!this.child) return;
    await this.submit((id) => ({ type: "unload", id }), {});
  }

  /**
   * Stops the engine process if it is idle, so that the next request starts a fresh one: it loads
   * ONNX Runtime once, at start, and must start again to load the CUDA folder's. A busy engine is
   * left alone (false); the next restart, a crash or the next window picks the change up.
   */
  async restartWhenIdle(): Promise<boolean> {
    const child = this.child;
    if (!child) return true;
    if (this.current || this.queue.length > 0 || this.asides.size > 0) return false;
    await stopChild(child);
    return true;
  }

  /** Stops the engine process; pending requests are rejected. Resolves when the process has exited. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const job of this.queue.splice(0)) job.reject(new EaselError("internal", "Easel is shutting down"));
    this.rejectAsides(new EaselError("internal", "Easel is shutting down"));
    const child = this.child;
    if (child) await stopChild(child);
  }

  private submit(build: (id: number) => EngineRequest, handlers: GenerateHandlers): Promise<Terminal> {
    if (this.disposed) return Promise.reject(new EaselError("internal", "the engine client was disposed"));
    return new Promise<Terminal>((resolve, reject) => {
      const id = this.nextId++;
      const job: Job = { id, message: build(id), handlers, resolve, reject, cancelled: false };
      if (handlers.signal?.aborted) {
        reject(cancelledError());
        return;
      }
      handlers.signal?.addEventListener("abort", () => this.cancel(job), { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  private cancel(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(cancelledError());
      return;
    }
    if (this.current !== job || job.cancelled) return;
    job.cancelled = true;
    this.child?.send({ type: "cancel", id: job.id });
    // Between steps the engine stops at once; a single long UNet evaluation is cut short by a restart.
    job.graceTimer = setTimeout(() => {
      if (this.current === job) this.child?.kill("SIGKILL");
    }, this.options.cancelGraceMs ?? 5000);
  }

  private pump(): void {
    if (this.current || this.disposed) return;
    const job = this.queue.shift();
    if (!job) {
      if (this.child) this.setState({ kind: "idle" });
      return;
    }
    this.current = job;
    try {
      this.ensureChild().send(job.message);
    } catch (error) {
      this.finish(job, undefined, new EaselError("internal", `could not reach the engine process: ${firstLine(error)}`, true));
    }
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    this.stderrTail = "";
    const child = fork(this.options.enginePath, [], {
      serialization: "advanced",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      execPath: this.options.execPath,
      execArgv: [],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" },
    });
    this.child = child;
    child.stderr?.on("data", (d: Buffer) => {
      const text = d.toString("utf8");
      this.stderrTail = (this.stderrTail + text).slice(-2000);
      for (const line of text.split("\n")) if (line.trim()) this.options.onLog?.(line);
    });
    child.on("message", (raw: unknown) => this.onMessage(raw));
    child.on("error", (error) => this.options.onLog?.(`engine process error: ${error.message}`));
    child.on("exit", (code, signal) => this.onExit(child, code, signal));
    this.setState({ kind: "idle" });
    return child;
  }

  private onMessage(raw: unknown): void {
    let event: EngineEvent;
    try {
      event = parseEngineEvent(raw);
    } catch (error) {
      this.onMalformed(raw, error);
      return;
    }
    if (event.type === "ready") return;
    const asideId = event.type === "providers" || event.type === "error" ? event.id : undefined;
    const aside = asideId === undefined ? undefined : this.asides.get(asideId);
    if (aside && asideId !== undefined) {
      this.asides.delete(asideId);
      if (event.type === "providers") aside.resolve(event);
      else if (event.type === "error") aside.reject(new EaselError(event.code, event.message, event.retryable));
      return;
    }
    const job = this.current;
    if (!job || event.id !== job.id) {
      if (event.type === "error") this.options.onLog?.(`engine: ${event.message}`);
      return;
    }
    switch (event.type) {
      case "loadProgress":
        this.setState({ kind: "loading", component: event.component });
        job.handlers.onLoadProgress?.(event);
        return;
      case "progress":
        this.setState({ kind: "generating", step: event.step, steps: event.steps, itPerSec: event.itPerSec });
        job.handlers.onProgress?.(event);
        return;
      case "preview":
        job.handlers.onPreview?.(event);
        return;
      case "loaded":
        if (job.message.type === "load") this.finish(job, event);
        return;
      case "upscaleProgress":
        job.handlers.onUpscaleProgress?.(event);
        return;
      case "result":
      case "unloaded":
      case "cutout":
      case "upscaled":
        this.finish(job, event);
        return;
      case "providers":
        return;
      case "notice":
        this.options.onLog?.(`engine: ${event.message}`);
        job.handlers.onNotice?.(event.message);
        return;
      case "error":
        this.finish(job, undefined, new EaselError(event.code, event.message, event.retryable));
        return;
    }
  }

  /**
   * An event that failed validation (malformed, or of a type this side does not know): logged, and
   * when it names a job or a request waiting here, that one fails with a clear error instead of
   * waiting for an answer that will never come in a form it can read.
   */
  private onMalformed(raw: unknown, error: unknown): void {
    const fields = typeof raw === "object" && raw !== null ? (raw as { id?: unknown; type?: unknown }) : {};
    const what = typeof fields.type === "string" ? `"${fields.type.slice(0, 40)}" event` : "event";
    this.options.onLog?.(`ignored a malformed engine ${what}: ${firstLine(error)}`);
    if (typeof fields.id !== "number") return;
    const failure = new EaselError(
      "internal",
      `the engine process sent a malformed ${what} (${firstLine(error)}): the extension and the engine do not match; reinstall or update Easel`,
    );
    const aside = this.asides.get(fields.id);
    if (aside) {
      this.asides.delete(fields.id);
      aside.reject(failure);
    }
    if (this.current?.id === fields.id) this.finish(this.current, undefined, failure);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.setState({ kind: "stopped" });
    this.rejectAsides(new EaselError("internal", "the engine process stopped before it answered; ask again", true));
    const job = this.current;
    if (job) {
      const tail = this.stderrTail.trim().split("\n").filter(Boolean).at(-1);
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      this.finish(
        job,
        undefined,
        new EaselError("internal", `the engine process stopped unexpectedly (${how}${tail ? `: ${tail}` : ""}); the next generation restarts it`, true),
      );
    }
  }

  private finish(job: Job, event: Terminal | undefined, error?: EaselError): void {
    clearTimeout(job.graceTimer);
    this.current = undefined;
    if (job.cancelled && (job.message.type === "generate" || job.message.type === "removeBackground" || job.message.type === "upscale")) job.reject(cancelledError());
    else if (error) job.reject(error);
    else if (event) job.resolve(event);
    this.pump();
  }

  private rejectAsides(error: EaselError): void {
    for (const aside of this.asides.values()) aside.reject(error);
    this.asides.clear();
  }

  private setState(state: EngineState): void {
    this.state = state;
    this.options.onStateChange?.(state);
  }
}
