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

/** `stem.ext`, or `stem-2.ext`, `stem-3.ext`… when taken (compared case-insensitively, as on macOS and Windows). */
export function uniqueFileName(stem: string, ext: string, taken: ReadonlySet<string>): string {
  const lower = new Set([...taken].map((n) => n.toLowerCase()));
  let name = `${stem}.${ext}`;
  for (let i = 2; lower.has(name.toLowerCase()); i++) name = `${stem}-${i}.${ext}`;
  return name;
}
