// The model store: pulled folders (`owner--name@commit`), the partial downloads beside them, and
// small JSON records: user-added local folders, which commit a branch resolved to, and accepted licences.
import { promises as fs } from "node:fs";
import path from "node:path";
import { EaselError, firstLine } from "../errors";
import { writeFileAtomic } from "../image/atomicWrite";
import { assertStrictlyInside } from "../safePath";
import { type Manifest, MANIFEST_NAME, readManifest } from "./manifest";
import { isCommitHash, parseStoreFolderName, storeFolderName } from "./repoId";
import { defaultStoreRoot } from "./storePaths";

export interface PulledModel {
  readonly kind: "pulled";
  readonly repo: string;
  readonly commit: string;
  readonly dir: string;
  readonly manifest: Manifest;
}

export interface LocalModel {
  readonly kind: "local";
  readonly name: string;
  readonly dir: string;
}

const PARTIAL = ".partial";
const LOCAL_FILE = "local.json";
const REFS_FILE = "refs.json";
const LICENSES_FILE = "licenses.json";
const DECODERS_FILE = "decoders.json";
const TEMPLATES = "templates";

export class ModelStore {
  /** `parent`: the store a templates area belongs to, which keeps the accepted licences. */
  constructor(
    readonly root: string,
    private readonly parent?: ModelStore,
  ) {}

  /**
   * The area graph-only import templates are pulled into (`templates/owner--name@commit`): a store
   * of its own, so a template is never taken for the full model of the same commit, and its branch
   * records never move which commit a model's branch names. Licences are the parent store's.
   */
  templates(): ModelStore {
    return new ModelStore(path.join(this.root, TEMPLATES), this);
  }

  static open(root?: string): ModelStore {
    return new ModelStore(path.resolve(root ?? defaultStoreRoot()));
  }

  folderFor(repo: string, commit: string): string {
    return assertStrictlyInside(this.root, path.join(this.root, storeFolderName(repo, commit)), "a model folder");
  }

  partialFor(repo: string, commit: string): string {
    return assertStrictlyInside(path.join(this.root, PARTIAL), path.join(this.root, PARTIAL, storeFolderName(repo, commit)), "a partial download");
  }

  /**
   * Removes a folder the store made (a model or its partial download), after checking it is one:
   * strictly inside the store, whatever path a caller or a file handed over.
   */
  async removeFolder(dir: string): Promise<void> {
    await fs.rm(assertStrictlyInside(this.root, dir, "a folder Easel removes"), { recursive: true, force: true });
  }

  async ensureRoot(): Promise<void> {
    try {
      await fs.mkdir(path.join(this.root, PARTIAL), { recursive: true });
    } catch (error) {
      throw new EaselError("output-unwritable", `cannot create the model store ${this.root} (${(error as NodeJS.ErrnoException).code ?? firstLine(error)}): set EASEL_HOME to a writable folder`);
    }
  }

