// Asset packs: the files a web site, an iOS or Android app, a VS Code extension or a social card
// needs, made from one image. Pure data out (paths and bytes, plus the HTML to paste), so the CLI
// writes them to a staged folder and the editor as one WorkspaceEdit.
//
// Icons are centre-cropped squares resized with Lanczos-3. Platforms that forbid transparency get
// the image flattened onto a background colour and no alpha channel at all: Apple's touch icon and
// every iOS app icon (the App Store refuses an icon with alpha), the maskable web icon (the
// launcher's mask shows whatever is under transparent pixels) and the social card.
import sharp from "sharp";
import { renderIcon } from "../image/iconRender";
import { EaselError, firstLine } from "../errors";
import { encodeIco } from "./ico";

export const PACK_PRESETS = ["web", "ios", "android", "vscode-extension", "social"] as const;
export type PackPreset = (typeof PACK_PRESETS)[number];

export function isPackPreset(value: string): value is PackPreset {
  return (PACK_PRESETS as readonly string[]).includes(value);
}

/** What each preset makes, for pickers and --help. */
export const PACK_DESCRIPTIONS: Readonly<Record<PackPreset, string>> = {
  web: "favicon.ico (16, 32, 48), favicon PNGs, apple-touch-icon, Android Chrome 192/512, a maskable 512, site.webmanifest and the <link> tags",
  ios: "AppIcon.appiconset: one 1024² opaque icon and Contents.json (Xcode 14+ single-size format)",
  android: "mipmap-mdpi … mipmap-xxxhdpi ic_launcher.png (48–192) and round ic_launcher_round.png",
  "vscode-extension": "icon.png, 128²",
  social: "og-image.png, a 1200×630 Open Graph / Twitter card (subject kept), optional title, and the <meta> tags",
};

/** The fill when none is given, and the title's font (resolved by fontconfig). */
export const DEFAULT_PACK_BACKGROUND = "#ffffff";
export const DEFAULT_PACK_FONT = "sans-serif";

export const SOCIAL_WIDTH = 1200;
export const SOCIAL_HEIGHT = 630;
/** The maskable icon's content box: the safe zone is a circle of 40% radius, so the picture takes the central 80%. */
export const MASKABLE_CONTENT = 0.8;
export const ANDROID_DENSITIES = [
  ["mdpi", 48],
  ["hdpi", 72],
  ["xhdpi", 96],
  ["xxhdpi", 144],
  ["xxxhdpi", 192],
] as const;

/**
 * Makes an image `factor` times larger (PNG in, PNG out). The default is Lanczos-3; a
 * super-resolution model can be plugged in here instead (PackOptions.upscaler).
 */
export type Upscaler = (png: Buffer, width: number, height: number, factor: number) => Promise<Buffer>;

export const lanczosUpscaler: Upscaler = (png, width, height, factor) =>
  sharp(png).resize(Math.ceil(width * factor), Math.ceil(height * factor), { fit: "fill", kernel: "lanczos3" }).png().toBuffer();

export interface PackOptions {
  /** The app's name in site.webmanifest (default "App"). */
  readonly name?: string;
  /** The fill of opaque icons and the manifest's colours, #rrggbb (default #ffffff). */
  readonly background?: string;
  /** Title text drawn on the social card (none: no text). */
  readonly title?: string;
  /** CSS font family for the title (the editor's font; default sans-serif, resolved by fontconfig). */
  readonly fontFamily?: string;
  /** Prefix of the hrefs in the tags (default "/": the pack's files at the site's root). */
  readonly baseUrl?: string;
  /** An image smaller than the pack's largest file: "upscale" (default, with a note) or "refuse". */
  readonly small?: "upscale" | "refuse";
  readonly upscaler?: Upscaler;
}

export interface PackFile {
  /** '/'-separated, relative to the pack's folder. */
  readonly path: string;
  readonly bytes: Buffer;
}

export interface AssetPack {
  readonly preset: PackPreset;
  readonly files: readonly PackFile[];
  /** HTML for a page's <head> (web: <link> tags; social: <meta> tags). */
  readonly headTags?: string;
  /** Things the user should know (the image was upscaled). */
  readonly notes: readonly string[];
}

