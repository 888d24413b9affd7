// Reading images out of the workspace: the Studio gallery's metadata, the Markdown hover and drop,
// init images, variations and icon export. Any file there may be hostile (someone else's repository),
// and all of this runs on the extension host's thread, so every reader goes through here: only a
// regular file of at most MAX_IMAGE_FILE_BYTES is read, and a PNG's parameters are read with the
// caps of readPngParameters (one chunk, at most MAX_INFOTEXT_LENGTH characters, parsed in linear
// time). Bounded that way the parsing takes milliseconds, so it needs no worker thread.
import * as vscode from "vscode";
import { EaselError } from "./engine/errors";
import { readPngParameters } from "./engine/image/encode";
import { checkImageFileStat, ImageFileError, MAX_IMAGE_FILE_BYTES, readImageFile } from "./engine/image/readImageFile";

/**
 * The bytes of a workspace image, refused with an "image-invalid" EaselError (one line saying what
 * to do) when it is missing, not a regular file or over MAX_IMAGE_FILE_BYTES.
 */
export async function readWorkspaceImage(uri: vscode.Uri): Promise<Uint8Array> {
  try {
    return await readCapped(uri, vscode.workspace.asRelativePath(uri));
  } catch (error) {
    if (error instanceof ImageFileError) throw new EaselError("image-invalid", error.message);
    throw error;
  }
}

/**
 * Local files are read through Node, which checks and reads the same open handle; other file
 * systems (virtual workspaces) are checked with a stat first, and once more after the read in case
 * the file grew in between (VS Code's file API cannot read part of a file).
 */
async function readCapped(uri: vscode.Uri, name: string): Promise<Uint8Array> {
  if (uri.scheme === "file") return readImageFile(uri.fsPath, MAX_IMAGE_FILE_BYTES, name);
  let stat: vscode.FileStat;
  try {
    stat = await vscode.workspace.fs.stat(uri);
  } catch {
    throw new ImageFileError("missing", `${name} does not exist (moved or deleted?): choose another image`);
  }
  // A symbolic link to a file reads as File | SymbolicLink; to a device, as Unknown | SymbolicLink.
  checkImageFileStat(name, { isFile: (stat.type & vscode.FileType.File) !== 0, isDirectory: (stat.type & vscode.FileType.Directory) !== 0, size: stat.size });
  let bytes: Uint8Array;
  try {
    bytes = await vscode.workspace.fs.readFile(uri);
  } catch {
    throw new ImageFileError("unreadable", `${name} cannot be read: check the file's permissions`);
  }
  checkImageFileStat(name, { isFile: true, isDirectory: false, size: bytes.length });
  return bytes;
}

/**
 * The `parameters` text of a PNG in the workspace, or undefined: not a PNG, no metadata, unreadable,
 * too large, or parameters over MAX_INFOTEXT_LENGTH (the reason is in `problem` when asked for).
 */
export async function readImageParameters(uri: vscode.Uri, problem?: (reason: string) => void): Promise<string | undefined> {
  if (!/\.png$/i.test(uri.path)) return undefined;
  try {
    return readPngParameters(await readWorkspaceImage(uri));
  } catch (error) {
    problem?.(error instanceof Error ? error.message : String(error));
    return undefined;
  }
}
