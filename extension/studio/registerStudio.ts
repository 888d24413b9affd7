import * as vscode from "vscode";
import type { EngineService } from "../engineService";

/** Placeholder until the Studio panel lands: the command exists so the palette and status bar work. */
export function registerStudio(_context: vscode.ExtensionContext, _engine: EngineService): vscode.Disposable {
  return vscode.commands.registerCommand("easel.openStudio", () => {
    const panel = vscode.window.createWebviewPanel("easel.studio", "Easel Studio", vscode.ViewColumn.Beside, {});
    panel.webview.html = "<!DOCTYPE html><html><body><p>Easel Studio</p></body></html>";
  });
}