/** The smallest source that needs no upscaling: square icons take the shorter side, the card its cover scale. */
function upscaleFactor(preset: PackPreset, width: number, height: number): number {
  const side = Math.min(width, height);
  switch (preset) {
    case "web":
      return 512 / side;
    case "ios":
      return 1024 / side;
    case "android":
      return 192 / side;
    case "vscode-extension":
      return 128 / side;
    case "social":
      return Math.max(SOCIAL_WIDTH / width, SOCIAL_HEIGHT / height);
  }
}

function largestText(preset: PackPreset): string {
  return { web: "512×512", ios: "1024×1024", android: "192×192", "vscode-extension": "128×128", social: `${SOCIAL_WIDTH}×${SOCIAL_HEIGHT}` }[preset];
}

const HEX = /^#[0-9a-f]{6}$/i;

export function checkPackOptions(options: PackOptions): void {
  if (options.background !== undefined && !HEX.test(options.background)) throw new EaselError("bad-argument", `--background must be a colour like #1e1e1e (got "${options.background}")`);
  if (options.title !== undefined && options.title.length > 200) throw new EaselError("bad-argument", `the title is ${options.title.length} characters; a card shows at most 200: shorten it`);
  if (options.name !== undefined && (options.name.trim() === "" || options.name.length > 100)) throw new EaselError("bad-argument", "the app name must be 1 to 100 characters");
}

