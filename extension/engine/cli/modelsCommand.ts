// `easel models list | pull REPO[@REV]|ID | verify NAME | rm NAME | add DIR`. NAME is a catalog
// id, owner/name[@rev] or the name of an added folder.
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { badArgument, EaselError } from "../errors";
import { readModelFolder } from "../model/modelFolder";
import { type CatalogBackgroundRemover, type CatalogDecoder, type CatalogEntry, type CatalogLora, type CatalogTemplate, type CatalogUpscaler, entryRevision, fastLorasForFamily, findCatalogBackgroundRemover, findCatalogDecoder, findCatalogEntry, findCatalogLora, findCatalogTemplate, findCatalogUpscaler, loadCatalog, templateModel } from "../hub/catalog";
import { ensureRemover, findStoreRemover } from "../matte/remover";
import { type ConfirmDecoder, type DecoderOutcome, ensureDecoderFor, findStoreDecoder, pullDecoder } from "../hub/decoders";
import { findStoreFile, pullSingleFile } from "../hub/singleFile";
import { listLoras, storeLoraFolder } from "../lora/library";
import { downloadedUpscalers } from "../upscale/upscalers";
import { type ConfirmLicense, describeLicense } from "../hub/license";
import { downloadedLine, manifestBytes, readManifest, sizeOnlyNote } from "../hub/manifest";
import { providerLabel, type ProviderName } from "../onnx/providers";
import { formatBytes } from "../hub/progress";
import { MERGED_WEIGHTS_FOLDER } from "../hub/storePaths";
import { SPILL_KEEP, spillUsage } from "../onnx/patchedGraph";
import { pullModel } from "../hub/pull";
import { parseRepoRef } from "../hub/repoId";
import { findPulledEntry, resolveModel, type ResolvedModel } from "../hub/resolveModel";
import { type LocalModel, ModelStore, type PulledModel } from "../hub/store";
import { verifyFolder } from "../hub/verify";
import { integerValue, parseCommandArgs, stringValue } from "./args";
import { type CommandIo, interruptSignal, withProcessIo } from "./commandIo";
import { StatusLine } from "./progressBar";
import { terminalJson } from "./terminalText";
import { ARCHITECTURE_LABELS, PREDICTIONS, type Prediction } from "../convert/architecture";
import { importCheckpoint } from "../convert/importCheckpoint";
import { IMPORT_DTYPES, IMPORTED_FOLDER, type ImportDtype, type ImportRecord, progressLine, progressMessage, readImportRecord } from "../convert/importRecord";
import { checkpointArchitecture, findPulledTemplate, findStoreTemplate, pullTemplate } from "../convert/templates";
import { verifyImportedFolder } from "../convert/verifyImport";

export const MODELS_HELP = `Usage: easel models <command>

  list [--json]                         catalog presets, downloaded models and added folders
  pull ID|OWNER/NAME[@REV] [--accept-license] [--no-taesd] [--json]
                                        download a model (resumable, verified) into the store;
                                        a catalog model brings the TAESD decoder of its family
                                        (a few MB, for previews and --decoder taesd drafts) unless
                                        --no-taesd, which is remembered; 'pull taesd' fetches it;
                                        'pull sd15-template' (sdxl-base-template) fetches an import
                                        template: the model's graphs, configs and tokenizers
                                        without the weights a checkpoint replaces (it cannot
                                        generate; 'models import' uses it)
  verify NAME [--quick]                 re-check a model's files (sizes and hashes) and layout
  rm NAME                               delete a downloaded model, or forget an added folder
  add DIR [--name NAME]                 register a local model folder under a name
  import FILE.safetensors [--name NAME] [--template DIR] [--dtype fp16|fp32] [--prediction v|eps]
                                        convert a single-file SD 1.x/2.x/SDXL checkpoint into an
                                        ONNX model in the store (graphs from --template DIR, else
                                        from a downloaded catalog model of the same architecture,
                                        else from its downloaded import template; without any,
                                        it says which id to pull); --dtype writes the text
                                        encoders and UNet in that precision whatever the
                                        template's (default: the template's); the VAE is never
                                        made fp16 (it overflows): under --dtype fp16 it keeps the
                                        template's precision

NAME is a catalog id, OWNER/NAME[@REV] or an added folder's name. Models are stored in
$EASEL_HOME/models, else $XDG_CACHE_HOME/easel/models, else the OS cache folder (--store DIR
names the store folder itself).
HF_TOKEN authenticates (gated and private repos), HF_ENDPOINT points at a mirror,
HTTPS_PROXY / NO_PROXY choose a proxy.`;

