// The Studio's host-side logic, apart from VS Code's API: what each (validated) webview message
// does, messages held until the page is ready, one generation at a time (and Try Again with the
// last form), the model picker sent at once and again when the provider probe answers, downloads
// that can be cancelled, the gallery's actions, and the LoRA picker and Fast quality (issue 10).
// Everything it touches comes in as ports (post, engine, settings, commands, loras), so unit tests
// drive it with fakes; studioPanel.ts wires the real ones.
import { EaselError, firstLine } from "../engine/errors";
import type { ProviderName } from "../engine/onnx/providers";
import { describeError } from "../errorActions";
import { requestFromInfotext } from "../generation/requestFromInfotext";
import { imageDataUrl, type StoredInputs } from "../generation/storedInputs";
import { checkMaskFits, parseMask, parseWebviewMessage } from "../protocol/studioMessageValidation";
import type { ModelFamily } from "../engine/model/modelInfo";
import type {
  DownloadProgressMessage,
  FastMode,
  LorasMessage,
  PromptSyntax,
  ErrorActionId,
  GalleryAction,
  GalleryItem,
  HostMessage,
  FormPatch,
  ImageRef,
  InitMessage,
  InitMode,
  ModelGeometry,
  StudioForm,
  UpscalerOption,
  WebviewMessage,
} from "../protocol/studioMessages";
import { formFromStored } from "./formMapping";
import type { ModelsState } from "./studioModels";
import { checkChosenLoras, type LoraListing, loraOptions, missingLoras } from "./studioLoras";
import type { TokenCount } from "./tokenCounter";

/** What a finished generation left: the saved images as gallery items, their seeds, the time. */
export interface StudioOutcome {
  readonly images: readonly GalleryItem[];
  readonly seeds: readonly string[];
  readonly seconds: number;
}

export interface StudioEngine {
  /** Runs the form through the shared generation path (files saved as every entry point saves them). */
  generate(form: StudioForm, geometry: ModelGeometry, signal: AbortSignal, post: (message: HostMessage) => void): Promise<StudioOutcome>;
  /** The provider generations use here, once the probe has answered. */
  readonly knownRunsOn: ProviderName | undefined;
  runsOn(): Promise<ProviderName | undefined>;
  countTokens(tokenizerDir: string, text: string): Promise<TokenCount>;
  /** A line for the engine's log (a malformed message is a bug, not the user's to fix). */
  warn(line: string): void;
}

export interface StudioSettings {
  /** The page's fixed choices (schedulers, limits, previews), sent first on every "ready". */
  init(): Omit<InitMessage, "type">;
  /** The model picker's state, marking models that cannot run on `runsOn`. */
  models(runsOn: ProviderName | undefined): Promise<ModelsState>;
  /** The hires fix's upscalers: Lanczos and the catalog's downloaded super-resolution models. */
  upscalers(): Promise<readonly UpscalerOption[]>;
}

/** A gallery image as the controller needs it. */
export interface StudioImage {
  /** As the webview refers to it for img2img. */
  readonly ref: ImageRef;
  /** Workspace-relative, for messages. */
  readonly name: string;
  readonly infotext?: string;
}

export interface StudioCommands {
  chooseModel(): Promise<void>;
  downloadModel(spec: string, signal: AbortSignal, report: (message: DownloadProgressMessage) => void, runsOn: ProviderName | undefined): Promise<void>;
  setModel(spec: string): Promise<void>;
  /** Undefined when the user dismissed the picker. */
  pickInitImage(): Promise<ImageRef | undefined>;
  gallery(): Promise<{ readonly items: readonly GalleryItem[]; readonly folders: readonly string[] }>;
  galleryImage(id: string): StudioImage | undefined;
  /** The starting image and mask stored in a gallery image (an inpainted or outpainted one); none for others. */
  storedInputs(id: string): Promise<StoredInputs>;
  /** The pixel size of a starting image the webview refers to (read and checked as a generation reads it). */
  imageSize(image: ImageRef): Promise<{ readonly width: number; readonly height: number }>;
  /** Open, reveal, insert, copy a link, variations, delete: a notice for the panel, or none. */
  galleryCommand(action: Exclude<GalleryAction, "useAsInit" | "restore">, id: string): Promise<string | undefined>;
  /** An error's action that runs outside the panel (Choose Model, settings, the log). */
  errorAction(action: Exclude<ErrorActionId, "retry" | "pickInitImage">): Promise<void>;
}