/** The source as an RGBA PNG, oriented, and its size. */
async function normalise(image: Uint8Array): Promise<{ png: Buffer; width: number; height: number }> {
  try {
    const { data, info } = await sharp(image, { autoOrient: true }).ensureAlpha().toColourspace("srgb").png({ compressionLevel: 1 }).toBuffer({ resolveWithObject: true });
    return { png: data, width: info.width, height: info.height };
  } catch (error) {
    throw new EaselError("image-invalid", `cannot make an asset pack from this file (${firstLine(error)}): choose a PNG, WebP or JPEG image`);
  }
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
/** Attribute values in the tags: the same escapes. */
const attr = escapeXml;

type Rgb = { r: number; g: number; b: number };
function rgbOf(hex: string): Rgb {
  return { r: parseInt(hex.slice(1, 3), 16), g: parseInt(hex.slice(3, 5), 16), b: parseInt(hex.slice(5, 7), 16) };
}

class Renderer {
  constructor(
    private readonly source: Buffer,
    private readonly background: Rgb,
  ) {}

  /** A centre-cropped square icon; `opaque`: flattened onto the background, no alpha channel. */
  async square(size: number, opaque: boolean): Promise<Buffer> {
    const icon = await renderIcon(this.source, size);
    return opaque ? sharp(icon).flatten({ background: this.background }).removeAlpha().png({ compressionLevel: 9, palette: false }).toBuffer() : icon;
  }

  /** A maskable icon: the picture in the central 80% (the safe zone), on an opaque background filling the rest. */
  async maskable(size: number): Promise<Buffer> {
    const inner = Math.round(size * MASKABLE_CONTENT);
    const picture = await sharp(this.source).resize(inner, inner, { fit: "cover", position: "centre", kernel: "lanczos3" }).png().toBuffer();
    const offset = Math.floor((size - inner) / 2);
    return sharp({ create: { width: size, height: size, channels: 3, background: this.background } })
      .composite([{ input: picture, left: offset, top: offset }])
      .removeAlpha()
      .png({ compressionLevel: 9, palette: false })
      .toBuffer();
  }

  /** A round icon: the square with everything outside its inscribed circle transparent. */
  async round(size: number): Promise<Buffer> {
    const square = await sharp(this.source).resize(size, size, { fit: "cover", position: "centre", kernel: "lanczos3" }).ensureAlpha().png().toBuffer();
    const circle = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><circle cx="${size / 2}" cy="${size / 2}" r="${size / 2}" fill="#fff"/></svg>`);
    return sharp(square).composite([{ input: circle, blend: "dest-in" }]).png({ compressionLevel: 9, palette: false }).toBuffer();
  }

  /** The 1200×630 card: cropped around what libvips' attention strategy finds most salient, opaque, with the title on a band. */
  async card(title: string | undefined, fontFamily: string): Promise<Buffer> {
    const img = sharp(this.source)
      .resize(SOCIAL_WIDTH, SOCIAL_HEIGHT, { fit: "cover", position: sharp.strategy.attention, kernel: "lanczos3" })
      .flatten({ background: this.background });
    const base = await img.png().toBuffer();
    if (title === undefined || title.trim() === "") return sharp(base).removeAlpha().png({ compressionLevel: 9 }).toBuffer();
    return sharp(base).composite([{ input: titleOverlay(title.trim(), fontFamily) }]).removeAlpha().png({ compressionLevel: 9 }).toBuffer();
  }
}

/** Splits a title into at most two lines of about `max` characters, the rest cut with an ellipsis. */
export function titleLines(title: string, max = 34): string[] {
  const words = title.split(/\s+/);
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line !== "" && (line + " " + word).length > max) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  if (lines.length > 2) return [lines[0], `${lines[1].slice(0, max - 1)}…`];
  return lines.map((l) => (l.length > max ? `${l.slice(0, max - 1)}…` : l));
}

function titleOverlay(title: string, fontFamily: string): Buffer {
  const lines = titleLines(title);
  const size = 60;
  const band = 80 + lines.length * size * 1.2;
  const top = SOCIAL_HEIGHT - band;
  const text = lines
    .map((line, i) => `<text x="60" y="${Math.round(top + 40 + size + i * size * 1.2)}" font-family="${attr(fontFamily)}" font-size="${size}" font-weight="bold" fill="#ffffff">${escapeXml(line)}</text>`)
    .join("");
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SOCIAL_WIDTH}" height="${SOCIAL_HEIGHT}"><rect x="0" y="${Math.round(top)}" width="${SOCIAL_WIDTH}" height="${Math.round(band)}" fill="#000000" fill-opacity="0.55"/>${text}</svg>`,
  );
}

function manifest(name: string, background: string): string {
  const icon = (src: string, size: number, purpose?: string) => ({ src, sizes: `${size}x${size}`, type: "image/png", ...(purpose ? { purpose } : {}) });
  return `${JSON.stringify(
    {
      name,
      short_name: name.length <= 12 ? name : name.slice(0, 12).trimEnd(),
      icons: [icon("android-chrome-192x192.png", 192), icon("android-chrome-512x512.png", 512), icon("maskable-icon-512x512.png", 512, "maskable")],
      theme_color: background,
      background_color: background,
      display: "standalone",
    },
    null,
    2,
  )}\n`;
}

/** The <link> tags for the web pack, hrefs under `base` (ending in "/"). */
export function webLinkTags(base: string): string {
  return [
    `<link rel="icon" href="${attr(base)}favicon.ico" sizes="16x16 32x32 48x48">`,
    `<link rel="icon" type="image/png" sizes="32x32" href="${attr(base)}favicon-32x32.png">`,
    `<link rel="icon" type="image/png" sizes="16x16" href="${attr(base)}favicon-16x16.png">`,
    `<link rel="apple-touch-icon" sizes="180x180" href="${attr(base)}apple-touch-icon.png">`,
    `<link rel="manifest" href="${attr(base)}site.webmanifest">`,
  ].join("\n");
}

/** The <meta> tags for the social card; Open Graph wants an absolute URL, so `base` should be the site's. */
export function socialMetaTags(base: string, title?: string): string {
  const image = `${base}og-image.png`;
  const t = title?.trim();
  return [
    ...(t ? [`<meta property="og:title" content="${attr(t)}">`] : []),
    `<meta property="og:image" content="${attr(image)}">`,
    `<meta property="og:image:type" content="image/png">`,
    `<meta property="og:image:width" content="${SOCIAL_WIDTH}">`,
    `<meta property="og:image:height" content="${SOCIAL_HEIGHT}">`,
    ...(t ? [`<meta property="og:image:alt" content="${attr(t)}">`] : []),
    `<meta name="twitter:card" content="summary_large_image">`,
    ...(t ? [`<meta name="twitter:title" content="${attr(t)}">`] : []),
    `<meta name="twitter:image" content="${attr(image)}">`,
  ].join("\n");
}

/** The iOS asset catalog's Contents.json in Xcode 14+'s single-size form: one 1024² universal icon. */
export function appIconContents(filename: string): string {
  return `${JSON.stringify({ images: [{ filename, idiom: "universal", platform: "ios", size: "1024x1024" }], info: { author: "xcode", version: 1 } }, null, 2)}\n`;
}

/** Normalises a base URL to end in "/" ("" stays relative to the page). */
function baseOf(url: string | undefined): string {
  if (url === undefined) return "/";
  return url === "" || url.endsWith("/") ? url : `${url}/`;
}

/**
 * Renders the preset's files from `image` (PNG, WebP or JPEG bytes). Throws one EaselError line for
 * a file that is not an image, bad options, or (with `small: "refuse"`) an image too small.
 */
export async function renderAssetPack(image: Uint8Array, preset: PackPreset, options: PackOptions = {}): Promise<AssetPack> {
  checkPackOptions(options);
  const source = await normalise(image);
  const notes: string[] = [];
  let png = source.png;
  const factor = upscaleFactor(preset, source.width, source.height);
  if (factor > 1) {
    const why = `the image is ${source.width}×${source.height}, smaller than the ${preset} pack's largest file (${largestText(preset)})`;
    if (options.small === "refuse") throw new EaselError("image-invalid", `${why}: use a larger image, or allow upscaling (CLI: leave out --no-upscale)`);
    const upscaler = options.upscaler ?? lanczosUpscaler;
    png = await upscaler(source.png, source.width, source.height, factor);
    notes.push(`${why}: upscaled ${factor.toFixed(2)}× ${options.upscaler ? "" : "with Lanczos "}first, so the large files are soft`);
  }
  const background = options.background ?? DEFAULT_PACK_BACKGROUND;
  const r = new Renderer(png, rgbOf(background));
  const base = baseOf(options.baseUrl);
  const files: PackFile[] = [];
  const add = (path: string, bytes: Buffer | string) => files.push({ path, bytes: typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes });
  let headTags: string | undefined;
  switch (preset) {
    case "web": {
      const ico = await Promise.all([16, 32, 48].map(async (size) => ({ size, png: await r.square(size, false) })));
      add("favicon.ico", encodeIco(ico));
      add("favicon-16x16.png", await r.square(16, false));
      add("favicon-32x32.png", await r.square(32, false));
      add("apple-touch-icon.png", await r.square(180, true));
      add("android-chrome-192x192.png", await r.square(192, false));
      add("android-chrome-512x512.png", await r.square(512, false));
      add("maskable-icon-512x512.png", await r.maskable(512));
      add("site.webmanifest", manifest(options.name ?? "App", background));
      headTags = webLinkTags(base);
      add("head-tags.html", `${headTags}\n`);
      break;
    }
    case "ios":
      add("AppIcon.appiconset/AppIcon-1024.png", await r.square(1024, true));
      add("AppIcon.appiconset/Contents.json", appIconContents("AppIcon-1024.png"));
      break;
    case "android":
      for (const [density, size] of ANDROID_DENSITIES) {
        add(`mipmap-${density}/ic_launcher.png`, await r.square(size, false));
        add(`mipmap-${density}/ic_launcher_round.png`, await r.round(size));
      }
      break;
    case "vscode-extension":
      add("icon.png", await r.square(128, false));
      break;
    case "social":
      add("og-image.png", await r.card(options.title, options.fontFamily ?? DEFAULT_PACK_FONT));
      headTags = socialMetaTags(base, options.title);
      add("head-tags.html", `${headTags}\n`);
      break;
  }
  return { preset, files, headTags, notes };
}

/** The folder a pack goes in, beside its image: `<stem>-<preset>`. */
export function packFolderName(stem: string, preset: PackPreset): string {
  return `${stem}-${preset}`;
}

/**
 * The size to generate a social card at for a model that takes multiples of `granularity` up to
 * `maxSide`: the closest aspect to 1200:630 with the longer side at `longSide` (then cropped).
 */
export function socialGenerationSize(granularity: number, longSide: number): { width: number; height: number } {
  const width = Math.max(granularity, Math.round(longSide / granularity) * granularity);
  const height = Math.max(granularity, Math.round((width * SOCIAL_HEIGHT) / SOCIAL_WIDTH / granularity) * granularity);
  return { width, height };
}
