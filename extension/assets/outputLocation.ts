// Where an image goes: the workspace folder's output folder, or (per-document mode, for a
// Markdown document) an images/ folder beside the document. Pure path logic on URI-like paths.
import { posix } from "node:path";

export type OutputMode = "workspace" | "document";

export interface OutputTarget {
  /** The workspace folder's path (URI path, '/'-separated), when there is one. */
  readonly workspaceFolder?: string;
  /** The Markdown document the image is for, when any (URI path). */
  readonly document?: string;
}

/** The folder (URI path) to save into; undefined when there is nowhere sensible to save. */
export function outputFolder(mode: OutputMode, folderSetting: string, target: OutputTarget): string | undefined {
  if (mode === "document" && target.document) return posix.join(posix.dirname(target.document), "images");
  if (!target.workspaceFolder) return target.document ? posix.join(posix.dirname(target.document), "images") : undefined;
  const relative = folderSetting.trim().replace(/\\/g, "/");
  if (relative === "") return posix.join(target.workspaceFolder, "assets/generated");
  // A setting that tries to climb out of the workspace folder is kept inside it; "." is the folder itself.
  const inside = posix.normalize(`/${relative}`).replace(/^\/+/, "");
  return posix.join(target.workspaceFolder, inside);
}
