// `easel pack FILE --preset NAME --out DIR`: an asset pack rendered whole in memory, written into a
// hidden staging folder beside DIR, then moved into place, so a failure leaves no partial pack.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { badArgument, EaselError, firstLine } from "../errors";
import { Engine } from "../engine";
import { generatedEntry, generationOf, inputImage, modelRecord, packEntries } from "../assets/assetRecord";
import { type AssetEntry, type InputImage, type ModelRecord, recordAssets, workspaceRelative } from "../assets/lockfile";
import { ModelStore } from "../hub/store";
import { resolveProvider } from "../onnx/providers";
import { type AssetPack, isPackPreset, type PackOptions, PACK_PRESETS, type PackPreset, renderAssetPack, socialGenerationSize } from "../packs/assetPack";
import { checkRequestRanges, MAX_SIDE, MIN_SIDE, randomSeed } from "../pipeline/resolveRequest";
import { seedFromString } from "../random/torchGenerator";
import type { GenerateRequest, GenerateResult } from "../types";
import { integerValue, numberValue, type ParsedArgs, parseCommandArgs, readImageArgument, stringValue } from "./args";
import { resolveModelForCli } from "./modelsCommand";
import { providerOption } from "./rembgCommand";
import { PACK_HELP } from "./help";
import { terminalJson } from "./terminalText";
import { RECORD_OPTIONS, recordWorkspace } from "./recordOption";

/** The generated picture's name in a pack made from --prompt. */
const SOURCE_FILE = "source.png";

const OPTIONS = {
  preset: { type: "string" },
  out: { type: "string" },
  name: { type: "string" },
  background: { type: "string" },
  title: { type: "string" },
  "base-url": { type: "string" },
  "no-upscale": { type: "boolean" },
  prompt: { type: "string" },
  model: { type: "string" },
  "negative-prompt": { type: "string" },
  seed: { type: "string" },
  steps: { type: "string" },
  guidance: { type: "string" },
  width: { type: "string" },
  provider: { type: "string" },
  "accept-license": { type: "boolean" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  ...RECORD_OPTIONS,
} as const;

export async function packCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("pack", args, OPTIONS, true);
  if (values.help) {
    process.stdout.write(`${PACK_HELP}\n`);
    return 0;
  }
  const prompt = stringValue(values, "prompt");
  if (prompt === undefined && positionals.length !== 1) throw badArgument("give one image: easel pack FILE --preset NAME --out DIR (or --prompt TEXT --model MODEL instead of FILE)");
  if (prompt !== undefined && positionals.length !== 0) throw badArgument("give an image or --prompt, not both");
  const preset = stringValue(values, "preset");
  if (preset === undefined) throw badArgument(`missing --preset NAME: one of ${PACK_PRESETS.join(", ")}`);
  if (!isPackPreset(preset)) throw badArgument(`unknown --preset "${preset}": use one of ${PACK_PRESETS.join(", ")}`);
  const outArg = stringValue(values, "out");
  if (outArg === undefined) throw badArgument("missing --out DIR: the folder to write the pack into (created; an existing one must not hold the pack's files)");
  const out = path.resolve(outArg);
  const workspace = await recordWorkspace(values, [out], [positionals[0]]);
  const generated = prompt === undefined ? undefined : await generateSource(values, prompt, preset, workspace);
  const image = generated?.png ?? (await readImageArgument(positionals[0], "image "));
  const options = {
    name: stringValue(values, "name"),
    background: stringValue(values, "background"),
    title: stringValue(values, "title"),
    baseUrl: stringValue(values, "base-url"),
    small: values["no-upscale"] ? ("refuse" as const) : ("upscale" as const),
  };
  const rendered = await renderAssetPack(image, preset, options);
  // From a prompt, the generated picture (with its parameters) goes into the pack too.
  const pack: AssetPack = generated ? { ...rendered, files: [...rendered.files, { path: SOURCE_FILE, bytes: generated.png }] } : rendered;
  await writePack(pack, out);
  if (workspace !== undefined) await recordPack(workspace, out, rendered, options, generated ?? { file: path.resolve(positionals[0]), bytes: image });
  if (values.json) {
    process.stdout.write(`${terminalJson({ dir: out, files: pack.files.map((f) => f.path), headTags: pack.headTags ?? null, notes: pack.notes })}\n`);
  } else {
    for (const note of pack.notes) process.stderr.write(`warning: ${note}\n`);
    process.stderr.write(`${pack.files.length} files in ${out}\n`);
    if (pack.headTags) process.stdout.write(`${pack.headTags}\n`);
    else process.stdout.write(`${out}\n`);
  }
  return 0;
}

/**
 * `--prompt`: one image generated for the pack. Square presets take the model's default size; the
 * social card the model's nearest size to 1200:630 (its long side the default width, or --width),
 * which the card then crops around its subject.
 */
