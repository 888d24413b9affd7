// The image tools' contract, for every host that offers them to an agent: `easel mcp` (MCP tools
// generate_image, edit_image, icon_set) and the extension (VS Code language model tools
// easel_generate_image, …). One place owns the parameter names and limits, the descriptions
// written for the model, the validation and the result text; each host adds only how it runs a
// call. No `vscode` here: the extension imports this, never the other way round. package.json's
// languageModelTools[].inputSchema must equal `toolInputSchema(tool, "vscode")` (a unit test
// keeps them in step).
import { promises as fs } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { z } from "zod";
import { zodToJsonSchema } from "zod-to-json-schema";
import { imageLinks } from "../../markdown/links";
import { ASPECT_IDS, type AspectId, aspectSizesText, modelGeometry } from "../model/imageSizes";
import { LOCKFILE_NAME } from "../assets/lockfile";
import { badArgument, EaselError, firstLine } from "../errors";
import { ICON_SIZES } from "../image/iconRender";
import { PREVIEW_MAX_SIDE } from "../image/thumbnail";
import { PACK_DESCRIPTIONS, PACK_PRESETS, type PackPreset } from "../packs/assetPack";
import { MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SIDE, MAX_STEPS, MIN_SIDE, randomSeed } from "../pipeline/resolveRequest";
import { seedFromString } from "../random/torchGenerator";
import type { GenerateRequest } from "../types";
import { SCHEDULER_CHOICES, type SchedulerChoice } from "../schedulers/scheduler";
import type { RootFolder } from "../rootFolder";
import { PROMPT_SYNTAXES, type PromptSyntax } from "../text/a1111Prompt";

/** Who offers the tools: `easel mcp`, or the VS Code extension (Copilot agent mode). */
export const TOOL_HOSTS = ["mcp", "vscode"] as const;
export type ToolHost = (typeof TOOL_HOSTS)[number];

/** The image tools, by what they do. */
export const IMAGE_TOOLS = ["generate", "edit", "iconSet"] as const;
export type ImageTool = (typeof IMAGE_TOOLS)[number];

/** Each tool's name as each host registers it (VS Code's tool names are global, so they carry "easel_"). */
export const TOOL_NAMES = {
  mcp: { generate: "generate_image", edit: "edit_image", iconSet: "icon_set" },
  vscode: { generate: "easel_generate_image", edit: "easel_edit_image", iconSet: "easel_icon_set" },
} as const satisfies Record<ToolHost, Record<ImageTool, string>>;

/** Where images go when a call names no destination, in `easel mcp` (the extension's default output folder). */
export const DEFAULT_DESTINATION = "assets/generated";
/** Images one call may make. */
export const MAX_COUNT = 8;
/** Previews returned with one call, so a batch does not flood the conversation. */
export const MAX_PREVIEWS = 4;
/** Output file types a destination file name may end in, per host (the extension also writes WebP and JPEG). */
export const DESTINATION_TYPES = { mcp: [".png"], vscode: [".png", ".webp", ".jpg", ".jpeg"] } as const satisfies Record<ToolHost, readonly string[]>;

/** What icon_set makes: the plain icon sizes (the default), or one of the asset packs of "Export Asset Pack…" and `easel pack`. */
export const ICON_SET_PRESETS = ["icons", ...PACK_PRESETS] as const;
export type IconSetPreset = (typeof ICON_SET_PRESETS)[number];

/** The words that differ between hosts: what paths are relative to, the default destination, which model runs. */
const HOST_WORDS: Readonly<Record<ToolHost, { readonly root: string; readonly defaultDestination: string; readonly model: string; readonly models: string }>> = {
  mcp: {
    root: "the server's root folder",
    defaultDestination: DEFAULT_DESTINATION,
    model: "A model that is already downloaded (see list_models); omit for the server's default model.",
    models: "call list_models",
  },
  vscode: {
    root: "the workspace folder",
    defaultDestination: "the user's output folder (setting easel.output.folder, usually assets/generated)",
    model: "A model that is already downloaded: a catalog id (e.g. sd-turbo, sd15, sdxl-base), an added model's name, owner/name or a model folder; omit for the model the user chose in Easel (setting easel.model).",
    models: "ask the user to run 'Easel: Choose Model'",
  },
};

