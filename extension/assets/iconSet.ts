// "Export as Icon Set": the icons written beside the image in <name>-icons/, as one workspace edit.
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { EaselError } from "../engine/errors";
import { showError } from "../errorMessages";
import { renderIconSet } from "../engine/image/iconRender";
import { applyOrThrow } from "./saveImages";
import { readWorkspaceImage } from "../workspaceImages";

async function exportIconSet(uri: vscode.Uri): Promise<void> {
  const icons = await renderIconSet(await readWorkspaceImage(uri));
  const name = uri.path.split("/").pop()!.replace(/\.[^.]+$/, "");
  const folder = vscode.Uri.joinPath(uri, "..", `${name}-icons`);
  const edit = new vscode.WorkspaceEdit();
  for (const [size, png] of icons) edit.createFile(vscode.Uri.joinPath(folder, `${name}-${size}.png`), { contents: png, overwrite: true });
  await applyOrThrow(edit, "the icon set");
  await vscode.commands.executeCommand("revealInExplorer", vscode.Uri.joinPath(folder, `${name}-256.png`));
}

export function registerIconSetExport(): vscode.Disposable {
  return vscode.commands.registerCommand("easel.exportIconSet", async (arg?: unknown) => {
    try {
      const uri = commandResource(arg);
      if (!uri) throw new EaselError("bad-argument", "choose an image in the explorer to export as an icon set");
      await exportIconSet(uri);
    } catch (error) {
      await showError(error);
    }
  });
}
