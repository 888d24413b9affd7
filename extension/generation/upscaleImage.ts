// Easel: Upscale Image… — a workspace image enlarged 2x or 4x beside itself (upscaleFile.ts): the
// catalog upscaler from the model store when one is downloaded, else Lanczos.
import { spawn } from "node:child_process";
import path from "node:path";
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { workspacePlace } from "../assets/assetLock";
import { IMAGE_KINDS } from "../assets/imageFiles";
import { readSettings } from "../config";
import { EaselError } from "../engine/errors";
import { showError } from "../errorMessages";
import { modelStore } from "../models/modelResolver";
import { type UpscaleDeps, UPSCALE_SCALES, upscaleFile } from "./upscaleFile";

/** `dist/cli.js` run by VS Code's own Node (Electron as Node), its output collected. */
export function cliRunner(cli: string): UpscaleDeps["runCli"] {
  return (args, signal) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" }, stdio: ["ignore", "pipe", "pipe"], signal });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
      child.on("error", (error) => (signal.aborted ? resolve({ code: null, stdout, stderr }) : reject(error)));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

export function registerUpscaleImage(context: vscode.ExtensionContext): vscode.Disposable {
  const cli = path.join(context.extensionPath, "dist", "cli.js");
  return vscode.commands.registerCommand("easel.upscaleImage", async (arg?: unknown) => {
    try {
      const uri = commandResource(arg);
      if (!uri || uri.scheme !== "file") throw new EaselError("bad-argument", `choose a ${IMAGE_KINDS} image in the explorer to upscale`);
      const picked = await vscode.window.showQuickPick(
        UPSCALE_SCALES.map((s) => ({ label: `${s}×`, scale: s })),
        { title: `Easel: Upscale ${path.basename(uri.fsPath)}`, placeHolder: "How much larger?" },
      );
      if (!picked) return;
      const settings = readSettings(uri);
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Easel: upscaling ${path.basename(uri.fsPath)} ${picked.scale}×…`, cancellable: true },
        (_progress, token) => {
          const controller = new AbortController();
          token.onCancellationRequested(() => controller.abort());
          return upscaleFile(uri.fsPath, picked.scale, { runCli: cliRunner(cli), store: modelStore(settings), provider: settings.provider, recordIn: workspacePlace(uri)?.root }, controller.signal);
        },
      );
      const out = vscode.Uri.file(result.file);
      await vscode.commands.executeCommand("vscode.open", out, { preview: true });
      void vscode.window.showInformationMessage(`Easel: saved ${vscode.workspace.asRelativePath(out)} (${result.width}×${result.height}, ${result.upscaler})`);
    } catch (error) {
      if (error instanceof EaselError && error.code === "cancelled") return;
      await showError(error);
    }
  });
}
