// Fired when a model is downloaded or removed from the cache, so views listing models (the
// Studio's picker) show what is on disk now, whichever command changed it.
import * as vscode from "vscode";

const emitter = new vscode.EventEmitter<void>();

export const onDidChangeModels: vscode.Event<void> = emitter.event;

export function fireModelsChanged(): void {
  emitter.fire();
}
