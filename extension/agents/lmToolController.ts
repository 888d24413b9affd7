// What the VS Code language model tools (Copilot agent mode's #easelImage) do, apart from the VS
// Code API: check an agent's arguments against the shared tool contract (the same one `easel mcp`
// uses), keep every path inside the workspace folder, say before a call what it will do (the
// confirmation), run it through the injected generation (the extension's one engine process and
// queue, saving as the palette does), and turn what happened — or what went wrong — into the text
// and small previews the agent reads. No `vscode` here, so it is unit-tested with fakes.
import path from "node:path";
import { promises as fs } from "node:fs";
import { readAssets } from "../engine/assets/lockfile";
import { EaselError } from "../engine/errors";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import type { ImageFormat } from "../engine/image/convert";
import { ICON_SIZES, renderIconSet } from "../engine/image/iconRender";
import { type AssetPack, PACK_DESCRIPTIONS, packFolderName, renderAssetPack } from "../engine/packs/assetPack";
import type { AspectId } from "../protocol/studioMessages";
import { readImageFile } from "../engine/image/readImageFile";
import { previewPng } from "../engine/image/thumbnail";
import {
  destinationPlan,
  type DestinationPlan,
  editParams,
  type EditParams,
  editProblem,
  editSize,
  errorText,
  generateParams,
  type IconSetParams,
  iconSetParams,
  iconSetProblem,
  iconSetText,
  imageProblem,
  type ImageParams,
  DEFAULT_DESTINATION,
  type ImageTool,
  madeText,
  MAX_PREVIEWS,
  modelSizesNote,
  outpaintSides,
  packText,
  parseToolArgs,
  sourceAspect,
  toolText,
  requestFields,
} from "../engine/mcp/toolContract";
import { RootFolder } from "../engine/rootFolder";
import { agentErrorLine } from "../errorActions";

/** One generation an agent asked for, as the extension's generation path takes it. */
export interface AgentJob {
  readonly request: WireGenerateRequest;
  /** Instead of the user's easel.model; used only if already downloaded. */
  readonly model?: string;
  /** Instead of the user's output settings: a workspace-relative folder, a file name's stem as the name pattern, a format. */
  readonly output: { readonly folder: string; readonly naming?: string; readonly format?: ImageFormat };
  /** Absolute paths of the workspace files the request's image and mask were read from (recorded in the lockfile). */
  readonly inputs?: { readonly initImage?: string; readonly mask?: string };
  /** Instead of a width and height: the size the model that runs supports for this shape. */
  readonly aspect?: AspectId;
  /** Remove each image's background (the remover is already downloaded: checked first), hard-edged at `matte` when given. */
  readonly transparent?: { readonly matte?: number };
}

/** What a generation saved (absolute paths, as the files were written) and how it ran. */
export interface AgentGeneration {
  readonly saved: readonly { readonly file: string; readonly seed: bigint; readonly png: Uint8Array }[];
  readonly model: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidance: number;
  readonly sampler: string;
  readonly provider: string;
  readonly seconds: number;
  /** What each aspect makes with the model that ran ("1:1 512x512, …"), when known. */
  readonly sizes?: string;
  /** What did not stop the generation but should be said (a LoRA that matched the model only in part). */
  readonly warnings?: readonly string[];
  /** Whether every file got its easel-assets.json entry. */
  readonly recorded: boolean;
}

export interface CallContext {
  readonly signal: AbortSignal;
  /** A short line for the progress shown while the call runs. */
  readonly onProgress: (message: string) => void;
}

export interface LmToolDeps {
  /** The local workspace folder files are written into; undefined when none is open (or it is not on this machine). */
  workspaceFolder(): string | undefined;
  /** The user's chosen model ('' when none), output folder (workspace-relative) and format. */
  settings(): { readonly model: string; readonly outputFolder: string; readonly format: ImageFormat };
  /** Runs a generation through the extension's engine process and saves it as the palette does (one undoable edit, never replacing a file, recorded in the lockfile). */
  generate(job: AgentJob, ctx: CallContext): Promise<AgentGeneration>;
  /** Creates new files (absolute paths) as one undoable workspace edit, never replacing one. */
  createFiles(files: readonly { readonly file: string; readonly bytes: Uint8Array }[]): Promise<void>;
  /** Throws the one-line error saying how to get the background remover when it is not downloaded (never downloads it). */
  checkRemover(): Promise<void>;
  /** Creates an asset pack's files in `folder` (absolute, new) as one undoable workspace edit: the writer "Export Asset Pack…" uses. */
  createPack(folder: string, pack: AssetPack): Promise<void>;
  /** Records an icon set made from `source` (absolute) in the lockfile. */
  recordIcons(source: string, sourceBytes: Uint8Array, icons: readonly { readonly file: string; readonly size: number; readonly png: Uint8Array }[]): Promise<void>;
}