/** The generation parameters every image tool takes, in the hosts' own (camelCase) names. */
export interface ImageParams {
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly width?: number;
  readonly height?: number;
  /** Instead of width/height: the model's own size for this shape. */
  readonly aspect?: AspectId;
  /** Remove the background (the catalog's background remover) so the PNG/WebP has real alpha. */
  readonly transparent?: boolean;
  /** With transparent: hard edges, alpha cut at this threshold in (0, 1). */
  readonly matte?: number;
  readonly steps?: number;
  readonly guidance?: number;
  /** A whole number, or its decimal text (seeds go past 2^53). */
  readonly seed?: number | string;
  readonly count?: number;
  readonly scheduler?: SchedulerChoice;
  readonly promptSyntax?: PromptSyntax;
  /** A folder, or a file name, relative to the root. */
  readonly destination?: string;
  /** A catalog id, added model name, owner/name or folder; default the host's model. */
  readonly model?: string;
}

export interface EditParams extends Omit<ImageParams, "width" | "height" | "aspect"> {
  /** The image to start from, relative to the root. */
  readonly image: string;
  /** Inpainting: white repaints, black keeps. */
  readonly mask?: string;
  readonly strength?: number;
  readonly extendLeft?: number;
  readonly extendRight?: number;
  readonly extendTop?: number;
  readonly extendBottom?: number;
}

export interface IconSetParams extends Partial<Omit<ImageParams, "count" | "transparent" | "matte">> {
  /** An existing image to make the icons from; else one is generated from `prompt`. */
  readonly image?: string;
  /** What to make (default "icons"). */
  readonly preset?: IconSetPreset;
}

// What each aspect makes per family, from the function that sizes them (the Studio's size picker's).
const ASPECT_EXAMPLES = [
  ["SD 1.x and turbo models", aspectSizesText(modelGeometry(512, 512, 64, "sd1"))],
  ["SD 2.x v-prediction (768)", aspectSizesText(modelGeometry(768, 768, 64, "sd2"))],
  ["SDXL (its trained sizes)", aspectSizesText(modelGeometry(1024, 1024, 32, "sdxl"))],
] as const;
const SIZE_NOTE =
  `Sizes are ${MIN_SIDE}..${MAX_SIDE} px, a multiple of 8 (64 for some models); omit width, height and aspect for the model's native size (512 for SD 1.x and turbo, 768 for SD 2.x v-prediction, 1024 for SDXL): other sizes are slower and often worse. ` +
  `For a shape, prefer aspect (${ASPECT_IDS.join(", ")}) to width/height: it picks the size the current model supports for it — ${ASPECT_EXAMPLES.map(([family, sizes]) => `${family}: ${sizes}`).join("; ")}.`;
const TRANSPARENT_NOTE = "transparent: true removes the background afterwards (a separate background-removal model, which must already be downloaded: otherwise the result says how to get it), giving a PNG or WebP with real alpha; prompt for a single subject on a plain background.";
const RESULT_NOTE = `The result lists each file's path and seed with a Markdown image link, and shows a preview (at most ${PREVIEW_MAX_SIDE} px).`;
const MODEL_NOTE = "Runs locally on the user's machine (seconds to minutes per image on a CPU); the model must already be downloaded — if it is not, the result says how to download it instead of downloading gigabytes unasked.";

