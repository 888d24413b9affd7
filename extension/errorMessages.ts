import * as vscode from "vscode";
import { EaselError, firstLine } from "./engine/errors";

/** Shows a failure as one line with the action that fixes it; a cancelled generation says nothing. */
export async function showError(error: unknown): Promise<void> {
  if (error instanceof EaselError && error.code === "cancelled") return;
  const message = `Easel: ${error instanceof EaselError ? error.message : firstLine(error)}`;
  const code = error instanceof EaselError ? error.code : "internal";
  const actions: Record<string, string> = {
    "model-missing": "Choose Model",
    "model-invalid": "Choose Model",
    "model-unsupported": "Choose Model",
    "provider-unavailable": "Open Settings",
  };
  const action = actions[code];
  const picked = action ? await vscode.window.showErrorMessage(message, action) : await vscode.window.showErrorMessage(message);
  if (picked === "Choose Model") await vscode.commands.executeCommand("easel.chooseModel");
  if (picked === "Open Settings") await vscode.commands.executeCommand("workbench.action.openSettings", "easel.provider");
}
