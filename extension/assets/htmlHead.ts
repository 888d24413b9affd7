// Where tags go in an HTML page's <head>: just before </head>, on their own lines, indented like
// the line they follow. Pure text logic, so it is tested without an editor.
import { posix } from "node:path";

export interface HeadInsertion {
  /** Offset in the document's text to insert at. */
  readonly offset: number;
  readonly text: string;
}

/** The insertion of `tags` (one per line) before `</head>`; undefined when the page has no <head>…</head>. */
export function headInsertion(html: string, tags: string): HeadInsertion | undefined {
  const close = /<\/head\s*>/i.exec(html);
  const open = /<head(\s[^>]*)?>/i.exec(html);
  if (!close || !open || open.index > close.index) return undefined;
  const lineStart = html.lastIndexOf("\n", close.index - 1) + 1;
  const beforeClose = html.slice(lineStart, close.index);
  const closeIndent = /^[ \t]*/.exec(beforeClose)?.[0] ?? "";
  // An inner line's indent if the head has one, else the closing tag's plus two spaces.
  const inner = html.slice(open.index + open[0].length, close.index).split("\n").map((l) => /^[ \t]*(?=\S)/.exec(l)?.[0]).find((i) => i !== undefined);
  const indent = inner ?? `${closeIndent}  `;
  const lines = tags.split("\n").map((t) => `${indent}${t}`).join("\n");
  if (beforeClose.trim() === "") {
    // </head> on its own line: the tags go on lines above it.
    return { offset: lineStart, text: `${lines}\n` };
  }
  return { offset: close.index, text: `\n${lines}\n${closeIndent}` };
}

/** The href prefix from a page's folder to a pack's folder (both '/'-separated paths), ending in "/". */
export function hrefPrefix(pageFolder: string, packFolder: string): string {
  const rel = posix.relative(pageFolder, packFolder);
  return rel === "" ? "" : `${rel.split("/").map(encodeURIComponent).join("/")}/`;
}