  /** Complete pulled folders only: a folder without its manifest was never finished. */
  async listPulled(): Promise<PulledModel[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.root);
    } catch {
      return [];
    }
    const out: PulledModel[] = [];
    for (const name of names.sort()) {
      const parsed = parseStoreFolderName(name);
      if (!parsed) continue;
      const dir = path.join(this.root, name);
      const manifest = await readManifest(dir);
      if (manifest && manifest.repo === parsed.repo && manifest.commit === parsed.commit) out.push({ kind: "pulled", ...parsed, dir, manifest });
    }
    return out;
  }

  /**
   * A pulled folder for `repo[@revision]` without asking the network: a commit matches exactly, a
   * branch or tag through what it resolved to at its last pull, no revision the newest pull.
   * `listed`: the store's listPulled() when the caller already has it (looking up many at once).
   */
  async findPulled(repo: string, revision?: string, listed?: readonly PulledModel[]): Promise<PulledModel | undefined> {
    const pulled = (listed ?? (await this.listPulled())).filter((p) => p.repo === repo);
    if (revision === undefined) return pulled.sort((a, b) => b.manifest.pulledAt.localeCompare(a.manifest.pulledAt))[0];
    if (isCommitHash(revision)) return pulled.find((p) => p.commit === revision);
    const commit = (await this.readJson(REFS_FILE))[`${repo}@${revision}`];
    return typeof commit === "string" ? pulled.find((p) => p.commit === commit) : undefined;
  }

  async recordRef(repo: string, revision: string, commit: string): Promise<void> {
    if (isCommitHash(revision)) return;
    const refs = await this.readJson(REFS_FILE);
    refs[`${repo}@${revision}`] = commit;
    await this.writeJson(REFS_FILE, refs);
  }

  async removePulled(model: PulledModel): Promise<void> {
    // Only the folder the store itself names for this repo and commit: a `dir` that says otherwise is refused.
    const dir = this.folderFor(model.repo, model.commit);
    if (path.resolve(model.dir) !== dir) throw new EaselError("internal", `refusing to remove ${model.dir}: the store keeps ${model.repo}@${model.commit} in ${dir}`);
    // The manifest goes first: a folder interrupted half-way through removal is no longer "complete".
    await fs.rm(path.join(dir, MANIFEST_NAME), { force: true });
    await this.removeFolder(dir);
    await this.removeFolder(this.partialFor(model.repo, model.commit));
  }

  async listLocal(): Promise<LocalModel[]> {
    const data = await this.readJson(LOCAL_FILE);
    const folders = Array.isArray(data.folders) ? data.folders : [];
    const out: LocalModel[] = [];
    for (const f of folders) {
      if (typeof f === "object" && f !== null && typeof (f as LocalModel).name === "string" && typeof (f as LocalModel).dir === "string") {
        out.push({ kind: "local", name: (f as LocalModel).name, dir: (f as LocalModel).dir });
      }
    }
    return out;
  }

  async addLocal(dir: string, name: string): Promise<LocalModel> {
    const local = await this.listLocal();
    const clash = local.find((l) => l.name === name && l.dir !== dir);
    if (clash) throw new EaselError("bad-argument", `a local model named "${name}" already points to ${clash.dir}: remove it first (easel models rm ${name}) or add this one under another --name`);
    const next = [...local.filter((l) => l.dir !== dir), { kind: "local" as const, name, dir }];
    await this.writeJson(LOCAL_FILE, { folders: next.map((l) => ({ name: l.name, dir: l.dir })) });
    return { kind: "local", name, dir };
  }

  /** Forgets a local folder; its files are the user's and stay where they are. */
  async removeLocal(model: LocalModel): Promise<void> {
    const next = (await this.listLocal()).filter((l) => l.name !== model.name);
    await this.writeJson(LOCAL_FILE, { folders: next.map((l) => ({ name: l.name, dir: l.dir })) });
  }

  async isLicenseAccepted(key: string): Promise<boolean> {
    if (this.parent) return this.parent.isLicenseAccepted(key);
    const accepted = (await this.readJson(LICENSES_FILE)).accepted;
    return typeof accepted === "object" && accepted !== null && key in accepted;
  }

  async acceptLicense(key: string): Promise<void> {
    if (this.parent) return this.parent.acceptLicense(key);
    const data = await this.readJson(LICENSES_FILE);
    const accepted = typeof data.accepted === "object" && data.accepted !== null ? (data.accepted as Record<string, unknown>) : {};
    accepted[key] = new Date().toISOString();
    await this.writeJson(LICENSES_FILE, { accepted });
  }

  /** True when the user said no to fetching this decoder (asked once; an explicit pull clears it). */
  async isDecoderDeclined(id: string): Promise<boolean> {
    const declined = (await this.readJson(DECODERS_FILE)).declined;
    return typeof declined === "object" && declined !== null && id in declined;
  }

  async recordDecoderChoice(id: string, declined: boolean): Promise<void> {
    const data = await this.readJson(DECODERS_FILE);
    const record = typeof data.declined === "object" && data.declined !== null ? (data.declined as Record<string, unknown>) : {};
    if (declined) record[id] = new Date().toISOString();
    else if (id in record) delete record[id];
    else return;
    await this.writeJson(DECODERS_FILE, { declined: record });
  }

  private async readJson(name: string): Promise<Record<string, unknown>> {
    try {
      const value: unknown = JSON.parse(await fs.readFile(path.join(this.root, name), "utf8"));
      return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }

  private async writeJson(name: string, value: unknown): Promise<void> {
    await this.ensureRoot();
    await writeFileAtomic(path.join(this.root, name), Buffer.from(`${JSON.stringify(value, null, 2)}\n`));
  }
}
