import * as vscode from "vscode";
import { describeError } from "./errorActions";
import type { EngineService } from "./engineService";
import type { ErrorActionId } from "./protocol/studioMessages";

/**
 * Runs an error action that needs nothing but VS Code (a command, a setting, the log); false for
 * the ones only the surface that failed can run (the Studio's Try Again and Choose Another Image).
 */
export async function runErrorAction(id: ErrorActionId): Promise<boolean> {
  switch (id) {
    case "chooseModel":
      await vscode.commands.executeCommand("easel.chooseModel");
      return true;
    case "downloadModel":
      await vscode.commands.executeCommand("easel.downloadModel");
      return true;
    case "providerSettings":
      await vscode.commands.executeCommand("workbench.action.openSettings", "easel.provider");
      return true;
    case "outputSettings":
      await vscode.commands.executeCommand("workbench.action.openSettings", "easel.output");
      return true;
    case "showLog":
      await vscode.commands.executeCommand("easel.showLog");
      return true;
    case "retry":
    case "pickInitImage":
      return false;
  }
}

/** Shows a failure as one line with the actions that fix it (the shared table); a cancelled generation says nothing. */
export async function showError(error: unknown): Promise<void> {
  const { code, message, actions } = describeError(error);
  if (code === "cancelled") return;
  // A notification has no request to retry and no form to pick an image into.
  const offered = actions.filter((a) => a.id !== "retry" && a.id !== "pickInitImage");
  const picked = await vscode.window.showErrorMessage(`Easel: ${message}`, ...offered.map((a) => a.label));
  const action = offered.find((a) => a.label === picked);
  if (action) await runErrorAction(action.id);
}

/** Easel: Show Log — the engine's log (what "Show Log" on an error opens). */
export function registerShowLog(engine: EngineService): vscode.Disposable {
  return vscode.commands.registerCommand("easel.showLog", () => engine.output.show(true));
}
