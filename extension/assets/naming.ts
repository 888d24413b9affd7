// File names for generated images: a pattern with ${slug}, ${seed}, ${model}, ${date}, ${time},
// made safe for every file system, and never the name of a file that already exists.
import { promptSlug, uniqueFileName } from "../engine/cli/slug";

// Shared with the CLI, which names its files the same way.
export { uniqueFileName } from "../engine/cli/slug";

export interface NameFields {
  readonly prompt: string;
  readonly seed: bigint;
  readonly model: string;
  readonly now: Date;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Characters Windows, macOS or Linux refuse in a file name, and control characters. */
const UNSAFE = /[<>:"/\\|?*\u0000-\u001f]+/g;

export function expandPattern(pattern: string, f: NameFields): string {
  const values: Record<string, string> = {
    slug: promptSlug(f.prompt),
    seed: f.seed.toString(),
    model: f.model,
    date: `${f.now.getFullYear()}-${pad(f.now.getMonth() + 1)}-${pad(f.now.getDate())}`,
    time: `${pad(f.now.getHours())}${pad(f.now.getMinutes())}${pad(f.now.getSeconds())}`,
  };
  const expanded = pattern.replace(/\$\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
  const safe = expanded.replace(UNSAFE, "-").replace(/^[.\s-]+|[.\s]+$/g, "").slice(0, 120);
  return safe || `image-${values.seed}`;
}

/** A background-removal result's name beside its image: `<stem>-nobg.png` (`.webp` for a WebP; JPEG cannot hold alpha), never a taken name. */
export function cutoutName(imageName: string, taken: ReadonlySet<string>): string {
  const stem = imageName.replace(/\.[^.]+$/, "");
  return uniqueFileName(`${stem}-nobg`, /\.webp$/i.test(imageName) ? "webp" : "png", taken);
}

/** An upscaled image's name beside its original: `<stem>-x<scale>.png` (as `easel upscale` names it), never a taken name. */
export function upscaledName(imageName: string, scale: number, taken: ReadonlySet<string>): string {
  return uniqueFileName(`${imageName.replace(/\.[^.]+$/, "")}-x${scale}`, "png", taken);
}