/** The argument shapes (zod, which the MCP SDK takes as is and which make the JSON schemas). */
export function toolShapes(host: ToolHost) {
  const words = HOST_WORDS[host];
  const types = DESTINATION_TYPES[host].filter((t) => t !== ".jpeg").join(", ");
  const generation = {
    prompt: z.string().max(MAX_PROMPT_CHARS).describe("What the image shows: subject, style, lighting, composition, in plain words (about 75 tokens are read)."),
    negative_prompt: z.string().max(MAX_PROMPT_CHARS).optional().describe('What to avoid (e.g. "blurry, text, watermark"); ignored by models run without guidance (turbo models).'),
    steps: z.number().int().min(1).max(MAX_STEPS).optional().describe("Denoising steps; omit for the model's default (25 for SD 1.x/SDXL, 1 for turbo, 4 for LCM). More is slower, rarely better past 30."),
    guidance: z.number().min(0).max(MAX_GUIDANCE).optional().describe("How closely to follow the prompt; omit for the model's default (7.5 for SD 1.x)."),
    seed: z
      .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)])
      .optional()
      .describe("Random seed (a whole number, or its decimal text for values past 2^53). Reusing a seed with the same parameters reproduces an image; omit for a new one."),
    count: z.number().int().min(1).max(MAX_COUNT).optional().describe(`How many images (1..${MAX_COUNT}, default 1); image i uses seed + i.`),
    scheduler: z.enum(SCHEDULER_CHOICES).optional().describe("The sampler; omit to keep the model's own."),
    prompt_syntax: z.enum(PROMPT_SYNTAXES).optional().describe("plain (default): the prompt as written. a1111: (word:1.3) weights, [word], BREAK and prompts longer than 75 tokens."),
    destination: z
      .string()
      .optional()
      .describe(`Where to write, relative to ${words.root}: a folder, or a file name ending in ${types}. Default ${words.defaultDestination}. Existing files are never replaced (a taken name gets -2, -3…); paths outside ${words.root} are refused.`),
    model: z.string().optional().describe(words.model),
  };
  const width = z.number().int().min(MIN_SIDE).max(MAX_SIDE).optional();
  const height = z.number().int().min(MIN_SIDE).max(MAX_SIDE).optional();
  const aspect = z.enum(ASPECT_IDS).optional();
  const transparency = {
    transparent: z.boolean().optional().describe("Remove the background so the image has real alpha (PNG or WebP; not JPEG). The background-removal model must already be downloaded (the result says how, otherwise)."),
    matte: z.number().gt(0).lt(1).optional().describe("With transparent: hard edges instead of soft ones, alpha cut at this threshold (e.g. 0.5); omit for soft edges."),
  };
  const { count: _count, ...withoutCount } = generation;
  return {
    generate: {
      ...generation,
      width: width.describe("Width in pixels; omit for the model's native size."),
      height: height.describe("Height in pixels; omit for the model's native size."),
      aspect: aspect.describe("Instead of width and height: the shape, as width:height; the size is the one the current model supports for it (see the tool description)."),
      ...transparency,
    },
    edit: {
      ...generation,
      prompt: generation.prompt.describe("What the result should show (for inpainting: what goes in the masked area, in the context of the whole picture)."),
      image: z.string().describe(`The image to start from: a PNG, WebP or JPEG path relative to ${words.root}.`),
      mask: z.string().optional().describe(`Inpainting: a black-and-white image of the same size, relative to ${words.root}; white is repainted.`),
      strength: z.number().gt(0).max(1).optional().describe("How much to change, in (0, 1]: default 0.8, or 1 with a mask."),
      extend_left: z.number().int().min(0).max(MAX_SIDE).optional().describe("Outpainting: pixels to add on the left."),
      extend_right: z.number().int().min(0).max(MAX_SIDE).optional().describe("Outpainting: pixels to add on the right."),
      extend_top: z.number().int().min(0).max(MAX_SIDE).optional().describe("Outpainting: pixels to add at the top."),
      extend_bottom: z.number().int().min(0).max(MAX_SIDE).optional().describe("Outpainting: pixels to add at the bottom."),
      destination: generation.destination.describe(`Where to write, relative to ${words.root}: a folder or a file name ending in ${types}. Default: the input image's folder. Never replaces a file.`),
      ...transparency,
    },
    iconSet: {
      ...withoutCount,
      prompt: generation.prompt.optional().describe("Generate the source image from this prompt (leave out when giving image)."),
      image: z.string().optional().describe(`An existing PNG, WebP or JPEG, relative to ${words.root}, to make the icons from.`),
      width: width.describe("With prompt: the generated image's width; omit for the model's native size."),
      height: height.describe("With prompt: the generated image's height."),
      aspect: aspect.describe("With prompt, instead of width and height: the generated image's shape (the current model's size for it)."),
      preset: z
        .enum(ICON_SET_PRESETS)
        .optional()
        .describe(`What to make: ${ICON_SET_PRESETS.map((p) => `${p} (${p === "icons" ? `default: square PNGs at ${ICON_SIZES.join(", ")} px` : PACK_DESCRIPTIONS[p]})`).join("; ")}.`),
      destination: generation.destination.describe(`A folder (relative to ${words.root}) to put the new <name>-icons/ (or <name>-<preset>/) folder in; default beside the source image (generated ones go to ${words.defaultDestination}).`),
    },
  };
}

export type ToolShapes = ReturnType<typeof toolShapes>;
export type GenerateArgs = z.infer<z.ZodObject<ToolShapes["generate"]>>;
export type EditArgs = z.infer<z.ZodObject<ToolShapes["edit"]>>;
export type IconSetArgs = z.infer<z.ZodObject<ToolShapes["iconSet"]>>;

