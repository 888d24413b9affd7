// `easel assets list | check [FILES…] | regenerate [FILES…]`: the workspace's easel-assets.json,
// its images made again in memory and compared with the files, or written back where they are
// missing or differ.
import { promises as fs } from "node:fs";
import path from "node:path";
import { compareAsset, describeStep } from "../assets/assetRecord";
import { LocalRegeneration } from "../assets/localRegeneration";
import { type AssetEntry, LOCKFILE_NAME, readAssets, workspaceRelative } from "../assets/lockfile";
import { badArgument, EaselError, firstLine } from "../errors";
import { ModelStore } from "../hub/store";
import { writeFileAtomic } from "../image/atomicWrite";
import { isProviderChoice, PROVIDER_NAMES } from "../onnx/providers";
import { integerValue, parseCommandArgs, stringList, stringValue } from "./args";
import { interruptSignal } from "./commandIo";
import { terminalJson, terminalSafe } from "./terminalText";

export const ASSETS_HELP = `Usage: easel assets <command> [--workspace DIR]

  list [--json]                      the images recorded in DIR/${LOCKFILE_NAME}
  check [FILES…] [--tolerance N]     make each image again in memory and compare its pixels with
                                     the file: exit 0 when all match, else one line per file with
                                     its mean/max difference (in 0..255 levels) and exit 1
  regenerate [FILES…]                write the images that are missing or differ

An entry says how its file was made: generated (txt2img, img2img, inpainting, outpainting, hires,
tiling), then post-processed (background removal, upscaling, an icon or an asset pack's file, the
format), or made only by post-processing another image. An input (init image, mask, source) must
still have its recorded pixels; one that is itself recorded is made again from its own entry when
it is missing or changed. A file that cannot be made again is one 'failed FILE: why' line (exit 1).

  --workspace DIR     the folder holding ${LOCKFILE_NAME} (default: the current folder)
  --tolerance N       check: the largest per-channel difference still a match (default 0; the
                      same machine and provider make identical pixels, others may differ by a few)
  --download          fetch a recorded model that is not on this machine (otherwise an error)
  --provider NAME     auto | cpu | webgpu | dml | cuda | coreml (default auto)
  --lora-folder DIR   where a recorded LoRA is found by name (repeatable; the model store's loras/
                      is searched last); it must still have its recorded hash

Images are recorded by 'easel generate|outpaint|rembg|upscale|pack --record', 'easel mcp' and the
VS Code extension.`;

const OPTIONS = {
  workspace: { type: "string" },
  tolerance: { type: "string" },
  download: { type: "boolean" },
  provider: { type: "string" },
  "lora-folder": { type: "string", multiple: true },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function assetsCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("assets", args, OPTIONS, true);
  const [sub, ...files] = positionals;
  if (values.help || sub === undefined || sub === "help") {
    process.stdout.write(`${ASSETS_HELP}\n`);
    return sub === undefined && !values.help ? 2 : 0;
  }
  const workspace = path.resolve(stringValue(values, "workspace") ?? ".");
  const provider = stringValue(values, "provider") ?? "auto";
  if (!isProviderChoice(provider)) throw badArgument(`unknown provider "${provider}": use one of ${PROVIDER_NAMES.join(", ")}`);
  const tolerance = integerValue(values, "tolerance", { min: 0, max: 255 }) ?? 0;
  if (sub !== "check" && values.tolerance !== undefined) throw badArgument("--tolerance goes with check");
  const assets = await readAssets(workspace);
  if (sub === "list") return list(assets, values.json === true);
  if (sub !== "check" && sub !== "regenerate") throw badArgument(`unknown assets command "${sub}": use list, check or regenerate (see 'easel assets --help')`);
  const selected = select(assets, files, workspace);
  if (selected.length === 0) {
    process.stderr.write(`no images recorded in ${path.join(workspace, LOCKFILE_NAME)}\n`);
    return 0;
  }
  const interrupt = interruptSignal();
  const local = new LocalRegeneration({ workspace, store: ModelStore.open(), provider, download: values.download === true, loraFolders: stringList(values, "lora-folder"), signal: interrupt.signal });
  const regenerator = local.regenerator(assets);
  let bad = 0;
  try {
    for (const [rel, entry] of selected) {
      const file = path.join(workspace, ...rel.split("/"));
      let made: Buffer;
      try {
        made = await regenerator.regenerate(entry);
      } catch (error) {
        if (error instanceof EaselError && error.code === "cancelled") throw error;
        // One line for this file (an input missing or changed, a model not here), and on to the next.
        bad++;
        process.stdout.write(`${terminalSafe(`failed ${rel}: ${error instanceof EaselError ? error.message : firstLine(error)}`)}\n`);
        continue;
      }
      const current = await fs.readFile(file).catch(() => undefined);
      const comparison = await compareAsset(rel, current, made, tolerance);
      const matches = comparison.status === "ok";
      if (sub === "check") {
        if (!matches) bad++;
        process.stdout.write(`${terminalSafe(comparison.line)}\n`);
      } else if (matches) {
        process.stdout.write(`${terminalSafe(`unchanged ${rel}`)}\n`);
      } else {
        await fs.mkdir(path.dirname(file), { recursive: true });
        await writeFileAtomic(file, made);
        process.stdout.write(`${terminalSafe(`${current === undefined ? "restored" : "rewrote"} ${rel}`)}\n`);
      }
    }
  } finally {
    interrupt.dispose();
    await local.dispose();
  }
  if (bad > 0) {
    process.stderr.write(
      sub === "check"
        ? `${bad} of ${selected.length} image(s) do not match what their entries make: 'easel assets regenerate' rewrites them\n`
        : `${bad} of ${selected.length} image(s) could not be made again: see the failed lines\n`,
    );
  }
  return bad > 0 ? 1 : 0;
}

function list(assets: Map<string, AssetEntry>, json: boolean): number {
  const sorted = [...assets].sort(([a], [b]) => (a < b ? -1 : 1));
  if (json) {
    process.stdout.write(`${terminalJson(Object.fromEntries(sorted))}\n`);
    return 0;
  }
  for (const [rel, e] of sorted) {
    const g = e.generation;
    const post = e.post.filter((p) => p.op !== "encode" || !g).map(describeStep);
    const how = g
      ? [`seed ${g.seed}`, g.model.catalogId ?? g.model.name, `${e.width}x${e.height}`, JSON.stringify(g.prompt.length > 60 ? `${g.prompt.slice(0, 59)}…` : g.prompt), ...post].join(", ")
      : [`from ${e.source?.path ?? "an image kept in the entry"}`, ...post].join(", ");
    process.stdout.write(`${terminalSafe(`${rel}  ${how}`)}\n`);
  }
  return 0;
}

/** The entries FILES name (paths from the current folder), or all of them. */
function select(assets: Map<string, AssetEntry>, files: readonly string[], workspace: string): [string, AssetEntry][] {
  if (files.length === 0) return [...assets].sort(([a], [b]) => (a < b ? -1 : 1));
  return files.map((f) => {
    const rel = workspaceRelative(workspace, f);
    const entry = rel === undefined ? undefined : assets.get(rel);
    if (rel === undefined || entry === undefined) throw badArgument(`${f} is not recorded in ${path.join(workspace, LOCKFILE_NAME)}: see 'easel assets list'`);
    return [rel, entry];
  });
}
