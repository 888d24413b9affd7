// Hugging Face repository references as users type them: `owner/name` or `owner/name@revision`,
// and the folder name each pinned commit gets in the store.
import { badArgument, EaselError } from "../errors";

export interface RepoRef {
  readonly repo: string;
  /** A branch, tag or commit; undefined means the repo's default branch (`main`). */
  readonly revision: string | undefined;
}

// The Hub's own rule for names: letters, digits, `-`, `_`, `.`; no leading/trailing `-`/`.`, and
// never `--` or `..` (which is what makes `owner--name` a safe folder name).
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;
const COMMIT = /^[0-9a-f]{40}$/;

export function isRepoId(text: string): boolean {
  const parts = text.split("/");
  return parts.length === 2 && parts.every((p) => NAME.test(p) && !p.includes("..") && !p.includes("--"));
}

export function isCommitHash(text: string): boolean {
  return COMMIT.test(text);
}

/** A branch, tag or commit as git allows them (no `..`, no empty path segment): it goes into URLs and records. */
export function isRevision(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(text) && !text.includes("..") && !text.includes("//") && !text.endsWith("/");
}

/** `owner/name[@rev]`, or undefined when the text does not have that shape. */
export function parseRepoRef(text: string): RepoRef | undefined {
  const at = text.indexOf("@");
  const repo = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? undefined : text.slice(at + 1);
  if (!isRepoId(repo)) return undefined;
  if (revision !== undefined && !isRevision(revision)) return undefined;
  return { repo, revision };
}

export function requireRepoRef(text: string): RepoRef {
  const ref = parseRepoRef(text);
  if (!ref) throw badArgument(`"${text}" is not a Hugging Face repository: write owner/name or owner/name@revision`);
  return ref;
}

/**
 * `owner--name@<commit>`: `/` cannot appear in a folder name, and `--` cannot appear in a Hub name's
 * edges. Only a valid repo id and a full commit id make a name: anything else (a revision a server
 * sent, `..`) could name a folder outside the store.
 */
export function storeFolderName(repo: string, commit: string): string {
  if (!isRepoId(repo)) throw new EaselError("internal", `refusing to name a store folder after ${JSON.stringify(repo)}: not a Hugging Face repo id (owner/name)`);
  if (!isCommitHash(commit)) throw new EaselError("internal", `refusing to name a store folder after ${JSON.stringify(commit)}: not a 40-character hex commit id`);
  return `${repo.replace("/", "--")}@${commit}`;
}

/** The inverse of storeFolderName; undefined for folders the store did not make. */
export function parseStoreFolderName(folder: string): { repo: string; commit: string } | undefined {
  const m = /^([^/\\]+?)--([^/\\]+)@([0-9a-f]{40})$/.exec(folder);
  if (!m) return undefined;
  const repo = `${m[1]}/${m[2]}`;
  return isRepoId(repo) ? { repo, commit: m[3] } : undefined;
}
