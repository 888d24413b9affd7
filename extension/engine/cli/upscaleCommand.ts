// `easel upscale FILE --scale 2|4`: a super-resolution model (a catalog upscaler from the store, or
// an ONNX file), tiled so any size fits in bounded memory, then Lanczos to the exact size; plain
// Lanczos when no model is there. The image is read, upscaled and encoded as the engine process
// does it for "Easel: Upscale Image…" (upscale/upscaleImage.ts).
import fs from "node:fs";
import path from "node:path";
import { badArgument } from "../errors";
import { ModelStore } from "../hub/store";
import { isProviderChoice, PROVIDER_NAMES, resolveProvider } from "../onnx/providers";
import { SuperResolution } from "../upscale/superResolution";
import { decodeForUpscale, UPSCALE_SCALES, upscaledSize, upscaleToPng, upscaleWraps, UPSCALE_OVERLAP, UPSCALE_TILE } from "../upscale/upscaleImage";
import { resolveUpscaler } from "../upscale/upscalers";
import { integerValue, parseCommandArgs, readImageArgument, stringValue } from "./args";
import { interruptSignal } from "./commandIo";
import { UPSCALE_HELP } from "./help";
import { checkWritable, type OutputTarget, planOutputs, writeOutput } from "./outputPaths";
import { RECORD_OPTIONS, recordWorkspace } from "./recordOption";
import { uniqueFileName } from "./slug";
import { derivedEntry, inputImage, upscaleStep } from "../assets/assetRecord";
import { recordAssets, workspaceRelative } from "../assets/lockfile";
import { terminalJson } from "./terminalText";


export async function upscaleCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "upscale",
    args,
    {
      scale: { type: "string" },
      out: { type: "string" },
      model: { type: "string" },
      tile: { type: "string" },
      overlap: { type: "string" },
      provider: { type: "string" },
      json: { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      ...RECORD_OPTIONS,
    },
    true,
  );
  if (values.help) {
    process.stdout.write(`${UPSCALE_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw badArgument("give one image: easel upscale FILE --scale 2|4");
  const scale = integerValue(values, "scale") ?? 4;
  if (!(UPSCALE_SCALES as readonly number[]).includes(scale)) throw badArgument(`--scale must be 2 or 4 (got ${scale})`);
  const tile = integerValue(values, "tile", UPSCALE_TILE);
  const overlap = integerValue(values, "overlap", UPSCALE_OVERLAP);
  const provider = stringValue(values, "provider") ?? "auto";
  if (!isProviderChoice(provider)) throw badArgument(`unknown provider "${provider}": use one of ${PROVIDER_NAMES.join(", ")}`);
  const file = positionals[0];
  // Read and decoded before anything is written: a non-image is one line and no output.
  const bytes = await readImageArgument(file, "");
  const image = await decodeForUpscale(bytes, file);
  const { width, height } = upscaledSize(file, image.width, image.height, scale);
  const target = await upscaleTarget(file, stringValue(values, "out"), scale);
  const workspace = await recordWorkspace(values, [target.file], [file]);
  const store = ModelStore.open();
  const upscaler = await resolveUpscaler(stringValue(values, "model"), store, scale);
  const started = performance.now();
  let sr: SuperResolution | undefined;
  if (upscaler) {
    const { provider: runsOn } = await resolveProvider(provider);
    sr = await SuperResolution.load(upscaler.file, runsOn);
  } else if (!values.json) {
    process.stderr.write(`no super-resolution model: Lanczos (get one with 'easel models pull realesrgan-x4plus')\n`);
  }
  const interrupt = interruptSignal();
  try {
    // The original's generation parameters stay with the image (a PNG's `parameters` chunk).
    const { png } = await upscaleToPng(image, bytes, scale, sr, { tile, overlap, signal: interrupt.signal });
    const written = await writeOutput(target, png);
    if (workspace !== undefined) {
      const step = await upscaleStep(scale, upscaler, workspace, { tile, overlap, wrap: upscaleWraps(bytes) });
      await recordAssets(workspace, [[workspaceRelative(workspace, written)!, await derivedEntry(await inputImage(workspace, path.resolve(file), bytes), png, [step])]]);
    }
    const seconds = (performance.now() - started) / 1000;
    const by = upscaler?.name ?? "Lanczos";
    if (values.json) process.stdout.write(`${terminalJson({ path: written, width, height, upscaler: by, seconds: Number(seconds.toFixed(3)) })}\n`);
    else {
      process.stdout.write(`${written}\n`);
      process.stderr.write(`${image.width}x${image.height} -> ${width}x${height} with ${by}, ${seconds.toFixed(1)}s\n`);
    }
    return 0;
  } finally {
    interrupt.dispose();
    await sr?.release();
  }
}

/** --out as given (replacing a writable file), else FILE-x4.png beside the image, made free (-2, -3…) and never replacing. */
async function upscaleTarget(file: string, out: string | undefined, scale: number): Promise<OutputTarget> {
  if (out !== undefined) return (await planOutputs(out, "", 0n, 1))[0];
  const dir = path.dirname(path.resolve(file));
  const stem = `${path.basename(file, path.extname(file))}-x${scale}`;
  const names = new Set(await fs.promises.readdir(dir).catch(() => []));
  const target = { file: path.join(dir, uniqueFileName(stem, "png", names)), replace: false, stem: path.join(dir, stem) };
  await checkWritable(target.file);
  return target;
}