/** The LoRA picker's and fast mode's sources (issue 10). */
export interface StudioLoraPorts {
  /** The LoRAs in easel.loraFolders and the model store's loras/ (the engine's listLoras), and the folders read. */
  list(): Promise<{ readonly loras: readonly LoraListing[]; readonly folders: readonly string[] }>;
  /** The base the chosen model's LoRAs must be for; undefined when its folder does not tell. */
  modelBase(models: ModelsState): Promise<string | undefined>;
  /** What "Fast" uses with a model of this family. */
  fast(family: ModelFamily | undefined): Promise<FastMode>;
  /** The palette's Generate Fast path: fast-mode LoRA `id` downloaded once (asked first); false when the user declined. */
  ensureFastLora(family: ModelFamily | undefined, id: string): Promise<boolean>;
  promptSyntax(): PromptSyntax;
  /** LoRA weights go from -limit to limit (the engine's). */
  readonly weightLimit: number;
}

export interface StudioPorts {
  readonly post: (message: HostMessage) => void;
  readonly engine: StudioEngine;
  readonly settings: StudioSettings;
  readonly commands: StudioCommands;
  readonly loras: StudioLoraPorts;
}

export class StudioController {
  private ready = false;
  private queued: HostMessage[] = [];
  private models: Promise<ModelsState>;
  private generation: AbortController | undefined;
  private download: AbortController | undefined;
  private lastForm: StudioForm | undefined;
  private disposed = false;
  /** The provider probe's answer, once asked (see readModels). */
  private probing = false;
  private probed: ProviderName | undefined;
  /** The LoRA picker's last reading (for the chosen model). */
  private loras: Promise<LorasMessage> | undefined;

  constructor(private readonly ports: StudioPorts) {
    this.models = this.readModels();
  }

  /** The panel closed. A running generation still saves its images, a download still completes. */
  dispose(): void {
    this.disposed = true;
  }

  /** A message from the webview, validated here: a malformed generate is the user's to fix, anything else a bug to log. */
  receive(raw: unknown): Promise<void> {
    let message: WebviewMessage;
    try {
      message = parseWebviewMessage(raw);
    } catch (error) {
      const type = typeof raw === "object" && raw !== null ? (raw as { type?: unknown }).type : undefined;
      if (type === "generate") this.post({ type: "failed", error: describeError(error) });
      else this.ports.engine.warn(`Studio: ignored a malformed message: ${firstLine(error)}`);
      return Promise.resolve();
    }
    return this.handle(message).catch((error: unknown) => this.notice("warning", `Easel: ${describeError(error).message}`));
  }

  /** The models or their settings changed (a download, a removal, `easel.model`): the picker is sent again. */
  async modelsChanged(): Promise<void> {
    this.models = this.readModels();
    this.post((await this.models).message);
    await this.postUpscalers();
    // A new model may have another base: the picker's marks and fast mode follow it.
    await this.lorasChanged();
  }

  /** The hires fix's upscaler choices (a download or a removal changes them, as it changes the models). */
  private async postUpscalers(): Promise<void> {
    // An unreadable model store leaves the list as it was (Automatic and Lanczos still work); the page goes on.
    let upscalers: readonly UpscalerOption[];
    try {
      upscalers = await this.ports.settings.upscalers();
    } catch (error) {
      this.ports.engine.warn(`Studio: could not list the upscalers: ${firstLine(error)}`);
      return;
    }
    this.post({ type: "upscalers", upscalers });
  }

  /** The LoRA folders or their settings changed, or the panel was shown again: the picker is read again. */
  async lorasChanged(): Promise<void> {
    if (!this.ready || this.disposed) return;
    this.loras = this.readLoras();
    this.post(await this.loras);
  }

  /** The gallery's folders changed. */
  async galleryChanged(): Promise<void> {
    if (!this.ready || this.disposed) return;
    const { items, folders } = await this.ports.commands.gallery();
    this.post({ type: "gallery", items, folders });
  }

  /**
   * Puts an image's settings (its infotext) into the form: "Open Studio with these settings". A
   * gallery image that was inpainted or outpainted (`galleryId`) also brings back its stored
   * starting image, mask and sides, so Generate makes it again.
   */
  async restore(infotext: string, source: string, galleryId?: string): Promise<void> {
    const { geometry } = (await this.models).message;
    const stored = requestFromInfotext(infotext);
    let form: FormPatch = formFromStored(stored, geometry);
    const missing = form.loras ? missingLoras(form.loras, (await this.loraMessage()).loras) : [];
    if (galleryId !== undefined && (stored.masked || stored.outpaint)) {
      const inputs = await this.ports.commands.storedInputs(galleryId);
      if (inputs.initImage && (stored.outpaint || inputs.mask)) {
        const initImage: ImageRef = { id: galleryId, name: `${source}: its starting image`, thumb: imageDataUrl(inputs.initImage), stored: true };
        const { left = 0, right = 0, top = 0, bottom = 0 } = stored.outpaint ?? {};
        form = stored.outpaint
          ? { ...form, initImage, initMode: "outpaint", outpaint: { left, right, top, bottom } }
          : { ...form, initImage, initMode: "inpaint", mask: Buffer.from(inputs.mask ?? new Uint8Array()).toString("base64") };
      } else {
        this.notice("warning", `${source} does not carry the image it was ${stored.outpaint ? "extended" : "inpainted"} from (made outside the Studio?): only its settings were restored.`);
      }
    }
    this.post({ type: "restoreForm", form, source });
    // After the form: the page's own "restored" notice would hide it otherwise.
    if (missing.length > 0) {
      const one = missing.length === 1;
      this.notice("warning", `${source} used ${one ? "a LoRA" : "LoRAs"} not in the LoRA folders: ${missing.join(", ")}. Put ${one ? "it" : "them"} in a folder of easel.loraFolders and press Refresh, or remove ${one ? "it" : "them"}.`);
    }
  }

