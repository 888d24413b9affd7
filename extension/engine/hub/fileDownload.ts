// One file of a pull: fetched into `<part>` with HTTP Range resume after any interruption, hashed
// while it streams, and accepted only when its size and hash match what the Hub listed (where the
// Hub lists no hash, on its size alone, and the result says so). A server whose answers keep
// disagreeing with the listed size fails after a few of them instead of being resumed forever.
// The same machinery fetches a NuGet package (the CUDA provider libraries): the job then carries
// the feed's hash and a `DownloadSource` that words the messages for the feed.
import { promises as fs } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { EaselError, firstLine } from "../errors";
import { ContentHasher, type HashKind } from "./contentHash";
import { hubGet, NetworkError } from "./httpClient";
import type { HubConfig } from "./hubConfig";
import { header, hubStatusError } from "./hubErrors";
import { fileSize, type OpenPart, type PartWriter } from "./partFile";
import type { RepoFile } from "./repoInfo";
import { delay } from "./repoInfo";

export interface FileJob {
  readonly repo: string;
  readonly commit: string;
  readonly file: RepoFile;
  readonly url: URL;
  readonly partPath: string;
  /** The hash to check instead of the one `file` implies (a NuGet package's sha512). */
  readonly expected?: { readonly kind: HashKind; readonly hex: string };
}

/** Where a file comes from, for the words of its errors; the Hub when a job names none. */
export interface DownloadSource {
  /** "the Hub", "the NuGet feed". */
  readonly name: string;
  /** The file as messages name it: "unet/model.onnx of owner/name@0123456789ab". */
  readonly subject: string;
  /** What the user runs to try again: "pull again". */
  readonly again: string;
  /** Who to tell when the source keeps serving a wrong file. */
  readonly owner: string;
  /** What a part the server refuses to continue needs (HTTP 416 more than twice). */
  readonly rangeRefused: string;
  statusError(status: number, headers: IncomingHttpHeaders): EaselError;
}

function hubSource(job: FileJob): DownloadSource {
  return {
    name: "the Hub",
    subject: `${job.file.path} of ${job.repo}@${job.commit.slice(0, 12)}`,
    again: "pull again",
    owner: "the repository's (or mirror's) owner",
    rangeRefused: "run 'easel models rm' on it and pull again",
    statusError: (status, headers) =>
      hubStatusError(status, { repo: job.repo, revision: job.commit, what: job.file.path, retryAfter: header(headers["retry-after"]), errorCode: header(headers["x-error-code"]) }),
  };
}

export interface FileJobOptions {
  readonly config: HubConfig;
  readonly signal: AbortSignal | undefined;
  readonly openPart: OpenPart;
  /**
   * Bytes on disk changed by `delta`: `fetched` for bytes that just came over the network (they
   * count towards the rate), not for a part found on disk or one thrown away (negative delta).
   */
  readonly onBytes: (delta: number, fetched: boolean) => void;
  readonly source?: DownloadSource;
}

export interface VerifiedFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string | undefined;
  readonly blobId: string | undefined;
  /** False when the Hub published no hash for the file: only its size was checked. */
  readonly hashChecked: boolean;
}

const DISK_FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

export function cancelledError(): EaselError {
  return new EaselError("cancelled", "download cancelled: run the same pull again to resume where it stopped");
}

