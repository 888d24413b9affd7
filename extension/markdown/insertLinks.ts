// The one insertion path for image links into Markdown (the palette, the Studio, Illustrate): a
// WorkspaceEdit, so the insertion is one undoable step (together with the files it links to, when
// the caller saves images in the same edit), placed as its own paragraph by `asOwnParagraph`.
import * as vscode from "vscode";
import { asOwnParagraph } from "./links";

/** The text that puts `markdown` at `position` of `document` as its own paragraph. */
export function paragraphText(document: vscode.TextDocument, position: vscode.Position, markdown: string): string {
  const line = document.lineAt(position.line).text;
  return asOwnParagraph(markdown, line.slice(0, position.character), line.slice(position.character));
}

/** Adds `markdown` at `position` of `document` to `edit`, as its own paragraph. */
export function insertAsParagraph(edit: vscode.WorkspaceEdit, document: vscode.TextDocument, position: vscode.Position, markdown: string): void {
  const at = document.validatePosition(position);
  edit.insert(document.uri, at, paragraphText(document, at, markdown));
}

/** Inserts `markdown` at `position` as its own paragraph, in one undoable edit; false when the editor refused it. */
export async function insertLinks(document: vscode.TextDocument, position: vscode.Position, markdown: string): Promise<boolean> {
  const edit = new vscode.WorkspaceEdit();
  insertAsParagraph(edit, document, position, markdown);
  return vscode.workspace.applyEdit(edit);
}
