// A fake Hugging Face Hub on 127.0.0.1 with the real URLs and headers: the revision API with
// ?blobs=true, the tree API (paged with Link headers), /resolve/ redirecting LFS files to a
// separate "CDN" server (another host:port, so the token must not follow), Range/206/416, faults
// a test can inject per request, and hostile modes (rewritten listings, odd redirects).
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";

export interface HostedFile {
  readonly path: string;
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly blobId: string;
  readonly lfs: boolean;
}

export interface FakeRepo {
  readonly repo: string;
  readonly commit: string;
  readonly files: readonly HostedFile[];
  readonly branches: Readonly<Record<string, string>>;
  readonly license?: string;
  readonly gated?: boolean;
}

export interface RequestInfo {
  readonly server: "hub" | "cdn";
  readonly path: string;
  readonly file?: string;
  readonly range?: string;
  readonly authorization?: string;
}

export type FaultAction =
  | { readonly status: number }
  | { readonly dropAfter: number }
  | { readonly stallAfter: number }
  | { readonly corruptAt: number }
  | { readonly ignoreRange: true }
  /** Sends the body at this rate, so a client's progress can be watched (and a download cancelled). */
  | { readonly bytesPerSecond: number };

/** Called for each byte request (resolve of a small file, or the CDN); undefined serves normally. */
export type Fault = (file: string, start: number, request: RequestInfo) => FaultAction | undefined;

