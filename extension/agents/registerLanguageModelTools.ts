// Easel's language model tools (contributes.languageModelTools): easel_generate_image,
// easel_edit_image and easel_icon_set, for Copilot agent mode (#easelImage) and any extension that
// calls vscode.lm.invokeTool. The VS Code side only: confirmation and progress UI, the
// cancellation token, and the result parts; what a call does is LmToolController's, and a
// generation runs through generateAndSave like the palette's (the same engine process and queue,
// one undoable workspace edit, the asset lockfile).
import * as vscode from "vscode";
import { recordDerived } from "../assets/assetLock";
import { addPackFiles } from "../assets/assetPackExport";
import { requireDownloadedRemover } from "../assets/backgroundRemoval";
import { readModelGeometry } from "../studio/modelGeometry";
import { aspectSizesText } from "../engine/model/imageSizes";
import { applyOrThrow } from "../assets/saveImages";
import { readSettings } from "../config";
import { type ImageTool, IMAGE_TOOLS, TOOL_NAMES } from "../engine/mcp/toolContract";
import type { EngineService } from "../engineService";
import { generateAndSave, signalFor } from "../generation/generateAndSave";
import { requestFromInfotext } from "../generation/requestFromInfotext";
import { type AgentGeneration, type AgentJob, type CallContext, LmToolController } from "./lmToolController";

/** The local (file:) workspace folder, the one the tools write into. */
function workspaceFolder(): string | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined;
}

async function generate(engine: EngineService, job: AgentJob, ctx: CallContext): Promise<AgentGeneration> {
  const outcome = await generateAndSave(
    engine,
    {
      request: job.request,
      agent: { model: job.model, output: { location: "workspace", ...job.output } },
      aspect: job.aspect,
      transparent: job.transparent !== undefined,
      matte: job.transparent?.matte,
      // The edited image and mask are named by path in the lockfile entry, not copied into it.
      inputs: {
        ...(job.inputs?.initImage ? { initImage: { uri: vscode.Uri.file(job.inputs.initImage) } } : {}),
        ...(job.inputs?.mask ? { mask: { uri: vscode.Uri.file(job.inputs.mask) } } : {}),
      },
    },
    {
      signal: ctx.signal,
      onLoadProgress: (e) => ctx.onProgress(`loading ${e.component} (${e.index + 1}/${e.total})…`),
      onProgress: (e) => ctx.onProgress(`${e.images > 1 ? `image ${e.image + 1}/${e.images}, ` : ""}step ${e.step}/${e.steps}`),
    },
  );
  const first = outcome.saved[0]?.image;
  // Steps and guidance as they ran (the settings filled what the agent left out), from the image's parameters.
  const ran = first ? requestFromInfotext(first.infotext).request : undefined;
  return {
    saved: outcome.saved.map((s) => ({ file: s.uri.fsPath, seed: s.image.seed, png: s.image.png })),
    model: outcome.model.name,
    width: first?.width ?? 0,
    height: first?.height ?? 0,
    steps: ran?.steps ?? 0,
    guidance: ran?.guidance ?? 0,
    sampler: outcome.result.sampler,
    provider: outcome.result.provider,
    seconds: outcome.result.seconds,
    sizes: aspectSizesText(await readModelGeometry(outcome.model.name, outcome.model.dir)),
    warnings: outcome.result.warnings,
    recorded: outcome.recorded,
  };
}

/** The controller wired to VS Code: settings, the engine process, workspace edits, the lockfile. */
export function lmToolController(engine: EngineService): LmToolController {
  return new LmToolController({
    workspaceFolder,
    settings: () => {
      const s = readSettings();
      return { model: s.model, outputFolder: s.output.folder, format: s.output.format };
    },
    generate: (job, ctx) => generate(engine, job, ctx),
    createFiles: async (files) => {
      const edit = new vscode.WorkspaceEdit();
      for (const f of files) edit.createFile(vscode.Uri.file(f.file), { contents: f.bytes, overwrite: false });
      await applyOrThrow(edit, "the icon set");
    },
    checkRemover: () => requireDownloadedRemover(readSettings()),
    createPack: async (folder, pack) => {
      const edit = new vscode.WorkspaceEdit();
      addPackFiles(edit, vscode.Uri.file(folder), pack);
      await applyOrThrow(edit, "the asset pack");
    },
    // Each icon names its source image by path (and pixel hash) and its size, as Export Asset Pack's files do.
    recordIcons: (source, sourceBytes, icons) => recordDerived(vscode.Uri.file(source), sourceBytes, icons.map((i) => [vscode.Uri.file(i.file), i.png] as const), (_root, i) => ({ op: "icon", size: icons[i].size })),
  });
}

function tool(controller: LmToolController, which: ImageTool): vscode.LanguageModelTool<object> {
  return {
    async prepareInvocation(options) {
      const prepared = await controller.prepare(which, options.input);
      return {
        invocationMessage: prepared.invocationMessage,
        confirmationMessages: prepared.confirmation && { title: prepared.confirmation.title, message: new vscode.MarkdownString(prepared.confirmation.message) },
      };
    },
    async invoke(options, token) {
      // The progress notification's Cancel and the caller's token both stop the generation.
      const reply = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Easel (agent)", cancellable: true }, (progress, cancel) => {
        const stop = new AbortController();
        const signals = [signalFor(token), signalFor(cancel)];
        for (const s of signals) s.addEventListener("abort", () => stop.abort(), { once: true });
        if (signals.some((s) => s.aborted)) stop.abort();
        return controller.invoke(which, options.input, { signal: stop.signal, onProgress: (message) => progress.report({ message }) });
      });
      return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(reply.text), ...reply.previews.map((png) => vscode.LanguageModelDataPart.image(png, "image/png"))]);
    },
  };
}

/** Registers the three image tools (their names, descriptions and schemas are in package.json, from the shared contract). */
export function registerLanguageModelTools(engine: EngineService): vscode.Disposable {
  // An editor without the language model API (or with it turned off) simply has no tools.
  if (typeof vscode.lm?.registerTool !== "function") return new vscode.Disposable(() => undefined);
  const controller = lmToolController(engine);
  return vscode.Disposable.from(...IMAGE_TOOLS.map((which) => vscode.lm.registerTool(TOOL_NAMES.vscode[which], tool(controller, which))));
}
