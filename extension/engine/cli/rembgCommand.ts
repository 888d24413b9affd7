// `easel rembg FILE`: the background made transparent by the catalog's background-removal model
// (downloaded the first time), written as PNG or WebP beside the image or to --out.
import path from "node:path";
import { derivedEntry, inputImage, removeBackgroundStep } from "../assets/assetRecord";
import { recordAssets, workspaceRelative } from "../assets/lockfile";
import { badArgument, EaselError } from "../errors";
import { formatBytes } from "../hub/progress";
import { ModelStore } from "../hub/store";
import { writeFileAtomic } from "../image/atomicWrite";
import { checkMatte, type MatteSpec, removeBackground, transparentFormatFor } from "../matte/backgroundRemoval";
import { backgroundRemoverEntry, ensureRemover, type LoadedRemover, matteSpecOf, openRemover } from "../matte/remover";
import { isProviderChoice, PROVIDER_NAMES, type ProviderChoice, resolveProvider } from "../onnx/providers";
import { numberValue, parseCommandArgs, readImageArgument, stringValue } from "./args";
import { REMBG_HELP } from "./help";
import { RECORD_OPTIONS, recordWorkspace } from "./recordOption";
import { uniqueFileName } from "./slug";
import { StatusLine } from "./progressBar";
import { terminalJson } from "./terminalText";
import { promises as fs } from "node:fs";

const OPTIONS = {
  out: { type: "string" },
  matte: { type: "string" },
  model: { type: "string" },
  provider: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  ...RECORD_OPTIONS,
} as const;

export interface CliRemover {
  readonly remover: LoadedRemover;
  readonly spec: MatteSpec;
  /** The graph's file, the catalog id when it is the catalog's, and the name the PNG's parameters record. */
  readonly file: string;
  readonly catalogId?: string;
  readonly name: string;
}

/**
 * The background remover for a CLI command: `model` an .onnx file (read with the catalog entry's
 * preprocessing) or a catalog id (default: the catalog's first), downloaded into the store when missing.
 */
export async function removerForCli(model: string | undefined, provider: ProviderChoice, json: boolean): Promise<CliRemover> {
  const byFile = model !== undefined && model.toLowerCase().endsWith(".onnx");
  const entry = backgroundRemoverEntry(byFile ? undefined : model);
  const spec = matteSpecOf(entry);
  let file: string;
  if (byFile) file = path.resolve(model);
  else {
    const status = new StatusLine(process.stderr, process.stderr.isTTY && !json);
    const store = ModelStore.open();
    const got = await ensureRemover(entry, { store, progressIntervalMs: 200, onProgress: status.pull }).finally(() => status.clear());
    if (got.downloaded !== undefined && !json) process.stderr.write(`downloaded ${entry.name} (${entry.license.name}, ${formatBytes(got.downloaded)})\n`);
    file = got.file;
  }
  const { provider: runsOn } = await resolveProvider(provider);
  return { remover: await openRemover(file, runsOn), spec, file, catalogId: byFile ? undefined : entry.id, name: byFile ? path.basename(file, path.extname(file)) : entry.id };
}

export function providerOption(value: string | undefined): ProviderChoice {
  const provider = value ?? "auto";
  if (!isProviderChoice(provider)) throw badArgument(`unknown provider "${provider}": use one of ${PROVIDER_NAMES.join(", ")}`);
  return provider;
}

export async function rembgCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("rembg", args, OPTIONS, true);
  if (values.help) {
    process.stdout.write(`${REMBG_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw badArgument("give one image: easel rembg FILE [--out FILE.png] [--matte T]");
  const input = positionals[0];
  const matte = numberValue(values, "matte");
  checkMatte(matte);
  const provider = providerOption(stringValue(values, "provider"));
  const outArg = stringValue(values, "out");
  // Checked before the image is read or a model loaded: JPEG cannot carry alpha.
  const format = transparentFormatFor(outArg ?? "x.png");
  const image = await readImageArgument(input, "image ");
  let out: string;
  if (outArg !== undefined) out = path.resolve(outArg);
  else {
    const abs = path.resolve(input);
    const dir = path.dirname(abs);
    const stem = path.basename(abs).replace(/\.[^.]+$/, "");
    out = path.join(dir, uniqueFileName(`${stem}-nobg`, "png", new Set(await fs.readdir(dir).catch(() => []))));
  }
  const workspace = await recordWorkspace(values, [out], [input]);
  const { remover, spec, file, catalogId, name } = await removerForCli(stringValue(values, "model"), provider, values.json === true);
  try {
    const started = performance.now();
    const result = await removeBackground(image, remover, spec, { matte, format, remover: name });
    try {
      await writeFileAtomic(out, result, { replace: outArg !== undefined });
    } catch (error) {
      throw new EaselError("output-unwritable", `cannot write ${out} (${(error as NodeJS.ErrnoException).code ?? "error"}): check that its folder exists and is writable, or choose another --out`);
    }
    if (workspace !== undefined) {
      const source = await inputImage(workspace, path.resolve(input), image);
      await recordAssets(workspace, [[workspaceRelative(workspace, out)!, await derivedEntry(source, result, [await removeBackgroundStep(file, workspace, { catalogId, matte, format })])]]);
    }
    const seconds = (performance.now() - started) / 1000;
    if (values.json) process.stdout.write(`${terminalJson({ path: out, seconds: Number(seconds.toFixed(3)) })}\n`);
    else process.stdout.write(`${out}\n`);
    return 0;
  } finally {
    await remover.release();
  }
}
