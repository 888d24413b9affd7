// Where the Hub is and how to reach it: the same environment variables huggingface_hub reads
// (HF_ENDPOINT, HF_TOKEN), the usual proxy variables, and the timeouts that turn a dead or
// stalled connection into a retry instead of a hang.
import { EaselError } from "../errors";
import { quoteValue } from "../safePath";

export interface HubOptions {
  /** Default `HF_ENDPOINT` or https://huggingface.co. */
  readonly endpoint?: string;
  /** Default `HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`); sent only to the endpoint's host. */
  readonly token?: string;
  /**
   * Proxy URL (`http://[user:pass@]host:port`). Default `HTTPS_PROXY` / `HTTP_PROXY` (either case);
   * the extension passes VS Code's `http.proxy` here. An empty string means no proxy.
   */
  readonly proxy?: string;
  /** Hosts that bypass the proxy, comma-separated (default `NO_PROXY`). */
  readonly noProxy?: string;
  /** No response headers or no body bytes for this long counts as a dropped connection. */
  readonly stallTimeoutMs?: number;
  /** How many times one file is retried after a network failure before the pull gives up. */
  readonly retries?: number;
  /** First pause between retries; doubled each time, at most 30 s. */
  readonly retryDelayMs?: number;
}

export interface HubConfig {
  readonly endpoint: URL;
  readonly token: string | undefined;
  readonly proxy: URL | undefined;
  readonly noProxy: readonly string[];
  readonly stallTimeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
}

/** The first of `names` set (non-blank) in `env`, with the name it came from (for error messages). */
function envEntry(env: NodeJS.ProcessEnv, ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && v.trim() !== "") return { name, value: v.trim() };
  }
  return undefined;
}

function env(environment: NodeJS.ProcessEnv, ...names: string[]): string | undefined {
  return envEntry(environment, ...names)?.value;
}

/**
 * `text` as an http(s) URL, or one line naming `source` (the variable or setting it came from),
 * the value and the form it must take: `new URL`'s bare "Invalid URL" says none of that.
 */
export function httpUrl(text: string, source: string, example: string, asGiven = text): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url && (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "") return url;
  const why = url ? `a ${url.protocol} URL` : "not a URL";
  throw new EaselError("bad-argument", `${source} is ${quoteValue(asGiven)}, ${why}: set it to an http(s) URL such as ${example}, or unset it`);
}

export function hubConfig(options: HubOptions = {}, environment: NodeJS.ProcessEnv = process.env): HubConfig {
  const endpointEnv = envEntry(environment, "HF_ENDPOINT");
  const endpointSource = options.endpoint !== undefined ? "the Hub endpoint" : (endpointEnv?.name ?? "the Hub endpoint");
  const endpointText = (options.endpoint ?? endpointEnv?.value ?? "https://huggingface.co").replace(/\/+$/, "");
  const proxyEnv = envEntry(environment, "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy");
  // The extension passes VS Code's http.proxy setting as the option.
  const proxySource = options.proxy !== undefined ? "the proxy setting (http.proxy)" : (proxyEnv?.name ?? "the proxy");
  const proxyText = options.proxy ?? proxyEnv?.value ?? "";
  return {
    endpoint: httpUrl(endpointText, endpointSource, "https://huggingface.co"),
    token: options.token ?? env(environment, "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
    // A bare host:port means an http proxy, as curl reads it.
    proxy: proxyText === "" ? undefined : httpUrl(/^[a-z][a-z0-9+.-]*:\/\//i.test(proxyText) ? proxyText : `http://${proxyText}`, proxySource, "http://proxy.example.com:3128", proxyText),
    noProxy: (options.noProxy ?? env(environment, "NO_PROXY", "no_proxy") ?? "")
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ""),
    stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
    retries: options.retries ?? 5,
    retryDelayMs: options.retryDelayMs ?? 1_000,
  };
}

/** NO_PROXY semantics as curl has them: `*`, exact hosts, and domain suffixes (`.example.com` or `example.com`). */
export function bypassesProxy(host: string, noProxy: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return noProxy.some((entry) => {
    if (entry === "*") return true;
    const e = entry.replace(/:\d+$/, "").replace(/^\*?\./, "");
    return h === e || h.endsWith(`.${e}`);
  });
}
