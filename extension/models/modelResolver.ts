// Turns the `easel.model` setting into a model folder, downloading a catalog or Hub model first
// (with progress, cancel, the licence shown once, and VS Code's proxy) when it is not there yet.
import * as path from "node:path";
import * as vscode from "vscode";
import { EaselError } from "../engine/errors";
import { type CatalogDecoder, type DecoderOutcome, describeLicense, formatBytes, formatProgressLine, ModelStore, resolveModel, type LicenseInfo, type PullProgress, type ResolveOptions } from "../engine/hub";
import type { ProviderName } from "../engine/onnx/providers";
import type { EaselSettings } from "../settings";
import { fireModelsChanged } from "./modelsChanged";

export interface ModelChoice {
  readonly dir: string;
  /** Shown in the UI and used for `${model}` in file names. */
  readonly name: string;
  /** Files accepted on their size alone (no hash published), in words; see sizeOnlyNote. */
  readonly sizeOnlyNote?: string;
}

export function modelStore(settings: EaselSettings): ModelStore {
  return ModelStore.open(settings.cacheFolder || undefined);
}

/** VS Code's `http.proxy`, when set, for downloads from the extension host. */
export function vscodeProxy(): string | undefined {
  const proxy = vscode.workspace.getConfiguration("http").get<string>("proxy");
  return proxy && proxy.trim() !== "" ? proxy.trim() : undefined;
}

/**
 * How the extension host resolves and downloads models: the user's store, VS Code's proxy, a
 * licence dialog. With `runsOn` (the provider the engine process found), a catalog model that
 * cannot run on it is refused before it is downloaded; Download Model… passes none (the user chose).
 */
export function hubOptions(settings: EaselSettings, signal: AbortSignal, onProgress?: (p: PullProgress) => void, runsOn?: ProviderName): ResolveOptions {
  return { store: modelStore(settings), proxy: vscodeProxy(), signal, confirmLicense: confirmLicenseDialog, confirmDecoder: confirmDecoderDialog, onProgress, provider: runsOn };
}

/**
 * Asked once, with the first model of a family: the TAESD decoder is small and makes previews
 * sharp and drafts fast. "Not now" is remembered by the store ('easel models pull taesd' fetches
 * it later).
 */
export async function confirmDecoderDialog(decoder: CatalogDecoder, bytes: number): Promise<boolean> {
  const download = `Download (${formatBytes(bytes)})`;
  const answer = await vscode.window.showInformationMessage(
    `Also download ${decoder.name} (${formatBytes(bytes)}, ${decoder.license.name}, from ${decoder.repo})? It shows sharp previews while an image is made and decodes fast drafts.`,
    { modal: true },
    download,
    "Not now",
  );
  return answer === download;
}

export async function confirmLicenseDialog(license: LicenseInfo, model: string): Promise<boolean> {
  const read = "Read the licence";
  const accept = "Accept";
  for (;;) {
    const answer = await vscode.window.showInformationMessage(describeLicense(license, model), { modal: true }, read, accept);
    if (answer === read) {
      await vscode.env.openExternal(vscode.Uri.parse(license.url));
      continue;
    }
    return answer === accept;
  }
}

/** The model is usable without its decoder, so a failed decoder download is a warning, not an error. */
export function warnIfDecoderFailed(outcome: DecoderOutcome | undefined): void {
  if (outcome?.status !== "failed") return;
  void vscode.window.showWarningMessage(`Easel: ${outcome.decoder.name} was not downloaded (${outcome.reason}); previews use the small approximation until it is.`);
}

/** `download` false: only a model already on this machine (an agent's call never starts a multi-GB download). */
export async function resolveModelChoice(settings: EaselSettings, signal: AbortSignal = new AbortController().signal, runsOn?: ProviderName, download = true): Promise<ModelChoice> {
  if (!settings.model) {
    throw new EaselError("model-missing", "no model is chosen yet: run 'Easel: Choose Model' to pick or download one");
  }
  const workspaceDir = vscode.workspace.workspaceFolders?.[0]?.uri.scheme === "file" ? vscode.workspace.workspaceFolders[0].uri.fsPath : undefined;
  // A model not downloaded yet is fetched first; its progress shows in the status bar.
  const resolved = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: "Easel" }, (progress) =>
    resolveModel(settings.model, {
      ...hubOptions(settings, signal, (p) => progress.report({ message: `downloading ${settings.model}: ${formatProgressLine(p)}` }), runsOn),
      cwd: workspaceDir,
      download,
    }),
  );
  if (resolved.downloaded) fireModelsChanged();
  warnIfDecoderFailed(resolved.decoder);
  return { dir: resolved.dir, name: resolved.entry?.id ?? path.basename(resolved.dir) };
}

/** Downloads a catalog or Hub model with a cancellable notification showing bytes, rate and ETA. */
export async function downloadWithProgress(settings: EaselSettings, spec: string): Promise<ModelChoice> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Easel: downloading ${spec}`, cancellable: true },
    async (progress, token) => {
      const controller = new AbortController();
      const sub = token.onCancellationRequested(() => controller.abort());
      let last = 0;
      try {
        const resolved = await resolveModel(
          spec,
          hubOptions(settings, controller.signal, (p) => {
            const pct = p.total > 0 ? (p.bytes / p.total) * 100 : 0;
            progress.report({ message: formatProgressLine(p), increment: pct - last });
            last = pct;
          }),
        );
        if (resolved.downloaded) fireModelsChanged();
        warnIfDecoderFailed(resolved.decoder);
        return { dir: resolved.dir, name: resolved.entry?.id ?? path.basename(resolved.dir), sizeOnlyNote: resolved.sizeOnlyNote };
      } finally {
        sub.dispose();
      }
    },
  );
}