const OPTIONS = {
  json: { type: "boolean" },
  "accept-license": { type: "boolean" },
  "no-taesd": { type: "boolean" },
  quick: { type: "boolean" },
  name: { type: "string" },
  concurrency: { type: "string" },
  verbose: { type: "boolean" },
  template: { type: "string" },
  store: { type: "string" },
  dtype: { type: "string" },
  prediction: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export function modelsCommand(args: readonly string[]): Promise<number> {
  return withProcessIo((io) => runModelsCommand(args, io));
}

/** Parallel file downloads `models pull --concurrency` may ask for (the default is 4). */
const MAX_DOWNLOAD_CONCURRENCY = 16;

export async function runModelsCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs("models", args, OPTIONS, true);
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined || sub === "help") {
    io.stdout.write(`${MODELS_HELP}\n`);
    return sub === undefined && !values.help ? 2 : 0;
  }
  const store = io.store ?? ModelStore.open(stringValue(values, "store"));
  const one = (what: string) => {
    if (rest.length !== 1) throw badArgument(`give one ${what}: easel models ${sub} ${what.toUpperCase()}`);
    return rest[0];
  };
  switch (sub) {
    case "list":
      return list(store, io, values.json === true);
    case "pull":
      return pull(one("model"), store, io, {
        json: values.json === true,
        acceptFlag: values["accept-license"] === true,
        concurrency: integerValue(values, "concurrency", { min: 1, max: MAX_DOWNLOAD_CONCURRENCY }),
        taesd: values["no-taesd"] !== true,
      });
    case "verify":
      return verify(one("name"), store, io, values.quick !== true);
    case "rm":
      return remove(one("name"), store, io);
    case "add":
      return add(one("dir"), stringValue(values, "name"), store, io);
    case "import":
      return importCommand(one("file"), store, io, {
        name: stringValue(values, "name"),
        template: stringValue(values, "template"),
        dtype: choiceValue(values, "dtype", IMPORT_DTYPES),
        prediction: choiceValue(values, "prediction", PREDICTIONS),
        json: values.json === true,
      });
    default:
      throw badArgument(`unknown models command "${sub}": use list, pull, verify, rm, add or import (see 'easel models --help')`);
  }
}