/** Titles (for people) and descriptions (for the model: when to use the tool, what it needs, what comes back). */
export function toolText(tool: ImageTool, host: ToolHost): { readonly title: string; readonly description: string } {
  const words = HOST_WORDS[host];
  switch (tool) {
    case "generate":
      return {
        title: "Generate image",
        description: `Make a new image from a text prompt with Stable Diffusion and save it in the project. Use it when the user wants a picture, illustration, texture, placeholder or hero image made. ${SIZE_NOTE} ${TRANSPARENT_NOTE} ${MODEL_NOTE} ${RESULT_NOTE}`,
      };
    case "edit":
      return {
        title: "Edit image",
        description:
          "Make a new image from an existing one in the project, saved beside it (the original is never changed). Three modes: " +
          "variations / img2img (give only image and prompt; strength 0.3–0.5 keeps the composition, 0.8 keeps little), " +
          "inpainting (give a mask image of the same size: white areas are repainted from the prompt, black kept), " +
          "outpainting (give extend_left/right/top/bottom in pixels: the canvas grows and the new area is painted to match). " +
          `The result keeps the image's size (outpainting: grown by the sides). ${TRANSPARENT_NOTE} ${MODEL_NOTE} ${RESULT_NOTE}`,
      };
    case "iconSet":
      return {
        title: "Icon set",
        description:
          `Make an app icon / favicon set: by default square PNGs at ${ICON_SIZES.join(", ")} px, centre-cropped, written to a new <name>-icons/ folder; ` +
          `with preset, a platform's asset pack in a new <name>-<preset>/ folder (${PACK_PRESETS.join(", ")}: web is favicon.ico, favicon PNGs, apple-touch-icon, Android Chrome icons and site.webmanifest, and the result gives the <link> tags to paste into the page's <head>). ` +
          "Give image (an existing picture in the project) or prompt (an image is generated first, then cut into icons; describe a simple, bold subject on a plain background, which reads at 16 px). " +
          `With prompt, the model must already be downloaded (otherwise the result says how; ${words.models} to see which are). ${RESULT_NOTE}`,
      };
  }
}

/** A tool's arguments as a JSON schema (what MCP's tools/list sends, and package.json's inputSchema). */
export function toolInputSchema(tool: ImageTool, host: ToolHost): Record<string, unknown> {
  // The options MCP's SDK converts with, so both hosts publish the same schema for the same shape.
  const { $schema: _schema, ...schema } = zodToJsonSchema(z.object(toolShapes(host)[tool]), { strictUnions: true, pipeStrategy: "input" }) as Record<string, unknown>;
  return schema;
}

/** One line for arguments that do not fit the schema: which one, and what it must be. */
function issueLine(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue.path.length > 0 ? issue.path.join(".") : "the arguments";
  return `${where}: ${issue.message}`;
}

/** Checks a call's arguments against the tool's schema (for hosts whose caller does not). */
export function parseToolArgs<T extends ImageTool>(tool: T, host: ToolHost, input: unknown): { readonly ok: true; readonly args: z.infer<z.ZodObject<ToolShapes[T]>> } | { readonly ok: false; readonly message: string } {
  const parsed = z.object(toolShapes(host)[tool]).strict().safeParse(input ?? {});
  return parsed.success ? { ok: true, args: parsed.data as z.infer<z.ZodObject<ToolShapes[T]>> } : { ok: false, message: `bad argument ${issueLine(parsed.error)}` };
}

/** The generation arguments every image tool shares, in the hosts' names. */
function common(args: Omit<GenerateArgs, "width" | "height" | "count" | "aspect" | "transparent" | "matte"> & { readonly count?: number }) {
  return {
    prompt: args.prompt,
    negativePrompt: args.negative_prompt,
    steps: args.steps,
    guidance: args.guidance,
    seed: args.seed,
    count: args.count,
    scheduler: args.scheduler,
    promptSyntax: args.prompt_syntax,
    destination: args.destination,
    model: args.model,
  };
}

/**
 * The request fields every tool's generation takes from its arguments (the host's settings or the
 * model fill the rest). The prompt syntax is the tools' own default (plain), as their descriptions
 * say, never a user's setting.
 */
export function requestFields(params: Omit<ImageParams, "width" | "height">): GenerateRequest {
  const count = params.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw badArgument(`count must be a whole number from 1 to ${MAX_COUNT} (got ${count})`);
  return {
    prompt: params.prompt,
    negativePrompt: params.negativePrompt,
    steps: params.steps,
    guidance: params.guidance,
    seed: params.seed === undefined ? randomSeed() : seedFromString(String(params.seed)),
    batch: count,
    scheduler: params.scheduler,
    promptSyntax: params.promptSyntax ?? "plain",
  };
}

