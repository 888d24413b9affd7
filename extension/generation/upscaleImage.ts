// Easel: Upscale Image… — a workspace image enlarged 2x or 4x beside itself (upscaleFile.ts): the
// catalog upscaler from the model store when one is downloaded, else Lanczos. It runs in the engine
// process, as Remove Background does, with its tiles as progress and a cancel button; the new PNG is
// created through one WorkspaceEdit, recorded in the workspace's lockfile and opened.
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { recordDerived } from "../assets/assetLock";
import { IMAGE_KINDS } from "../assets/imageFiles";
import { applyOrThrow } from "../assets/saveImages";
import { readSettings } from "../config";
import { EaselError } from "../engine/errors";
import { UPSCALE_SCALES } from "../engine/upscale/upscaleImage";
import type { EngineService } from "../engineService";
import { showError } from "../errorMessages";
import { modelStore } from "../models/modelResolver";
import { readWorkspaceImage } from "../workspaceImages";
import { upscaleFile, upscaleProgressLine } from "./upscaleFile";

export function registerUpscaleImage(engine: EngineService): vscode.Disposable {
  return vscode.commands.registerCommand("easel.upscaleImage", async (arg?: unknown) => {
    try {
      const uri = commandResource(arg);
      if (!uri) throw new EaselError("bad-argument", `choose a ${IMAGE_KINDS} image in the explorer to upscale`);
      const name = uri.path.split("/").pop() ?? "image";
      const picked = await vscode.window.showQuickPick(
        UPSCALE_SCALES.map((s) => ({ label: `${s}×`, scale: s })),
        { title: `Easel: Upscale ${name}`, placeHolder: "How much larger?" },
      );
      if (!picked) return;
      const folder = vscode.Uri.joinPath(uri, "..");
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Easel: upscaling ${name} ${picked.scale}×`, cancellable: true },
        (progress, token) => {
          const controller = new AbortController();
          token.onCancellationRequested(() => controller.abort());
          return upscaleFile(name, picked.scale, {
            engine,
            store: modelStore(readSettings(uri)),
            read: () => readWorkspaceImage(uri),
            taken: async () => new Set((await vscode.workspace.fs.readDirectory(folder).then(undefined, () => [] as [string, vscode.FileType][])).map(([n]) => n)),
          }, { signal: controller.signal, onProgress: (p) => progress.report({ message: upscaleProgressLine(p) }) });
        },
      );
      const out = vscode.Uri.joinPath(folder, result.name);
      const edit = new vscode.WorkspaceEdit();
      edit.createFile(out, { contents: result.png, overwrite: false });
      await applyOrThrow(edit, "the upscaled image");
      // Recorded like `easel upscale --record` (the same step), so Regenerate/Check make it again.
      await recordDerived(uri, result.source, [[out, result.png]], (root) => result.step(root));
      await vscode.commands.executeCommand("vscode.open", out, { preview: true });
      void vscode.window.showInformationMessage(`Easel: saved ${vscode.workspace.asRelativePath(out)} (${result.width}×${result.height}, ${result.upscaler})`);
    } catch (error) {
      if (error instanceof EaselError && error.code === "cancelled") return;
      await showError(error);
    }
  });
}
