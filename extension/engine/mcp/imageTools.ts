// What `easel mcp`'s tools do, apart from the protocol: generate, edit and icon-set images into
// the root folder, and list the models. One engine is loaded once (per model) and serves every
// call, one generation at a time; every path an agent names goes through RootFolder, and no file
// is ever replaced (a taken name gets -2, -3…).
import { promises as fs } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { imageLinks } from "../../markdown/links";
import { derivedEntry, generatedEntry, generationOf, inputImage, modelRecord } from "../assets/assetRecord";
import { LOCKFILE_NAME, readAssets, updateAssets } from "../assets/lockfile";
import { runModelsCommand } from "../cli/modelsCommand";
import { outputTargets, writeOutput } from "../cli/outputPaths";
import { Engine } from "../engine";
import sharp from "sharp";
import { badArgument, EaselError, firstLine } from "../errors";
import { resolveModel, type ResolvedModel } from "../hub/resolveModel";
import { ModelStore } from "../hub/store";
import { ICON_SIZES, renderIconSet } from "../image/iconRender";
import { writeFileAtomic } from "../image/atomicWrite";
import { readImageFile } from "../image/readImageFile";
import { previewPng } from "../image/thumbnail";
import type { ProviderChoice } from "../onnx/providers";
import { checkRequestRanges, randomSeed } from "../pipeline/resolveRequest";
import type { SchedulerChoice } from "../schedulers/scheduler";
import { seedFromString } from "../random/torchGenerator";
import { RootFolder } from "../rootFolder";
import type { PromptSyntax } from "../text/a1111Prompt";
import type { GenerateRequest, GenerateResult, StepProgress } from "../types";

/** The generation parameters every image tool takes (already type-checked by the protocol's schema). */
export interface ImageParams {
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly width?: number;
  readonly height?: number;
  readonly steps?: number;
  readonly guidance?: number;
  /** A whole number, or its decimal text (seeds go past 2^53). */
  readonly seed?: number | string;
  readonly count?: number;
  readonly scheduler?: SchedulerChoice;
  readonly promptSyntax?: PromptSyntax;
  /** A folder, or a file name ending in .png, relative to the root. */
  readonly destination?: string;
  /** A catalog id, added model name, owner/name or folder; default the server's --model. */
  readonly model?: string;
}

