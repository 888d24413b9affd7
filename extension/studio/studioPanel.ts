// The open Studio panel on the host side: receives the webview's (validated) messages and answers
// them — generating, counting tokens, switching and downloading models, and the gallery's actions.
// Messages posted before the page has said "ready" wait, since a webview drops them until then.
import * as vscode from "vscode";
import { readSettings } from "../config";
import { EaselError, firstLine } from "../engine/errors";
import { MAX_BATCH, MAX_SIDE, MAX_STEPS, MIN_SIDE } from "../engine/pipeline/resolveRequest";
import { samplerLabel } from "../engine/schedulers";
import { SCHEDULER_NAMES } from "../engine/schedulers/scheduler";
import type { EngineService } from "../engineService";
import { requestFromInfotext } from "../generation/requestFromInfotext";
import { onDidChangeModels } from "../models/modelsChanged";
import { MAX_GUIDANCE, parseWebviewMessage } from "../protocol/studioMessageValidation";
import type { ErrorActionId, GalleryAction, HostMessage, StudioForm, WebviewMessage } from "../protocol/studioMessages";
import { formFromStored } from "./formMapping";
import { Gallery, type GalleryEntry } from "./gallery";
import { copyImageLink, deleteImage, imageVariations, insertImage, openImage, revealImage } from "./galleryActions";
import { imageRef, pickWorkspaceImage } from "./initImage";
import type { MarkdownTarget } from "./markdownTarget";
import { downloadModel, type ModelsState, readModelsState, setConfiguredModel } from "./studioModels";
import { studioError } from "./studioError";
import { runStudioGeneration } from "./studioGeneration";
import type { TokenCounter } from "./tokenCounter";

export interface StudioServices {
  readonly engine: EngineService;
  readonly markdown: MarkdownTarget;
  readonly tokens: TokenCounter;
}

// "Default" is the easel.defaults.scheduler setting, else the model's own scheduler.
const SCHEDULERS = [{ value: "default" as const, label: "Default" }, ...SCHEDULER_NAMES.map((n) => ({ value: n, label: n === "dpmpp-2m-karras" ? "DPM++ 2M Karras" : samplerLabel(n) }))];

