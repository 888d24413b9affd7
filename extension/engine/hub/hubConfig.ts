// Where the Hub is and how to reach it: the same environment variables huggingface_hub reads
// (HF_ENDPOINT, HF_TOKEN), the usual proxy variables, and the timeouts that turn a dead or
// stalled connection into a retry instead of a hang.

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

function env(env: NodeJS.ProcessEnv, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v.trim() !== "") return v.trim();
  }
  return undefined;
}

export function hubConfig(options: HubOptions = {}, environment: NodeJS.ProcessEnv = process.env): HubConfig {
  const endpointText = (options.endpoint ?? env(environment, "HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, "");
  const proxyText = options.proxy ?? env(environment, "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy") ?? "";
  return {
    endpoint: new URL(endpointText),
    token: options.token ?? env(environment, "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
    proxy: proxyText === "" ? undefined : new URL(/^[a-z]+:\/\//i.test(proxyText) ? proxyText : `http://${proxyText}`),
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
