// A fake NuGet v3 feed on 127.0.0.1 with nuget.org's shapes: the service index, registration
// leaves served gzip-encoded (as nuget.org's registration5-gz hive is) pointing at catalog leaves
// with packageHash (SHA-512, base64) and packageSize, and the flat container serving .nupkg files
// with Range/206. Faults a test can inject per package request: a cut connection, corrupted
// bytes, a slow body.
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import zlib from "node:zlib";

export interface ZipFile {
  readonly name: string;
  readonly data: Buffer;
  /** Deflated unless false. */
  readonly deflate?: boolean;
}

/** A zip as NuGet writes one (no ZIP64, one disk), built in memory. */
export function buildZip(files: readonly ZipFile[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name, "utf8");
    const method = f.deflate === false ? 0 : 8;
    const body = method === 8 ? zlib.deflateRawSync(f.data) : f.data;
    const crc = zlib.crc32(f.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(f.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

export type NugetFault = { readonly dropAfter: number } | { readonly corruptAt: number } | { readonly bytesPerSecond: number } | { readonly status: number };

export interface NugetRequest {
  readonly path: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
}

export class FakeNugetFeed {
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly packages = new Map<string, Buffer>();
  readonly requests: NugetRequest[] = [];
  /** Taken in order, one per .nupkg request; undefined serves normally. */
  faults: (NugetFault | undefined)[] = [];
  /** What the catalog leaf publishes instead of the real hash (a feed that lies). */
  hashOverride: string | undefined;
  base = "";

  /** Hosts `id` `version` with these bytes. */
  add(id: string, version: string, nupkg: Buffer): void {
    this.packages.set(`${id.toLowerCase()}/${version.toLowerCase()}`, nupkg);
  }

  get indexUrl(): string {
    return `${this.base}/v3/index.json`;
  }

  packageRequests(): NugetRequest[] {
    return this.requests.filter((r) => r.path.endsWith(".nupkg"));
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private json(res: http.ServerResponse, value: unknown, gzip = false): void {
    const body = Buffer.from(JSON.stringify(value));
    if (gzip) res.writeHead(200, { "Content-Type": "application/json", "Content-Encoding": "gzip" }).end(zlib.gzipSync(body));
    else res.writeHead(200, { "Content-Type": "application/json" }).end(body);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.base);
    this.requests.push({ path: url.pathname, range: req.headers.range, authorization: req.headers.authorization });
    const p = url.pathname;
    if (p === "/v3/index.json") {
      return this.json(res, {
        version: "3.0.0",
        resources: [
          { "@id": `${this.base}/v3/registration5-gz-semver2/`, "@type": "RegistrationsBaseUrl/3.6.0" },
          { "@id": `${this.base}/v3-flatcontainer/`, "@type": "PackageBaseAddress/3.0.0" },
          { "@id": `${this.base}/query`, "@type": "SearchQueryService" },
        ],
      });
    }
    let m = /^\/v3\/registration5-gz-semver2\/([^/]+)\/([^/]+)\.json$/.exec(p);
    if (m && this.packages.has(`${m[1]}/${m[2]}`)) {
      return this.json(res, { "@id": `${this.base}${p}`, catalogEntry: `${this.base}/v3/catalog0/data/2026.01.01/${m[1]}.${m[2]}.json`, listed: true, packageContent: `${this.base}/v3-flatcontainer/${m[1]}/${m[2]}/${m[1]}.${m[2]}.nupkg` }, true);
    }
    m = /^\/v3\/catalog0\/data\/[^/]+\/(.+)\.(\d+\.\d+\.\d+)\.json$/.exec(p);
    if (m && this.packages.has(`${m[1]}/${m[2]}`)) {
      const bytes = this.packages.get(`${m[1]}/${m[2]}`)!;
      return this.json(res, { id: m[1], version: m[2], packageHash: this.hashOverride ?? createHash("sha512").update(bytes).digest("base64"), packageHashAlgorithm: "SHA512", packageSize: bytes.length });
    }
    m = /^\/v3-flatcontainer\/([^/]+)\/([^/]+)\/[^/]+\.nupkg$/.exec(p);
    if (m && this.packages.has(`${m[1]}/${m[2]}`)) return this.serveBytes(req, res, this.packages.get(`${m[1]}/${m[2]}`)!, this.faults.shift());
    res.writeHead(404, { "Content-Type": "text/plain" }).end("Not found");
  }

  private serveBytes(req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer, fault: NugetFault | undefined): void {
    if (fault && "status" in fault) return void res.writeHead(fault.status).end();
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    if (start >= bytes.length && range) return void res.writeHead(416, { "Content-Range": `bytes */${bytes.length}` }).end();
    let body = Buffer.from(bytes.subarray(start));
    if (fault && "corruptAt" in fault && fault.corruptAt >= start) body[fault.corruptAt - start] ^= 0xff;
    const headers: http.OutgoingHttpHeaders = { "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes", "Content-Length": body.length };
    if (range) headers["Content-Range"] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (fault && "dropAfter" in fault) {
      res.write(body.subarray(0, Math.max(0, fault.dropAfter - start)), () => res.socket?.destroy());
      return;
    }
    if (fault && "bytesPerSecond" in fault) {
      const chunk = Math.max(1, Math.floor(fault.bytesPerSecond / 20));
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        const part = body.subarray(at, at + chunk);
        at += part.length;
        if (at >= body.length) {
          clearInterval(timer);
          res.end(part);
        } else res.write(part);
      }, 50);
      res.on("close", () => clearInterval(timer));
      return;
    }
    res.end(body);
  }
}