/** A tool's answer: text for the agent, PNG previews (at most 512 px), and whether it is a failure. */
export interface ToolReply {
  readonly text: string;
  readonly previews: readonly Buffer[];
  readonly isError: boolean;
}

/** What VS Code shows before a call: the progress line and, for a call that writes files, the confirmation. */
export interface Preparation {
  readonly invocationMessage: string;
  readonly confirmation?: { readonly title: string; readonly message: string };
}

/** A call's arguments, checked, with the folder its files go to. */
type Plan =
  | { readonly tool: "generate"; readonly params: ImageParams; readonly root: RootFolder; readonly dest: DestinationPlan }
  | { readonly tool: "edit"; readonly params: EditParams; readonly root: RootFolder; readonly dest: DestinationPlan; readonly image: string; readonly mask?: string }
  | { readonly tool: "iconSet"; readonly params: IconSetParams; readonly root: RootFolder; readonly dest?: DestinationPlan; readonly image?: string };

const FORMAT_OF_EXTENSION: Readonly<Record<string, ImageFormat>> = { ".png": "png", ".webp": "webp", ".jpg": "jpeg", ".jpeg": "jpeg" };

const quote = (text: string) => `"${text.replace(/\s+/g, " ").trim()}"`;

/** A tool's arguments as its contract reads them, or the contract's one-line error. */
function parsedArgs<T extends ImageTool>(tool: T, input: unknown) {
  const parsed = parseToolArgs(tool, "vscode", input);
  if (!parsed.ok) throw new EaselError("bad-argument", parsed.message);
  return parsed.args;
}

/** The parameters, unless the contract's check for them finds a problem (one line). */
function checked<P>(params: P, problemOf: (params: P) => string | undefined): P {
  const problem = problemOf(params);
  if (problem) throw new EaselError("bad-argument", problem);
  return params;
}

export class LmToolController {
  constructor(private readonly deps: LmToolDeps) {}

  /** The progress line and confirmation for a call; arguments that do not check out get no confirmation (the call then answers with the problem). */
  async prepare(tool: ImageTool, input: unknown): Promise<Preparation> {
    const title = toolText(tool, "vscode").title;
    let plan: Plan;
    try {
      plan = await this.plan(tool, input);
    } catch {
      return { invocationMessage: `Easel: ${title.toLowerCase()}` };
    }
    const model = plan.params.model ?? (this.deps.settings().model || "(no model chosen yet)");
    const where = (dest: DestinationPlan) => `${plan.root.relative(dest.folder) || "."}/${dest.fileName ?? ""}`;
    const lines: string[] = [];
    if (plan.tool === "generate") {
      lines.push(`Generate ${plan.params.count ?? 1} image(s) on this machine with Stable Diffusion and save them in the workspace.`, "", `- Prompt: ${quote(plan.params.prompt)}`);
      if (plan.params.aspect) lines.push(`- Size: ${plan.params.aspect} (the model's size for that shape)`);
      lines.push(`- Model: ${model}`, `- Files: ${where(plan.dest)} (new files; nothing is replaced)`);
      if (plan.params.transparent) lines.push("- Background: removed afterwards (transparent PNG/WebP)");
    } else if (plan.tool === "edit") {
      const mode = outpaintSides(plan.params).outpaint ? "outpaint" : plan.mask ? "inpaint" : "img2img";
      lines.push(`Make ${plan.params.count ?? 1} new image(s) from ${plan.root.relative(plan.image)} (${mode}); the original is not changed.`, "", `- Prompt: ${quote(plan.params.prompt)}`);
      if (plan.mask) lines.push(`- Mask: ${plan.root.relative(plan.mask)}`);
      lines.push(`- Model: ${model}`, `- Files: ${where(plan.dest)} (new files; nothing is replaced)`);
      if (plan.params.transparent) lines.push("- Background: removed afterwards (transparent PNG/WebP)");
    } else {
      const source = plan.image ? plan.root.relative(plan.image) : undefined;
      const preset = plan.params.preset ?? "icons";
      lines.push(preset === "icons" ? `Make an icon set (${ICON_SIZES.join(", ")} px PNGs) in a new <name>-icons/ folder.` : `Make the ${preset} asset pack (${PACK_DESCRIPTIONS[preset]}) in a new <name>-${preset}/ folder.`, "");
      if (source) lines.push(`- From: ${source}`, `- Files: ${plan.dest ? where(plan.dest) : `${path.posix.dirname(source)}/`}<name>-${preset}/`);
      else lines.push(`- Prompt: ${quote(plan.params.prompt ?? "")}`, `- Model: ${model}`, `- Files: the generated image in ${plan.dest ? where(plan.dest) : `${this.deps.settings().outputFolder}/`}, the icons beside it`);
    }
    return { invocationMessage: `Easel: ${title.toLowerCase()}…`, confirmation: { title: `Easel: ${title}`, message: lines.join("\n") } };
  }