export function generateParams(args: GenerateArgs): ImageParams {
  return { ...common(args), width: args.width, height: args.height, aspect: args.aspect, transparent: args.transparent, matte: args.matte };
}

export function editParams(args: EditArgs): EditParams {
  return {
    ...common(args),
    image: args.image,
    mask: args.mask,
    strength: args.strength,
    extendLeft: args.extend_left,
    extendRight: args.extend_right,
    extendTop: args.extend_top,
    extendBottom: args.extend_bottom,
    transparent: args.transparent,
    matte: args.matte,
  };
}

export function iconSetParams(args: IconSetArgs): IconSetParams {
  const { count: _count, ...rest } = common({ ...args, prompt: args.prompt ?? "" });
  return { ...rest, prompt: args.prompt, image: args.image, width: args.width, height: args.height, aspect: args.aspect, preset: args.preset };
}

/** The shape of an icon set's generated source: as asked, else the social card's wide one (it is cropped to 1200×630), else the model's own. */
export function sourceAspect(params: IconSetParams): AspectId | undefined {
  if (params.aspect !== undefined || params.width !== undefined || params.height !== undefined) return params.aspect;
  return params.preset === "social" ? "16:9" : undefined;
}

/** Problems in a generation's size and transparency arguments that the schema cannot express (every tool). */
export function imageProblem(params: Partial<Pick<ImageParams, "width" | "height" | "aspect" | "transparent" | "matte" | "destination">>): string | undefined {
  if (params.aspect !== undefined && (params.width !== undefined || params.height !== undefined)) return "give aspect or width/height, not both";
  if (params.matte !== undefined && params.transparent !== true) return "matte goes with transparent: true";
  if (params.transparent === true && params.destination !== undefined && /\.jpe?g$/i.test(params.destination)) return "JPEG has no alpha channel: name a .png or .webp file for a transparent image";
  return undefined;
}

/** Outpainting's sides from an edit's arguments; `outpaint` when any side grows. */
export function outpaintSides(params: EditParams): { readonly sides: { left: number; right: number; top: number; bottom: number }; readonly outpaint: boolean } {
  const sides = { left: params.extendLeft ?? 0, right: params.extendRight ?? 0, top: params.extendTop ?? 0, bottom: params.extendBottom ?? 0 };
  return { sides, outpaint: Object.values(sides).some((n) => n > 0) };
}

/** Problems in an edit's arguments that the schema cannot express; undefined when there are none. */
export function editProblem(params: EditParams): string | undefined {
  const image = imageProblem(params);
  if (image) return image;
  if (outpaintSides(params).outpaint && params.mask !== undefined) return "give either a mask (inpainting) or extend_* sides (outpainting), not both";
  return undefined;
}

/** Problems in an icon set's arguments that the schema cannot express. */
export function iconSetProblem(params: IconSetParams): string | undefined {
  if ((params.image === undefined) === (params.prompt === undefined)) return "give either image (an existing picture to make icons from) or prompt (to generate one first), not both";
  if (params.image !== undefined && (params.aspect !== undefined || params.width !== undefined || params.height !== undefined)) return "width, height and aspect size the image generated from prompt: leave them out with image";
  return imageProblem(params);
}

/** Where a call's images go: a folder inside the root (checked, not created) and, when the destination names a file, that file's name. */
export interface DestinationPlan {
  readonly folder: string;
  readonly fileName?: string;
}

/** Resolves a destination (a folder, or a file name ending in one of the host's types) inside the root; `fallback` when none is given. */
export async function destinationPlan(root: RootFolder, destination: string | undefined, fallback: string, host: ToolHost): Promise<DestinationPlan> {
  const named = root.resolve(destination ?? fallback, "destination");
  const isFolder = await fs.stat(named).then((s) => s.isDirectory(), () => false);
  const isFile = !isFolder && path.extname(named) !== "";
  const types: readonly string[] = DESTINATION_TYPES[host];
  if (isFile && !types.includes(path.extname(named).toLowerCase())) throw badArgument(`the destination ${destination} must be a folder or a file name ending in ${types.join(", ")}`);
  const folder = isFile ? path.dirname(named) : named;
  // Checked now, created only when there is an image to put in it.
  await root.checkFolder(folder, "destination");
  return isFile ? { folder, fileName: path.basename(named) } : { folder };
}

