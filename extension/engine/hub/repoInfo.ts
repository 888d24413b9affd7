// What the Hub says about one revision of a repository: the commit it resolves to and every file
// with its size and hashes (`?blobs=true`, without which the Hub leaves sizes and hashes out).
// Nothing in an answer is trusted until checked: the commit and file names become paths.
import { EaselError, firstLine } from "../errors";
import { hubGet, NetworkError, readText } from "./httpClient";
import type { HubConfig } from "./hubConfig";
import { header, hubStatusError, type StatusContext } from "./hubErrors";
import { isCommitHash } from "./repoId";
import { quoteValue, relativePathProblem } from "../safePath";

export interface RepoFile {
  readonly path: string;
  readonly size: number;
  /** The git object id: for LFS files that of the pointer, for the others that of the content. */
  readonly blobId: string | undefined;
  /** LFS files only: the sha256 of the content. */
  readonly sha256: string | undefined;
}

export interface RepoLicense {
  /** An SPDX-like id from the model card (`mit`, `creativeml-openrail-m`, `other`…), or undefined. */
  readonly id: string | undefined;
  readonly name: string | undefined;
  readonly url: string | undefined;
}

export interface RepoRevision {
  readonly repo: string;
  readonly commit: string;
  readonly files: readonly RepoFile[];
  readonly license: RepoLicense;
  readonly gated: boolean;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export function revisionUrl(config: HubConfig, repo: string, revision: string): URL {
  return new URL(`${config.endpoint.pathname.replace(/\/$/, "")}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`, config.endpoint);
}

export async function fetchRevision(config: HubConfig, repo: string, revision: string, signal?: AbortSignal): Promise<RepoRevision> {
  const url = revisionUrl(config, repo, revision);
  const { text } = await getApiText(config, url, { repo, revision, what: "repository" }, signal);
  return parseRevision(repo, revision, text, withoutCredentials(url));
}

/** One API GET with the retries a pull uses; a status other than 200 is the usual one-line error. */
async function getApiText(config: HubConfig, url: URL, context: StatusContext, signal: AbortSignal | undefined): Promise<{ text: string; link: string | undefined }> {
  let attempt = 0;
  for (;;) {
    try {
      const res = await hubGet(config, url, { Accept: "application/json" }, signal);
      if (res.status !== 200) {
        const body = await readText(res.body, 1 << 20).catch(() => "");
        throw hubStatusError(res.status, { ...context, body, retryAfter: header(res.headers["retry-after"]), errorCode: header(res.headers["x-error-code"]) });
      }
      return { text: await readText(res.body), link: header(res.headers.link) };
    } catch (error) {
      const retryable = error instanceof NetworkError || (error instanceof EaselError && error.retryable);
      if (!retryable || signal?.aborted || attempt >= config.retries) throw toEaselError(error, config);
      await delay(config.retryDelayMs * 2 ** attempt++, signal);
    }
  }
}

/** Hashes the tree API adds for a file: the LFS sha256, or the git blob id of a file kept in git. */
export interface TreeHashes {
  readonly sha256?: string;
  readonly blobId?: string;
}

/** No repository Easel pulls has anywhere near this many pages of files; a server that keeps paging is refused. */
const MAX_TREE_PAGES = 50;

/**
 * For files the revision listing gave no hash: the tree API (`/api/models/{repo}/tree/{commit}`,
 * what huggingface_hub's list_repo_tree reads) lists each file's git `oid` and, for LFS files,
 * `lfs.oid` (the content's sha256). Undefined when the endpoint has no such API (a minimal
 * mirror): the files are then checked by size alone, and said to be. Its values are checked like
 * the listing's, and a size that disagrees with the listing is refused.
 */
export async function fetchTreeHashes(config: HubConfig, info: RepoRevision, wanted: readonly RepoFile[], signal?: AbortSignal): Promise<Map<string, TreeHashes> | undefined> {
  const want = new Map(wanted.map((f) => [f.path, f]));
  const out = new Map<string, TreeHashes>();
  let url: URL | undefined = new URL(`${config.endpoint.pathname.replace(/\/$/, "")}/api/models/${info.repo}/tree/${info.commit}?recursive=true`, config.endpoint);
  for (let page = 0; url && out.size < want.size; page++) {
    if (page >= MAX_TREE_PAGES) untrustedAnswer(withoutCredentials(url), `${info.repo}@${info.commit}`, "yet another page of its file tree after", MAX_TREE_PAGES, "no model repository has that many files");
    let answer: { text: string; link: string | undefined };
    try {
      answer = await getApiText(config, url, { repo: info.repo, revision: info.commit, what: "repository" }, signal);
    } catch (error) {
      // A mirror without the tree API: fall back to sizes only. Cancelling still cancels.
      if (signal?.aborted) throw error;
      return undefined;
    }
    let entries: unknown;
    try {
      entries = JSON.parse(answer.text);
    } catch {
      return undefined;
    }
    if (!Array.isArray(entries)) return undefined;
    const source = withoutCredentials(url);
    const refuse = (what: string, value: unknown, problem: string) => untrustedAnswer(source, `${info.repo}@${info.commit}`, what, value, problem);
    for (const e of entries) {
      if (!isObject(e) || e.type !== "file") continue;
      const problem = relativePathProblem(e.path);
      if (problem !== undefined) refuse("a file name (path)", e.path, `it ${problem}; a file name must be a relative path inside the repository`);
      const file = want.get(e.path as string);
      if (!file) continue;
      if (e.size !== file.size) refuse(`the size of ${file.path}`, e.size, `the revision listing says ${file.size} bytes`);
      const lfs = isObject(e.lfs) ? e.lfs : undefined;
      if (lfs) {
        const sha = typeof lfs.oid === "string" ? lfs.oid.replace(/^sha256:/, "") : lfs.oid;
        if (!(typeof sha === "string" && SHA256.test(sha))) refuse(`the sha256 (lfs.oid) of ${file.path}`, lfs.oid, "not 64 hex digits");
        out.set(file.path, { sha256: (sha as string).toLowerCase() });
      } else {
        if (!(typeof e.oid === "string" && GIT_OID.test(e.oid))) refuse(`the blob id (oid) of ${file.path}`, e.oid, "not 40 hex digits");
        out.set(file.path, { blobId: (e.oid as string).toLowerCase() });
      }
    }
    url = nextPage(answer.link, url);
  }
  return out;
}

/** A URL for an error line: an endpoint's `user:password@` never goes into one. */
function withoutCredentials(url: URL): string {
  const shown = new URL(url.href);
  shown.username = "";
  shown.password = "";
  return shown.href;
}

/** The `rel="next"` page of a Link header, on the same host only (where the token may go). */
function nextPage(link: string | undefined, current: URL): URL | undefined {
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link ?? "");
  if (!m) return undefined;
  let next: URL;
  try {
    next = new URL(m[1], current);
  } catch {
    return undefined;
  }
  return next.origin === current.origin ? next : undefined;
}

