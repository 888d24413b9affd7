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

// Licences whose terms allow commercial use (with their use restrictions, for the RAIL family).
const COMMERCIAL_OK = new Set(["mit", "apache-2.0", "bsd-3-clause", "creativeml-openrail-m", "openrail", "openrail++", "cc-by-4.0"]);

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
    const label = name ?? `the licence of ${rev.repo}`;
    return { key: `other:${name ?? rev.repo}`, name: label, url: url ?? page, commercialUse: undefined, note: "A custom licence: read it before using the model." };
  }
  return { key: id, name: id, url: url ?? page, commercialUse: COMMERCIAL_OK.has(id) ? true : undefined };
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