export function hostFolder(repo: string, dir: string, options: { commit?: string; license?: string; gated?: boolean } = {}): FakeRepo {
  const files: HostedFile[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const full = path.join(d, name);
      if (fs.statSync(full).isDirectory()) walk(full);
      else {
        const bytes = fs.readFileSync(full);
        const rel = path.relative(dir, full).split(path.sep).join("/");
        const blobId = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
        files.push({ path: rel, bytes, sha256: createHash("sha256").update(bytes).digest("hex"), blobId, lfs: rel.endsWith(".onnx") });
      }
    }
  };
  walk(dir);
  // Files the Hub would also list, which a pull must skip (unless the folder has its own: a git
  // tree cannot list one name twice).
  const extra = (p: string, text: string) => {
    if (files.some((f) => f.path === p)) return;
    const bytes = Buffer.from(text);
    files.push({ path: p, bytes, sha256: createHash("sha256").update(bytes).digest("hex"), blobId: createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex"), lfs: false });
  };
  extra("README.md", `# ${repo}\n`);
  extra(".gitattributes", "*.onnx filter=lfs diff=lfs merge=lfs -text\n");
  extra("unet/diffusion_pytorch_model.safetensors", "not for Easel");
  extra("safety_checker/config.json", "{}");
  const commit = options.commit ?? createHash("sha1").update(repo).digest("hex");
  return { repo, commit, files, branches: { main: commit }, license: options.license, gated: options.gated };
}

/** The revision API's JSON answer, as the fake hub builds it before any hostile rewrite. */
export interface RevisionAnswer {
  sha: string;
  siblings: Record<string, unknown>[];
  [key: string]: unknown;
}

export class FakeHub {
  readonly requests: RequestInfo[] = [];
  faults: Fault[] = [];
  /** A hostile or broken Hub/mirror: rewrites the revision API's answer (the commit, names, sizes, hashes). */
  listing: ((answer: RevisionAnswer) => unknown) | undefined;
  /** The tree API (list_repo_tree): off answers 404, as on a mirror without it; a function rewrites its entries. */
  tree: "on" | "off" | ((entries: Record<string, unknown>[]) => unknown) = "on";
  /** Entries per page of the tree API; further pages are linked with `Link: <…>; rel="next"` as the Hub does. */
  treePageSize = 1000;
  /** A hostile /resolve/: the Location it redirects this file to, instead of the CDN or resolve cache. */
  redirect: ((file: string) => string | undefined) | undefined;
  /** When set, the hub answers 401 without this bearer token and 403 with another one. */
  token: string | undefined;
  private hub = http.createServer((req, res) => this.onHub(req, res));
  private cdn = http.createServer((req, res) => this.onCdn(req, res));
  private sockets = new Set<Socket>();
  private repos = new Map<string, FakeRepo>();
  hubUrl = "";
  cdnUrl = "";

  add(repo: FakeRepo): FakeRepo {
    this.repos.set(repo.repo, repo);
    return repo;
  }

  async start(): Promise<this> {
    for (const s of [this.hub, this.cdn]) {
      s.on("connection", (socket: Socket) => {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
      });
      await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    }
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnUrl = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.hub, this.cdn].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  fileRequests(file: string): RequestInfo[] {
    return this.requests.filter((r) => r.file === file);
  }

  private info(server: "hub" | "cdn", req: http.IncomingMessage, file?: string): RequestInfo {
    const info: RequestInfo = { server, path: req.url ?? "", file, range: req.headers.range, authorization: req.headers.authorization };
    this.requests.push(info);
    return info;
  }

  private authFails(req: http.IncomingMessage, res: http.ServerResponse, repo: FakeRepo): boolean {
    if (!repo.gated || this.token === undefined) return false;
    const auth = req.headers.authorization;
    if (auth === `Bearer ${this.token}`) return false;
    res.writeHead(auth ? 403 : 401, { "Content-Type": "application/json" }).end(JSON.stringify({ error: "Access to model is restricted" }));
    return true;
  }

  private onHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.hubUrl);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) {
      this.info("hub", req);
      const repo = this.repos.get(api[1]);
      if (!repo) return void res.writeHead(404, { "Content-Type": "application/json", "X-Error-Code": "RepoNotFound" }).end(JSON.stringify({ error: "Repository not found" }));
      if (this.authFails(req, res, repo)) return;
      const rev = decodeURIComponent(api[2]);
      const commit = repo.branches[rev] ?? (rev === repo.commit ? rev : undefined);
      if (!commit) return void res.writeHead(404, { "Content-Type": "application/json", "X-Error-Code": "RevisionNotFound" }).end(JSON.stringify({ error: `Invalid rev id: ${rev}` }));
      const blobs = url.searchParams.get("blobs") === "true";
      const siblings = repo.files.map((f) =>
        blobs
          ? { rfilename: f.path, blobId: f.lfs ? createHash("sha1").update(`pointer ${f.path}`).digest("hex") : f.blobId, size: f.bytes.length, ...(f.lfs ? { lfs: { sha256: f.sha256, size: f.bytes.length, pointerSize: 134 } } : {}) }
          : { rfilename: f.path },
      );
      const body: RevisionAnswer = { _id: "x", id: repo.repo, sha: commit, gated: repo.gated ? "manual" : false, private: false, tags: repo.license ? [`license:${repo.license}`] : [], cardData: repo.license ? { license: repo.license } : {}, siblings };
      return void res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(this.listing ? this.listing(body) : body));
    }
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    if (tree) {
      this.info("hub", req);
      const repo = this.repos.get(tree[1]);
      const rev = decodeURIComponent(tree[2]);
      const commit = repo && (repo.branches[rev] ?? (rev === repo.commit ? rev : undefined));
      if (!repo || !commit || this.tree === "off") return void res.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ error: "not found" }));
      if (this.authFails(req, res, repo)) return;
      const dirs = [...new Set(repo.files.flatMap((f) => f.path.split("/").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("/"))))];
      const entries: Record<string, unknown>[] = [
        ...dirs.map((d) => ({ type: "directory", oid: createHash("sha1").update(`tree ${d}`).digest("hex"), size: 0, path: d })),
        ...repo.files.map((f) => ({
          type: "file",
          oid: f.lfs ? createHash("sha1").update(`pointer ${f.path}`).digest("hex") : f.blobId,
          size: f.bytes.length,
          path: f.path,
          ...(f.lfs ? { lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: 134 } } : {}),
        })),
      ];
      const all = this.tree === "on" ? entries : this.tree(entries);
      const list = Array.isArray(all) ? all : [];
      const cursor = Number(url.searchParams.get("cursor") ?? "0");
      const pageEnd = cursor + this.treePageSize;
      const next = new URL(url.href);
      next.searchParams.set("cursor", String(pageEnd));
      const link = Array.isArray(all) && pageEnd < list.length ? { Link: `<${next.href}>; rel="next"` } : {};
      return void res.writeHead(200, { "Content-Type": "application/json", ...link }).end(JSON.stringify(Array.isArray(all) ? list.slice(cursor, pageEnd) : all));
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const repo = this.repos.get(resolve[1]);
      const filePath = resolve[3].split("/").map(decodeURIComponent).join("/");
      this.info("hub", req, filePath);
      if (!repo) return void res.writeHead(404).end("Repository not found");
      if (this.authFails(req, res, repo)) return;
      const rev = decodeURIComponent(resolve[2]);
      const commit = repo.branches[rev] ?? (rev === repo.commit ? rev : undefined);
      const file = repo.files.find((f) => f.path === filePath);
      if (!commit || !file) return void res.writeHead(404, { "X-Error-Code": "EntryNotFound" }).end("Entry not found");
      const common = { "X-Repo-Commit": commit, ETag: `"${file.lfs ? file.sha256 : file.blobId}"` };
      const hostile = this.redirect?.(file.path);
      if (hostile !== undefined) return void res.writeHead(302, { ...common, Location: hostile }).end();
      if (file.lfs) {
        return void res
          .writeHead(302, { ...common, "X-Linked-Etag": `"${file.sha256}"`, "X-Linked-Size": String(file.bytes.length), Location: `${this.cdnUrl}/lfs/${file.sha256}?name=${encodeURIComponent(file.path)}` })
          .end();
      }
      // Like the Hub since 2025: small files answer a relative redirect into its resolve cache
      // (same host, a query string to keep), with the commit and ETag on the redirect itself.
      const cached = `/api/resolve-cache/models/${repo.repo}/${commit}/${file.path.split("/").map(encodeURIComponent).join("/")}`;
      return void res.writeHead(307, { ...common, Location: `${cached}?${encodeURIComponent(url.pathname)}=&etag=${encodeURIComponent(`"${file.blobId}"`)}` }).end();
    }
    const cache = /^\/api\/resolve-cache\/models\/([^/]+\/[^/]+)\/([0-9a-f]{40})\/(.+)$/.exec(url.pathname);
    if (cache) {
      const repo = this.repos.get(cache[1]);
      const filePath = cache[3].split("/").map(decodeURIComponent).join("/");
      const info = this.info("hub", req, filePath);
      const file = repo?.files.find((f) => f.path === filePath && !f.lfs);
      if (!repo || cache[2] !== repo.commit || !file || url.searchParams.get("etag") !== `"${file.blobId}"`) return void res.writeHead(404).end("Entry not found");
      if (this.authFails(req, res, repo)) return;
      return this.serveBytes(req, res, file, info, { "X-Repo-Commit": repo.commit, ETag: `"${file.blobId}"` });
    }
    this.info("hub", req);
    res.writeHead(404).end("not found");
  }

  private onCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.cdnUrl);
    const m = /^\/lfs\/([0-9a-f]{64})$/.exec(url.pathname);
    const file = m ? [...this.repos.values()].flatMap((r) => r.files).find((f) => f.sha256 === m[1] && f.lfs) : undefined;
    const info = this.info("cdn", req, file?.path);
    if (!file) return void res.writeHead(404).end("no such object");
    this.serveBytes(req, res, file, info, { ETag: `"${file.sha256}"` });
  }

  private serveBytes(req: http.IncomingMessage, res: http.ServerResponse, file: HostedFile, info: RequestInfo, headers: Record<string, string>): void {
    const size = file.bytes.length;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    let start = range ? Number(range[1]) : 0;
    let action: FaultAction | undefined;
    for (const f of this.faults) action ??= f(file.path, start, info);
    if (action && "status" in action) return void res.writeHead(action.status).end(`fault ${action.status}`);
    if (action && "ignoreRange" in action) start = 0;
    if (start >= size && range) return void res.writeHead(416, { ...headers, "Content-Range": `bytes */${size}` }).end();
    let body = file.bytes.subarray(start);
    if (action && "corruptAt" in action && action.corruptAt >= start) {
      body = Buffer.from(body);
      body[action.corruptAt - start] ^= 0xff;
    }
    const partial = start > 0 || (range !== null && !(action && "ignoreRange" in action));
    res.writeHead(partial ? 206 : 200, {
      ...headers,
      "Accept-Ranges": "bytes",
      "Content-Length": String(body.length),
      ...(partial ? { "Content-Range": `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    if (action && "dropAfter" in action) {
      res.write(body.subarray(0, Math.max(0, action.dropAfter - start)), () => res.socket?.destroy());
      return;
    }
    if (action && "stallAfter" in action) {
      res.write(body.subarray(0, Math.max(0, action.stallAfter - start)));
      return; // never ends: the client's idle timer must notice
    }
    if (action && "bytesPerSecond" in action) return void this.trickle(res, body, action.bytesPerSecond);
    res.end(body);
  }

  private trickle(res: http.ServerResponse, body: Buffer, bytesPerSecond: number): void {
    const chunk = Math.max(1, Math.round(bytesPerSecond / 20)); // twenty writes a second
    let at = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return void clearInterval(timer);
      const next = Math.min(body.length, at + chunk);
      res.write(body.subarray(at, next));
      at = next;
      if (at >= body.length) {
        clearInterval(timer);
        res.end();
      }
    }, 50);
    res.on("close", () => clearInterval(timer));
  }
}

/** A small deterministic PRNG, so "random" offsets are the same on every run. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
