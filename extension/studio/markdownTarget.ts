// The Markdown editor the Studio inserts into. While the Studio has focus there is no active text
// editor, so the last Markdown editor the user was in (and where its cursor was) is remembered.
import * as vscode from "vscode";
import { insertLinks } from "../markdown/insertLinks";

interface Remembered {
  readonly uri: vscode.Uri;
  position: vscode.Position;
  viewColumn?: vscode.ViewColumn;
}

export class MarkdownTarget implements vscode.Disposable {
  private last: Remembered | undefined;
  private readonly subscriptions: vscode.Disposable[];

  constructor() {
    this.remember(vscode.window.activeTextEditor);
    this.subscriptions = [
      vscode.window.onDidChangeActiveTextEditor((editor) => this.remember(editor)),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (this.last && e.textEditor.document.uri.toString() === this.last.uri.toString()) this.last.position = e.selections[0].active;
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (this.last && doc.uri.toString() === this.last.uri.toString() && !this.visibleEditor()) this.last = undefined;
      }),
    ];
  }

  /** The remembered Markdown document, else one that is visible (after a reload nothing is remembered yet). */
  get document(): vscode.Uri | undefined {
    return this.target()?.uri;
  }

  /**
   * Inserts a link at the remembered cursor, as its own paragraph (one undoable edit); undefined
   * when there is no Markdown editor.
   */
  async insert(link: (documentPath: string) => string): Promise<vscode.Uri | undefined> {
    const last = this.target();
    if (!last) return undefined;
    const editor =
      this.visibleEditor() ??
      (await vscode.window.showTextDocument(last.uri, { viewColumn: last.viewColumn, preserveFocus: false, preview: false }));
    const ok = await insertLinks(editor.document, last.position, link(editor.document.uri.path));
    return ok ? editor.document.uri : undefined;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }

  private target(): Remembered | undefined {
    if (!this.last) this.remember(vscode.window.visibleTextEditors.find((e) => e.document.languageId === "markdown"));
    return this.last;
  }

  private visibleEditor(): vscode.TextEditor | undefined {
    const uri = this.last?.uri.toString();
    return vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
  }

  private remember(editor: vscode.TextEditor | undefined): void {
    if (editor?.document.languageId !== "markdown") return;
    this.last = { uri: editor.document.uri, position: editor.selection.active, viewColumn: editor.viewColumn };
  }
}
