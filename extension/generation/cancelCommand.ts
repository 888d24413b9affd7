import * as vscode from "vscode";
import type { EngineService } from "../engineService";

export function registerCancelCommand(engine: EngineService): vscode.Disposable {
  return vscode.commands.registerCommand("easel.cancelGeneration", () => {
    if (engine.cancelAll() === 0) void vscode.window.setStatusBarMessage("Easel: nothing is generating", 3000);
  });
}