export interface EditParams extends Omit<ImageParams, "width" | "height"> {
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

export interface IconSetParams extends Partial<Omit<ImageParams, "count">> {
  /** An existing image to make the icons from; else one is generated from `prompt`. */
  readonly image?: string;
}

/** What a tool call made: the text for the agent and small previews of the images. */
export interface ToolOutcome {
  readonly text: string;
  /** PNGs at most 512 px on a side. */
  readonly previews: readonly Buffer[];
  /** Files written, absolute. */
  readonly files: readonly string[];
}

export interface CallContext {
  readonly signal: AbortSignal;
  readonly onStep?: (progress: StepProgress) => void;
}

export interface ImageToolsOptions {
  readonly root: RootFolder;
  /** The server's default model (--model). */
  readonly model?: string;
  readonly provider: ProviderChoice;
  readonly store: ModelStore;
}

/** An image's size rounded down to a multiple of 8 (at least 64), the size img2img makes from it. */
async function imageSize(image: Uint8Array): Promise<{ readonly width: number; readonly height: number }> {
  let meta;
  try {
    meta = await sharp(image).metadata();
  } catch (error) {
    throw new EaselError("image-invalid", `cannot read the image (${firstLine(error)}): give a PNG, WebP or JPEG file`);
  }
  const side = (n: number | undefined) => Math.max(64, Math.floor((n ?? 0) / 8) * 8);
  return { width: side(meta.width), height: side(meta.height) };
}

/** Where images go when the call names no destination: the extension's default output folder. */
export const DEFAULT_DESTINATION = "assets/generated";
/** Previews returned with one call, so a batch does not flood the conversation. */
const MAX_PREVIEWS = 4;
/** Images one call may make. */
export const MAX_COUNT = 8;

/** The input images of an edit, as files inside the root (recorded by path and pixel hash). */
interface RecordedInputs {
  readonly initImage?: string;
  readonly mask?: string;
}

interface LoadedEngine {
  readonly spec: string;
  readonly resolved: ResolvedModel;
  readonly engine: Engine;
}

export class ImageTools {
  private loaded: LoadedEngine | undefined;
  private loading: Promise<LoadedEngine> | undefined;
  /** Generations run one after another (an Engine is not re-entrant). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ImageToolsOptions) {}

  get root(): RootFolder {
    return this.options.root;
  }

  async generateImage(params: ImageParams, ctx: CallContext): Promise<ToolOutcome> {
    const request = this.baseRequest(params);
    checkRequestRanges({ ...request, width: params.width, height: params.height });
    const targets = await this.targets(params.destination, params.prompt, request.seed ?? 0n, request.batch ?? 1);
    return this.run(params.model, { ...request, width: params.width, height: params.height }, targets, ctx);
  }

  async editImage(params: EditParams, ctx: CallContext): Promise<ToolOutcome> {
    const request = this.baseRequest(params);
    const sides = { left: params.extendLeft ?? 0, right: params.extendRight ?? 0, top: params.extendTop ?? 0, bottom: params.extendBottom ?? 0 };
    const outpaint = Object.values(sides).some((n) => n > 0);
    if (outpaint && params.mask !== undefined) throw badArgument("give either a mask (inpainting) or extend_* sides (outpainting), not both");
    checkRequestRanges({ ...request, strength: params.strength });
    const imageFile = await this.root.readableFile(params.image, "image");
    const maskFile = params.mask === undefined ? undefined : await this.root.readableFile(params.mask, "mask");
    const initImage = await readImageFile(imageFile);
    const mask = maskFile === undefined ? undefined : await readImageFile(maskFile);
    const targets = await this.targets(params.destination ?? path.posix.dirname(params.image.replace(/^\.\//, "")), params.prompt, request.seed ?? 0n, request.batch ?? 1);
    // Outpainting sizes itself from the image and the sides; img2img and inpainting keep the
    // image's size (a multiple of 8, as every model needs) rather than the model's default.
    const size = outpaint ? {} : await imageSize(initImage);
    return this.run(params.model, { ...request, ...size, initImage, mask, strength: params.strength, ...(outpaint ? { outpaint: sides } : {}) }, targets, ctx, { initImage: imageFile, mask: maskFile });
  }

  async iconSet(params: IconSetParams, ctx: CallContext): Promise<ToolOutcome> {
    if ((params.image === undefined) === (params.prompt === undefined)) throw badArgument("give either image (an existing picture to make icons from) or prompt (to generate one first), not both");
    await readAssets(this.root.dir);
    let source: string;
    let made: ToolOutcome | undefined;
    if (params.image !== undefined) {
      source = await this.root.readableFile(params.image, "image");
    } else {
      made = await this.generateImage({ ...params, prompt: params.prompt ?? "", count: 1 }, ctx);
      source = made.files[0];
    }
    const icons = await renderIconSet(await readImageFile(source));
    const stem = path.basename(source).replace(/\.[^.]+$/, "");
    const parent = params.image !== undefined && params.destination !== undefined ? this.root.resolve(params.destination, "destination") : path.dirname(source);
    const folder = await this.freeFolder(await this.root.writableFolder(parent, "destination"), `${stem}-icons`);
    const files: string[] = [];
    for (const size of ICON_SIZES) {
      const file = path.join(folder, `${stem}-${size}.png`);
      await writeFileAtomic(file, icons.get(size)!, { replace: false });
      files.push(file);
    }
    const sourceImage = await inputImage(this.root.dir, source, await readImageFile(source));
    const entries = await Promise.all(ICON_SIZES.map((size) => derivedEntry(sourceImage, icons.get(size)!, [{ op: "icon", size }])));
    await updateAssets(this.root.dir, (assets) => files.forEach((file, i) => assets.set(this.root.relative(file), entries[i])));
    const rel = files.map((f) => this.root.relative(f));
    const lines = [
      ...(made ? [made.text, ""] : []),
      `Icon set from ${this.root.relative(source)} (${ICON_SIZES.join(", ")} px, centre-cropped squares) in ${this.root.relative(folder)}/:`,
      ...rel.map((r) => `- ${r}`),
      "",
      "Markdown (from a document at the root folder):",
      imageLinks([{ path: `/${rel[rel.length - 1]}`, prompt: `${stem} icon` }], "/README.md"),
    ];
    return { text: lines.join("\n"), previews: [await previewPng(icons.get(256)!)], files: [...(made?.files ?? []), ...files] };
  }

  /** The catalog, what is downloaded, added folders, and the server's default model. */
  async listModels(): Promise<ToolOutcome> {
    let out = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString("utf8");
        done();
      },
    });
    await runModelsCommand(["list"], { stdout: sink, stderr: sink, stdin: process.stdin, store: this.options.store });
    const loaded = this.loaded ? `; loaded now: ${this.loaded.spec} (${this.loaded.engine.info.family}, default size from its family, sides a multiple of ${this.loaded.engine.info.granularity} px)` : "";
    const head = this.options.model
      ? `Default model (easel mcp --model): ${this.options.model}${loaded}. Pass "model" to a tool to use another downloaded one.`
      : `No default model: pass "model" (a downloaded catalog id, owner/name, added name or folder) to each tool, or start easel mcp with --model.`;
    return { text: `${head}\nModels not downloaded yet are fetched with 'easel models pull ID' (a terminal command; the tools never download).\n\n${out}`, previews: [], files: [] };
  }

  /** Loads the default model now (the server does this at start, so the first call does not wait for it). */
  async preload(): Promise<void> {
    if (this.options.model) await this.engineFor(this.options.model);
  }

  /** Waits for the call in flight (cancel it first) so the engine is never released under it. */
  async dispose(): Promise<void> {
    await this.queue;
    const loaded = this.loaded ?? (await this.loading?.catch(() => undefined));
    this.loaded = undefined;
    await loaded?.engine.dispose();
  }

  private baseRequest(params: Omit<ImageParams, "width" | "height">): GenerateRequest {
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

  /** Where each image goes: the destination folder (created inside the root), or a .png name there. */
  private async targets(destination: string | undefined, prompt: string, seed: bigint, batch: number) {
    const named = this.root.resolve(destination ?? DEFAULT_DESTINATION, "destination");
    const isFolder = await fs.stat(named).then((s) => s.isDirectory(), () => false);
    const isFile = !isFolder && path.extname(named) !== "";
    if (isFile && path.extname(named).toLowerCase() !== ".png") throw badArgument(`the destination ${destination} must be a folder or a file name ending in .png`);
    const folder = isFile ? path.dirname(named) : named;
    // Checked now, created only when there is an image to put in it.
    await this.root.checkFolder(folder, "destination");
    const taken = new Set(await fs.readdir(folder).catch(() => []));
    const out = isFile ? path.join(folder, path.basename(named)) : undefined;
    // An agent's name never replaces a file: a taken one gets -2, -3… like every made-up name.
    return outputTargets(out, prompt || "image", seed, batch, folder, taken).map((t) => ({ ...t, replace: false }));
  }

  private async run(spec: string | undefined, request: GenerateRequest, targets: ReturnType<typeof outputTargets>, ctx: CallContext, inputs: RecordedInputs = {}): Promise<ToolOutcome> {
    // A corrupt lockfile stops the call before any work, as it would after it.
    await readAssets(this.root.dir);
    const { result, loaded } = await this.serial(async () => {
      const loaded = await this.engineFor(spec);
      ctx.signal.throwIfAborted();
      return { result: await loaded.engine.generate(request, { signal: ctx.signal, onStep: ctx.onStep }), loaded };
    }, ctx.signal);
    const files: string[] = [];
    for (const dir of new Set(targets.map((t) => path.dirname(t.file)))) await this.root.writableFolder(dir, "destination");
    for (let i = 0; i < result.images.length; i++) files.push(await writeOutput(targets[i], result.images[i].png));
    // Every image written into the root gets its easel-assets.json entry (how to make it again).
    const model = await modelRecord(loaded.spec, loaded.resolved.dir, this.root.dir, loaded.engine.folder.files.unet);
    const initImage = inputs.initImage && request.initImage ? await inputImage(this.root.dir, inputs.initImage, request.initImage) : undefined;
    const mask = inputs.mask && request.mask ? await inputImage(this.root.dir, inputs.mask, request.mask) : undefined;
    const entries = await Promise.all(files.map((_file, i) => generatedEntry(generationOf(result, i, model, { initImage, mask }), result.images[i].png, [{ op: "encode", format: "png" }], result.provider)));
    await updateAssets(this.root.dir, (assets) => files.forEach((file, i) => assets.set(this.root.relative(file), entries[i])));
    return this.describe(result, files, loaded.spec);
  }

  private async describe(result: GenerateResult, files: readonly string[], model: string): Promise<ToolOutcome> {
    const rel = files.map((f) => this.root.relative(f));
    const r = result.request;
    const lines = [
      `Made ${files.length} image${files.length === 1 ? "" : "s"} (${r.width}x${r.height}, ${r.steps} steps, guidance ${r.guidance}, ${result.sampler}, model ${model}, ${result.provider}, ${result.seconds.toFixed(1)} s):`,
      ...rel.map((p, i) => `- ${p} (seed ${result.images[i].seed})`),
      "",
      "Markdown (paths relative to the root folder; from a document elsewhere, make them relative to it):",
      imageLinks(rel.map((p) => ({ path: `/${p}`, prompt: r.prompt })), "/README.md"),
      "",
      `Recorded in ${LOCKFILE_NAME} (the same seed and parameters make the same image again: easel assets check / regenerate).`,
    ];
    const previews = await Promise.all(result.images.slice(0, MAX_PREVIEWS).map((img) => previewPng(img.png)));
    return { text: lines.join("\n"), previews, files };
  }

  /** Runs `task` after every earlier call's; a call cancelled while it waits never starts. */
  private serial<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const next = this.queue.then(() => {
      if (signal.aborted) throw new EaselError("cancelled", "cancelled before it started");
      return task();
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async engineFor(spec: string | undefined): Promise<LoadedEngine> {
    const wanted = spec ?? this.options.model;
    if (!wanted) throw badArgument('no model: pass "model" (see the list_models tool) or start easel mcp with --model ID');
    if (this.loaded?.spec === wanted) return this.loaded;
    if (this.loading) {
      const current = await this.loading.catch(() => undefined);
      if (current?.spec === wanted) return current;
    }
    // Never a download behind the user's back: a model that is not here is an error saying how to
    // get it, and the model loaded now stays loaded.
    const resolved = await resolveModel(wanted, { store: this.options.store, download: false });
    const previous = this.loaded;
    this.loaded = undefined;
    await previous?.engine.dispose();
    this.loading = Engine.load(resolved.dir, { provider: this.options.provider, modelStore: this.options.store.root }).then((engine) => ({ spec: wanted, resolved, engine }));
    try {
      this.loaded = await this.loading;
      return this.loaded;
    } finally {
      this.loading = undefined;
    }
  }

  /** `<name>`, or `<name>-2`, `<name>-3`… when a file or folder of that name is in `parent`; created. */
  private async freeFolder(parent: string, name: string): Promise<string> {
    for (let i = 1; ; i++) {
      const dir = path.join(parent, i === 1 ? name : `${name}-${i}`);
      try {
        await fs.mkdir(dir);
        return dir;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new EaselError("output-unwritable", `cannot create ${this.root.relative(dir)} (${(error as NodeJS.ErrnoException).code}): check the folder's permissions`);
      }
    }
  }
}
