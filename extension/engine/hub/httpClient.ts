// One GET with the Hub's conventions: redirects followed (the Hub sends LFS bytes from a CDN on
// another host, so the token is dropped when the host changes), proxy and NO_PROXY honoured, and
// a socket idle timer that turns a stalled server into an error the caller can retry.
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import { EaselError } from "../errors";
import { quoteValue } from "../safePath";
import { bypassesProxy, type HubConfig } from "./hubConfig";
import { connectTunnel, proxyAuthorization, tlsOverTunnel } from "./proxyTunnel";

export interface HubResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Headers of the first response: the Hub puts X-Linked-Etag / X-Repo-Commit on the redirect. */
  readonly firstHeaders: IncomingHttpHeaders;
  readonly url: URL;
  readonly body: IncomingMessage;
}

/** A network-level failure (reset, refused, stalled, truncated): retrying may help. */
export class NetworkError extends Error {
  constructor(message: string, readonly stalled = false) {
    super(message);
    this.name = "NetworkError";
  }
}

const MAX_REDIRECTS = 10;

export async function hubGet(
  config: HubConfig,
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<HubResponse> {
  let current = url;
  let firstHeaders: IncomingHttpHeaders | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    // The token goes to the endpoint's own origin only: another host, or the same host over plain http, never sees it.
    const sameOrigin = current.origin === config.endpoint.origin;
    const sent: Record<string, string> = { "User-Agent": "easel", ...headers };
    if (sameOrigin && config.token) sent.Authorization = `Bearer ${config.token}`;
    const res = await openGet(config, current, sent, signal);
    firstHeaders ??= res.headers;
    const location = res.headers.location;
    if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && location) {
      res.resume();
      current = redirectTarget(location, current, url);
      continue;
    }
    return { status: res.statusCode ?? 0, headers: res.headers, firstHeaders, url: current, body: res };
  }
  throw new NetworkError(`more than ${MAX_REDIRECTS} redirects from ${url.href}`);
}

/**
 * Where a redirect leads, refused unless it is an http(s) URL: a `file:` or other scheme would
 * otherwise be fetched as http (and fail as a baffling "connection refused on port 80"), and an
 * https answer that sends the download to plain http would drop its integrity in transit.
 */
export function redirectTarget(location: string, from: URL, asked: URL): URL {
  let target: URL | undefined;
  try {
    target = new URL(location, from);
  } catch {
    target = undefined;
  }
  const downgrade = from.protocol === "https:" && target?.protocol === "http:";
  if (target && (target.protocol === "https:" || target.protocol === "http:") && target.hostname !== "" && !downgrade) return target;
  const what = downgrade ? "from https down to plain http" : target ? `a ${target.protocol} URL` : "not a URL";
  throw new EaselError("model-missing", `${from.host} redirected ${asked.pathname} to ${quoteValue(location)} (${what}): Easel follows only http and https redirects; check HF_ENDPOINT`);
}

async function openGet(config: HubConfig, url: URL, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<IncomingMessage> {
  const secure = url.protocol === "https:";
  const port = Number(url.port || (secure ? 443 : 80));
  const proxy = config.proxy && !bypassesProxy(url.hostname, config.noProxy) ? config.proxy : undefined;
  let options: http.RequestOptions;
  if (!proxy) {
    options = { host: url.hostname, port, path: `${url.pathname}${url.search}` };
  } else if (secure) {
    const socket = await connectTunnel(proxy, url.hostname, port, signal, config.stallTimeoutMs).catch((e: unknown) => {
      throw new NetworkError(e instanceof Error ? e.message : String(e));
    });
    const tunnelled = tlsOverTunnel(socket, url.hostname);
    options = { host: url.hostname, port, path: `${url.pathname}${url.search}`, createConnection: () => tunnelled, agent: false };
  } else {
    // Plain HTTP through a proxy: the absolute URL goes in the request line.
    const auth = proxyAuthorization(proxy);
    options = { host: proxy.hostname, port: Number(proxy.port || 80), path: url.href };
    if (auth) headers = { ...headers, "Proxy-Authorization": auth };
  }
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request({ ...options, method: "GET", headers: { Host: url.host, ...headers }, signal });
    let stalled = false;
    req.setTimeout(config.stallTimeoutMs, () => {
      stalled = true;
      req.destroy(new NetworkError(`no data from ${url.host} for ${(config.stallTimeoutMs / 1000).toFixed(1)}s`, true));
    });
    req.once("response", (res) => {
      // The request's idle timer keeps running over the body; a stall mid-body surfaces as an error on it.
      req.once("error", (e) => res.destroy(stalled ? e : new NetworkError(e.message)));
      resolve(res);
    });
    req.once("error", (e) => reject(e instanceof NetworkError || e.name === "AbortError" ? e : new NetworkError(`${url.host}: ${e.message}`)));
    req.end();
  });
}

/** Reads a whole (small) response body as text. */
export async function readText(res: IncomingMessage, limit = 64 * 1024 * 1024): Promise<string> {
  return (await readBody(res, limit)).toString("utf8");
}

/** Reads a whole (small) response body as bytes. */
export async function readBody(res: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new NetworkError(`response larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