/** Downloads (or finishes downloading) one file and checks it; throws a one-line EaselError otherwise. */
export async function downloadFile(job: FileJob, options: FileJobOptions): Promise<VerifiedFile> {
  const { config, signal } = options;
  const { file, partPath } = job;
  const source = options.source ?? hubSource(job);
  const kind: HashKind = job.expected?.kind ?? (file.sha256 !== undefined || file.blobId === undefined ? "sha256" : "git-sha1");
  const expected = job.expected?.hex ?? (kind === "sha256" ? file.sha256 : file.blobId);
  let hasher: ContentHasher | undefined;
  let onDisk = await fileSize(partPath);
  options.onBytes(onDisk, false);
  let failures = 0;
  let mismatches = 0;
  // Neither is reset by progress: a server that re-sends a file of the wrong size makes progress
  // every time, and resetting on it would re-download forever.
  let sizeDisagreements = 0;
  let rangeRefusals = 0;

  const restart = async () => {
    await fs.rm(partPath, { force: true });
    options.onBytes(-onDisk, false);
    onDisk = 0;
    hasher = undefined;
  };

  for (;;) {
    if (signal?.aborted) throw cancelledError();
    if (onDisk > file.size) await restart();
    if (hasher?.bytes !== onDisk) hasher = await ContentHasher.ofPrefix(kind, file.size, partPath, onDisk);
    if (onDisk === file.size) {
      const actual = hasher.digest();
      if (expected === undefined || actual === expected) {
        // With nothing published, the sha256 computed here is still recorded: later checks catch a file damaged on disk.
        return { path: file.path, size: file.size, sha256: kind === "sha256" ? actual : undefined, blobId: file.blobId, hashChecked: expected !== undefined };
      }
      await restart();
      if (++mismatches > 1) {
        throw new EaselError(
          "model-invalid",
          `${source.subject} downloaded twice with ${kind} ${actual.slice(0, 12)}…, not the ${expected.slice(0, 12)}… ${source.name} lists: ${source.again} later; if it persists, report it to ${source.owner}`,
        );
      }
      continue;
    }

    let writer: PartWriter | undefined;
    const before = onDisk;
    try {
      const res = await hubGet(config, job.url, onDisk > 0 ? { Range: `bytes=${onDisk}-` } : {}, signal);
      if (res.status === 416) {
        // The part is not a prefix the server can continue (the file changed or the part is bad).
        res.body.resume();
        const total = /^bytes \*\/(\d+)$/.exec(String(res.headers["content-range"] ?? ""));
        if (total && Number(total[1]) !== file.size) throw new SizeDisagreement(res.url.host, Number(total[1]));
        await restart();
        if (++rangeRefusals > 2) throw new EaselError("model-missing", `${source.name} keeps refusing the byte range of ${file.path} (HTTP 416): ${source.rangeRefused}`);
        continue;
      }
      if (res.status !== 200 && res.status !== 206) {
        res.body.resume();
        throw source.statusError(res.status, res.headers);
      }
      const commit = res.firstHeaders["x-repo-commit"];
      if (typeof commit === "string" && commit !== "" && commit !== job.commit) {
        res.body.resume();
        throw new EaselError("model-missing", `the Hub served ${file.path} from commit ${commit.slice(0, 12)}, not ${job.commit.slice(0, 12)}: pull again`, true);
      }
      let append = onDisk > 0;
      if (res.status === 206) {
        const start = /^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""));
        if (!start || Number(start[1]) !== onDisk) {
          res.body.resume();
          throw new NetworkError(`the server answered a range request for ${file.path} with a different range (${res.headers["content-range"] ?? "none"})`);
        }
      } else if (append) {
        // A 200 to a Range request is the whole file again: start the part over.
        options.onBytes(-onDisk, false);
        onDisk = 0;
        hasher = new ContentHasher(kind, file.size);
        append = false;
      }
      const total = declaredTotal(res.status, res.headers, onDisk);
      if (total !== undefined && total !== file.size) {
        res.body.resume();
        throw new SizeDisagreement(res.url.host, total);
      }
      writer = await options.openPart(partPath, append).catch((e: unknown) => {
        throw writeError(e, partPath);
      });
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        if (onDisk + b.length > file.size) throw new SizeDisagreement(res.url.host, onDisk + b.length, true);
        await writeChunk(writer, b, partPath);
        hasher.update(b);
        onDisk += b.length;
        options.onBytes(b.length, true);
      }
      await closeWriter(writer, partPath);
      writer = undefined;
      if (onDisk < file.size) {
        // A framed body (length or chunked) that ended cleanly is the server saying "that is all";
        // only a body delimited by the connection closing may have been cut.
        if (res.headers["content-length"] !== undefined || /chunked/i.test(String(res.headers["transfer-encoding"] ?? ""))) throw new SizeDisagreement(res.url.host, onDisk);
        throw new NetworkError(`connection closed after ${onDisk} of ${file.size} bytes of ${file.path}`);
      }
    } catch (error) {
      if (writer) await writer.close().catch(() => undefined);
      if (signal?.aborted) throw cancelledError();
      if (error instanceof SizeDisagreement) {
        if (++sizeDisagreements >= MAX_SIZE_DISAGREEMENTS) {
          throw new EaselError(
            "model-invalid",
            `${error.host} sent ${error.atLeast ? "more than " : ""}${error.size} bytes of ${file.path} ${MAX_SIZE_DISAGREEMENTS} times, but ${source.name} lists ${file.size}: the file does not match its listing; ${source.again} later, and report it to ${source.owner} if it persists`,
          );
        }
      } else {
        const retryable = error instanceof NetworkError || (error instanceof EaselError && error.retryable) || isStreamReset(error);
        if (!retryable) throw error;
        // A connection that made progress earns a fresh set of retries: a flaky line still finishes.
        failures = onDisk > before ? 1 : failures + 1;
        if (failures > config.retries) {
          throw new EaselError(
            "model-missing",
            `download of ${file.path} from ${job.url.host} failed ${failures} times (${firstLine(error)}): check the connection and ${source.again}; the ${onDisk} bytes already fetched are kept`,
            true,
          );
        }
      }
      await delay(config.retryDelayMs * 2 ** (Math.max(failures, sizeDisagreements, 1) - 1), signal).catch(() => {
        throw cancelledError();
      });
      // The hasher has seen exactly the bytes written; it is rebuilt from disk only if the file disagrees.
      onDisk = await fileSize(partPath);
      continue;
    }
  }
}

