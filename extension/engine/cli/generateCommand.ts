import path from "node:path";
import { generatedEntry, generationOf, inputImage, modelRecord, removeBackgroundStep } from "../assets/assetRecord";
import { type PostStep, recordAssets, workspaceRelative } from "../assets/lockfile";
import { Engine } from "../engine";
import type { ResolvedModel } from "../hub/resolveModel";
import { ModelStore } from "../hub/store";
import { badArgument, firstLine } from "../errors";
import { checkProviderChoice, isProviderChoice, PROVIDER_NAMES, resolveProvider } from "../onnx/providers";
import { OUTPAINT_FILLS, type OutpaintFill } from "../pipeline/outpaint";
import { checkDecoder, checkRequestRanges, isSchedulerChoice, isTimestepSpacing, MAX_PROMPT_CHARS, randomSeed } from "../pipeline/resolveRequest";
import { TIMESTEP_SPACINGS } from "../schedulers/betas";
import { seedFromString } from "../random/torchGenerator";
import { SCHEDULER_NAMES } from "../schedulers/scheduler";
import { isPromptSyntax, PROMPT_SYNTAXES } from "../text/a1111Prompt";
import type { GenerateRequest, GenerateResult, HiresRequest, LoraRequest } from "../types";
import { checkLoraWeight } from "../lora/promptTags";
import { type ParsedArgs, integerValue, numberValue, parseCommandArgs, readImageArgument, readTextArgument, stringList, stringValue } from "./args";
import { interruptSignal } from "./commandIo";
import { GENERATE_HELP, OUTPAINT_HELP } from "./help";
import { resolveModelForCli } from "./modelsCommand";
import { downloadedLine } from "../hub/manifest";
import { formatBytes } from "../hub/progress";
import { findStoreFile, pullSingleFile } from "../hub/singleFile";
import { planOutputs, writeOutput } from "./outputPaths";
import { ProgressBar } from "./progressBar";
import { removerForCli } from "./rembgCommand";
import { RECORD_OPTIONS, recordWorkspace } from "./recordOption";
import { terminalJson, terminalSafe } from "./terminalText";
import { checkMatte, removeBackground, transparentFormatFor } from "../matte/backgroundRemoval";

