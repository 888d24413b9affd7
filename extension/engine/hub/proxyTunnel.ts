// HTTPS through an HTTP proxy without a proxy-agent library: a CONNECT request opens a raw TCP
// tunnel to the target, and TLS runs inside it. (Node 20's fetch would need undici's ProxyAgent.)
import http from "node:http";
import type { Socket } from "node:net";
import tls from "node:tls";

export function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === "") return undefined;
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(credentials).toString("base64")}`;
}

/** Opens `CONNECT host:port` on the proxy and resolves with the raw tunnelled socket. */
export function connectTunnel(proxy: URL, host: string, port: number, signal: AbortSignal | undefined, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const auth = proxyAuthorization(proxy);
    const req = http.request({
      host: proxy.hostname,
      port: Number(proxy.port || 80),
      method: "CONNECT",
      path: `${host}:${port}`,
      headers: { Host: `${host}:${port}`, ...(auth ? { "Proxy-Authorization": auth } : {}) },
      signal,
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`proxy ${proxy.host} did not answer in ${Math.round(timeoutMs / 1000)}s`)));
    req.once("connect", (res, socket) => {
      req.setTimeout(0);
      if (res.statusCode === 200) return resolve(socket);
      socket.destroy();
      const hint = res.statusCode === 407 ? " (proxy authentication required: put user:password in the proxy URL)" : "";
      reject(new Error(`proxy ${proxy.host} refused CONNECT ${host}:${port} with HTTP ${res.statusCode}${hint}`));
    });
    req.once("error", reject);
    req.end();
  });
}

/** TLS to `host` inside an open tunnel; the certificate is checked against `host`, not the proxy. */
export function tlsOverTunnel(socket: Socket, host: string): tls.TLSSocket {
  return tls.connect({ socket, servername: host });
}
