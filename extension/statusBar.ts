// The model and the engine's state at a glance (idle, loading, step n/N); a click opens the Studio.
import * as path from "node:path";
import * as vscode from "vscode";
import { readSettings } from "./config";
import type { EngineState } from "./engineClient";
import type { EngineService } from "./engineService";

function modelLabel(): string {
  const model = readSettings().model;
  if (!model) return "no model";
  return /[\\/]/.test(model) && !/^[\w.-]+\/[\w.-]+(@.*)?$/.test(model) ? path.basename(model) : model;
}

function stateText(state: EngineState): string {
  switch (state.kind) {
    case "stopped":
    case "idle":
      return "";
    case "loading":
      return ` · loading${state.component ? ` ${state.component}` : ""}`;
    case "generating":
      return ` · step ${state.step}/${state.steps}`;
  }
}

export function registerStatusBar(engine: EngineService): vscode.Disposable {
  const item = vscode.window.createStatusBarItem("easel.status", vscode.StatusBarAlignment.Right, 100);
  item.name = "Easel";
  item.command = "easel.openStudio";
  const update = () => {
    const state = engine.state;
    const busy = state.kind === "loading" || state.kind === "generating";
    item.text = `${busy ? "$(loading~spin)" : "$(sparkle)"} ${modelLabel()}${stateText(state)}`;
    item.tooltip = busy ? "Easel is working — click to open the Studio" : "Easel — click to open the Studio";
  };
  update();
  item.show();
  return vscode.Disposable.from(
    item,
    engine.onDidChangeState(update),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration("easel.model") && update()),
  );
}