/** How many answers may disagree with the listed size (each a full or resumed GET) before the pull fails. */
const MAX_SIZE_DISAGREEMENTS = 3;

/** The server at `host` (the Hub or its CDN) implies a file of `size` bytes (`atLeast`: it sent more than that and was stopped). */
class SizeDisagreement extends Error {
  constructor(
    readonly host: string,
    readonly size: number,
    readonly atLeast = false,
  ) {
    super(`the server's file has ${size} bytes`);
  }
}

/** The whole file's size as a 200 (Content-Length) or 206 (Content-Range) states it, when it does. */
function declaredTotal(status: number, headers: IncomingHttpHeaders, start: number): number | undefined {
  const length = /^\d+$/.test(String(headers["content-length"] ?? "")) ? Number(headers["content-length"]) : undefined;
  if (status === 200) return length;
  const range = /^bytes \d+-\d+\/(\d+)$/.exec(String(headers["content-range"] ?? ""));
  if (range) return Number(range[1]);
  return length === undefined ? undefined : start + length;
}

async function writeChunk(writer: PartWriter, chunk: Buffer, partPath: string): Promise<void> {
  try {
    await writer.write(chunk);
  } catch (error) {
    throw writeError(error, partPath);
  }
}

async function closeWriter(writer: PartWriter, partPath: string): Promise<void> {
  try {
    await writer.close();
  } catch (error) {
    throw writeError(error, partPath);
  }
}

function writeError(error: unknown, partPath: string): EaselError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code && DISK_FULL.has(code)) {
    return new EaselError("output-unwritable", `the disk is full writing ${partPath} (${code}): free some space and pull again; what was fetched is kept`);
  }
  return new EaselError("output-unwritable", `cannot write ${partPath} (${code ?? firstLine(error)}): check the store folder's permissions (EASEL_HOME)`);
}

function isStreamReset(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || code === "EPIPE" || (error instanceof Error && error.message === "aborted");
}
