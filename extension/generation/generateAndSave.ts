// One generation from any entry point (palette, Studio, Markdown): settings fill what the caller
// left out, the engine process makes the images, and they are saved, together with any Markdown
// link, as one workspace edit.
import * as vscode from "vscode";
import { transparentImages } from "../assets/backgroundRemoval";
import { planImages, applyOrThrow, type PlannedImage } from "../assets/saveImages";
import { transparentJpegError } from "../engine/matte/backgroundRemoval";
import { readSettings } from "../config";
import { type GeneratedExtras, recordGenerated, warnUnrecorded } from "../assets/assetLock";
import { removeBackgroundStep } from "../engine/assets/assetRecord";
import { EaselError } from "../engine/errors";
import type { EngineService } from "../engineService";
import type { GenerateHandlers } from "../engineClient";
import { chooseModelToGenerate } from "../models/modelCommands";
import { resolveModelChoice, type ModelChoice } from "../models/modelResolver";
import type { ResultEvent } from "../engine/host/engineEvents";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import type { EaselSettings } from "../settings";
import { withStoredInputs } from "./storedInputs";
import type { AspectId } from "../protocol/studioMessages";
import { readModelGeometry } from "../studio/modelGeometry";
import { aspectSize } from "../engine/model/imageSizes";

export interface LinkInsertion {
  readonly document: vscode.TextDocument;
  /** Replaced by the text (an empty range inserts). */
  readonly range: vscode.Range;
  /** Builds the text from the saved images (e.g. "\n\n![alt](path)"). */
  readonly text: (images: readonly PlannedImage[]) => string;
}

export interface GenerationJob {
  readonly request: WireGenerateRequest;
  /** The Markdown document the images are for (per-document saving, relative links). */
  readonly document?: vscode.Uri;
  readonly insert?: LinkInsertion;
  /** Remove each image's background (the Studio's Background: Transparent, a recalled transparent image, an agent's transparent: true) before it is saved. */
  readonly transparent?: boolean;
  /** With `transparent`: hard edges, alpha cut at this threshold in (0, 1). */
  readonly matte?: number;
  /** Instead of the request's width and height: the size the model that runs supports for this shape (an agent's aspect). */
  readonly aspect?: AspectId;
  /**
   * An agent's call (the language model tools): this model instead of easel.model, used only if it
   * is already downloaded (never a download or a model picker the agent did not ask for), and these
   * output settings instead of the user's.
   */
  readonly agent?: { readonly model?: string; readonly output?: Partial<EaselSettings["output"]> };
  /** Where the request's starting image and mask came from, for the lockfile entry (see recordGenerated). */
  readonly inputs?: GeneratedExtras["inputs"];
}

export interface GenerationOutcome {
  readonly saved: readonly PlannedImage[];
  readonly result: ResultEvent;
  readonly model: ModelChoice;
  /** Whether every saved file got its easel-assets.json entry (not: outside a workspace folder, or a lockfile that could not be updated). */
  readonly recorded: boolean;
}

/** Fills what the request leaves open from the user's default settings. */
export function withSettingDefaults(request: WireGenerateRequest, settings: EaselSettings): WireGenerateRequest {
  const d = settings.defaults;
  return {
    ...request,
    steps: request.steps ?? d.steps,
    guidance: request.guidance ?? d.guidance,
    scheduler: request.scheduler ?? d.scheduler,
    width: request.width ?? d.width,
    height: request.height ?? d.height,
    // A recalled image keeps the syntax it was made with; a new one follows easel.promptSyntax.
    promptSyntax: request.promptSyntax ?? settings.promptSyntax,
  };
}

/** The user's settings with an agent's model and output choices in place of theirs. */
export function withAgentSettings(settings: EaselSettings, agent: GenerationJob["agent"]): EaselSettings {
  if (!agent) return settings;
  return { ...settings, model: agent.model ?? settings.model, output: { ...settings.output, ...agent.output } };
}

export async function generateAndSave(
  engine: EngineService,
  job: GenerationJob,
  handlers: GenerateHandlers,
): Promise<GenerationOutcome> {
  let settings = withAgentSettings(readSettings(job.document), job.agent);
  if (!settings.model && job.agent) throw new EaselError("model-missing", "no model is chosen yet: ask the user to run 'Easel: Choose Model' (or pass model, a downloaded one)");
  if (!settings.model) {
    // A first run: pick a model now and carry on with what the user asked for.
    if (!(await chooseModelToGenerate(engine))) throw new EaselError("cancelled", "no model was chosen");
    settings = readSettings(job.document);
  }
  // Which provider runs here first (probed once): a catalog model that cannot run on it is not downloaded.
  // JPEG cannot hold alpha: refused before anything is generated.
  if (job.transparent && settings.output.format === "jpeg") throw transparentJpegError();
  const model = await resolveModelChoice(settings, handlers.signal, await engine.runsOn(), !job.agent);
  // An aspect becomes the size this model supports for it (SDXL: its trained buckets), as the Studio's size picker sizes it.
  const request = job.aspect ? { ...job.request, ...aspectSize(job.aspect, await readModelGeometry(model.name, model.dir)) } : job.request;
  const result = await engine.generate(model.dir, withSettingDefaults(request, settings), handlers);
  // A LoRA that matched the model only in part, and the like: the images are made, the user is told.
  for (const warning of result.warnings) void vscode.window.showWarningMessage(`Easel: ${warning}`);
  const cut = job.transparent ? await transparentImages(engine, result.images, settings, job.matte, handlers.signal) : undefined;
  const made = cut?.images ?? result.images;
  const edit = new vscode.WorkspaceEdit();
  // An inpainted or outpainted image keeps what it was made from, so it can be made again.
  const images = made.map((image) => ({ ...image, png: withStoredInputs(image.png, job.request) }));
  const saved = await planImages(edit, images, settings, { prompt: job.request.prompt, model: model.name, document: job.document });
  if (job.insert) edit.replace(job.insert.document.uri, job.insert.range, job.insert.text(saved));
  await applyOrThrow(edit, saved.length === 1 ? "the image" : "the images");
  // The images are saved whatever happens to their lockfile entries; a lockfile that cannot be
  // updated (a corrupt one is never overwritten) is said once, with why.
  const post = cut && (async (root: string) => [await removeBackgroundStep(cut.remover.file, root, { catalogId: cut.remover.name, matte: job.matte, format: "png" })]);
  const recorded = await recordGenerated(saved, result, request, { name: settings.model, dir: model.dir }, settings.output.format, { inputs: job.inputs, post }).then(
    (count) => count === saved.length,
    (error: unknown) => {
      warnUnrecorded(error);
      return false;
    },
  );
  return { saved, result, model, recorded };
}

/**
 * An AbortSignal that follows a VS Code cancellation token: command handlers convert the token
 * they are given once; everything below them takes the signal.
 */
export function signalFor(token: vscode.CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}
