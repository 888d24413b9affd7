// img2img's starting image: picked from the workspace's images, and checked again when a generation
// uses it, since the id comes back from the webview (only images inside a workspace folder count).
import * as vscode from "vscode";
import { IMAGE_GLOB, IMAGE_KINDS } from "../assets/imageFiles";
import { EaselError } from "../engine/errors";
import type { InputOrigin } from "../assets/assetLock";
import { readStoredInputs, STORED_INIT_CHUNK } from "../generation/storedInputs";
import type { ImageRef } from "../protocol/studioMessages";
import { readWorkspaceImage } from "../workspaceImages";
import { workspaceImageLocation } from "./workspaceImage";

const MAX_CANDIDATES = 2000;

export function imageRef(uri: vscode.Uri, webview: vscode.Webview): ImageRef {
  return { id: uri.toString(), name: vscode.workspace.asRelativePath(uri), thumb: webview.asWebviewUri(uri).toString() };
}

/** A quick pick of the workspace's images, newest paths first by name; undefined when dismissed. */
export async function pickWorkspaceImage(): Promise<vscode.Uri | undefined> {
  const uris = await vscode.workspace.findFiles(IMAGE_GLOB, "**/node_modules/**", MAX_CANDIDATES);
  if (uris.length === 0) {
    throw new EaselError("image-invalid", `there are no images in this workspace to start from: add a ${IMAGE_KINDS} file, or generate one first`);
  }
  const items = uris
    .map((uri) => ({ uri, label: uri.path.split("/").pop() ?? uri.path, description: vscode.workspace.asRelativePath(uri) }))
    .sort((a, b) => a.description.localeCompare(b.description));
  const picked = await vscode.window.showQuickPick(items, { title: "Easel: Start from an image", placeHolder: "An image in this workspace (img2img)", matchOnDescription: true });
  return picked?.uri;
}

/** The bytes of an init image the webview refers to, after checking it is a workspace image. */
export async function readInitImage(id: string): Promise<Uint8Array> {
  const location = workspaceImageLocation(id, (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri));
  if (!location) {
    throw new EaselError("image-invalid", `the starting image must be a ${IMAGE_KINDS} file in this workspace: choose it again`);
  }
  // The resolved location, not the id as sent: what was checked is what is read.
  return readWorkspaceImage(vscode.Uri.from(location));
}

/** Where a form's starting image is, for its lockfile entry: the workspace image, or the chunk of it the image is stored in. */
export function startingImageOrigin(ref: ImageRef): InputOrigin | undefined {
  const location = workspaceImageLocation(ref.id, (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri));
  return location && { uri: vscode.Uri.from(location), ...(ref.stored ? { chunk: STORED_INIT_CHUNK } : {}) };
}

/** The starting image a form refers to: a workspace image, or the one stored inside an inpainted or outpainted Easel PNG. */
export async function readStartingImage(ref: ImageRef): Promise<Uint8Array> {
  const bytes = await readInitImage(ref.id);
  if (!ref.stored) return bytes;
  const stored = readStoredInputs(bytes).initImage;
  if (!stored) throw new EaselError("image-invalid", `${ref.name} is no longer stored in that image (was it replaced?): choose the starting image again`);
  return stored;
}
