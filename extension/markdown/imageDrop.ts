// Dropping an image (from the Studio's gallery or the explorer) into Markdown inserts a link
// whose alt text is the image's prompt when it carries Easel/A1111 parameters.
import * as vscode from "vscode";
import { parseInfotext } from "../engine/image/infotext";
import { EASEL_IMAGE_MIME } from "../protocol/dragTypes";
import { readImageParameters } from "../workspaceImages";
import { altTextForImage, relativeLinkPath } from "./links";

const IMAGE = /\.(png|webp|jpe?g|gif)$/i;

/** The Studio gallery's own drag type, else the standard uri-list (explorer drags). */
async function droppedUris(dataTransfer: vscode.DataTransfer): Promise<vscode.Uri[]> {
  const text = (await dataTransfer.get(EASEL_IMAGE_MIME)?.asString()) ?? (await dataTransfer.get("text/uri-list")?.asString()) ?? "";
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#") && /^[a-z][\w+.-]*:/i.test(l))
    .map((l) => vscode.Uri.parse(l));
}

class EaselImageDrop implements vscode.DocumentDropEditProvider {
  async provideDocumentDropEdits(document: vscode.TextDocument, _position: vscode.Position, dataTransfer: vscode.DataTransfer): Promise<vscode.DocumentDropEdit | undefined> {
    const uris = (await droppedUris(dataTransfer)).filter((u) => IMAGE.test(u.path));
    if (uris.length === 0) return undefined;
    const links: string[] = [];
    for (const uri of uris) {
      const text = await readImageParameters(uri);
      const alt = altTextForImage(text ? parseInfotext(text).prompt : undefined, uri.path);
      links.push(`![${alt}](${relativeLinkPath(document.uri.path, uri.path)})`);
    }
    return new vscode.DocumentDropEdit(links.join("\n"));
  }
}

export function registerImageDrop(): vscode.Disposable {
  return vscode.languages.registerDocumentDropEditProvider({ language: "markdown" }, new EaselImageDrop());
}
