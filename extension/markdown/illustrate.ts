// Markdown without leaving the document: "Illustrate Selection" (the selection or the current
// paragraph is the prompt; the image goes below it) and "Generate from Alt Text" (a CodeLens and a
// quick fix on `![alt]()` with an empty target fill the target in).
import * as vscode from "vscode";
import type { EngineService } from "../engineService";
import { showError } from "../errorMessages";
import { generateAndSave, signalFor, type LinkInsertion } from "../generation/generateAndSave";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import { paragraphText } from "./insertLinks";
import { findEmptyImageLinks, imageLinks, paragraphAt, promptFromMarkdown, relativeLinkPath } from "./links";

async function generateInto(engine: EngineService, document: vscode.TextDocument, request: WireGenerateRequest, insert: LinkInsertion): Promise<void> {
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Easel", cancellable: true }, (progress, token) => {
      let last = 0;
      return generateAndSave(engine, { request, document: document.uri, insert }, {
        signal: signalFor(token),
        onProgress: (e) => {
          const pct = (e.step / e.steps) * 100;
          progress.report({ message: `illustrating: step ${e.step}/${e.steps}`, increment: pct - last });
          last = pct;
        },
      });
    });
  } catch (error) {
    await showError(error);
  }
}

export async function illustrateSelection(engine: EngineService, editor: vscode.TextEditor): Promise<void> {
  const doc = editor.document;
  let range: vscode.Range | undefined = editor.selection.isEmpty ? undefined : new vscode.Range(editor.selection.start, editor.selection.end);
  if (!range) {
    const lines = Array.from({ length: doc.lineCount }, (_, i) => doc.lineAt(i).text);
    const para = paragraphAt(lines, editor.selection.active.line);
    if (!para) {
      void vscode.window.showWarningMessage("Easel: select some text, or put the cursor in a paragraph, to illustrate it");
      return;
    }
    range = new vscode.Range(para.first, 0, para.last, doc.lineAt(para.last).text.length);
  }
  const prompt = promptFromMarkdown(doc.getText(range));
  if (!prompt) {
    void vscode.window.showWarningMessage("Easel: the selection has no text to illustrate");
    return;
  }
  const end = doc.lineAt(range.end.line).range.end;
  await generateInto(engine, doc, { prompt }, {
    document: doc,
    range: new vscode.Range(end, end),
    text: (images) => paragraphText(doc, end, imageLinks(images.map((i) => ({ path: i.uri.path, prompt })), doc.uri.path)),
  });
}

export async function generateFromAltText(engine: EngineService, uri: vscode.Uri, offset: number): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(uri);
  const link = findEmptyImageLinks(doc.getText()).find((l) => l.start <= offset && offset <= l.end);
  if (!link) {
    void vscode.window.showWarningMessage("Easel: put the cursor on an image link with an empty target, like ![a lighthouse]()");
    return;
  }
  // The empty "(…)" becomes the image's path, in the same edit that creates the file.
  const open = link.start + doc.getText(new vscode.Range(doc.positionAt(link.start), doc.positionAt(link.end))).lastIndexOf("(");
  await generateInto(engine, doc, { prompt: link.alt }, {
    document: doc,
    range: new vscode.Range(doc.positionAt(open), doc.positionAt(link.end)),
    text: (images) => `(${images[0] ? relativeLinkPath(doc.uri.path, images[0].uri.path) : ""})`,
  });
}

class AltTextLenses implements vscode.CodeLensProvider, vscode.CodeActionProvider {
  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    return findEmptyImageLinks(document.getText()).map((l) => {
      const range = new vscode.Range(document.positionAt(l.start), document.positionAt(l.end));
      return new vscode.CodeLens(range, { title: "$(sparkle) Generate image from alt text", command: "easel.generateFromAltText", arguments: [document.uri, l.start] });
    });
  }

  provideCodeActions(document: vscode.TextDocument, range: vscode.Range): vscode.CodeAction[] {
    const start = document.offsetAt(range.start);
    const end = document.offsetAt(range.end);
    return findEmptyImageLinks(document.getText())
      .filter((l) => l.start <= end && start <= l.end)
      .map((l) => {
        const action = new vscode.CodeAction(`Generate image for "${l.alt}"`, vscode.CodeActionKind.QuickFix);
        action.command = { title: action.title, command: "easel.generateFromAltText", arguments: [document.uri, l.start] };
        return action;
      });
  }
}

export function registerMarkdownIllustration(engine: EngineService): vscode.Disposable {
  const selector: vscode.DocumentSelector = { language: "markdown" };
  const lenses = new AltTextLenses();
  return vscode.Disposable.from(
    vscode.commands.registerCommand("easel.illustrateSelection", async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.languageId !== "markdown") {
        void vscode.window.showWarningMessage("Easel: open a Markdown file to illustrate a selection");
        return;
      }
      await illustrateSelection(engine, editor);
    }),
    vscode.commands.registerCommand("easel.generateFromAltText", async (uri?: unknown, offset?: unknown) => {
      const editor = vscode.window.activeTextEditor;
      const target = uri instanceof vscode.Uri ? uri : editor?.document.uri;
      const at = typeof offset === "number" ? offset : editor ? editor.document.offsetAt(editor.selection.active) : undefined;
      if (!target || at === undefined) return;
      await generateFromAltText(engine, target, at);
    }),
    vscode.languages.registerCodeLensProvider(selector, lenses),
    vscode.languages.registerCodeActionsProvider(selector, lenses, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
  );
}
