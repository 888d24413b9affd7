// Before Easel: Import Checkpoint… runs the import: the graphs of the checkpoint's architecture must
// be in the store (a full catalog model or a graph-only template), else the user is offered the
// download the catalog has for it (the template, a few hundred MB instead of the model's GBs) or a
// template folder of their own. No `vscode` here: the command passes the dialogs in.
import type { CatalogEntry, CatalogTemplate } from "../engine/hub/catalog";
import type { ImportArchitecture } from "../engine/convert/architecture";
import type { StoreTemplate } from "../engine/convert/templates";

export type TemplateChoice = "download" | "folder";

export interface TemplateOfferDeps {
  /** The checkpoint's architecture; a file it cannot read is the import's to report (its one-line error). */
  readonly architectureOf: (file: string) => Promise<ImportArchitecture>;
  readonly lookUp: (architecture: ImportArchitecture) => Promise<StoreTemplate>;
  /** Asks whether to download `pull` (absent when the catalog has nothing for the architecture) or pick a folder. */
  readonly offer: (architecture: ImportArchitecture, pull: CatalogTemplate | CatalogEntry | undefined) => Promise<TemplateChoice | undefined>;
  readonly download: (pull: CatalogTemplate | CatalogEntry) => Promise<void>;
  readonly pickFolder: () => Promise<string | undefined>;
}

/**
 * The `--template` arguments the import runs with: none when the store has the graphs (or once the
 * offered download is done: the import finds it there), `--template DIR` for a folder the user
 * picked; undefined when the user backed out.
 */
export async function templateArgs(file: string, deps: TemplateOfferDeps): Promise<string[] | undefined> {
  let architecture: ImportArchitecture;
  try {
    architecture = await deps.architectureOf(file);
  } catch {
    return [];
  }
  const found = await deps.lookUp(architecture);
  if (found.found !== undefined) return [];
  const choice = await deps.offer(architecture, found.pull);
  if (choice === "download" && found.pull) {
    await deps.download(found.pull);
    return [];
  }
  if (choice === "folder") {
    const dir = await deps.pickFolder();
    return dir === undefined ? undefined : ["--template", dir];
  }
  return undefined;
}
