// A NuGet v3 feed, read as far as fetching one package needs (https://learn.microsoft.com/nuget/api/overview):
// the service index names the resources; the registration leaf of id@version points at its catalog
// leaf, which publishes the package's size and SHA-512 (`packageHash`, base64); the flat container
// (PackageBaseAddress) serves the .nupkg. Requests go through the Hub's HTTP client (proxy,
// NO_PROXY, redirects, stall timer); no token is ever sent to the feed.
import { gunzipSync } from "node:zlib";
import { EaselError, firstLine } from "../errors";
import { hubGet, NetworkError, readBody } from "../hub/httpClient";
import { hubConfig, type HubConfig, httpUrl } from "../hub/hubConfig";
import { header } from "../hub/hubErrors";
import { delay } from "../hub/repoInfo";
import { quoteValue } from "../safePath";

export const NUGET_ENDPOINT_ENV = "EASEL_NUGET_ENDPOINT";
export const DEFAULT_NUGET_ENDPOINT = "https://api.nuget.org/v3/index.json";

export interface NugetOptions {
  /** The feed's service index URL; default `EASEL_NUGET_ENDPOINT`, else nuget.org's. */
  readonly endpoint?: string;
  /** As for Hub downloads: default HTTPS_PROXY / HTTP_PROXY; the extension passes VS Code's `http.proxy`. */
  readonly proxy?: string;
  readonly noProxy?: string;
  readonly stallTimeoutMs?: number;
  readonly retries?: number;
  readonly retryDelayMs?: number;
}

/** The HTTP settings for the feed: the Hub's, with the feed as endpoint and never a token. */
export function nugetConfig(options: NugetOptions = {}, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const fromEnv = env[NUGET_ENDPOINT_ENV]?.trim();
  const text = options.endpoint ?? (fromEnv ? fromEnv : DEFAULT_NUGET_ENDPOINT);
  const endpoint = httpUrl(text, options.endpoint !== undefined ? "the NuGet feed" : fromEnv ? NUGET_ENDPOINT_ENV : "the NuGet feed", DEFAULT_NUGET_ENDPOINT);
  // hubConfig reads HF_TOKEN; the feed never gets it.
  return { ...hubConfig({ ...options, endpoint: endpoint.href }, env), endpoint, token: undefined };
}

