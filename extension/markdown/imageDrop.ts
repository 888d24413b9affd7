// Dropping an image (from the Studio's gallery or the explorer) into Markdown inserts a link
// whose alt text is the image's prompt when it carries Easel/A1111 parameters.
import * as vscode from "vscode";
import { isImageFile } from "../assets/imageFiles";
import { parseInfotext } from "../engine/image/infotext";
import { EASEL_IMAGE_MIME } from "../protocol/dragTypes";
import { readImageParameters } from "../workspaceImages";
import { paragraphText } from "./insertLinks";
import { imageLinks, type LinkedImage } from "./links";

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
  async provideDocumentDropEdits(document: vscode.TextDocument, position: vscode.Position, dataTransfer: vscode.DataTransfer): Promise<vscode.DocumentDropEdit | undefined> {
    const uris = (await droppedUris(dataTransfer)).filter((u) => isImageFile(u.path));
    if (uris.length === 0) return undefined;
    const images: LinkedImage[] = [];
    for (const uri of uris) {
      const text = await readImageParameters(uri);
      images.push({ path: uri.path, prompt: text ? parseInfotext(text).prompt : undefined });
    }
    // The drop API applies its own edit; the text follows the same paragraph rule as every insertion.
    return new vscode.DocumentDropEdit(paragraphText(document, position, imageLinks(images, document.uri.path)));
  }
}

export function registerImageDrop(): vscode.Disposable {
  return vscode.languages.registerDocumentDropEditProvider({ language: "markdown" }, new EaselImageDrop());
}