  /** Runs a call; every failure (bad arguments, a missing model, cancellation) is a reply the agent reads, never a throw. */
  async invoke(tool: ImageTool, input: unknown, ctx: CallContext): Promise<ToolReply> {
    try {
      const plan = await this.plan(tool, input);
      ctx.signal.throwIfAborted();
      switch (plan.tool) {
        case "generate":
          return await this.generate(plan, ctx);
        case "edit":
          return await this.edit(plan, ctx);
        case "iconSet":
          return await this.iconSet(plan, ctx);
      }
    } catch (error) {
      if (ctx.signal.aborted) return { text: errorText("cancelled: nothing was written"), previews: [], isError: true };
      return { text: errorText(agentErrorLine(error)), previews: [], isError: true };
    }
  }

  private async root(): Promise<RootFolder> {
    const dir = this.deps.workspaceFolder();
    if (!dir) throw new EaselError("output-unwritable", "there is no workspace folder on this machine to save images into: ask the user to open a folder");
    return RootFolder.open(dir, "only the workspace folder can be used");
  }

  private async plan(tool: ImageTool, input: unknown): Promise<Plan> {
    const root = await this.root();
    const outputFolder = this.deps.settings().outputFolder || DEFAULT_DESTINATION;
    if (tool === "generate") {
      const params = checked(generateParams(parsedArgs("generate", input)), imageProblem);
      return { tool, params, root, dest: await destinationPlan(root, params.destination, outputFolder, "vscode") };
    }
    if (tool === "edit") {
      const params = checked(editParams(parsedArgs("edit", input)), editProblem);
      const image = await root.readableFile(params.image, "image");
      const mask = params.mask === undefined ? undefined : await root.readableFile(params.mask, "mask");
      const dest = await destinationPlan(root, params.destination, root.relative(path.dirname(image)) || ".", "vscode");
      return { tool, params, root, dest, image, mask };
    }
    const params = checked(iconSetParams(parsedArgs("iconSet", input)), iconSetProblem);
    const image = params.image === undefined ? undefined : await root.readableFile(params.image, "image");
    const dest = params.destination === undefined ? undefined : await destinationPlan(root, params.destination, outputFolder, "vscode");
    if (dest?.fileName !== undefined && image) throw new EaselError("bad-argument", "an icon set's destination is a folder (the <name>-icons/ folder goes in it), not a file name");
    return { tool, params, root, dest, image };
  }

