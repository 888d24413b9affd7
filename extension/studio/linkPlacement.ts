// Image links from the gallery: alt text from the prompt (else the file name), and placed as their
// own paragraph: blank lines are added on whichever side the cursor's line has text, so the link
// never runs into a sentence.

/** The text to insert at the cursor, given the cursor line's text before and after it. */
export function asOwnParagraph(link: string, before: string, after: string): string {
  const prefix = before.trim() === "" ? "" : "\n\n";
  const suffix = after.trim() === "" ? "" : "\n\n";
  return `${prefix}${link}${suffix}`;
}
