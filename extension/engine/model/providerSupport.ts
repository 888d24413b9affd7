// Whether a model can run on the chosen provider, said before its sessions load: a catalog model
// whose card says it cannot run there is refused with the card's reason, instead of failing deep
// inside ONNX Runtime after seconds of loading.
import { EaselError } from "../errors";
import { catalogEntryForPull, type CatalogEntry, unsupportedReason } from "../hub/catalog";
import { providerLabel, type ProviderName } from "../onnx/providers";
import type { ModelFolder } from "./modelFolder";

export function checkProviderSupport(folder: ModelFolder, provider: ProviderName): void {
  const entry = folder.pulled ? catalogEntryForPull(folder.pulled) : undefined;
  if (entry) checkCatalogProvider(entry, provider);
}

/** Also called before a catalog model is downloaded, so nobody fetches gigabytes that cannot run. */
export function checkCatalogProvider(entry: CatalogEntry, provider: ProviderName): void {
  const reason = unsupportedReason(entry, provider);
  if (reason === undefined) return;
  const known = entry.providers.known.filter((p) => p !== provider);
  const instead =
    known.length > 0
      ? `set easel.provider (CLI: --provider) to ${known.join(" or ")} on a machine that has ${known.length > 1 ? "one" : "it"}, or choose a model that runs on ${providerLabel(provider)}`
      : `choose a model that runs on ${providerLabel(provider)}`;
  throw new EaselError("model-unsupported", `${entry.name} (${entry.repo}) cannot run on ${providerLabel(provider)}: ${reason}; ${instead} (easel models list)`);
}
