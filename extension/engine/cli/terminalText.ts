// Text from files (a PNG's infotext, a chunk keyword inside an error) printed to a terminal: a
// crafted file could otherwise move the cursor, rewrite the screen, set the window title or, on
// some terminals, answer back with keystrokes. Escape sequences start with ESC (C0) or a C1 byte.

/** C0 controls except tab and newline, DEL, and C1 controls. One character class: linear time. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** `text` with every control character (but tab and newline) written as a visible `\xNN`. */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** DEL and C1 controls: JSON.stringify leaves them raw (JSON escapes only U+0000..U+001F). */
const JSON_RAW_CONTROL = /[\x7f-\x9f]/g;

/**
 * JSON.stringify(value) with DEL and C1 controls also written as \u escapes, so that --json output
 * printed to a terminal carries no control character either (U+009B is a CSI on some terminals).
 * The result is the same JSON value.
 */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_RAW_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