/** An image's size rounded down to a multiple of 8 (at least 64): the size img2img and inpainting make from it. */
export async function editSize(image: Uint8Array): Promise<{ readonly width: number; readonly height: number }> {
  let meta;
  try {
    meta = await sharp(image).metadata();
  } catch (error) {
    throw new EaselError("image-invalid", `cannot read the image (${firstLine(error)}): give a PNG, WebP or JPEG file`);
  }
  const side = (n: number | undefined) => Math.max(64, Math.floor((n ?? 0) / 8) * 8);
  return { width: side(meta.width), height: side(meta.height) };
}

/** What a generation made, in neutral terms, for the result text. */
export interface MadeImages {
  /** Root-relative, `/`-separated, with each image's seed. */
  readonly images: readonly { readonly path: string; readonly seed: bigint | string | number }[];
  readonly prompt: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidance: number;
  readonly sampler: string;
  readonly model: string;
  readonly provider: string;
  readonly seconds: number;
  /** Whether the files got their easel-assets.json entries. */
  readonly recorded: boolean;
  /** Lines after the links: the model's sizes, transparency, why a file is not recorded. */
  readonly notes?: readonly string[];
}

/** Links written relative to a document at the root, so an agent can paste them into README.md. */
const ROOT_DOCUMENT = "/README.md";

/** The result text of a generation (or an edit): a summary line, each file with its seed, the Markdown links. */
export function madeText(made: MadeImages, host: ToolHost): string {
  const n = made.images.length;
  return [
    `Made ${n} image${n === 1 ? "" : "s"} (${made.width}x${made.height}, ${made.steps} steps, guidance ${made.guidance}, ${made.sampler}, model ${made.model}, ${made.provider}, ${made.seconds.toFixed(1)} s):`,
    ...made.images.map((i) => `- ${i.path} (seed ${i.seed})`),
    "",
    `Markdown (paths relative to ${HOST_WORDS[host].root}; from a document elsewhere, make them relative to it):`,
    imageLinks(made.images.map((i) => ({ path: `/${i.path}`, prompt: made.prompt })), ROOT_DOCUMENT),
    ...(made.recorded ? ["", `Recorded in ${LOCKFILE_NAME} (the same seed and parameters make the same image again: easel assets check / regenerate).`] : []),
    ...(made.notes && made.notes.length > 0 ? ["", ...made.notes] : []),
  ].join("\n");
}

/** The result text of an icon set (after the text of the generation that made its source, if any). */
export function iconSetText(set: { readonly source: string; readonly folder: string; readonly files: readonly string[]; readonly stem: string; readonly made?: string }): string {
  return [
    ...(set.made ? [set.made, ""] : []),
    `Icon set from ${set.source} (${ICON_SIZES.join(", ")} px, centre-cropped squares) in ${set.folder}/:`,
    ...set.files.map((r) => `- ${r}`),
    "",
    "Markdown (from a document at the root folder):",
    imageLinks([{ path: `/${set.files[set.files.length - 1]}`, prompt: `${set.stem} icon` }], ROOT_DOCUMENT),
  ].join("\n");
}

/** The result line on the sizes of the model that ran, for the agent's next call. */
export function modelSizesNote(sizes: string): string {
  return `This model's sizes by aspect: ${sizes}.`;
}


/** The result text of an asset pack (after the text of the generation that made its source, if any). */
export function packText(pack: {
  readonly source: string;
  readonly preset: PackPreset;
  readonly folder: string;
  readonly files: readonly string[];
  readonly headTags?: string;
  readonly notes: readonly string[];
  readonly made?: string;
}): string {
  const tags = pack.headTags
    ? ["", `Paste into the page's <head> (the hrefs take the folder as served at /${pack.folder}/; the same tags are in ${pack.folder}/head-tags.html):`, "```html", pack.headTags, "```"]
    : [];
  return [
    ...(pack.made ? [pack.made, ""] : []),
    `${pack.preset} asset pack from ${pack.source} in ${pack.folder}/ (${PACK_DESCRIPTIONS[pack.preset]}):`,
    ...pack.files.map((r) => `- ${r}`),
    ...tags,
    ...pack.notes.map((n) => `Note: ${n}.`),
  ].join("\n");
}

/** A failure as the agent reads it: `error: ` and the one line that says what to do. */
export function errorText(message: string): string {
  return `error: ${message}`;
}
