import * as vscode from "vscode";

/**
 * The file a command is about: the explorer or hover argument when there is one, else the active
 * text editor's document, else the active tab's resource (an image shown in VS Code's preview
 * is not a text editor).
 */
export function commandResource(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === "string") return vscode.Uri.parse(arg);
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return vscode.window.activeTextEditor?.document.uri ?? (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined);
}