  /** The output settings that put the files where the destination says: its folder, a file name's stem and format. */
  private output(root: RootFolder, dest: DestinationPlan): AgentJob["output"] {
    const folder = root.relative(dest.folder) || ".";
    if (dest.fileName === undefined) return { folder };
    const ext = path.extname(dest.fileName);
    // The stem is the name pattern: a literal `${…}` in it is not a pattern field.
    return { folder, naming: dest.fileName.slice(0, -ext.length).replace(/\$\{/g, "$-{"), format: FORMAT_OF_EXTENSION[ext.toLowerCase()] };
  }

  private async run(
    plan: Plan & { readonly dest: DestinationPlan },
    request: WireGenerateRequest,
    ctx: CallContext,
    extras: Pick<AgentJob, "inputs" | "aspect"> & { readonly transparent?: boolean; readonly matte?: number } = {},
  ): Promise<{ readonly made: AgentGeneration; readonly text: string }> {
    // A corrupt lockfile stops the call before any work (the palette would save and warn; an agent is told).
    await readAssets(plan.root.dir);
    // A missing background remover is said before anything is generated (the agent never triggers a download).
    if (extras.transparent) await this.deps.checkRemover();
    ctx.onProgress("starting…");
    const transparent = extras.transparent ? { matte: extras.matte } : undefined;
    const made = await this.deps.generate({ request, model: plan.params.model, output: this.output(plan.root, plan.dest), inputs: extras.inputs, aspect: extras.aspect, transparent }, ctx);
    const rel = made.saved.map((s) => plan.root.relative(s.file));
    const text = madeText(
      {
        images: made.saved.map((s, i) => ({ path: rel[i], seed: s.seed })),
        prompt: request.prompt,
        width: made.width,
        height: made.height,
        steps: made.steps,
        guidance: made.guidance,
        sampler: made.sampler,
        model: made.model,
        provider: made.provider,
        seconds: made.seconds,
        recorded: made.recorded,
        notes: [...(made.warnings ?? []).map((w) => `warning: ${w}`), ...(made.sizes ? [modelSizesNote(made.sizes)] : [])],
      },
      "vscode",
    );
    return { made, text };
  }

  private async generate(plan: Extract<Plan, { tool: "generate" }>, ctx: CallContext): Promise<ToolReply> {
    const request = { ...requestFields(plan.params), width: plan.params.width, height: plan.params.height };
    const { made, text } = await this.run(plan, request, ctx, { aspect: plan.params.aspect, transparent: plan.params.transparent, matte: plan.params.matte });
    return { text, previews: await previews(made), isError: false };
  }

  private async edit(plan: Extract<Plan, { tool: "edit" }>, ctx: CallContext): Promise<ToolReply> {
    const initImage = await readImageFile(plan.image);
    const mask = plan.mask === undefined ? undefined : await readImageFile(plan.mask);
    const { sides, outpaint } = outpaintSides(plan.params);
    // Outpainting sizes itself from the image and the sides; img2img and inpainting keep the image's size (a multiple of 8).
    const size = outpaint ? { width: undefined, height: undefined } : await editSize(initImage);
    const request: WireGenerateRequest = { ...requestFields(plan.params), ...size, initImage, mask, strength: plan.params.strength, ...(outpaint ? { outpaint: sides } : {}) };
    const { made, text } = await this.run(plan, request, ctx, { inputs: { initImage: plan.image, mask: plan.mask }, transparent: plan.params.transparent, matte: plan.params.matte });
    return { text, previews: await previews(made), isError: false };
  }

  private async iconSet(plan: Extract<Plan, { tool: "iconSet" }>, ctx: CallContext): Promise<ToolReply> {
    await readAssets(plan.root.dir);
    let source: string;
    let madeFirst: string | undefined;
    if (plan.image) {
      source = plan.image;
    } else {
      const dest = plan.dest ?? (await destinationPlan(plan.root, undefined, this.deps.settings().outputFolder || DEFAULT_DESTINATION, "vscode"));
      const request = { ...requestFields({ ...plan.params, prompt: plan.params.prompt ?? "", count: 1 }), width: plan.params.width, height: plan.params.height };
      const { made, text } = await this.run({ ...plan, dest }, request, ctx, { aspect: sourceAspect(plan.params) });
      if (made.saved.length === 0) throw new EaselError("internal", "the generation saved no image to make the icons from");
      source = made.saved[0].file;
      madeFirst = text;
    }
    ctx.signal.throwIfAborted();
    const preset = plan.params.preset ?? "icons";
    ctx.onProgress(preset === "icons" ? "rendering icons…" : `rendering the ${preset} pack…`);
    const sourceBytes = await readImageFile(source);
    const stem = path.basename(source).replace(/\.[^.]+$/, "");
    const parent = plan.image && plan.dest ? plan.dest.folder : path.dirname(source);
    if (preset !== "icons") {
      const folder = await freeFolder(parent, packFolderName(stem, preset));
      const relFolder = plan.root.relative(folder);
      const pack = await renderAssetPack(sourceBytes, preset, { name: path.basename(plan.root.dir).slice(0, 100) || "App", baseUrl: `/${relFolder}/`, small: "upscale" });
      await this.deps.createPack(folder, pack);
      const pngs = pack.files.filter((f) => f.path.endsWith(".png"));
      const text = packText({ source: plan.root.relative(source), preset, folder: relFolder, files: pack.files.map((f) => `${relFolder}/${f.path}`), headTags: pack.headTags, notes: pack.notes, made: madeFirst });
      return { text, previews: pngs.length > 0 ? [await previewPng(pngs[pngs.length - 1].bytes)] : [], isError: false };
    }
    const icons = await renderIconSet(sourceBytes);
    const folder = await freeFolder(parent, `${stem}-icons`);
    const files = ICON_SIZES.map((size) => ({ file: path.join(folder, `${stem}-${size}.png`), size, png: icons.get(size)! }));
    await this.deps.createFiles(files.map((f) => ({ file: f.file, bytes: f.png })));
    await this.deps.recordIcons(source, sourceBytes, files);
    const text = iconSetText({ source: plan.root.relative(source), folder: plan.root.relative(folder), files: files.map((f) => plan.root.relative(f.file)), stem, made: madeFirst });
    return { text, previews: [await previewPng(icons.get(256)!)], isError: false };
  }
}

/** Small PNGs of the first few images, for a vision model to look at. */
function previews(made: AgentGeneration): Promise<Buffer[]> {
  return Promise.all(made.saved.slice(0, MAX_PREVIEWS).map((s) => previewPng(s.png)));
}

/** `<name>`, or `<name>-2`, `<name>-3`… when that name is taken in `parent` (not created: the workspace edit does). */
async function freeFolder(parent: string, name: string): Promise<string> {
  const taken = new Set((await fs.readdir(parent).catch(() => [] as string[])).map((n) => n.toLowerCase()));
  let candidate = name;
  for (let i = 2; taken.has(candidate.toLowerCase()); i++) candidate = `${name}-${i}`;
  return path.join(parent, candidate);
}
