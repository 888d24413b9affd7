// What `easel mcp`'s tools do, apart from the protocol: generate, edit and icon-set images into
// the root folder, and list the models. One engine is loaded once (per model) and serves every
// call, one generation at a time; every path an agent names goes through RootFolder, and no file
// is ever replaced (a taken name gets -2, -3…).
import { promises as fs } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { derivedEntry, generatedEntry, generationOf, inputImage, modelRecord, removeBackgroundStep } from "../assets/assetRecord";
import { type PostStep, readAssets, updateAssets } from "../assets/lockfile";
import { runModelsCommand } from "../cli/modelsCommand";
import { outputTargets, writeOutput } from "../cli/outputPaths";
import { Engine } from "../engine";
import { badArgument, EaselError } from "../errors";
import { resolveModel, type ResolvedModel } from "../hub/resolveModel";
import { ModelStore } from "../hub/store";
import { ICON_SIZES, renderIconSet } from "../image/iconRender";
import { writeFileAtomic } from "../image/atomicWrite";
import { readImageFile } from "../image/readImageFile";
import { previewPng } from "../image/thumbnail";
import type { ProviderChoice } from "../onnx/providers";
import { removeBackground, transparentFormatFor } from "../matte/backgroundRemoval";
import { backgroundRemoverEntry, findStoreRemover, matteSpecOf, openRemover } from "../matte/remover";
import { writePack } from "../cli/packCommand";
import { packFolderName, renderAssetPack } from "../packs/assetPack";
import { checkRequestRanges } from "../pipeline/resolveRequest";
import { aspectSize, aspectSizesText, type AspectId, modelGeometry } from "../model/imageSizes";
import { RootFolder } from "../rootFolder";
import type { GenerateRequest, GenerateResult, StepProgress } from "../types";
import {
  DEFAULT_DESTINATION,
  destinationPlan,
  type EditParams,
  editSize,
  editProblem,
  type IconSetParams,
  iconSetProblem,
  imageProblem,
  type ImageParams,
  iconSetText,
  MAX_PREVIEWS,
  madeText,
  modelSizesNote,
  outpaintSides,
  packText,
  sourceAspect,
  requestFields,
} from "./toolContract";

export type { EditParams, IconSetParams, ImageParams } from "./toolContract";

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

/** The input images of an edit, as files inside the root (recorded by path and pixel hash). */
interface RecordedInputs {
  readonly initImage?: string;
  readonly mask?: string;
}

