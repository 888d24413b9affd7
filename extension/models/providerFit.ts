// Whether a catalog model can run on the provider Easel uses on this machine, as its catalog entry
// says: shown beside the model where users pick one, and asked about before a download that would
// fetch gigabytes this machine cannot run.
import * as vscode from "vscode";
import { type CatalogEntry, unsupportedReason } from "../engine/hub";
import { providerLabel, type ProviderName } from "../engine/onnx/providers";

export interface Misfit {
  readonly provider: ProviderName;
  /** The catalog's reason, e.g. "its model card says it cannot run on the CPU". */
  readonly reason: string;
}

export function misfitHere(entry: CatalogEntry | undefined, runsOn: ProviderName | undefined): Misfit | undefined {
  const reason = entry && runsOn ? unsupportedReason(entry, runsOn) : undefined;
  return reason !== undefined && runsOn ? { provider: runsOn, reason } : undefined;
}

/** "not for the CPU", for a picker's description. */
export function misfitNote(misfit: Misfit): string {
  return `not for ${providerLabel(misfit.provider)}, which Easel uses here`;
}

/** Asks before downloading a model that cannot run here (it may be meant for another machine). */
export async function confirmMisfitDownload(name: string, misfit: Misfit): Promise<boolean> {
  const anyway = "Download Anyway";
  const answer = await vscode.window.showWarningMessage(
    `${name} cannot run on ${providerLabel(misfit.provider)}, which Easel uses on this machine: ${misfit.reason}.`,
    { modal: true, detail: "Download it only to use it with another provider (the easel.provider setting) or on another machine that shares this model cache." },
    anyway,
  );
  return answer === anyway;
}
