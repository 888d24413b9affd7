import * as vscode from "vscode";
import { readPngParameters } from "../engine/image/encode";

/** The `parameters` text of a PNG in the workspace, or undefined (not a PNG, no metadata, unreadable). */
export async function readImageParameters(uri: vscode.Uri): Promise<string | undefined> {
  if (!/\.png$/i.test(uri.path)) return undefined;
  try {
    return readPngParameters(await vscode.workspace.fs.readFile(uri));
  } catch {
    return undefined;
  }
}