/** What a call asks beyond the engine's request: a size by aspect (resolved for the model that runs), a transparent background. */
interface RunExtras {
  readonly aspect?: AspectId;
  /** The background remover's graph (found before any work) and the matte cut. */
  readonly transparent?: { readonly file: string; readonly matte?: number };
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
    const problem = imageProblem(params);
    if (problem) throw badArgument(problem);
    const request = requestFields(params);
    checkRequestRanges({ ...request, width: params.width, height: params.height });
    const targets = await this.targets(params.destination, params.prompt, request.seed ?? 0n, request.batch ?? 1);
    const transparent = await this.transparency(params);
    return this.run(params.model, { ...request, width: params.width, height: params.height }, targets, ctx, {}, { aspect: params.aspect, transparent });
  }

  /** A transparent call's remover, found before any work: never downloaded here, a missing one is an error saying how to get it. */
  private async transparency(params: Pick<ImageParams, "transparent" | "matte">): Promise<RunExtras["transparent"]> {
    if (params.transparent !== true) return undefined;
    const entry = backgroundRemoverEntry();
    const file = await findStoreRemover(entry, this.options.store);
    if (!file) throw new EaselError("model-missing", `transparent: true needs the background-removal model ${entry.name} (${entry.id}, ${entry.license.name}), which is not downloaded: ask the user to run 'easel models pull ${entry.id}' in a terminal (the tools never download)`);
    return { file, matte: params.matte };
  }

  async editImage(params: EditParams, ctx: CallContext): Promise<ToolOutcome> {
    const request = requestFields(params);
    const { sides, outpaint } = outpaintSides(params);
    const problem = editProblem(params);
    if (problem) throw badArgument(problem);
    checkRequestRanges({ ...request, strength: params.strength });
    const imageFile = await this.root.readableFile(params.image, "image");
    const maskFile = params.mask === undefined ? undefined : await this.root.readableFile(params.mask, "mask");
    const initImage = await readImageFile(imageFile);
    const mask = maskFile === undefined ? undefined : await readImageFile(maskFile);
    const targets = await this.targets(params.destination ?? path.posix.dirname(params.image.replace(/^\.\//, "")), params.prompt, request.seed ?? 0n, request.batch ?? 1);
    // Outpainting sizes itself from the image and the sides; img2img and inpainting keep the
    // image's size (a multiple of 8, as every model needs) rather than the model's default.
    const size = outpaint ? {} : await editSize(initImage);
    const transparent = await this.transparency(params);
    return this.run(params.model, { ...request, ...size, initImage, mask, strength: params.strength, ...(outpaint ? { outpaint: sides } : {}) }, targets, ctx, { initImage: imageFile, mask: maskFile }, { transparent });
  }

  async iconSet(params: IconSetParams, ctx: CallContext): Promise<ToolOutcome> {
    const problem = iconSetProblem(params);
    if (problem) throw badArgument(problem);
    await readAssets(this.root.dir);
    let source: string;
    let made: ToolOutcome | undefined;
    if (params.image !== undefined) {
      source = await this.root.readableFile(params.image, "image");
    } else {
      made = await this.generateImage({ ...params, prompt: params.prompt ?? "", count: 1, aspect: sourceAspect(params) }, ctx);
      source = made.files[0];
    }
    const preset = params.preset ?? "icons";
    if (preset !== "icons") {
      const image = await readImageFile(source);
      const parent = params.image !== undefined && params.destination !== undefined ? this.root.resolve(params.destination, "destination") : path.dirname(source);
      const folder = await this.freeFolder(await this.root.writableFolder(parent, "destination"), packFolderName(path.basename(source).replace(/\.[^.]+$/, ""), preset));
      const relFolder = this.root.relative(folder);
      const pack = await renderAssetPack(image, preset, { name: path.basename(this.root.dir).slice(0, 100) || "App", baseUrl: `/${relFolder}/`, small: "upscale" });
      // The one pack writer `easel pack` uses: staged beside the (empty, just made) folder, then moved in.
      await writePack(pack, folder);
      const pngs = pack.files.filter((f) => f.path.endsWith(".png"));
      const text = packText({ source: this.root.relative(source), preset, folder: relFolder, files: pack.files.map((f) => `${relFolder}/${f.path}`), headTags: pack.headTags, notes: pack.notes, made: made?.text });
      const preview = pngs.length > 0 ? [await previewPng(pngs[pngs.length - 1].bytes)] : [];
      return { text, previews: preview, files: [...(made?.files ?? []), ...pack.files.map((f) => path.join(folder, ...f.path.split("/")))] };
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
    const text = iconSetText({ source: this.root.relative(source), folder: this.root.relative(folder), files: rel, stem, made: made?.text });
    return { text, previews: [await previewPng(icons.get(256)!)], files: [...(made?.files ?? []), ...files] };
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

  /** Where each image goes: the destination folder (created inside the root), or a .png name there. */
  private async targets(destination: string | undefined, prompt: string, seed: bigint, batch: number) {
    const plan = await destinationPlan(this.root, destination, DEFAULT_DESTINATION, "mcp");
    const taken = new Set(await fs.readdir(plan.folder).catch(() => []));
    const out = plan.fileName === undefined ? undefined : path.join(plan.folder, plan.fileName);
    // An agent's name never replaces a file: a taken one gets -2, -3… like every made-up name.
    return outputTargets(out, prompt || "image", seed, batch, plan.folder, taken).map((t) => ({ ...t, replace: false }));
  }

  private async run(spec: string | undefined, request: GenerateRequest, targets: ReturnType<typeof outputTargets>, ctx: CallContext, inputs: RecordedInputs = {}, extras: RunExtras = {}): Promise<ToolOutcome> {
    // A corrupt lockfile stops the call before any work, as it would after it.
    await readAssets(this.root.dir);
    if (extras.transparent) for (const t of targets) transparentFormatFor(t.file);
    const { result, loaded, pngs, sizes } = await this.serial(async () => {
      const loaded = await this.engineFor(spec);
      ctx.signal.throwIfAborted();
      const { defaults, granularity, family, fixedSize } = loaded.engine.info;
      const geometry = modelGeometry(defaults.width, defaults.height, granularity, family);
      // An aspect is the size this model supports for that shape (SDXL: its trained buckets); a model of one fixed size keeps it.
      const sized = extras.aspect && !fixedSize ? { ...request, ...aspectSize(extras.aspect, geometry) } : request;
      const result = await loaded.engine.generate(sized, { signal: ctx.signal, onStep: ctx.onStep });
      let pngs = result.images.map((i) => i.png);
      if (extras.transparent) {
        const remover = await openRemover(extras.transparent.file, loaded.engine.provider);
        try {
          const cut: Buffer[] = [];
          for (const [i, png] of pngs.entries()) {
            ctx.signal.throwIfAborted();
            cut.push(await removeBackground(png, remover, matteSpecOf(backgroundRemoverEntry()), { matte: extras.transparent.matte, format: transparentFormatFor(targets[i].file) }));
          }
          pngs = cut;
        } finally {
          await remover.release();
        }
      }
      return { result, loaded, pngs, sizes: fixedSize ? `${fixedSize.width}x${fixedSize.height} only` : aspectSizesText(geometry) };
    }, ctx.signal);
    const files: string[] = [];
    for (const dir of new Set(targets.map((t) => path.dirname(t.file)))) await this.root.writableFolder(dir, "destination");
    for (let i = 0; i < pngs.length; i++) files.push(await writeOutput(targets[i], pngs[i]));
    const notes = [modelSizesNote(sizes)];
    // Every image written into the root gets its easel-assets.json entry (how to make it again).
    const model = await modelRecord(loaded.spec, loaded.resolved.dir, this.root.dir, loaded.engine.folder.files.unet);
    const initImage = inputs.initImage && request.initImage ? await inputImage(this.root.dir, inputs.initImage, request.initImage) : undefined;
    const mask = inputs.mask && request.mask ? await inputImage(this.root.dir, inputs.mask, request.mask) : undefined;
    // A transparent image is recorded with its background-removal step (the remover's file hash and the matte cut).
    const transparent = extras.transparent;
    const post = async (file: string): Promise<PostStep[]> =>
      transparent
        ? [await removeBackgroundStep(transparent.file, this.root.dir, { catalogId: backgroundRemoverEntry().id, matte: transparent.matte, format: transparentFormatFor(file) })]
        : [{ op: "encode", format: "png" }];
    const entries = await Promise.all(files.map(async (file, i) => generatedEntry(generationOf(result, i, model, { initImage, mask }, request.fast === true), pngs[i], await post(file), result.provider)));
    await updateAssets(this.root.dir, (assets) => files.forEach((file, i) => assets.set(this.root.relative(file), entries[i])));
    return this.describe(result, files, loaded.spec, pngs, true, notes);
  }

  private async describe(result: GenerateResult, files: readonly string[], model: string, pngs: readonly Uint8Array[], recorded: boolean, notes: readonly string[]): Promise<ToolOutcome> {
    const r = result.request;
    const text = madeText(
      {
        images: files.map((f, i) => ({ path: this.root.relative(f), seed: result.images[i].seed })),
        prompt: r.prompt,
        width: r.width,
        height: r.height,
        steps: r.steps,
        guidance: r.guidance,
        sampler: result.sampler,
        model,
        provider: result.provider,
        seconds: result.seconds,
        recorded,
        notes: [...result.warnings.map((w) => `warning: ${w}`), ...notes],
      },
      "mcp",
    );
    const previews = await Promise.all(pngs.slice(0, MAX_PREVIEWS).map((png) => previewPng(png)));
    return { text, previews, files };
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
