// Names that come from outside (a Hub listing, a manifest or catalog file, a mirror's answer) and
// become paths: each must stay inside the folder it is joined to, on every OS. One check for all of
// them, so a new caller cannot forget a case (`..`, an absolute path, a drive letter, a backslash).
import path from "node:path";
import { EaselError } from "./errors";

/** Longer names are refused: no real model file needs them, and some file systems cannot hold them. */
const MAX_PATH_CHARS = 1024;
const MAX_SEGMENT_CHARS = 255;

/**
 * Why `text` is not a safe `/`-separated relative path ("it …" reads as a sentence), or undefined
 * when it is: non-empty, relative, without `.`/`..`/empty segments, backslashes, control
 * characters (NUL included), drive letters, or absurd lengths.
 */
export function relativePathProblem(text: unknown): string | undefined {
  if (typeof text !== "string") return "is not a string";
  if (text === "") return "is empty";
  if (text.length > MAX_PATH_CHARS) return `is longer than ${MAX_PATH_CHARS} characters`;
  if (/[\u0000-\u001f\u007f]/.test(text)) return "contains a control character"; // NUL included
  if (text.includes("\\")) return "contains a backslash";
  if (text.startsWith("/")) return "is absolute";
  if (/^[A-Za-z]:/.test(text)) return "starts with a drive letter";
  for (const segment of text.split("/")) {
    if (segment === "") return "has an empty segment";
    if (segment === "." || segment === "..") return `has a "${segment}" segment`;
    if (segment.length > MAX_SEGMENT_CHARS) return `has a segment longer than ${MAX_SEGMENT_CHARS} characters`;
  }
  return undefined;
}

export function isSafeRelativePath(text: unknown): text is string {
  return relativePathProblem(text) === undefined;
}

/**
 * A value as it is quoted in an error line: JSON (so control characters show), cut to a readable
 * length, with any `user:password@` of a URL masked (error lines end up in logs and bug reports).
 */
export function quoteValue(value: unknown): string {
  const text = (JSON.stringify(value) ?? String(value)).replace(/(\/\/)[^/@\s"]*@/g, "$1***@");
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** True when `target` is `root` itself or lies beneath it (after resolving both). */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(target));
  return rel === "" || (!path.isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${path.sep}`));
}

/**
 * Throws unless `target` lies strictly beneath `root`: the last guard before anything is created,
 * moved or removed there, whatever the caller joined to get it.
 */
export function assertStrictlyInside(root: string, target: string, what: string): string {
  const resolved = path.resolve(target);
  if (path.resolve(root) === resolved || !isInside(root, resolved)) {
    throw new EaselError("internal", `refusing to touch ${resolved}: ${what} must lie inside ${path.resolve(root)}`);
  }
  return resolved;
}
