// "Export as Icon Set": square PNGs at the sizes editors, browsers and OS icon sets ask for,
// centre-cropped from any image and written beside it in <name>-icons/.
import sharp from "sharp";
import * as vscode from "vscode";
import { EaselError, firstLine } from "../engine/errors";
import { showError } from "../errorMessages";
import { applyOrThrow } from "./saveImages";

export const ICON_SIZES = [16, 32, 48, 64, 128, 256] as const;

export async function renderIconSet(image: Uint8Array): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  try {
    for (const size of ICON_SIZES) {
      out.set(size, await sharp(image).resize(size, size, { fit: "cover", position: "centre", kernel: "lanczos3" }).png({ compressionLevel: 9 }).toBuffer());
    }
  } catch (error) {
    throw new EaselError("image-invalid", `cannot make icons from this file (${firstLine(error)}): choose a PNG, WebP or JPEG image`);
  }
  return out;
}

async function exportIconSet(uri: vscode.Uri): Promise<void> {
  const icons = await renderIconSet(await vscode.workspace.fs.readFile(uri));
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
      const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
      if (!uri) throw new EaselError("bad-argument", "choose an image in the explorer to export as an icon set");
      await exportIconSet(uri);
    } catch (error) {
      await showError(error);
    }
  });
}