async function list(store: ModelStore, io: CommandIo, json: boolean): Promise<number> {
  const catalog = loadCatalog().models;
  const pulled = await store.listPulled();
  const local = await store.listLocal();
  const decoders = loadCatalog().decoders ?? [];
  const catalogLoras = loadCatalog().loras ?? [];
  const loraFiles = await listLoras([storeLoraFolder(store.root)]);
  const upscalers = loadCatalog().upscalers ?? [];
  const mergedDir = path.join(store.root, MERGED_WEIGHTS_FOLDER);
  const merged = await spillUsage(mergedDir);
  const templates = await Promise.all((loadCatalog().templates ?? []).map(async (t) => ({ t, pulled: await findPulledTemplate(store, t) })));
  const imported = new Map<string, ImportRecord>();
  for (const l of local) {
    const record = await readImportRecord(l.dir);
    if (record) imported.set(l.name, record);
  }
  const downloaded = new Set<string>();
  for (const l of catalogLoras) if (await findStoreFile(store, l)) downloaded.add(l.id);
  for (const u of await downloadedUpscalers(store)) downloaded.add(u.id);
  for (const m of catalog) if (await findPulledEntry(store, m, pulled)) downloaded.add(m.id);
  const declined = new Set<string>();
  for (const d of decoders) {
    if (await findStoreDecoder(store, d.families[0])) downloaded.add(d.id);
    else if (await store.isDecoderDeclined(d.id)) declined.add(d.id);
  }
  if (json) {
    io.stdout.write(
      `${terminalJson({
        store: store.root,
        catalog: catalog.map((m) => ({ id: m.id, name: m.name, repo: m.repo, family: m.family, precision: m.precision, license: m.license.id, commercialUse: m.license.commercialUse, downloaded: downloaded.has(m.id) })),
        decoders: decoders.map((d) => ({ id: d.id, name: d.name, repo: d.repo, families: d.families, license: d.license.id, downloaded: downloaded.has(d.id), declined: declined.has(d.id) })),
        fastLoras: catalogLoras.map((l) => ({ id: l.id, name: l.name, repo: l.repo, families: l.families, license: l.license.id, fast: l.fast, downloaded: downloaded.has(l.id) })),
        loras: loraFiles.map((l) => ({ name: l.name, file: l.file, base: l.base ?? null, ...(l.problem ? { problem: l.problem } : {}) })),
        upscalers: upscalers.map((u) => ({ id: u.id, name: u.name, repo: u.repo, scale: u.scale, license: u.license.id, downloaded: downloaded.has(u.id) })),
        templates: templates.map(({ t, pulled: p }) => ({ id: t.id, name: t.name, model: t.model, repo: templateModel(t).repo, architecture: t.architecture, downloaded: p !== undefined, ...(p ? { dir: p.dir, bytes: manifestBytes(p.manifest) } : {}) })),
        pulled: pulled.map((p) => ({ repo: p.repo, commit: p.commit, revision: p.manifest.revision, dir: p.dir, bytes: manifestBytes(p.manifest) })),
        local: local.map((l) => ({ name: l.name, dir: l.dir, ...(imported.get(l.name) ? { imported: { baseModel: imported.get(l.name)?.baseModel, source: imported.get(l.name)?.source } } : {}) })),
        mergedLoraWeights: { dir: mergedDir, ...merged },
      })}\n`,
    );
    return 0;
  }
  io.stdout.write(`Catalog (easel models pull ID):\n`);
  for (const m of catalog) {
    const nc = m.license.commercialUse ? "" : ", non-commercial";
    const have = downloaded.has(m.id) ? " [downloaded]" : "";
    const notOn = m.providers.unsupported.map((u) => u.provider);
    const runs = notOn.length > 0 ? `; not for ${notOn.map(providerLabel).join(" or ")}` : "";
    io.stdout.write(`  ${m.id.padEnd(20)} ${m.name} — ${m.repo} (${m.license.name}${nc}${runs})${have}\n`);
  }
  io.stdout.write(`Decoders (fetched with the first model of their family; easel models pull ID):\n`);
  for (const d of decoders) {
    const have = downloaded.has(d.id) ? " [downloaded]" : declined.has(d.id) ? " [declined]" : "";
    io.stdout.write(`  ${d.id.padEnd(20)} ${d.name} — ${d.repo} (${d.license.name}; for ${d.families.join(", ")})${have}\n`);
  }
  io.stdout.write(`Upscalers (easel upscale, the hires fix; easel models pull ID):\n`);
  for (const u of upscalers) {
    const have = downloaded.has(u.id) ? " [downloaded]" : "";
    io.stdout.write(`  ${u.id.padEnd(20)} ${u.name} — ${u.repo} (${u.license.name}; ${u.scale}x)${have}\n`);
  }
  io.stdout.write(`Background removal (easel rembg, generate --transparent; easel models pull ID):\n`);
  for (const r of loadCatalog().backgroundRemovers ?? []) {
    const have = (await findStoreRemover(r, store)) ? " [downloaded]" : "";
    io.stdout.write(`  ${r.id.padEnd(20)} ${r.name} — ${r.repo} (${r.license.name})${have}\n`);
  }
  io.stdout.write(`Import templates (graphs only, for easel models import; they cannot generate; easel models pull ID):\n`);
  for (const { t, pulled: p } of templates) {
    const have = p ? ` [downloaded, ${formatBytes(manifestBytes(p.manifest))}]` : "";
    io.stdout.write(`  ${t.id.padEnd(20)} ${t.name} — ${templateModel(t).repo} (for ${ARCHITECTURE_LABELS[t.architecture]} checkpoints)${have}\n`);
  }
  io.stdout.write(`Fast-mode LoRAs (generate --fast merges the family's default, marked *; --fast-lora ID another; fetched the first time):\n`);
  for (const l of catalogLoras) {
    const isDefault = l.families.some((f) => fastLorasForFamily(f)[0]?.id === l.id) ? "*" : " ";
    const recipe = `${l.fast.scheduler}${l.fast.timestepSpacing ? ` ${l.fast.timestepSpacing}` : ""}, ${l.fast.steps} steps, guidance ${l.fast.guidance}`;
    const unsure = (l.unverified ?? []).includes("license") ? ", licence unverified" : "";
    io.stdout.write(`${isDefault} ${l.id.padEnd(20)} ${l.name} — ${l.repo} (${l.license.name}${unsure}; for ${l.families.join(", ")}; ${recipe})${downloaded.has(l.id) ? " [downloaded]" : ""}\n`);
  }
  io.stdout.write(`LoRAs (${storeLoraFolder(store.root)}; <lora:NAME:WEIGHT> or --lora FILE):\n`);
  if (loraFiles.length === 0) io.stdout.write(`  none\n`);
  for (const l of loraFiles) io.stdout.write(`  ${l.name.padEnd(20)} ${l.problem ? `unusable: ${l.problem}` : (l.base ?? "base model unknown")}\n`);
  io.stdout.write(`Downloaded (${store.root}):\n`);
  if (pulled.length === 0) io.stdout.write(`  none\n`);
  for (const p of pulled) {
    const bytes = manifestBytes(p.manifest);
    io.stdout.write(`  ${p.repo}@${p.commit.slice(0, 12)} (${p.manifest.revision}, ${formatBytes(bytes)})\n`);
  }
  io.stdout.write(`Added folders:\n`);
  if (local.length === 0) io.stdout.write(`  none\n`);
  for (const l of local) {
    const record = imported.get(l.name);
    const precision = record && record.vaeDtype && record.vaeDtype !== record.dtype ? `${record.dtype}, VAE ${record.vaeDtype}` : record?.dtype;
    const what = record ? ` (imported ${record.source}; base model ${record.baseModel}${precision ? `; ${precision}` : ""})` : "";
    io.stdout.write(`  ${l.name.padEnd(20)} ${l.dir}${what}\n`);
  }
  if (merged.bytes > 0) {
    io.stdout.write(`Merged LoRA weights (${mergedDir}):\n  ${merged.sets} LoRA set(s), ${formatBytes(merged.bytes)}; the ${SPILL_KEEP} most recently used are kept; delete the folder to free the space (the next generation with a large LoRA merges again)\n`);
  }
  return 0;
}

