// Whether an image id that came back from the Studio webview names an image inside a workspace
// folder. The webview runs page script, so the id is untrusted text: VS Code's Uri.parse keeps
// "..", decodes "%2e%2e" into "..", and getWorkspaceFolder compares by prefix, so
// "file:///ws/%2e%2e/secret.png" used to pass as a file of /ws. Here the id is parsed and its path
// resolved first, then compared segment by segment with each folder; the caller reads exactly the
// location returned, never the id as sent. No vscode import, so it is unit-tested directly.
import { posix } from "node:path";
import { isImageFile } from "../assets/imageFiles";

/** The parts of a URI that say which file it is (vscode.Uri has them, decoded). */
export interface UriLocation {
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
}

// RFC 3986's generic syntax, as vscode.Uri reads it: scheme ":" ["//" authority] path ["?" query] ["#" fragment].
const URI = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?[^#]*)?(?:#.*)?$/;

/** File paths compare without case on Windows and macOS (their default file systems), with case elsewhere. */
function ignoresCase(scheme: string, platform: NodeJS.Platform): boolean {
  return scheme === "file" && (platform === "win32" || platform === "darwin");
}

/** True when `file` lies strictly below `folder` (both normalised absolute POSIX paths). */
function isBelow(folder: string, file: string): boolean {
  const rel = posix.relative(folder, file);
  return rel !== "" && rel !== ".." && !rel.startsWith("../") && !posix.isAbsolute(rel);
}

/**
 * The resolved location of the PNG/WebP/JPEG image `id` names, when it lies inside one of
 * `folders`; undefined for anything else (another scheme or host, a path that climbs out, a
 * backslash or NUL in the path, a malformed escape, not an image).
 */
export function workspaceImageLocation(id: string, folders: readonly UriLocation[], platform: NodeJS.Platform = process.platform): UriLocation | undefined {
  const m = URI.exec(id);
  if (!m) return undefined;
  let authority: string;
  let rawPath: string;
  try {
    authority = decodeURIComponent(m[2] ?? "");
    rawPath = decodeURIComponent(m[3]);
  } catch {
    return undefined; // a malformed %-escape
  }
  // A backslash is a separator to Windows but a name character to posix.normalize: refused rather
  // than guessed. Image names VS Code hands out never contain one.
  if (!rawPath.startsWith("/") || rawPath.includes("\\") || rawPath.includes("\0")) return undefined;
  const scheme = m[1].toLowerCase();
  const path = posix.normalize(rawPath);
  if (!isImageFile(path)) return undefined;
  const fold = (s: string) => (ignoresCase(scheme, platform) ? s.toLowerCase() : s);
  const inside = folders.some(
    (f) => f.scheme.toLowerCase() === scheme && f.authority.toLowerCase() === authority.toLowerCase() && isBelow(fold(posix.normalize(f.path)), fold(path)),
  );
  return inside ? { scheme, authority, path } : undefined;
}
