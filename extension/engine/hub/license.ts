// Licences are shown before a download and accepted once per licence (not per model): accepting
// CreativeML Open RAIL-M for SD 1.5 covers every other model under it.
import { EaselError } from "../errors";
import type { CatalogEntry } from "./catalog";
import type { RepoRevision } from "./repoInfo";
import type { ModelStore } from "./store";

export interface LicenseInfo {
  /** What acceptance is recorded under. */
  readonly key: string;
  readonly name: string;
  readonly url: string;
  /** undefined when Easel does not know the terms: the user must read them. */
  readonly commercialUse: boolean | undefined;
  readonly note?: string;
}

/** Answers whether the user accepts a licence: a terminal prompt, a dialog, or a flag. */
export type ConfirmLicense = (license: LicenseInfo, model: string) => Promise<boolean>;

// The Hub's licence ids that Easel can name and say the commercial terms of (the RAIL family
// allows commercial use under its use restrictions). Others are shown by id, terms unknown.
const KNOWN_LICENSES: Readonly<Record<string, { readonly name: string; readonly commercialUse: boolean }>> = {
  mit: { name: "the MIT License", commercialUse: true },
  "apache-2.0": { name: "the Apache License 2.0", commercialUse: true },
  "bsd-3-clause": { name: "the BSD 3-Clause License", commercialUse: true },
  "creativeml-openrail-m": { name: "CreativeML Open RAIL-M", commercialUse: true },
  openrail: { name: "Open RAIL", commercialUse: true },
  "openrail++": { name: "CreativeML Open RAIL++-M", commercialUse: true },
  "cc-by-4.0": { name: "CC BY 4.0", commercialUse: true },
  "cc-by-nc-4.0": { name: "CC BY-NC 4.0", commercialUse: false },
  "cc-by-nc-sa-4.0": { name: "CC BY-NC-SA 4.0", commercialUse: false },
  // Stability AI's non-commercial community licence, which repos declare as license_name under "other".
  "sai-nc-community": { name: "the Stability AI Non-Commercial Research Community License", commercialUse: false },
};

export function licenseFromCatalog(entry: CatalogEntry): LicenseInfo {
  const l = entry.license;
  return { key: l.id, name: l.name, url: l.url, commercialUse: l.commercialUse, note: l.note };
}

export function licenseFromRepo(rev: RepoRevision): LicenseInfo {
  const page = `https://huggingface.co/${rev.repo}`;
  const { id, name, url } = rev.license;
  if (id === undefined) {
    return { key: `repo:${rev.repo}`, name: `no licence declared by ${rev.repo}`, url: page, commercialUse: undefined, note: "Read the model card before using the model." };
  }
  if (id === "other") {
    const known = name ? KNOWN_LICENSES[name] : undefined;
    if (known && name) return { key: name, name: known.name, url: url ?? page, commercialUse: known.commercialUse };
    const label = name ?? `the licence of ${rev.repo}`;
    return { key: `other:${name ?? rev.repo}`, name: label, url: url ?? page, commercialUse: undefined, note: "A custom licence: read it before using the model." };
  }
  const known = KNOWN_LICENSES[id];
  return { key: id, name: known?.name ?? id, url: url ?? page, commercialUse: known?.commercialUse };
}

export function describeLicense(license: LicenseInfo, model: string): string {
  const use =
    license.commercialUse === false
      ? "NON-COMMERCIAL use only."
      : license.commercialUse === true
        ? "Commercial use allowed under its terms."
        : "Check its terms before commercial use.";
  return [`${model} is licensed under ${license.name}: ${license.url}`, use, ...(license.note ? [license.note] : [])].join("\n");
}

/** Returns when the licence was accepted before or is accepted now; otherwise throws one clear line. */
export async function ensureLicenseAccepted(store: ModelStore, license: LicenseInfo, model: string, confirm: ConfirmLicense | undefined): Promise<void> {
  if (await store.isLicenseAccepted(license.key)) return;
  if (confirm && (await confirm(license, model))) {
    await store.acceptLicense(license.key);
    return;
  }
  const nc = license.commercialUse === false ? " (non-commercial use only)" : "";
  throw new EaselError("bad-argument", `${model} needs its licence accepted first: read ${license.name}${nc} at ${license.url}, then run again with --accept-license`);
}