/** The terminal's answer, or --accept-license; without a terminal the flag is the only way. */
function confirmOnTerminal(io: CommandIo, acceptFlag: boolean): ConfirmLicense {
  return async (license, model) => {
    io.stderr.write(`${describeLicense(license, model)}\n`);
    if (acceptFlag) {
      io.stderr.write(`licence accepted (--accept-license)\n`);
      return true;
    }
    if (!io.stdin.isTTY || !io.stderr.isTTY) return false;
    const rl = createInterface({ input: io.stdin, output: io.stderr });
    try {
      const answer = await rl.question(`Accept ${license.name}? [y/N] `);
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  };
}

/**
 * The CLI's answer to "fetch the TAESD decoder?": yes, with a line saying so (it is a few MB and
 * MIT-licensed). The no is --no-taesd, given up front (`decline`) and remembered by the store.
 */
export function decoderAnswer(io: Pick<CommandIo, "stderr">, json: boolean): ConfirmDecoder {
  return async (decoder, bytes) => {
    if (!json) io.stderr.write(`fetching ${decoder.name} (${formatBytes(bytes)}, ${decoder.license.name}) from ${decoder.repo} for previews and --decoder taesd drafts; --no-taesd skips it\n`);
    return true;
  };
}

/** One line about the decoder fetched with a model, when there is something to say. */
export function reportDecoder(io: Pick<CommandIo, "stderr">, outcome: DecoderOutcome | undefined, json: boolean): void {
  if (!outcome || json) return;
  if (outcome.status === "downloaded") io.stderr.write(`${downloadedLine(outcome.sizeOnlyNote)}: ${outcome.decoder.name}\n`);
  else if (outcome.status === "failed") io.stderr.write(`warning: ${outcome.decoder.name} was not fetched (${outcome.reason}); previews use the small approximation until 'easel models pull ${outcome.decoder.id}'\n`);
}

interface PullFlags {
  readonly json: boolean;
  readonly acceptFlag: boolean;
  readonly concurrency: number | undefined;
  readonly taesd: boolean;
}

async function pull(spec: string, store: ModelStore, io: CommandIo, flags: PullFlags): Promise<number> {
  const { json, acceptFlag, concurrency } = flags;
  const decoder = findCatalogDecoder(spec);
  if (decoder) return pullDecoderCommand(decoder, store, io, json);
  const lora = findCatalogLora(spec);
  if (lora) return pullFileCommand(lora, store, io, json, "or use a LoRA file with --lora");
  const upscaler = findCatalogUpscaler(spec);
  if (upscaler) return pullFileCommand(upscaler, store, io, json, "or give easel upscale an .onnx file");
  const remover = findCatalogBackgroundRemover(spec);
  if (remover) {
    const got = await ensureRemover(remover, { store, signal: io.signal });
    if (json) io.stdout.write(`${terminalJson({ id: remover.id, repo: remover.repo, file: got.file, downloaded: got.downloaded !== undefined })}\n`);
    else {
      io.stderr.write(`${got.downloaded !== undefined ? "downloaded" : "already in the store"}: ${remover.name} (${remover.repo})\n`);
      io.stdout.write(`${got.file}\n`);
    }
    return 0;
  }
  const template = findCatalogTemplate(spec);
  if (template) return pullTemplateCommand(template, store, io, flags);
  const entry = findCatalogEntry(spec);
  const ref = entry ? { repo: entry.repo, revision: entryRevision(entry) } : parseRepoRef(spec);
  if (!ref) throw badArgument(`"${spec}" is neither a catalog id nor owner/name[@revision]: see 'easel models list'`);
  // An explicit pull goes ahead (the model may be for another machine), but says where it cannot run.
  for (const u of entry?.providers.unsupported ?? []) io.stderr.write(`note: ${entry?.name} does not run on ${providerLabel(u.provider)}: ${u.reason}\n`);
  const status = new StatusLine(io.stderr, io.stderr.isTTY === true && !json);
  const onProgress = status.pull;
  try {
    const { model, downloaded } = await pullModel(
      ref.repo,
      ref.revision,
      { store, signal: io.signal, onProgress, confirmLicense: confirmOnTerminal(io, acceptFlag), concurrency, progressIntervalMs: 200 },
      entry,
    );
    status.clear();
    if (!json) io.stderr.write(`${downloaded ? downloadedLine(sizeOnlyNote(model.manifest)) : "already in the store"}: ${model.repo}@${model.commit.slice(0, 12)}\n`);
    // A catalog model brings its family's TAESD decoder, even when the model was already there.
    const outcome = entry
      ? await ensureDecoderFor(entry.family, { store, signal: io.signal, onProgress, concurrency, progressIntervalMs: 200, confirmDecoder: decoderAnswer(io, json), decline: !flags.taesd })
      : undefined;
    status.clear();
    reportDecoder(io, outcome, json);
    if (json) {
      const taesd = outcome ? { id: outcome.decoder.id, status: outcome.status } : undefined;
      io.stdout.write(`${terminalJson({ repo: model.repo, commit: model.commit, dir: model.dir, downloaded, ...(taesd ? { taesd } : {}) })}\n`);
    } else {
      io.stdout.write(`${model.dir}\n`);
    }
    return 0;
  } finally {
    status.clear();
  }
}

/** `easel models pull sd15-template`: the graph-only files, through the same resumable, verified pull as a model. */
async function pullTemplateCommand(template: CatalogTemplate, store: ModelStore, io: CommandIo, flags: PullFlags): Promise<number> {
  const status = new StatusLine(io.stderr, io.stderr.isTTY === true && !flags.json);
  try {
    const { model, downloaded } = await pullTemplate(template, {
      store,
      signal: io.signal,
      onProgress: status.pull,
      confirmLicense: confirmOnTerminal(io, flags.acceptFlag),
      concurrency: flags.concurrency,
      progressIntervalMs: 200,
    });
    status.clear();
    if (flags.json) io.stdout.write(`${terminalJson({ id: template.id, repo: model.repo, commit: model.commit, dir: model.dir, downloaded, bytes: manifestBytes(model.manifest) })}\n`);
    else {
      const size = formatBytes(manifestBytes(model.manifest));
      io.stderr.write(`${downloaded ? downloadedLine(sizeOnlyNote(model.manifest)) : "already in the store"}: ${template.name} (${model.repo}@${model.commit.slice(0, 12)}, ${size}); easel models import uses it for ${ARCHITECTURE_LABELS[template.architecture]} checkpoints\n`);
      io.stdout.write(`${model.dir}\n`);
    }
    return 0;
  } finally {
    status.clear();
  }
}

/** `easel models pull taesd`: an explicit pull, which also clears an earlier --no-taesd. */
async function pullDecoderCommand(decoder: CatalogDecoder, store: ModelStore, io: CommandIo, json: boolean): Promise<number> {
  const outcome = await pullDecoder(decoder, { store, signal: io.signal });
  if (outcome.status !== "present" && outcome.status !== "downloaded") throw new EaselError("internal", `${decoder.name} was not fetched`);
  const dir = path.dirname(path.dirname(outcome.file));
  if (json) io.stdout.write(`${terminalJson({ id: decoder.id, repo: decoder.repo, file: outcome.file, downloaded: outcome.status === "downloaded" })}\n`);
  else {
    io.stderr.write(`${outcome.status === "downloaded" ? downloadedLine(outcome.sizeOnlyNote) : "already in the store"}: ${decoder.name} (${decoder.repo})\n`);
    io.stdout.write(`${dir}\n`);
  }
  return 0;
}

/** `easel models pull realesrgan-x4plus`: one ONNX file, pulled and verified like a model. */
/** `easel models pull ID` for a one-file catalog entry (a fast-mode LoRA, an upscaler): the file's path on stdout. */
async function pullFileCommand(entry: CatalogLora | CatalogUpscaler, store: ModelStore, io: CommandIo, json: boolean, otherwise: string): Promise<number> {
  const outcome = await pullSingleFile(entry, { store, signal: io.signal, otherwise });
  if (outcome.status === "declined") throw new EaselError("internal", `${entry.name} was not fetched`);
  if (json) io.stdout.write(`${terminalJson({ id: entry.id, repo: entry.repo, file: outcome.file, downloaded: outcome.status === "downloaded" })}\n`);
  else {
    io.stderr.write(`${outcome.status === "downloaded" ? downloadedLine(outcome.sizeOnlyNote) : "already in the store"}: ${entry.name} (${entry.repo}, ${entry.license.name})\n`);
    io.stdout.write(`${outcome.file}\n`);
  }
  return 0;
}

/** `store`: the area the pulled folders are in (the store itself, or its templates area). */
type Named = { kind: "pulled"; models: PulledModel[]; label: string; decoder: boolean; store: ModelStore } | { kind: "local"; model: LocalModel };

async function lookup(name: string, store: ModelStore): Promise<Named> {
  const local = (await store.listLocal()).find((l) => l.name === name);
  if (local) return { kind: "local", model: local };
  const template = findCatalogTemplate(name);
  if (template) {
    const pulled = await findPulledTemplate(store, template);
    if (!pulled) throw new EaselError("model-missing", `${name} is not in the store: download it with 'easel models pull ${name}'`);
    return { kind: "pulled", models: [pulled], label: name, decoder: false, store: store.templates() };
  }
  // One-file entries (decoders, background removers, upscalers) have no diffusers layout to verify.
  const decoder = findCatalogDecoder(name) ?? findCatalogBackgroundRemover(name) ?? findCatalogUpscaler(name);
  const entry: CatalogEntry | CatalogDecoder | CatalogBackgroundRemover | CatalogUpscaler | undefined = findCatalogEntry(name) ?? decoder;
  const ref = entry ? { repo: entry.repo, revision: entryRevision(entry) } : parseRepoRef(name);
  if (!ref) throw badArgument(`"${name}" is not a catalog id, owner/name[@rev] or an added folder: see 'easel models list'`);
  const pulled = await store.listPulled();
  const models = ref.revision === undefined && !entry ? pulled.filter((p) => p.repo === ref.repo) : [await store.findPulled(ref.repo, ref.revision)].filter((p): p is PulledModel => p !== undefined);
  if (models.length === 0) throw new EaselError("model-missing", `${name} is not in the store: download it with 'easel models pull ${name}'`);
  return { kind: "pulled", models, label: name, decoder: decoder !== undefined, store };
}

async function verify(name: string, store: ModelStore, io: CommandIo, hashes: boolean): Promise<number> {
  const named = await lookup(name, store);
  const targets = named.kind === "local" ? [{ dir: named.model.dir, label: named.model.name }] : named.models.map((m) => ({ dir: m.dir, label: `${m.repo}@${m.commit.slice(0, 12)}` }));
  let bad = 0;
  for (const t of targets) {
    const report = await verifyFolder(t.dir, await readManifest(t.dir), { hashes, layout: !(named.kind === "pulled" && named.decoder) });
    if (report.problems.length === 0) {
      const unpublished = report.hashed && report.sizeOnly > 0 ? `; ${report.sizeOnly} hashed at download, none published` : "";
      const how = report.hashed ? `${report.filesChecked} files, sizes and hashes${unpublished}` : report.filesChecked > 0 ? `${report.filesChecked} files, sizes` : "layout";
      io.stdout.write(`ok ${t.label} (${how})\n`);
    } else {
      bad++;
      for (const p of report.problems) io.stdout.write(`damaged ${t.label}: ${p}\n`);
    }
  }
  if (bad > 0) throw new EaselError("model-invalid", `${name} failed verification: remove it (easel models rm ${name}) and pull it again`);
  return 0;
}

async function remove(name: string, store: ModelStore, io: CommandIo): Promise<number> {
  const named = await lookup(name, store);
  if (named.kind === "local") {
    await store.removeLocal(named.model);
    // An imported model's folder is the store's own: it goes with the name.
    if (path.resolve(named.model.dir) === path.join(store.root, IMPORTED_FOLDER, named.model.name) && (await readImportRecord(named.model.dir))) {
      await store.removeFolder(named.model.dir);
      io.stderr.write(`removed ${named.model.name} (${named.model.dir})\n`);
      return 0;
    }
    io.stderr.write(`forgot ${named.model.name} (its files in ${named.model.dir} are left as they are)\n`);
    return 0;
  }
  for (const m of named.models) {
    await named.store.removePulled(m);
    io.stderr.write(`removed ${m.repo}@${m.commit.slice(0, 12)}\n`);
  }
  return 0;
}

async function add(dirArg: string, nameArg: string | undefined, store: ModelStore, io: CommandIo): Promise<number> {
  const dir = path.resolve(dirArg);
  const folder = await readModelFolder(dir);
  const name = nameArg ?? folder.name;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw badArgument(`"${name}" cannot name a model: use letters, digits, '.', '_' and '-' (--name NAME)`);
  // Models, decoders, LoRAs, upscalers and background removers share the catalog's ids: an added folder named like one would shadow it in verify and rm.
  if (findCatalogEntry(name) || findCatalogDecoder(name) || findCatalogLora(name) || findCatalogUpscaler(name) || findCatalogBackgroundRemover(name) || findCatalogTemplate(name)) throw badArgument(`"${name}" is a catalog id: choose another --name`);
  await store.addLocal(dir, name);
  io.stderr.write(`added ${name}: ${dir}\n`);
  io.stdout.write(`${name}\n`);
  return 0;
}

/**
 * `easel generate --model X`: a folder, catalog id, added folder or repo, downloaded first when
 * missing with the same licence prompt, progress and checks as `easel models pull`.
 */
export async function resolveModelForCli(
  spec: string,
  options: { readonly acceptLicense: boolean; readonly json: boolean; readonly provider?: ProviderName; readonly taesd: boolean; readonly store: ModelStore },
): Promise<ResolvedModel> {
  const interrupt = interruptSignal();
  const io: CommandIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, signal: interrupt.signal };
  const status = new StatusLine(process.stderr, process.stderr.isTTY && !options.json);
  try {
    const resolved = await resolveModel(spec, {
      store: options.store,
      signal: interrupt.signal,
      provider: options.provider,
      confirmLicense: confirmOnTerminal(io, options.acceptLicense),
      confirmDecoder: decoderAnswer(io, options.json),
      taesd: options.taesd,
      progressIntervalMs: 200,
      onProgress: status.pull,
    });
    status.clear();
    if (resolved.downloaded && !options.json) process.stderr.write(`${downloadedLine(resolved.sizeOnlyNote)}: ${resolved.dir}\n`);
    reportDecoder(io, resolved.decoder, options.json);
    return resolved;
  } finally {
    status.clear();
    interrupt.dispose();
  }
}