export class StudioPanel implements vscode.Disposable {
  private readonly gallery = new Gallery();
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private queued: HostMessage[] = [];
  private models: Promise<ModelsState>;
  private generation: AbortController | undefined;
  private download: AbortController | undefined;
  private lastForm: StudioForm | undefined;
  private disposed = false;

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly services: StudioServices,
  ) {
    this.models = this.readModels();
    this.disposables.push(
      this.gallery,
      panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      this.gallery.onDidChange(() => void this.sendGallery()),
      onDidChangeModels(() => void this.sendModels()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (["easel.model", "easel.localModels", "easel.cacheFolder", "easel.defaults", "easel.provider"].some((k) => e.affectsConfiguration(k))) void this.sendModels();
      }),
    );
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  /** Puts an image's settings (its infotext) into the form: "Open Studio with these settings". */
  async restoreFromInfotext(infotext: string, source: string): Promise<void> {
    const { message } = await this.models;
    this.post({ type: "restoreForm", form: formFromStored(requestFromInfotext(infotext), message.geometry), source });
  }

  /**
   * Closing the panel does not throw work away: a running generation still saves its images
   * (Easel: Cancel Generation stops it) and a download still completes.
   */
  dispose(): void {
    this.disposed = true;
    for (const d of this.disposables) d.dispose();
  }

  private post(message: HostMessage): void {
    if (this.disposed) return;
    if (!this.ready) {
      this.queued.push(message);
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  private receive(raw: unknown): void {
    let message: WebviewMessage;
    try {
      message = parseWebviewMessage(raw);
    } catch (error) {
      // A generate request with a bad field is the user's to fix; anything else is a bug to log.
      const type = typeof raw === "object" && raw !== null ? (raw as { type?: unknown }).type : undefined;
      if (type === "generate") this.post({ type: "failed", error: studioError(error) });
      else this.services.engine.output.warn(`Studio: ignored a malformed message: ${firstLine(error)}`);
      return;
    }
    void this.handle(message).catch((error: unknown) => this.post({ type: "notice", kind: "warning", text: `Easel: ${studioError(error).message}` }));
  }

  private async handle(message: WebviewMessage): Promise<void> {
    switch (message.type) {
      case "ready":
        return this.onReady();
      case "generate":
        return this.generate(message.form);
      case "cancel":
        this.generation?.abort();
        return;
      case "countTokens":
        return this.countTokens(message.field, message.text, message.seq);
      case "selectModel":
        return this.selectModel(message.spec);
      case "cancelDownload":
        this.download?.abort();
        return;
      case "moreModels":
        await vscode.commands.executeCommand("easel.chooseModel");
        return;
      case "pickInitImage":
        return this.pickInitImage();
      case "galleryAction":
        return this.galleryAction(message.action, message.id);
      case "errorAction":
        return this.errorAction(message.action);
      case "refreshGallery":
        return this.sendGallery();
    }
  }

  private async onReady(): Promise<void> {
    // A page reload (the panel restored, or the webview recreated) starts a fresh page: re-send everything.
    this.ready = true;
    const queued = this.queued;
    this.queued = [];
    this.post({
      type: "init",
      schedulers: SCHEDULERS,
      limits: { maxSteps: MAX_STEPS, maxGuidance: MAX_GUIDANCE, maxBatch: MAX_BATCH, minSide: MIN_SIDE, maxSide: MAX_SIDE },
      previews: readSettings().previews,
    });
    this.post((await this.models).message);
    for (const m of queued) this.post(m);
    if (this.generation) this.post({ type: "started" });
    await this.sendGallery();
  }

  /**
   * The model picker's state, marking catalog models that cannot run on the provider used here once
   * that is known: the panel does not wait for the probe, it is sent again when the answer comes.
   */
  private readModels(): Promise<ModelsState> {
    const engine = this.services.engine;
    if (engine.knownRunsOn === undefined) {
      void engine.runsOn().then((provider) => {
        if (provider && !this.disposed) void this.sendModels();
      });
    }
    return readModelsState(readSettings(), engine.knownRunsOn);
  }

  private async sendModels(): Promise<void> {
    this.models = this.readModels();
    this.post((await this.models).message);
  }

  private async sendGallery(): Promise<void> {
    if (!this.ready || this.disposed) return;
    const { items, folders } = await this.gallery.list(this.panel.webview);
    this.post({ type: "gallery", items, folders });
  }

  private async generate(form: StudioForm): Promise<void> {
    if (this.generation) {
      this.post({ type: "notice", kind: "warning", text: "A generation is already running: cancel it first (Escape)." });
      return;
    }
    this.lastForm = form;
    const controller = new AbortController();
    this.generation = controller;
    try {
      const geometry = (await this.models).message.geometry;
      const outcome = await runStudioGeneration(this.services.engine, form, geometry, controller.signal, (m) => this.post(m));
      const images = outcome.saved.map((s) => this.gallery.add(s.uri, s.image.infotext, this.panel.webview));
      this.post({ type: "done", images, seeds: outcome.saved.map((s) => s.image.seed.toString()), seconds: outcome.result.seconds });
      // The model may have been downloaded just now: its tokenizer and sizes are known from here on.
      if (!(await this.models).dir) void this.sendModels();
    } catch (error) {
      if (error instanceof EaselError && error.code === "cancelled") this.post({ type: "cancelled" });
      else this.post({ type: "failed", error: studioError(error) });
    } finally {
      this.generation = undefined;
    }
  }

  private async countTokens(field: "prompt" | "negativePrompt", text: string, seq: number): Promise<void> {
    const { tokenizerDir } = await this.models;
    const fallback = { type: "tokenCount" as const, field, seq, max: 75, truncated: false };
    if (!tokenizerDir) {
      this.post(fallback);
      return;
    }
    try {
      this.post({ type: "tokenCount", field, seq, ...(await this.services.tokens.count(tokenizerDir, text, readSettings().promptSyntax)) });
    } catch {
      this.post(fallback);
    }
  }

  private async selectModel(spec: string): Promise<void> {
    const { message } = await this.models;
    if (spec === message.current) return;
    const option = message.models.find((m) => m.spec === spec);
    if (!option) {
      this.post(message); // Not one we offered: put the picker back.
      return;
    }
    if (!option.downloaded) {
      this.download?.abort();
      const controller = new AbortController();
      this.download = controller;
      try {
        await downloadModel(spec, readSettings(), controller.signal, (m) => this.post(m), await this.services.engine.runsOn());
      } catch (error) {
        const cancelled = error instanceof EaselError && error.code === "cancelled";
        this.post({ type: "download", spec, state: cancelled ? "cancelled" : "failed", line: cancelled ? "download cancelled" : studioError(error).message });
        this.post(message);
        return;
      } finally {
        if (this.download === controller) this.download = undefined;
      }
    }
    await setConfiguredModel(spec);
  }

  private async pickInitImage(): Promise<void> {
    try {
      const uri = await pickWorkspaceImage();
      if (uri) this.post({ type: "initImage", image: imageRef(uri, this.panel.webview) });
    } catch (error) {
      this.post({ type: "notice", kind: "warning", text: `Easel: ${studioError(error).message}` });
    }
  }

  private async galleryAction(action: GalleryAction, id: string): Promise<void> {
    const entry = this.gallery.lookup(id);
    if (!entry) {
      this.post({ type: "notice", kind: "warning", text: "That image is no longer in the gallery." });
      await this.sendGallery();
      return;
    }
    const notice = await this.runGalleryAction(action, entry);
    if (notice) this.post({ type: "notice", kind: "info", text: notice });
  }

  private async runGalleryAction(action: GalleryAction, entry: GalleryEntry): Promise<string | undefined> {
    switch (action) {
      case "open":
        return openImage(entry);
      case "reveal":
        return revealImage(entry);
      case "insert":
        return insertImage(entry, this.services.markdown);
      case "copyLink":
        return copyImageLink(entry, this.services.markdown);
      case "variations":
        return imageVariations(entry);
      case "delete":
        return deleteImage(entry);
      case "useAsInit":
        this.post({ type: "initImage", image: imageRef(entry.uri, this.panel.webview) });
        return undefined;
      case "restore": {
        const name = vscode.workspace.asRelativePath(entry.uri);
        if (!entry.infotext) return `${name} carries no generation settings (only PNGs keep them).`;
        const { geometry } = (await this.models).message;
        this.post({ type: "restoreForm", form: formFromStored(requestFromInfotext(entry.infotext), geometry), source: name });
        return undefined;
      }
    }
  }

  private async errorAction(action: ErrorActionId): Promise<void> {
    switch (action) {
      case "chooseModel":
        await vscode.commands.executeCommand("easel.chooseModel");
        return;
      case "downloadModel":
        await vscode.commands.executeCommand("easel.downloadModel");
        return;
      case "providerSettings":
        await vscode.commands.executeCommand("workbench.action.openSettings", "easel.provider");
        return;
      case "outputSettings":
        await vscode.commands.executeCommand("workbench.action.openSettings", "easel.output");
        return;
      case "pickInitImage":
        return this.pickInitImage();
      case "retry":
        if (this.lastForm) await this.generate(this.lastForm);
        return;
      case "showLog":
        this.services.engine.output.show(true);
        return;
    }
  }
}
