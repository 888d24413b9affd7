// What each gallery button does on the host side. Each returns a short notice for the panel (or
// undefined when there is nothing to say); failures are thrown for the panel to show in place.
import { posix } from "node:path";
import * as vscode from "vscode";
import { EaselError } from "../engine/errors";
import { imageLinks } from "../markdown/links";
import type { GalleryEntry } from "./gallery";
import type { MarkdownTarget } from "./markdownTarget";

function linkFrom(documentPath: string, entry: GalleryEntry): string {
  return imageLinks([{ path: entry.uri.path, prompt: entry.info?.prompt }], documentPath);
}

export async function openImage(entry: GalleryEntry): Promise<undefined> {
  await vscode.commands.executeCommand("vscode.open", entry.uri, { preview: true });
  return undefined;
}

export async function revealImage(entry: GalleryEntry): Promise<undefined> {
  await vscode.commands.executeCommand("revealInExplorer", entry.uri);
  return undefined;
}

export async function insertImage(entry: GalleryEntry, markdown: MarkdownTarget): Promise<string> {
  const into = await markdown.insert((documentPath) => linkFrom(documentPath, entry));
  if (!into) throw new EaselError("bad-argument", "there is no Markdown editor to insert into: open a Markdown file, put the cursor where the image goes, then try again");
  return `Inserted into ${vscode.workspace.asRelativePath(into)}`;
}

/** Copies a link relative to the last Markdown document, else to the workspace folder. */
export async function copyImageLink(entry: GalleryEntry, markdown: MarkdownTarget): Promise<string> {
  const document = markdown.document;
  const folder = vscode.workspace.getWorkspaceFolder(entry.uri);
  const from = document?.path ?? posix.join(folder?.uri.path ?? posix.dirname(entry.uri.path), "_");
  await vscode.env.clipboard.writeText(linkFrom(from, entry));
  return document ? `Copied a link relative to ${vscode.workspace.asRelativePath(document)}` : "Copied a link relative to the workspace folder";
}

export async function imageVariations(entry: GalleryEntry): Promise<undefined> {
  await vscode.commands.executeCommand("easel.variations", entry.uri);
  return undefined;
}

/**
 * Moves the image to the trash after asking; where the file system has no trash (remote
 * workspaces, e.g. code-server), asks again before deleting for good. Undefined when the user says no.
 */
export async function deleteImage(entry: GalleryEntry): Promise<string | undefined> {
  const name = vscode.workspace.asRelativePath(entry.uri);
  const move = "Move to Trash";
  if ((await vscode.window.showWarningMessage(`Move ${name} to the trash?`, { modal: true }, move)) !== move) return undefined;
  try {
    await vscode.workspace.fs.delete(entry.uri, { useTrash: true });
    return `Moved ${name} to the trash`;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const remove = "Delete Permanently";
    const answer = await vscode.window.showWarningMessage(`${name} cannot be moved to the trash here. Delete it permanently?`, { modal: true, detail: reason }, remove);
    if (answer !== remove) return undefined;
  }
  try {
    await vscode.workspace.fs.delete(entry.uri, { useTrash: false });
  } catch (error) {
    throw new EaselError("internal", `could not delete ${name} (${error instanceof Error ? error.message : String(error)}): delete it from the Explorer instead`);
  }
  return `Deleted ${name}`;
}