function choiceValue<T extends string>(values: Record<string, unknown>, name: string, choices: readonly T[]): T | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) throw badArgument(`--${name} must be ${choices.join(" or ")} (got "${String(v)}")`);
  return v as T;
}

interface ImportFlags {
  readonly name: string | undefined;
  readonly template: string | undefined;
  readonly dtype: ImportDtype | undefined;
  readonly prediction: Prediction | undefined;
  readonly json: boolean;
}

/** `easel models import FILE`: progress with an ETA on a terminal; Ctrl+C cancels and leaves no folder. */
async function importCommand(file: string, store: ModelStore, io: CommandIo, flags: ImportFlags): Promise<number> {
  const name = flags.name;
  if (name !== undefined && (findCatalogEntry(name) || findCatalogDecoder(name) || findCatalogTemplate(name))) throw badArgument(`"${name}" is a catalog id: choose another --name`);
  const templateDir = flags.template ?? (await findStoreTemplate(store, await checkpointArchitecture(file)));
  const status = new StatusLine(io.stderr, io.stderr.isTTY === true && !flags.json);
  try {
    const result = await importCheckpoint(file, {
      store,
      name,
      templateDir,
      dtype: flags.dtype,
      prediction: flags.prediction,
      signal: io.signal,
      verify: verifyImportedFolder,
      onProgress: (p) => {
        // --json: one JSON line per update on stderr, for the extension's progress notification.
        if (flags.json) io.stderr.write(`${progressLine(p)}\n`);
        status.show(progressMessage(p));
      },
    });
    status.clear();
    if (flags.json) io.stdout.write(`${terminalJson({ name: result.name, dir: result.dir, ...result.record })}\n`);
    else {
      io.stderr.write(`imported ${result.record.source} as ${result.name} (${result.record.baseModel}, ${result.record.dtype}, VAE from the ${result.record.vae}${result.record.vaeDtype && result.record.vaeDtype !== result.record.dtype ? ` in ${result.record.vaeDtype}` : ""}): easel generate --model ${result.name}\n`);
      io.stdout.write(`${result.dir}\n`);
    }
    return 0;
  } finally {
    status.clear();
  }
}
