// A minimal HTTP forward proxy on 127.0.0.1 for the download tests (the Hub's and the NuGet feed's).
import http from "node:http";
import net from "node:net";

/** A minimal forward proxy: absolute-form GETs are relayed, CONNECT opens a TCP tunnel. */
export function startProxy(log: string[], requireAuth?: string): Promise<{ server: http.Server; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (requireAuth && req.headers["proxy-authorization"] !== requireAuth) return void res.writeHead(407).end();
    log.push(`GET ${req.url}`);
    const target = new URL(req.url ?? "");
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    const upstream = http.request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    upstream.end();
  });
  server.on("connect", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (requireAuth && req.headers["proxy-authorization"] !== requireAuth) return void socket.end("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
    log.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? "").split(":");
    const upstream = net.connect(Number(port), host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  // Tunnelled sockets leave the server's bookkeeping, so closing destroys them explicitly.
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      sockets.forEach((s) => s.destroy());
    });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, close })));
}