  /** Easel: Inpaint Image… / Extend Image…: the image as the starting image, with the mask editor or the outpaint control. */
  editImage(image: ImageRef, mode: Exclude<InitMode, "img2img">): void {
    this.post({ type: "initImage", image, mode });
  }

  /** Shows a saved image (by its URI) in the preview, as a finished generation's: a texture from the palette. */
  async showResult(uri: string): Promise<void> {
    const { items, folders } = await this.ports.commands.gallery();
    const image = items.find((i) => i.uri === uri);
    this.post({ type: "gallery", items, folders });
    if (image) this.post({ type: "showResult", image });
  }

  private post(message: HostMessage): void {
    if (this.disposed) return;
    if (!this.ready) this.queued.push(message);
    else this.ports.post(message);
  }

  private notice(kind: "info" | "warning", text: string): void {
    this.post({ type: "notice", kind, text });
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
        return this.ports.commands.chooseModel();
      case "pickInitImage":
        return this.pickInitImage();
      case "galleryAction":
        return this.galleryAction(message.action, message.id);
      case "errorAction":
        return this.errorAction(message.action);
      case "refreshGallery":
        return this.galleryChanged();
      case "refreshLoras":
        return this.lorasChanged();
    }
  }

  private async onReady(): Promise<void> {
    // A page reload (the panel restored, the webview recreated) is a fresh page: everything again.
    this.ready = true;
    const queued = this.queued;
    this.queued = [];
    this.post({ type: "init", ...this.ports.settings.init() });
    this.post((await this.models).message);
    await this.postUpscalers();
    this.loras = this.readLoras();
    this.post(await this.loras);
    for (const m of queued) this.post(m);
    if (this.generation) this.post({ type: "started" });
    await this.galleryChanged();
  }

  /**
   * The picker's state, marking catalog models that cannot run on the provider used here once that
   * is known: the panel does not wait for the probe; the picker is sent again when it answers.
   */
  private readModels(): Promise<ModelsState> {
    const runsOn = this.ports.engine.knownRunsOn ?? this.probed;
    if (runsOn === undefined && !this.probing) {
      // Asked once per panel: the answer is kept here, so re-reading the picker never asks again.
      this.probing = true;
      void this.ports.engine.runsOn().then((provider) => {
        this.probed = provider;
        if (provider && !this.disposed) void this.modelsChanged();
      });
    }
    return this.ports.settings.models(runsOn);
  }

  private async generate(form: StudioForm): Promise<void> {
    if (this.generation) {
      this.notice("warning", "A generation is already running: cancel it first (Escape).");
      return;
    }
    this.lastForm = form;
    const controller = new AbortController();
    this.generation = controller;
    try {
      // The mask was painted on the image the page showed: it must still be that image's size.
      if (form.initMode === "inpaint" && form.initImage && form.mask !== undefined) checkMaskFits(parseMask(form.mask), await this.ports.commands.imageSize(form.initImage));
      const state = await this.models;
      const checked = await this.loraChecks(form, state);
      if (!checked) return;
      const outcome = await this.ports.engine.generate(checked, state.message.geometry, controller.signal, (m) => this.post(m));
      this.post({ type: "done", images: outcome.images, seeds: outcome.seeds, seconds: outcome.seconds });
      // The gallery lists the new images now, not when (or whether) a file watcher reports them.
      void this.galleryChanged();
      // The model may have been downloaded just now: its tokenizer and sizes are known from here on.
      if (!state.dir) void this.modelsChanged();
    } catch (error) {
      if (error instanceof EaselError && error.code === "cancelled") this.post({ type: "cancelled" });
      else this.post({ type: "failed", error: describeError(error) });
    } finally {
      this.generation = undefined;
    }
  }

  /** The picker's reading, read now when there is none yet. */
  private loraMessage(): Promise<LorasMessage> {
    this.loras ??= this.readLoras();
    return this.loras;
  }

  private async readLoras(): Promise<LorasMessage> {
    const state = await this.models;
    const { loras } = this.ports;
    const [listed, modelBase, fast] = await Promise.all([loras.list(), loras.modelBase(state), loras.fast(state.message.geometry.family)]);
    return {
      type: "loras",
      loras: loraOptions(listed.loras, modelBase),
      ...(modelBase ? { modelBase } : {}),
      folders: listed.folders,
      weightLimit: loras.weightLimit,
      promptSyntax: loras.promptSyntax(),
      fast,
    };
  }

  /**
   * The form's LoRAs and quality before the engine runs: each LoRA still listed and fit for the
   * model (read again once when one is missing: the folder may have changed), and fast mode's LoRA
   * (the form's, else the setting's or the family's default) fit for the model and downloaded through
   * the palette's path. The form to generate, naming that LoRA; undefined when the user declined the download.
   */
  private async loraChecks(form: StudioForm, state: ModelsState): Promise<StudioForm | undefined> {
    if (form.loras && form.loras.length > 0) {
      let { loras } = await this.loraMessage();
      if (missingLoras(form.loras, loras).length > 0) {
        this.loras = this.readLoras();
        const fresh = await this.loras;
        this.post(fresh);
        loras = fresh.loras;
      }
      checkChosenLoras(form.loras, loras);
    }
    if (form.quality !== "fast") return form;
    const family = state.message.geometry.family;
    const fast = await this.ports.loras.fast(family);
    if (!fast.available) throw new EaselError("bad-argument", `Fast quality: ${fast.reason}; choose Normal`);
    // The form's LoRA (a restored image's, or one picked) must be one this model's family can use.
    const id = form.fastLora || fast.chosen;
    const choice = fast.choices.find((c) => c.id === id);
    if (!choice) throw new EaselError("bad-argument", `Fast quality: ${id} is not made for this model: choose one of ${fast.choices.map((c) => c.id).join(", ")}`);
    // The engine is told which one, so the setting changing mid-way cannot change the picture.
    const resolved: StudioForm = { ...form, fastLora: choice.id };
    if (choice.downloaded) return resolved;
    if (!(await this.ports.loras.ensureFastLora(family, choice.id))) {
      this.post({ type: "cancelled" });
      this.notice("info", `Fast quality needs ${choice.lora}: generate again to download it, or choose Normal.`);
      return undefined;
    }
    // Downloaded now: the picker's line about fast mode says so.
    void this.lorasChanged();
    return resolved;
  }

  private async countTokens(field: "prompt" | "negativePrompt", text: string, seq: number): Promise<void> {
    const { tokenizerDir } = await this.models;
    const fallback = { type: "tokenCount" as const, field, seq, max: 75, truncated: false };
    if (!tokenizerDir) {
      this.post(fallback);
      return;
    }
    try {
      this.post({ type: "tokenCount", field, seq, ...(await this.ports.engine.countTokens(tokenizerDir, text)) });
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
        await this.ports.commands.downloadModel(spec, controller.signal, (m) => this.post(m), await this.ports.engine.runsOn());
      } catch (error) {
        const cancelled = error instanceof EaselError && error.code === "cancelled";
        this.post({ type: "download", spec, state: cancelled ? "cancelled" : "failed", line: cancelled ? "download cancelled" : describeError(error).message });
        this.post(message);
        return;
      } finally {
        if (this.download === controller) this.download = undefined;
      }
    }
    await this.ports.commands.setModel(spec);
  }

  private async pickInitImage(): Promise<void> {
    try {
      const image = await this.ports.commands.pickInitImage();
      if (image) this.post({ type: "initImage", image });
    } catch (error) {
      this.notice("warning", `Easel: ${describeError(error).message}`);
    }
  }

  private async galleryAction(action: GalleryAction, id: string): Promise<void> {
    const image = this.ports.commands.galleryImage(id);
    if (!image) {
      this.notice("warning", "That image is no longer in the gallery.");
      await this.galleryChanged();
      return;
    }
    switch (action) {
      case "useAsInit":
        this.post({ type: "initImage", image: image.ref });
        return;
      case "restore":
        if (!image.infotext) this.notice("info", `${image.name} carries no generation settings (only PNGs keep them).`);
        else await this.restore(image.infotext, image.name, id);
        return;
      default: {
        const notice = await this.ports.commands.galleryCommand(action, id);
        if (notice) this.notice("info", notice);
      }
    }
  }

  private async errorAction(action: ErrorActionId): Promise<void> {
    if (action === "pickInitImage") return this.pickInitImage();
    if (action === "retry") {
      if (this.lastForm) await this.generate(this.lastForm);
      return;
    }
    await this.ports.commands.errorAction(action);
  }
}
