/** A file-name-safe short form of a prompt: lower-case ASCII words joined by dashes, at most 48 chars. */
export function promptSlug(prompt: string, maxLength = 48): string {
  const ascii = prompt
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const cut = ascii.length > maxLength ? ascii.slice(0, maxLength).replace(/-[^-]*$/, "") || ascii.slice(0, maxLength) : ascii;
  return cut.replace(/-+$/g, "") || "image";
}