/**
 * Checks and reads the revision API's answer. Everything in it is untrusted until checked here:
 * the commit and each file name become paths in the store, the sizes and hashes decide what is
 * accepted. `source` (the URL asked) names the endpoint in errors.
 */
export function parseRevision(repo: string, revision: string, text: string, source = "the Hub"): RepoRevision {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EaselError("model-missing", `the Hub's answer for ${repo}@${revision} is not JSON (${firstLine(error)}): check HF_ENDPOINT`, true);
  }
  if (!isObject(json) || !str(json.sha) || !Array.isArray(json.siblings)) {
    throw new EaselError("model-missing", `the Hub's answer for ${repo}@${revision} has no commit or file list: check HF_ENDPOINT`, true);
  }
  const refuse = (what: string, value: unknown, problem: string) => untrustedAnswer(source, `${repo}@${revision}`, what, value, problem);
  const commit = String(json.sha);
  if (!isCommitHash(commit)) refuse("the commit (sha)", commit, "not a 40-character lowercase hex commit id");
  if (isCommitHash(revision) && commit !== revision) refuse("the commit (sha)", commit, `the commit ${revision} was asked for`);
  const files = new Map<string, RepoFile>();
  for (const s of json.siblings) {
    if (!isObject(s)) return refuse("a file entry", s, "not an object");
    const name = s.rfilename;
    const nameProblem = relativePathProblem(name);
    if (nameProblem !== undefined) refuse("a file name (rfilename)", name, `it ${nameProblem}; a file name must be a relative path inside the repository`);
    const filePath = name as string;
    const lfs = isObject(s.lfs) ? s.lfs : undefined;
    const rawSize = s.size ?? lfs?.size;
    if (rawSize === undefined) {
      throw new EaselError("model-missing", `the Hub listed ${filePath} of ${repo} without a size: the endpoint must answer ?blobs=true (check HF_ENDPOINT)`);
    }
    if (!isByteCount(rawSize)) refuse(`the size of ${filePath}`, rawSize, "not a whole number of bytes");
    const size = rawSize as number;
    if (lfs?.size !== undefined && lfs.size !== size) refuse(`the LFS size of ${filePath}`, lfs.size, `the listing also says ${size} bytes`);
    const rawSha = lfs?.sha256 ?? (typeof lfs?.oid === "string" ? lfs.oid.replace(/^sha256:/, "") : undefined);
    if (rawSha !== undefined && !(typeof rawSha === "string" && SHA256.test(rawSha))) refuse(`the sha256 of ${filePath}`, rawSha, "not 64 hex digits");
    const rawBlob = s.blobId;
    if (rawBlob !== undefined && !(typeof rawBlob === "string" && GIT_OID.test(rawBlob))) refuse(`the blob id of ${filePath}`, rawBlob, "not 40 hex digits");
    const file: RepoFile = { path: filePath, size, blobId: (rawBlob as string | undefined)?.toLowerCase(), sha256: (rawSha as string | undefined)?.toLowerCase() };
    const twin = files.get(filePath);
    if (twin) {
      // The same entry listed twice is harmless; two different files under one name cannot both be right.
      if (twin.size !== file.size || twin.sha256 !== file.sha256 || twin.blobId !== file.blobId) refuse("a file name listed twice with different sizes or hashes", filePath, "one name, two files");
      continue;
    }
    files.set(filePath, file);
  }
  const card = isObject(json.cardData) ? json.cardData : undefined;
  const licenseTag = Array.isArray(json.tags) ? json.tags.map(str).find((t) => t?.startsWith("license:"))?.slice(8) : undefined;
  return {
    repo,
    commit,
    files: [...files.values()],
    license: { id: str(card?.license) ?? licenseTag, name: str(card?.license_name), url: str(card?.license_link) },
    gated: json.gated !== undefined && json.gated !== false,
  };
}

const SHA256 = /^[0-9a-fA-F]{64}$/;
const GIT_OID = /^[0-9a-fA-F]{40}$/;

/** A size the Hub may list: a non-negative whole number JavaScript holds exactly. */
export function isByteCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** One line naming the endpoint and the value it sent that Easel will not use. */
export function untrustedAnswer(source: string, subject: string, what: string, value: unknown, problem: string): never {
  throw new EaselError("model-missing", `${source} answered ${what} ${quoteValue(value)} for ${subject} (${problem}): Easel refuses to use it; check that HF_ENDPOINT is the Hugging Face Hub or a faithful mirror`);
}

export function toEaselError(error: unknown, config: HubConfig): unknown {
  if (error instanceof NetworkError) {
    const via = config.proxy ? ` through proxy ${config.proxy.host}` : "";
    return new EaselError("model-missing", `cannot reach ${config.endpoint.host}${via} (${error.message}): check the connection (or HTTPS_PROXY / HF_ENDPOINT) and pull again`, true);
  }
  return error;
}

export function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.min(ms, 30_000));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
