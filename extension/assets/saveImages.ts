// Turns the engine's PNG bytes into files in the workspace: named from the pattern, never
// overwriting, converted to the chosen format, and created through a WorkspaceEdit so that the
// files and any Markdown link that goes with them are one undoable edit (and work in remote and
// virtual workspaces, since nothing touches the local disk directly).
import * as vscode from "vscode";
import { EaselError } from "../engine/errors";
import type { WireImage } from "../engine/host/engineEvents";
import { encodeAs } from "../engine/image/convert";
import type { EaselSettings } from "../settings";
import { expandPattern, uniqueFileName } from "./naming";
import { outputFolder } from "./outputLocation";

export interface SaveContext {
  readonly prompt: string;
  readonly model: string;
  /** The Markdown document the images are for, if any (per-document mode saves beside it). */
  readonly document?: vscode.Uri;
}

export interface PlannedImage {
  readonly uri: vscode.Uri;
  readonly image: WireImage;
}

function folderFor(settings: EaselSettings, ctx: SaveContext): vscode.Uri {
  const wsFolder = ctx.document ? vscode.workspace.getWorkspaceFolder(ctx.document) : vscode.workspace.workspaceFolders?.[0];
  const base = wsFolder?.uri ?? ctx.document;
  if (!base) {
    throw new EaselError("output-unwritable", "there is no folder to save images into: open a folder or a workspace first");
  }
  const folderPath = outputFolder(settings.output.location, settings.output.folder, {
    workspaceFolder: wsFolder?.uri.path,
    document: ctx.document?.path,
  });
  if (!folderPath) throw new EaselError("output-unwritable", "there is no folder to save images into: open a folder or a workspace first");
  return base.with({ path: folderPath });
}

async function existingNames(folder: vscode.Uri): Promise<Set<string>> {
  try {
    return new Set((await vscode.workspace.fs.readDirectory(folder)).map(([name]) => name));
  } catch {
    return new Set();
  }
}

/** Adds the files to `edit` (nothing is written until the edit is applied) and returns where they go. */
export async function planImages(
  edit: vscode.WorkspaceEdit,
  images: readonly WireImage[],
  settings: EaselSettings,
  ctx: SaveContext,
): Promise<PlannedImage[]> {
  const folder = folderFor(settings, ctx);
  const taken = await existingNames(folder);
  const ext = settings.output.format === "jpeg" ? "jpg" : settings.output.format;
  const planned: PlannedImage[] = [];
  for (const image of images) {
    const stem = expandPattern(settings.output.naming, { prompt: ctx.prompt, seed: image.seed, model: ctx.model, now: new Date() });
    const name = uniqueFileName(stem, ext, taken);
    taken.add(name);
    const uri = vscode.Uri.joinPath(folder, name);
    edit.createFile(uri, { contents: await encodeAs(settings.output.format, image.png), overwrite: false });
    planned.push({ uri, image });
  }
  return planned;
}

export async function applyOrThrow(edit: vscode.WorkspaceEdit, what: string): Promise<void> {
  const ok = await vscode.workspace.applyEdit(edit, { isRefactoring: false });
  if (!ok) throw new EaselError("output-unwritable", `could not save ${what}: check that the output folder is writable (setting easel.output.folder)`);
}