export interface NugetPackage {
  readonly id: string;
  readonly version: string;
  /** The .nupkg in the feed's flat container. */
  readonly url: URL;
  readonly size: number;
  /** The feed's packageHash, as hex. */
  readonly sha512: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Finds id@version on the feed with its published size and hash; throws one line when it cannot. */
export async function resolveNugetPackage(config: HubConfig, id: string, version: string, signal?: AbortSignal): Promise<NugetPackage> {
  const feed = config.endpoint.host;
  const index = await getJson(config, config.endpoint, `the service index of ${feed}`, signal);
  const resources = Array.isArray(index.resources) ? index.resources.filter(isObject) : [];
  const base = (type: string) => {
    const hit = resources.find((r) => typeof r["@type"] === "string" && r["@type"].startsWith(type) && typeof r["@id"] === "string");
    if (!hit) throw new EaselError("provider-unavailable", `${config.endpoint.href} is not a NuGet v3 feed with ${type} (its service index lists none): check ${NUGET_ENDPOINT_ENV}`);
    return feedUrl(String(hit["@id"]).replace(/\/?$/, "/"), config.endpoint);
  };
  const flat = base("PackageBaseAddress/3.0.0");
  const registrations = base("RegistrationsBaseUrl");
  const lowerId = id.toLowerCase();
  const lowerVersion = version.toLowerCase();
  const label = `${id} ${version}`;

  const leaf = await getJson(config, new URL(`${lowerId}/${lowerVersion}.json`, registrations), label, signal, true);
  const entry = leaf.catalogEntry;
  const catalog = isObject(entry) && typeof entry.packageHash === "string" ? entry : typeof entry === "string" ? await getJson(config, feedUrl(entry, config.endpoint), `the catalog entry of ${label}`, signal) : undefined;
  if (!catalog) throw new EaselError("provider-unavailable", `${feed} lists ${label} without a catalog entry, so its hash cannot be checked: Easel installs only verified packages; use nuget.org (unset ${NUGET_ENDPOINT_ENV})`);
  const algorithm = String(catalog.packageHashAlgorithm ?? "");
  const hash = typeof catalog.packageHash === "string" ? Buffer.from(catalog.packageHash, "base64") : Buffer.alloc(0);
  const size = catalog.packageSize;
  if (algorithm.toUpperCase() !== "SHA512" || hash.length !== 64 || typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0) {
    throw new EaselError("provider-unavailable", `${feed} publishes no usable SHA-512 and size for ${label} (packageHashAlgorithm ${quoteValue(algorithm)}): Easel installs only verified packages; use nuget.org (unset ${NUGET_ENDPOINT_ENV})`);
  }
  const file = `${lowerId}.${lowerVersion}.nupkg`;
  return { id, version, url: new URL(`${lowerId}/${lowerVersion}/${encodeURIComponent(file)}`, flat), size, sha512: hash.toString("hex") };
}

/** A URL from the feed's JSON: http(s) only, and https stays https. */
function feedUrl(text: string, from: URL): URL {
  let url: URL | undefined;
  try {
    url = new URL(text, from);
  } catch {
    url = undefined;
  }
  if (!url || !(url.protocol === "https:" || (url.protocol === "http:" && from.protocol === "http:"))) {
    throw new EaselError("provider-unavailable", `the NuGet feed ${from.host} points at ${quoteValue(text)}, not an http(s) URL Easel follows: check ${NUGET_ENDPOINT_ENV}`);
  }
  return url;
}

/** One JSON document from the feed, with the retries a download uses; `missingIsVersion`: a 404 means the package version is not there. */
async function getJson(config: HubConfig, url: URL, what: string, signal: AbortSignal | undefined, missingIsVersion = false): Promise<Json> {
  const feed = config.endpoint.host;
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await hubGet(config, url, { Accept: "application/json" }, signal);
      if (res.status === 404 && missingIsVersion) {
        res.body.resume();
        throw new EaselError("provider-unavailable", `${what} is not on the NuGet feed ${feed} (HTTP 404): Easel needs exactly the version of its onnxruntime-node; check ${NUGET_ENDPOINT_ENV}, or use --provider webgpu or cpu`);
      }
      if (res.status !== 200) {
        res.body.resume();
        throw nugetStatusError(res.status, feed, what, header(res.headers["retry-after"]));
      }
      const raw = await readBody(res.body, 16 << 20);
      // nuget.org serves its registration blobs gzip-encoded whatever the request asked for.
      const gzipped = /gzip/i.test(String(res.headers["content-encoding"] ?? ""));
      let json: unknown;
      try {
        json = JSON.parse((gzipped ? gunzipSync(raw, { maxOutputLength: 64 << 20 }) : raw).toString("utf8"));
      } catch {
        json = undefined;
      }
      if (!isObject(json)) throw new EaselError("provider-unavailable", `${feed} answered ${what} with something that is not a JSON object: check ${NUGET_ENDPOINT_ENV}`);
      return json;
    } catch (error) {
      const retryable = error instanceof NetworkError || (error instanceof EaselError && error.retryable);
      if (!retryable || signal?.aborted || attempt >= config.retries) {
        if (error instanceof NetworkError) {
          const via = config.proxy ? ` through proxy ${config.proxy.host}` : "";
          throw new EaselError("provider-unavailable", `cannot reach the NuGet feed ${feed}${via} (${firstLine(error)}): check the connection (or HTTPS_PROXY / ${NUGET_ENDPOINT_ENV}) and try again`, true);
        }
        throw error;
      }
      await delay(config.retryDelayMs * 2 ** attempt, signal);
    }
  }
}

/** An HTTP status from the feed as one line that says what to do. */
export function nugetStatusError(status: number, feed: string, what: string, retryAfter?: string): EaselError {
  if (status === 401 || status === 403) {
    return new EaselError("provider-unavailable", `the NuGet feed ${feed} refused ${what} (HTTP ${status}): Easel sends no credentials; use a feed that serves packages anonymously (${NUGET_ENDPOINT_ENV})`);
  }
  if (status === 429 || status >= 500) {
    return new EaselError("provider-unavailable", `the NuGet feed ${feed} failed on ${what} (HTTP ${status}${retryAfter ? `, retry after ${retryAfter}s` : ""}): it is likely temporary; try again later`, true);
  }
  return new EaselError("provider-unavailable", `unexpected HTTP ${status} from the NuGet feed ${feed} for ${what}: check ${NUGET_ENDPOINT_ENV}, or try again later`);
}
