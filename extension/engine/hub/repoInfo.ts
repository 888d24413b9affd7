// What the Hub says about one revision of a repository: the commit it resolves to and every file
// with its size and hashes (`?blobs=true`, without which the Hub leaves sizes and hashes out).
import { EaselError, firstLine } from "../errors";
import { hubGet, NetworkError, readText } from "./httpClient";
import type { HubConfig } from "./hubConfig";
import { header, hubStatusError } from "./hubErrors";

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
  let text: string;
  let attempt = 0;
  for (;;) {
    try {
      const res = await hubGet(config, url, { Accept: "application/json" }, signal);
      if (res.status !== 200) {
        const body = await readText(res.body, 1 << 20).catch(() => "");
        throw hubStatusError(res.status, { repo, revision, what: "repository", body, retryAfter: header(res.headers["retry-after"]), errorCode: header(res.headers["x-error-code"]) });
      }
      text = await readText(res.body);
      break;
    } catch (error) {
      const retryable = error instanceof NetworkError || (error instanceof EaselError && error.retryable);
      if (!retryable || signal?.aborted || attempt >= config.retries) throw toEaselError(error, config);
      await delay(config.retryDelayMs * 2 ** attempt++, signal);
    }
  }
  return parseRevision(repo, revision, text);
}

export function parseRevision(repo: string, revision: string, text: string): RepoRevision {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EaselError("model-missing", `the Hub's answer for ${repo}@${revision} is not JSON (${firstLine(error)}): check HF_ENDPOINT`, true);
  }
  if (!isObject(json) || !str(json.sha) || !Array.isArray(json.siblings)) {
    throw new EaselError("model-missing", `the Hub's answer for ${repo}@${revision} has no commit or file list: check HF_ENDPOINT`, true);
  }
  const files: RepoFile[] = [];
  for (const s of json.siblings) {
    if (!isObject(s) || !str(s.rfilename)) continue;
    const lfs = isObject(s.lfs) ? s.lfs : undefined;
    const size = typeof s.size === "number" ? s.size : typeof lfs?.size === "number" ? lfs.size : undefined;
    if (size === undefined) {
      throw new EaselError("model-missing", `the Hub listed ${s.rfilename} of ${repo} without a size: the endpoint must answer ?blobs=true (check HF_ENDPOINT)`);
    }
    const sha = str(lfs?.sha256) ?? str(lfs?.oid)?.replace(/^sha256:/, "");
    files.push({ path: String(s.rfilename), size, blobId: str(s.blobId), sha256: sha?.toLowerCase() });
  }
  const card = isObject(json.cardData) ? json.cardData : undefined;
  const licenseTag = Array.isArray(json.tags) ? json.tags.map(str).find((t) => t?.startsWith("license:"))?.slice(8) : undefined;
  return {
    repo,
    commit: String(json.sha),
    files,
    license: { id: str(card?.license) ?? licenseTag, name: str(card?.license_name), url: str(card?.license_link) },
    gated: json.gated !== undefined && json.gated !== false,
  };
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
