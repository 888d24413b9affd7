// The Studio's model picker on the host side: the choices (catalog, folders, and whatever
// `easel.model` names), the chosen model's sizes and defaults, a folder whose tokenizer counts
// tokens, and downloads with their progress streamed into the panel. Picking a model sets
// `easel.model`, exactly as Easel: Choose Model does, so every entry point uses the same one.
import path from "node:path";
import * as vscode from "vscode";
import { downloadedLine, findCatalogEntry, formatProgressLine, resolveModel } from "../engine/hub";
import { availableModels } from "../models/modelCommands";
import type { ProviderName } from "../engine/onnx/providers";
import { hubOptions, modelStore, warnIfDecoderFailed } from "../models/modelResolver";
import { misfitNote } from "../models/providerFit";
import { downloadedUpscalers } from "../engine/upscale/upscalers";
import { LANCZOS_UPSCALER, type DownloadProgressMessage, type ModelGeometry, type ModelOption, type ModelsMessage, type UpscalerOption } from "../protocol/studioMessages";
import type { EaselSettings } from "../settings";
import { readModelGeometry } from "./modelGeometry";
import { locateModel } from "./modelLocator";

export interface ModelsState {
  readonly message: ModelsMessage;
  /** The configured model's folder, when it is on this machine. */
  readonly dir?: string;
  /** A folder whose tokenizer counts tokens: the configured model's, else any model at hand. */
  readonly tokenizerDir?: string;
}

function workspaceDir(): string | undefined {
  const first = vscode.workspace.workspaceFolders?.[0]?.uri;
  return first?.scheme === "file" ? first.fsPath : undefined;
}

export async function readModelsState(settings: EaselSettings, runsOn?: ProviderName): Promise<ModelsState> {
  const store = modelStore(settings);
  const available = await availableModels(settings, runsOn);
  const options: ModelOption[] = available.map((m) => ({
    spec: m.spec,
    label: m.name,
    detail: m.entry
      ? [...(m.misfit ? [misfitNote(m.misfit)] : []), m.entry.id, m.entry.family, ...(m.downloaded ? [] : ["download"])].join(" · ")
      : m.source === "hub"
        ? "downloaded from Hugging Face"
        : m.importedBase
          ? `imported checkpoint · ${m.importedBase}`
          : m.spec,
    source: m.entry ? "catalog" : "local",
    downloaded: m.downloaded,
    notForThisMachine: m.misfit !== undefined,
  }));
  const current = settings.model;
  if (current && !options.some((o) => o.spec === current)) {
    options.unshift({ spec: current, label: path.basename(current) || current, detail: current, source: "configured", downloaded: true });
  }
  const dir = await locateModel(current, store, workspaceDir());
  let tokenizerDir = dir;
  for (const m of available) {
    if (tokenizerDir) break;
    if (m.downloaded) tokenizerDir = await locateModel(m.spec, store);
  }
  const entry = findCatalogEntry(current);
  return {
    dir,
    tokenizerDir,
    message: {
      type: "models",
      models: options,
      current,
      geometry: withDefaultSize(await readModelGeometry(current, dir), settings),
      defaults: { steps: settings.defaults.steps ?? entry?.defaults.steps, guidance: settings.defaults.guidance ?? entry?.defaults.guidance },
    },
  };
}

export async function setConfiguredModel(spec: string): Promise<void> {
  await vscode.workspace.getConfiguration("easel").update("model", spec, vscode.ConfigurationTarget.Global);
}

/** Downloads (and verifies) a model that is not here yet, reporting progress; resolves when it is usable. */
export async function downloadModel(
  spec: string,
  settings: EaselSettings,
  signal: AbortSignal,
  report: (message: DownloadProgressMessage) => void,
  runsOn?: ProviderName,
): Promise<void> {
  report({ type: "download", spec, state: "running", line: "starting…" });
  const resolved = await resolveModel(spec, {
    ...hubOptions(settings, signal, (p) => report({ type: "download", spec, state: "running", fraction: p.total > 0 ? p.bytes / p.total : undefined, line: formatProgressLine(p) }), runsOn),
    cwd: workspaceDir(),
  });
  warnIfDecoderFailed(resolved.decoder);
  report({ type: "download", spec, state: "done", fraction: 1, line: downloadedLine(resolved.sizeOnlyNote) });
}

/** The "default" size is what a generation without a size gets: the user's setting, else the model's. */
function withDefaultSize(geometry: ModelGeometry, settings: EaselSettings): ModelGeometry {
  const { width, height } = settings.defaults;
  if (width === undefined && height === undefined) return geometry;
  return { ...geometry, defaultWidth: width ?? geometry.defaultWidth, defaultHeight: height ?? geometry.defaultHeight };
}

/** The hires fix's upscalers: Lanczos, then the catalog's super-resolution models in the store (by the name `Hires upscaler` records). */
export async function readUpscalerOptions(settings: EaselSettings): Promise<UpscalerOption[]> {
  const models = await downloadedUpscalers(modelStore(settings));
  return [
    { name: LANCZOS_UPSCALER, label: "Lanczos (no model)" },
    ...models.map((u) => ({ name: u.name, label: `${u.name} · ${u.scale}× super-resolution` })),
  ];
}
