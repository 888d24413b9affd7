import * as vscode from "vscode";
import { resolveSettings, type EaselSettings } from "./settings";

/** The settings as they apply now (workspace values only in a trusted workspace). */
export function readSettings(scope?: vscode.Uri): EaselSettings {
  const config = vscode.workspace.getConfiguration("easel", scope);
  return resolveSettings((key) => config.inspect(key), vscode.workspace.isTrusted);
}
