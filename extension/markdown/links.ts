// Markdown image links as Easel writes them: relative to the document, with alt text that is a
// short form of the prompt, and with whatever needs escaping escaped.
import { posix } from "node:path";

/** A short, single-line form of a prompt for alt text (at most 12 words / 100 characters). */
export function altTextFor(prompt: string): string {
  const words = prompt.replace(/\s+/g, " ").trim().split(" ").filter(Boolean);
  let alt = words.slice(0, 12).join(" ");
  if (alt.length > 100) alt = `${alt.slice(0, 99).replace(/\s+\S*$/, "")}…`;
  else if (words.length > 12) alt += "…";
  return alt.replace(/([\\[\]])/g, "\\$1");
}

/** Alt text for an image: its prompt's short form, else its file name in words. */
export function altTextForImage(prompt: string | undefined, imagePath: string): string {
  if (prompt && prompt.trim() !== "") return altTextFor(prompt);
  return altTextFor(posix.basename(imagePath).replace(/\.[^.]+$/, "").replace(/[-_]+/g, " "));
}

/** The path from a document to an image (both URI paths), '/'-separated, with spaces and parentheses made link-safe. */
export function relativeLinkPath(documentPath: string, imagePath: string): string {
  let rel = posix.relative(posix.dirname(documentPath), imagePath);
  if (!rel.startsWith(".")) rel = rel === "" ? posix.basename(imagePath) : rel;
  return rel.split("/").map((part) => encodeURIComponent(part).replace(/%2B/g, "+").replace(/\(/g, "%28").replace(/\)/g, "%29")).join("/");
}

/** An image to link to: its URI path and, when known, the prompt that made it (the alt text). */
export interface LinkedImage {
  readonly path: string;
  readonly prompt?: string;
}

/**
 * The one way Easel writes image links: `![alt](path relative to the document)`, one per line
 * (the images of one generation make one paragraph, shown side by side).
 */
export function imageLinks(images: readonly LinkedImage[], documentPath: string): string {
  return images.map((i) => `![${altTextForImage(i.prompt, i.path)}](${relativeLinkPath(documentPath, i.path)})`).join("\n");
}

/**
 * Text inserted into a line so that it stands as its own paragraph: a blank line is added on
 * whichever side of the insertion point the line has text, so a link never runs into a sentence.
 */
export function asOwnParagraph(text: string, before: string, after: string): string {
  const prefix = before.trim() === "" ? "" : "\n\n";
  const suffix = after.trim() === "" ? "" : "\n\n";
  return `${prefix}${text}${suffix}`;
}

/** An image link with an empty or missing target: `![alt]()` or `![alt]( )`. */
export interface EmptyImageLink {
  readonly alt: string;
  /** Offsets of the whole `![alt]()` in the text. */
  readonly start: number;
  readonly end: number;
}

export function findEmptyImageLinks(text: string): EmptyImageLink[] {
  const out: EmptyImageLink[] = [];
  const re = /!\[((?:\\.|[^\]\\\n])+)\]\(\s*\)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ alt: m[1].replace(/\\(.)/g, "$1"), start: m.index, end: m.index + m[0].length });
  }
  return out;
}

/**
 * The paragraph around a line: the run of non-blank lines containing it, as [first, last] line
 * numbers; undefined on a blank line.
 */
export function paragraphAt(lines: readonly string[], line: number): { first: number; last: number } | undefined {
  if (line < 0 || line >= lines.length || lines[line].trim() === "") return undefined;
  let first = line;
  let last = line;
  while (first > 0 && lines[first - 1].trim() !== "") first--;
  while (last < lines.length - 1 && lines[last + 1].trim() !== "") last++;
  return { first, last };
}

/** Prompt text from Markdown: headings, emphasis, links and list markers stripped. */
export function promptFromMarkdown(text: string): string {
  return text
    .replace(/!\[[^\]]*\]\([^)]*\)/g, " ")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+/gm, "")
    .replace(/[*_`~]+/g, "")
    .replace(/\s+/g, " ")
    .trim();
}