const COMMON_OPTIONS = {
  model: { type: "string" },
  prompt: { type: "string" },
  "prompt-file": { type: "string" },
  "negative-prompt": { type: "string" },
  "negative-prompt-file": { type: "string" },
  scheduler: { type: "string" },
  steps: { type: "string" },
  guidance: { type: "string" },
  seed: { type: "string" },
  batch: { type: "string" },
  strength: { type: "string" },
  provider: { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "prompt-syntax": { type: "string" },
  "accept-license": { type: "boolean" },
  decoder: { type: "string" },
  "no-taesd": { type: "boolean" },
  lora: { type: "string", multiple: true },
  fast: { type: "boolean" },
  "fast-lora": { type: "string" },
  "timestep-spacing": { type: "string" },
  "lora-folder": { type: "string", multiple: true },
  tileable: { type: "boolean" },
  transparent: { type: "boolean" },
  matte: { type: "string" },
  "rembg-model": { type: "string" },
  ...RECORD_OPTIONS,
} as const;

const GENERATE_OPTIONS = {
  ...COMMON_OPTIONS,
  width: { type: "string" },
  height: { type: "string" },
  "init-image": { type: "string" },
  mask: { type: "string" },
  "hires-scale": { type: "string" },
  "hires-strength": { type: "string" },
  "hires-steps": { type: "string" },
  "hires-upscaler": { type: "string" },
} as const;

const OUTPAINT_OPTIONS = {
  ...COMMON_OPTIONS,
  image: { type: "string" },
  left: { type: "string" },
  right: { type: "string" },
  top: { type: "string" },
  bottom: { type: "string" },
  overlap: { type: "string" },
  fill: { type: "string" },
} as const;

export async function generateCommand(args: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs("generate", args, GENERATE_OPTIONS, false);
  if (values.help) {
    process.stdout.write(`${GENERATE_HELP}\n`);
    return 0;
  }
  const initPath = stringValue(values, "init-image");
  const maskPath = stringValue(values, "mask");
  if (maskPath !== undefined && initPath === undefined) throw badArgument("--mask needs the image it masks: add --init-image FILE");
  const hires = hiresOptions(values);
  return runGeneration(values, { width: integerValue(values, "width"), height: integerValue(values, "height"), hires }, async () => ({
    initImage: initPath === undefined ? undefined : await readImageArgument(initPath, "init image "),
    mask: maskPath === undefined ? undefined : await readImageArgument(maskPath, "mask "),
  }), { initImage: initPath, mask: maskPath });
}

/** `easel outpaint`: generate's options, the image to extend and the pixels to add on each side. */
export async function outpaintCommand(args: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs("outpaint", args, OUTPAINT_OPTIONS, false);
  if (values.help) {
    process.stdout.write(`${OUTPAINT_HELP}\n`);
    return 0;
  }
  const imagePath = stringValue(values, "image");
  if (imagePath === undefined) throw badArgument("missing --image FILE: the image to extend");
  const fill = stringValue(values, "fill");
  if (fill !== undefined && !(OUTPAINT_FILLS as readonly string[]).includes(fill)) throw badArgument(`unknown --fill "${fill}": use ${OUTPAINT_FILLS.join(" or ")}`);
  const outpaint = {
    left: integerValue(values, "left"),
    right: integerValue(values, "right"),
    top: integerValue(values, "top"),
    bottom: integerValue(values, "bottom"),
    overlap: integerValue(values, "overlap"),
    fill: fill as OutpaintFill | undefined,
  };
  for (const [side, n] of Object.entries(outpaint)) {
    if (typeof n === "number" && n < 0) throw badArgument(`--${side} must be 0 or more pixels (got ${n})`);
  }
  return runGeneration(values, { outpaint }, async () => ({ initImage: await readImageArgument(imagePath, "image ") }), { initImage: imagePath });
}

/**
 * generate and outpaint after their own options: `geometry` is checked with the other numbers before
 * anything is read, written or loaded; `readImages` (the init image, the mask) runs only after that.
 */
async function runGeneration(
  values: ParsedArgs["values"],
  geometry: Pick<GenerateRequest, "width" | "height" | "outpaint" | "hires">,
  readImages: () => Promise<Pick<GenerateRequest, "initImage" | "mask">>,
  inputPaths: { readonly initImage?: string; readonly mask?: string },
): Promise<number> {
  const promptSyntax = stringValue(values, "prompt-syntax") ?? "plain";
  if (!isPromptSyntax(promptSyntax)) throw badArgument(`unknown --prompt-syntax "${promptSyntax}": use one of ${PROMPT_SYNTAXES.join(", ")}`);
  const model = stringValue(values, "model");
  if (!model) throw badArgument("missing --model MODEL: a diffusers ONNX folder, a catalog id or owner/name (see 'easel models list')");
  if (stringValue(values, "prompt-file") === "-" && stringValue(values, "negative-prompt-file") === "-") {
    throw badArgument("only one of --prompt-file and --negative-prompt-file can read standard input (-)");
  }
  const prompt = await textOption(values, "prompt");
  if (prompt === undefined) throw badArgument('missing --prompt TEXT or --prompt-file FILE (use --prompt "" for an empty prompt)');
  const negativePrompt = await textOption(values, "negative-prompt");
  const scheduler = stringValue(values, "scheduler") ?? "default";
  if (!isSchedulerChoice(scheduler)) throw badArgument(`unknown scheduler "${scheduler}": use one of default, ${SCHEDULER_NAMES.join(", ")}`);
  const provider = stringValue(values, "provider") ?? "auto";
  if (!isProviderChoice(provider)) throw badArgument(`unknown provider "${provider}": use one of ${PROVIDER_NAMES.join(", ")}`);
  // A provider this platform's ONNX Runtime does not ship (dml on Linux, cuda on macOS) is refused before anything is read.
  checkProviderChoice(provider);
  // checkRequestRanges checks it again with the rest; here it narrows the type (the CLI's default is the full VAE).
  const decoder = stringValue(values, "decoder") ?? "vae";
  checkDecoder(decoder);
  const timestepSpacing = stringValue(values, "timestep-spacing");
  if (timestepSpacing !== undefined && !isTimestepSpacing(timestepSpacing)) throw badArgument(`unknown --timestep-spacing "${timestepSpacing}": use one of ${TIMESTEP_SPACINGS.join(", ")}`);
  // --fast-lora ID is fast mode with that LoRA: it needs no --fast beside it.
  const fastLora = stringValue(values, "fast-lora");
  const fast = values.fast === true || fastLora !== undefined;
  const seedText = stringValue(values, "seed");
  const seed = seedText === undefined ? randomSeed() : parseSeed(seedText);
  const batch = integerValue(values, "batch") ?? 1;
  const options: GenerateRequest = {
    prompt,
    negativePrompt,
    scheduler,
    ...(timestepSpacing !== undefined ? { timestepSpacing } : {}),
    steps: integerValue(values, "steps"),
    guidance: numberValue(values, "guidance"),
    seed,
    batch,
    strength: numberValue(values, "strength"),
    decoder,
    promptSyntax,
    loras: loraOptions(values),
    fast: fast ? true : undefined,
    ...(fastLora !== undefined ? { fastLora } : {}),
    tileable: values.tileable === true,
    ...geometry,
  };
  // Every value in range before anything is sized by it (output names, a batch's arrays) or loaded.
  checkRequestRanges(options);
  const transparent = values.transparent === true;
  const matte = numberValue(values, "matte");
  if (!transparent && (matte !== undefined || stringValue(values, "rembg-model") !== undefined)) throw badArgument("--matte and --rembg-model go with --transparent");
  if (transparent) {
    checkMatte(matte);
    // Before anything runs: a JPEG name cannot hold the alpha channel (one clear line, not "must end in .png").
    const out = stringValue(values, "out");
    if (out !== undefined) transparentFormatFor(out);
  }
  const request: GenerateRequest = { ...options, ...(await readImages()), hires: options.hires && { ...options.hires, upscaler: stringValue(values, "hires-upscaler") } };
  const targets = await planOutputs(stringValue(values, "out"), prompt, seed, batch);
  const workspace = await recordWorkspace(values, targets.map((t) => t.file), [inputPaths.initImage, inputPaths.mask]);

  // --model: an existing folder, else a catalog id / added folder, else owner/name[@rev] (pulled first).
  // The provider first (its probe is cached for Engine.load): a catalog model that cannot run on it
  // is refused before gigabytes are downloaded.
  const { provider: runsOn } = await resolveProvider(provider);
  const store = ModelStore.open();
  const resolved = await resolveModelForCli(model, { acceptLicense: values["accept-license"] === true, json: values.json === true, provider: runsOn, taesd: values["no-taesd"] !== true, store });
  // A GPU provider that fails this model falls back with one line on stderr (--json keeps stdout clean).
  const onNotice = (line: string) => process.stderr.write(`${terminalSafe(line)}\n`);
  const engine = await Engine.load(resolved.dir, { provider, modelStore: store.root, loraFolders: stringList(values, "lora-folder"), onNotice });
  if (fast) {
    try {
      await fetchFastLora(engine, store, values.json === true, fastLora);
    } catch (error) {
      await engine.dispose();
      throw error;
    }
  }
  if (values.verbose) {
    for (const s of engine.skippedProviders) process.stderr.write(`provider ${s.provider} skipped: ${s.reason ?? "unavailable"}\n`);
  }
  const skippedAtLoad = engine.skippedProviders.length;
  const interrupt = interruptSignal();
  const bar = process.stderr.isTTY && !values.json ? new ProgressBar(process.stderr) : undefined;
  if (seedText === undefined && !values.json) process.stderr.write(`seed ${seed}\n`);
  try {
    const result = await engine.generate(request, { signal: interrupt.signal, onStep: (p) => bar?.update(p) });
    if (values.verbose) for (const s of engine.skippedProviders.slice(skippedAtLoad)) process.stderr.write(`provider ${s.provider} skipped: ${s.reason ?? "unavailable"}\n`);
    bar?.done();
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    let pngs: readonly Buffer[] = result.images.map((img) => img.png);
    // What happened to the engine's PNGs before they were written, for --record.
    let post: PostStep[] = [{ op: "encode", format: "png" }];
    if (transparent) {
      // The model's sessions go first: the background remover then has their memory.
      await engine.dispose();
      const { remover, spec, file, catalogId, name } = await removerForCli(stringValue(values, "rembg-model"), provider, values.json === true);
      try {
        const cut: Buffer[] = [];
        for (const png of pngs) cut.push(await removeBackground(png, remover, spec, { matte, format: "png", remover: name }));
        pngs = cut;
      } finally {
        await remover.release();
      }
      if (workspace !== undefined) post = [await removeBackgroundStep(file, workspace, { catalogId, matte, format: "png" })];
    }
    const paths: string[] = [];
    for (let i = 0; i < result.images.length; i++) paths.push(await writeOutput(targets[i], pngs[i]));
    if (workspace !== undefined) await recordImages(workspace, model, resolved, engine, result, paths, pngs, post, request, inputPaths);
    if (values.json) {
      // Seeds go up to 2^64-1, past the 2^53 a JSON number keeps exactly in most readers: a decimal string.
      const images = result.images.map((img, i) => ({ path: paths[i], seed: img.seed.toString() }));
      process.stdout.write(`${terminalJson({ images, provider: result.provider, vaeDecoder: result.vaeDecoder, seconds: Number(result.seconds.toFixed(3)) })}\n`);
    } else {
      for (let i = 0; i < result.images.length; i++) process.stdout.write(`${paths[i]}\n`);
      process.stderr.write(`${result.images.length} image(s), ${result.sampler}, ${result.request.steps} steps, provider ${result.provider}, ${result.seconds.toFixed(1)}s\n`);
    }
    return 0;
  } finally {
    bar?.done();
    interrupt.dispose();
    await engine.dispose();
  }
}

/** --record: one lockfile entry per image written. */
async function recordImages(
  workspace: string,
  name: string,
  resolved: ResolvedModel,
  engine: Engine,
  result: GenerateResult,
  files: readonly string[],
  written: readonly Buffer[],
  post: readonly PostStep[],
  request: GenerateRequest,
  inputPaths: { readonly initImage?: string; readonly mask?: string },
): Promise<void> {
  const model = await modelRecord(name, resolved.dir, workspace, engine.folder.files.unet);
  const initImage = inputPaths.initImage && request.initImage ? await inputImage(workspace, path.resolve(inputPaths.initImage), request.initImage) : undefined;
  const mask = inputPaths.mask && request.mask ? await inputImage(workspace, path.resolve(inputPaths.mask), request.mask) : undefined;
  const entries = await Promise.all(
    files.map(async (file, i) => [workspaceRelative(workspace, file)!, await generatedEntry(generationOf(result, i, model, { initImage, mask }, request.fast === true), written[i], post, result.provider)] as const),
  );
  await recordAssets(workspace, entries);
}

/**
 * --NAME TEXT or --NAME-file FILE (`-` for standard input), not both. The file is read with a cap
 * so a wrong file (a model, a log) is refused without reading it all; the exact character limit is
 * checkRequestRanges'.
 */
async function textOption(values: ParsedArgs["values"], name: "prompt" | "negative-prompt"): Promise<string | undefined> {
  const text = stringValue(values, name);
  const file = stringValue(values, `${name}-file`);
  if (text !== undefined && file !== undefined) throw badArgument(`give --${name} or --${name}-file, not both`);
  if (file === undefined) return text;
  return readTextArgument(file, name.replace("-", " "), MAX_PROMPT_CHARS);
}

/**
 * Fast mode's LoRA (`id`, else the family's default), checked against the model's family and fetched
 * into the store the first time (with a line saying so, as the TAESD decoder is).
 */
async function fetchFastLora(engine: Engine, store: ModelStore, json: boolean, id: string | undefined): Promise<void> {
  const entry = engine.fastLora(id);
  if (await findStoreFile(store, entry)) return;
  const outcome = await pullSingleFile(entry, {
    store,
    otherwise: "or use a LoRA file with --lora instead of --fast",
    confirm: async (bytes) => {
      if (!json) process.stderr.write(`fetching ${entry.name} (${formatBytes(bytes)}, ${entry.license.name}) from ${entry.repo} for --fast\n`);
      return true;
    },
  });
  if (outcome.status === "downloaded" && !json) process.stderr.write(`${downloadedLine(outcome.sizeOnlyNote)}: ${entry.name}\n`);
}

/**
 * `--lora FILE[:WEIGHT]`, repeatable: the weight is what follows the last ":" when it is a number
 * (so a Windows path's drive letter stays in the name), 1 when absent.
 */
export function loraOptions(values: ParsedArgs["values"]): LoraRequest[] {
  return stringList(values, "lora").map((arg) => {
    const colon = arg.lastIndexOf(":");
    const tail = colon > 0 ? arg.slice(colon + 1) : "";
    if (colon > 0 && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(tail.trim())) {
      const weight = Number(tail);
      checkLoraWeight(weight, `--lora ${arg}`);
      return { name: arg.slice(0, colon), weight };
    }
    if (colon > 0 && !/^[A-Za-z]$/.test(arg.slice(0, colon)) && !/^[\\/]/.test(tail)) {
      throw badArgument(`--lora ${arg}: the weight "${tail}" is not a number (write --lora FILE.safetensors:0.8)`);
    }
    return { name: arg, weight: 1 };
  });
}

/**
 * --hires-scale F --hires-strength F [--hires-steps N] [--hires-upscaler ID|FILE.onnx]: A1111's hires
 * fix. The scale and strength come together (the strength has no default that suits every model).
 */
function hiresOptions(values: ParsedArgs["values"]): HiresRequest | undefined {
  const scale = numberValue(values, "hires-scale");
  const strength = numberValue(values, "hires-strength");
  const steps = integerValue(values, "hires-steps");
  const upscaler = stringValue(values, "hires-upscaler");
  if (scale === undefined) {
    if (strength !== undefined || steps !== undefined || upscaler !== undefined) throw badArgument("--hires-strength, --hires-steps and --hires-upscaler need --hires-scale F (e.g. 2)");
    return undefined;
  }
  if (strength === undefined) throw badArgument("--hires-scale needs --hires-strength F, the second pass's denoising strength in (0, 1] (e.g. 0.5)");
  return { scale, strength, steps };
}

function parseSeed(text: string): bigint {
  try {
    return seedFromString(text);
  } catch (error) {
    throw badArgument(`--seed: ${firstLine(error)}`);
  }
}