async function generateSource(values: ParsedArgs["values"], prompt: string, preset: PackPreset, workspace: string | undefined): Promise<GeneratedSource> {
  const model = stringValue(values, "model");
  if (!model) throw badArgument("--prompt needs --model MODEL: a diffusers ONNX folder, a catalog id or owner/name");
  const seedText = stringValue(values, "seed");
  const request: GenerateRequest = {
    prompt,
    negativePrompt: stringValue(values, "negative-prompt"),
    steps: integerValue(values, "steps"),
    guidance: numberValue(values, "guidance"),
    seed: seedText === undefined ? randomSeed() : parseSeed(seedText),
    batch: 1,
  };
  checkRequestRanges(request);
  const longSide = integerValue(values, "width", { min: MIN_SIDE, max: MAX_SIDE });
  const provider = providerOption(stringValue(values, "provider"));
  const { provider: runsOn } = await resolveProvider(provider);
  const store = ModelStore.open();
  const { dir: modelDir } = await resolveModelForCli(model, { acceptLicense: values["accept-license"] === true, json: values.json === true, provider: runsOn, taesd: true, store });
  const engine = await Engine.load(modelDir, { provider, modelStore: store.root });
  try {
    const { granularity, defaults, fixedSize } = engine.info;
    const size = fixedSize ?? (preset === "social" ? socialGenerationSize(granularity, longSide ?? defaults.width) : { width: longSide ?? defaults.width, height: longSide ?? defaults.width });
    if (!values.json) process.stderr.write(`generating ${size.width}×${size.height} for the ${preset} pack, seed ${request.seed}\n`);
    const result = await engine.generate({ ...request, ...size });
    return { png: result.images[0].png, result, model: workspace === undefined ? undefined : await modelRecord(model, modelDir, workspace, engine.folder.files.unet) };
  } finally {
    await engine.dispose();
  }
}

/** The picture a pack made from --prompt was rendered from (source.png), and how it was made. */
interface GeneratedSource {
  readonly png: Buffer;
  readonly result: GenerateResult;
  /** Only with --record. */
  readonly model?: ModelRecord;
}

/**
 * --record: an entry for each image file of the pack (the ICO, manifest and tags are not images to
 * check), made from the source image; a generated source.png gets its own entry, which the icons chain through.
 */
async function recordPack(workspace: string, out: string, rendered: AssetPack, options: PackOptions, source: GeneratedSource | { readonly file: string; readonly bytes: Uint8Array }): Promise<void> {
  const rel = (file: string) => workspaceRelative(workspace, path.join(out, ...file.split("/")))!;
  const entries: [string, AssetEntry][] = [];
  let input: InputImage;
  if ("result" in source) {
    const entry = await generatedEntry(generationOf(source.result, 0, source.model!), source.png, [{ op: "encode", format: "png" }], source.result.provider);
    entries.push([rel(SOURCE_FILE), entry]);
    input = { path: rel(SOURCE_FILE), pixels: entry.pixels };
  } else {
    input = await inputImage(workspace, source.file, source.bytes);
  }
  for (const [file, entry] of await packEntries(input, rendered, options)) entries.push([rel(file), entry]);
  await recordAssets(workspace, entries);
}

function parseSeed(text: string): bigint {
  try {
    return seedFromString(text);
  } catch (error) {
    throw badArgument(`--seed: ${firstLine(error)}`);
  }
}

/**
 * Writes the pack under `out`: staged in a hidden folder beside it, then renamed to `out` (absent
 * or empty) or its top-level entries moved into `out` (existing; none of them may be there already,
 * so nothing is replaced). A failure removes the staging folder and whatever was moved.
 */
export async function writePack(pack: AssetPack, out: string): Promise<void> {
  const parent = path.dirname(out);
  const existing = await fs.readdir(out).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    if (error.code === "ENOTDIR") throw new EaselError("output-unwritable", `--out ${out} is a file: give a folder`);
    throw new EaselError("output-unwritable", `cannot read --out ${out} (${error.code}): choose another folder`);
  });
  const tops = [...new Set(pack.files.map((f) => f.path.split("/")[0]))];
  const clash = existing === undefined ? [] : tops.filter((t) => existing.includes(t));
  if (clash.length > 0) throw new EaselError("output-unwritable", `${out} already has ${clash.slice(0, 3).join(", ")}${clash.length > 3 ? "…" : ""}: choose an empty or new --out folder, or remove them first`);
  let created: string | undefined;
  try {
    // The first folder mkdir creates (if any), removed again should the pack fail.
    created = await fs.mkdir(parent, { recursive: true });
  } catch (error) {
    throw new EaselError("output-unwritable", `cannot create ${parent} (${(error as NodeJS.ErrnoException).code}): choose another --out`);
  }
  const staging = path.join(parent, `.${path.basename(out)}.${randomBytes(6).toString("hex")}.tmp`);
  const moved: string[] = [];
  try {
    for (const file of pack.files) {
      const target = path.join(staging, ...file.path.split("/"));
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, file.bytes, { flag: "wx" });
    }
    if (existing === undefined || existing.length === 0) {
      if (existing !== undefined) await fs.rmdir(out);
      await fs.rename(staging, out);
      return;
    }
    for (const top of tops) {
      await fs.rename(path.join(staging, top), path.join(out, top));
      moved.push(top);
    }
    await fs.rm(staging, { recursive: true, force: true });
  } catch (error) {
    for (const top of moved) await fs.rm(path.join(out, top), { recursive: true, force: true }).catch(() => undefined);
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    if (created !== undefined) await fs.rm(created, { recursive: true, force: true }).catch(() => undefined);
    if (error instanceof EaselError) throw error;
    throw new EaselError("output-unwritable", `cannot write the pack into ${out} (${(error as NodeJS.ErrnoException).code ?? "error"}): check that the folder is writable`);
  }
}
