// The open Studio panel: VS Code's side of the StudioController (studioController.ts holds the
// logic). It wires the real ports — the webview, the engine process and the shared generation
// path, the settings and model picker, the gallery and the commands its buttons run.
import * as vscode from "vscode";
import { readSettings } from "../config";
import { MAX_BATCH, MAX_GUIDANCE, MAX_SEED, MAX_SIDE, MAX_STEPS, MIN_SIDE } from "../engine/pipeline/resolveRequest";
import { samplerLabel } from "../engine/schedulers";
import { SCHEDULER_NAMES } from "../engine/schedulers/scheduler";
import type { EngineService } from "../engineService";
import { runErrorAction } from "../errorMessages";
import { onDidChangeModels } from "../models/modelsChanged";
import { decodeImageRgb } from "../engine/image/decode";
import { readStoredInputs } from "../generation/storedInputs";
import type { GalleryAction, ImageRef, InitMode } from "../protocol/studioMessages";
import { readWorkspaceImage } from "../workspaceImages";
import { Gallery, type GalleryEntry } from "./gallery";
import { copyImageLink, deleteImage, imageVariations, insertImage, openImage, revealImage } from "./galleryActions";
import { imageRef, pickWorkspaceImage, readStartingImage } from "./initImage";
import type { MarkdownTarget } from "./markdownTarget";
import { StudioController, type StudioPorts } from "./studioController";
import { runStudioGeneration } from "./studioGeneration";
import { downloadModel, readModelsState, readUpscalerOptions, setConfiguredModel } from "./studioModels";
import { studioLoraFolders, studioLoraPorts } from "./studioLoraPorts";
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
  private readonly controller: StudioController;
  private readonly disposables: vscode.Disposable[] = [];
  /** Watches the LoRA folders (recreated when easel.loraFolders or the store move). */
  private loraWatchers: vscode.Disposable | undefined;
  private loraTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly services: StudioServices,
  ) {
    this.controller = new StudioController(this.ports());
    this.disposables.push(
      this.gallery,
      panel.webview.onDidReceiveMessage((raw: unknown) => void this.controller.receive(raw)),
      this.gallery.onDidChange(() => void this.controller.galleryChanged()),
      onDidChangeModels(() => void this.controller.modelsChanged()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (["easel.model", "easel.localModels", "easel.cacheFolder", "easel.defaults", "easel.provider"].some((k) => e.affectsConfiguration(k))) void this.controller.modelsChanged();
        if (["easel.loraFolders", "easel.cacheFolder", "easel.promptSyntax", "easel.fastLora"].some((k) => e.affectsConfiguration(k))) {
          this.watchLoraFolders();
          void this.controller.lorasChanged();
        }
      }),
      // Shown again: LoRAs may have been added while another tab was in front (a folder outside
      // the workspace is not always watched).
      panel.onDidChangeViewState((e) => {
        if (e.webviewPanel.visible) void this.controller.lorasChanged();
      }),
    );
    this.watchLoraFolders();
  }

  /** A LoRA file added, changed or removed in a LoRA folder reads the picker again (once per burst). */
  private watchLoraFolders(): void {
    this.loraWatchers?.dispose();
    const watchers = studioLoraFolders(readSettings()).map((folder) => {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(folder), "**/*.{safetensors,ckpt,pt,pth}"));
      const changed = () => {
        clearTimeout(this.loraTimer);
        this.loraTimer = setTimeout(() => void this.controller.lorasChanged(), 300);
      };
      w.onDidCreate(changed);
      w.onDidChange(changed);
      w.onDidDelete(changed);
      return w;
    });
    this.loraWatchers = vscode.Disposable.from(...watchers);
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  /** Puts an image's settings (its infotext) into the form: "Open Studio with these settings". */
  restoreFromInfotext(infotext: string, source: string): Promise<void> {
    return this.controller.restore(infotext, source);
  }

  /** Shows a saved image in the preview (2×2 when it tiles). */
  showResult(uri: string): Promise<void> {
    return this.controller.showResult(uri);
  }

  /** Easel: Inpaint Image… / Extend Image…: the image as the starting image, its editor shown. */
  editImage(uri: vscode.Uri, mode: Exclude<InitMode, "img2img">): void {
    this.controller.editImage(imageRef(uri, this.panel.webview), mode);
  }

  dispose(): void {
    clearTimeout(this.loraTimer);
    this.loraWatchers?.dispose();
    this.controller.dispose();
    for (const d of this.disposables) d.dispose();
  }

  private ports(): StudioPorts {
    const { engine, markdown, tokens } = this.services;
    const webview = this.panel.webview;
    const entry = (id: string): GalleryEntry | undefined => this.gallery.lookup(id);
    return {
      post: (message) => void webview.postMessage(message),
      engine: {
        generate: async (form, geometry, signal, post) => {
          const outcome = await runStudioGeneration(engine, form, geometry, signal, post);
          return {
            images: outcome.saved.map((s) => this.gallery.add(s.uri, s.image.infotext, webview)),
            seeds: outcome.saved.map((s) => s.image.seed.toString()),
            seconds: outcome.result.seconds,
          };
        },
        get knownRunsOn() {
          return engine.knownRunsOn;
        },
        runsOn: () => engine.runsOn(),
        countTokens: (dir, text) => tokens.count(dir, text, readSettings().promptSyntax),
        warn: (line) => engine.output.warn(line),
      },
      settings: {
        init: () => ({
          schedulers: SCHEDULERS,
          limits: { maxSteps: MAX_STEPS, maxGuidance: MAX_GUIDANCE, maxBatch: MAX_BATCH, minSide: MIN_SIDE, maxSide: MAX_SIDE, maxSeed: MAX_SEED.toString() },
          previews: readSettings().previews,
        }),
        models: (runsOn) => readModelsState(readSettings(), runsOn),
        upscalers: () => readUpscalerOptions(readSettings()),
      },
      commands: {
        chooseModel: async () => {
          await vscode.commands.executeCommand("easel.chooseModel");
        },
        downloadModel: (spec, signal, report, runsOn) => downloadModel(spec, readSettings(), signal, report, runsOn),
        setModel: (spec) => setConfiguredModel(spec),
        pickInitImage: async () => {
          const uri = await pickWorkspaceImage();
          return uri ? imageRef(uri, webview) : undefined;
        },
        gallery: () => this.gallery.list(webview),
        galleryImage: (id) => {
          const e = entry(id);
          return e ? { ref: imageRef(e.uri, webview), name: vscode.workspace.asRelativePath(e.uri), infotext: e.infotext } : undefined;
        },
        storedInputs: async (id) => {
          const e = entry(id);
          return e ? readStoredInputs(await readWorkspaceImage(e.uri)) : {};
        },
        imageSize: async (image: ImageRef) => {
          const { width, height } = await decodeImageRgb(await readStartingImage(image), "starting image");
          return { width, height };
        },
        galleryCommand: async (action, id) => {
          const e = entry(id);
          return e ? galleryCommand(action, e, markdown) : undefined;
        },
        errorAction: async (action) => {
          await runErrorAction(action);
        },
      },
      loras: studioLoraPorts(),
    };
  }
}

function galleryCommand(action: Exclude<GalleryAction, "useAsInit" | "restore">, entry: GalleryEntry, markdown: MarkdownTarget): Promise<string | undefined> {
  switch (action) {
    case "open":
      return openImage(entry);
    case "reveal":
      return revealImage(entry);
    case "insert":
      return insertImage(entry, markdown);
    case "copyLink":
      return copyImageLink(entry, markdown);
    case "variations":
      return imageVariations(entry);
    case "delete":
      return deleteImage(entry);
  }
}
