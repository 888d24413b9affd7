// "Export as Icon Set": the icons written beside the image in <name>-icons/, as one workspace edit.
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { EaselError, firstLine } from "../engine/errors";
import { recordIcons } from "./assetLock";
import { showError } from "../errorMessages";
import { renderIconSet } from "../engine/image/iconRender";
import { applyOrThrow } from "./saveImages";
import { readWorkspaceImage } from "../workspaceImages";

async function exportIconSet(uri: vscode.Uri): Promise<void> {
  const source = await readWorkspaceImage(uri);
  const icons = await renderIconSet(source);
  const name = uri.path.split("/").pop()!.replace(/\.[^.]+$/, "");
  const folder = vscode.Uri.joinPath(uri, "..", `${name}-icons`);
  const edit = new vscode.WorkspaceEdit();
  for (const [size, png] of icons) edit.createFile(vscode.Uri.joinPath(folder, `${name}-${size}.png`), { contents: png, overwrite: true });
  await applyOrThrow(edit, "the icon set");
  const written = [...icons].map(([size, png]) => ({ uri: vscode.Uri.joinPath(folder, `${name}-${size}.png`), size, png }));
  await recordIcons(uri, source, written).catch((error: unknown) => {
    void vscode.window.showWarningMessage(`Easel: icons saved, but not recorded in easel-assets.json: ${firstLine(error)}`);
  });
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
