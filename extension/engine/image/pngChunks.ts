// PNG text chunks (tEXt, zTXt, iTXt): reading them all back, and inserting one into an already
// encoded PNG. sharp cannot write text chunks, so the engine encodes with sharp first and then
// splices the `parameters` chunk in front of the first IDAT, where PIL (and so AUTOMATIC1111) puts it.
//
// Chunk layout (PNG spec, 3rd edition, section 5.3): 4-byte big-endian length, 4-byte type,
// `length` bytes of data, 4-byte CRC-32 over type + data.

import zlib from "node:zlib";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The spec's limit on a chunk's data length. */
const MAX_CHUNK_LENGTH = 0x7fffffff;
/**
 * What one read of a file may take out of its text chunks, in bytes after inflating, all chunks
 * together: the cap is per file, not per chunk, so twenty zip-bomb chunks cost no more than one.
 * Callers that want one small text (the `parameters` infotext) pass a much smaller cap.
 */
export const MAX_PNG_TEXT_BYTES = 16 * 1024 * 1024;

export type PngTextChunkType = "tEXt" | "zTXt" | "iTXt";

export interface PngTextChunk {
  readonly type: PngTextChunkType;
  /** 1-79 Latin-1 characters. */
  readonly keyword: string;
  readonly text: string;
  /** True when the text was zlib-compressed in the file (always for zTXt, by flag for iTXt). */
  readonly compressed: boolean;
  /** iTXt only: the RFC 3066 language tag (often empty). */
  readonly languageTag?: string;
  /** iTXt only: the keyword translated into that language (often empty). */
  readonly translatedKeyword?: string;
}

/** One chunk as found in the file; offsets are into the whole PNG buffer. */
interface RawChunk {
  readonly type: string;
  /** Offset of the chunk's length field (its first byte). */
  readonly start: number;
  /** Offset one past the chunk's CRC. */
  readonly end: number;
  readonly data: Buffer;
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (ISO 3309 / ITU-T V.42, the one PNG and zlib use)

let crcTable: Uint32Array | undefined;

/** Table-driven CRC-32, for Node versions older than 20.15 that lack `zlib.crc32`. */
export function crc32Portable(data: Uint8Array, initial = 0): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = (initial ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// `zlib.crc32` exists from Node 20.15 / 22.2; package.json allows any Node 20.
const nativeCrc32: ((data: Uint8Array, initial?: number) => number) | undefined =
  typeof zlib.crc32 === "function" ? zlib.crc32 : undefined;

/** CRC-32 of `data` as an unsigned 32-bit number (zlib's when available, else the table version). */
export function crc32(data: Uint8Array, initial = 0): number {
  return nativeCrc32 !== undefined ? nativeCrc32(data, initial) >>> 0 : crc32Portable(data, initial);
}

// ---------------------------------------------------------------------------------------------
// Chunk walking

function corrupt(detail: string): Error {
  return new Error(`Not a valid PNG file: ${detail}.`);
}

function isChunkTypeByte(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

function asBuffer(png: Uint8Array): Buffer {
  return Buffer.isBuffer(png) ? png : Buffer.from(png.buffer, png.byteOffset, png.byteLength);
}

/** Throws the one-line corruption error unless `chunk`'s stored CRC matches its type and data. */
function verifyCrc(buf: Buffer, chunk: RawChunk): void {
  if (buf.readUInt32BE(chunk.end - 4) !== crc32(buf.subarray(chunk.start + 4, chunk.end - 4))) {
    throw corrupt(`CRC mismatch in the ${chunk.type} chunk at byte ${chunk.start}`);
  }
}

/**
 * Splits a PNG into its chunks, checking the signature, that IHDR comes first and that the stream
 * reaches IEND, and every chunk's CRC unless `checkCrc` is "none" (a reader of one text chunk then
 * checks just that one: CRC-32 over a 64 MiB file's image data is real time on the editor's
 * thread, for data it never looks at). Bytes after IEND are ignored, as decoders do.
 */
function readChunks(png: Uint8Array, checkCrc: "all" | "none" = "all"): RawChunk[] {
  const buf = asBuffer(png);
  if (buf.length < PNG_SIGNATURE.length || !buf.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    throw new Error("Not a PNG file: the 8-byte PNG signature is missing.");
  }
  const chunks: RawChunk[] = [];
  let pos = PNG_SIGNATURE.length;
  for (;;) {
    if (pos + 8 > buf.length) throw corrupt(`file is truncated (chunk header expected at byte ${pos})`);
    const length = buf.readUInt32BE(pos);
    const typeBytes = buf.subarray(pos + 4, pos + 8);
    if (!typeBytes.every(isChunkTypeByte)) throw corrupt(`invalid chunk type at byte ${pos + 4}`);
    const type = typeBytes.toString("latin1");
    if (length > MAX_CHUNK_LENGTH) throw corrupt(`${type} chunk at byte ${pos} claims ${length} bytes`);
    const dataEnd = pos + 8 + length;
    if (dataEnd + 4 > buf.length) throw corrupt(`file is truncated inside the ${type} chunk at byte ${pos}`);
    if (chunks.length === 0 && type !== "IHDR") throw corrupt(`first chunk is ${type}, not IHDR`);
    const chunk: RawChunk = { type, start: pos, end: dataEnd + 4, data: buf.subarray(pos + 8, dataEnd) };
    if (checkCrc === "all") verifyCrc(buf, chunk);
    chunks.push(chunk);
    pos = dataEnd + 4;
    if (type === "IEND") return chunks;
  }
}

// ---------------------------------------------------------------------------------------------
// Text chunk decoding

function isLatin1KeywordChar(code: number): boolean {
  return (code >= 32 && code <= 126) || (code >= 161 && code <= 255);
}

/**
 * Throws a one-line RangeError unless `keyword` is a valid PNG text keyword: 1-79 printable Latin-1
 * characters (32-126, 161-255), no leading, trailing or consecutive spaces.
 */
export function validatePngKeyword(keyword: string): void {
  if (keyword.length < 1 || keyword.length > 79) {
    throw new RangeError(`PNG text keyword must be 1-79 characters, got ${keyword.length}.`);
  }
  for (let i = 0; i < keyword.length; i++) {
    const code = keyword.charCodeAt(i);
    if (!isLatin1KeywordChar(code)) {
      throw new RangeError(`PNG text keyword ${JSON.stringify(keyword)} has a character outside printable Latin-1 (U+${code.toString(16).toUpperCase().padStart(4, "0")}).`);
    }
  }
  if (keyword.startsWith(" ") || keyword.endsWith(" ") || keyword.includes("  ")) {
    throw new RangeError(`PNG text keyword ${JSON.stringify(keyword)} must not have leading, trailing or consecutive spaces.`);
  }
}

/** The text bytes one read of a file may still take (see MAX_PNG_TEXT_BYTES). */
interface TextBudget {
  readonly limit: number;
  remaining: number;
}

function tooMuchText(type: string, keyword: string, budget: TextBudget): Error {
  return new Error(`The PNG's ${type} text "${keyword}" is over ${budget.limit} bytes, more than Easel reads from an image's metadata.`);
}

/** Takes `bytes` of text out of the budget, or throws when that is more than is left. */
function spend(budget: TextBudget, bytes: number, type: string, keyword: string): void {
  if (bytes > budget.remaining) throw tooMuchText(type, keyword, budget);
  budget.remaining -= bytes;
}

function inflateText(data: Buffer, type: string, keyword: string, budget: TextBudget): Buffer {
  let out: Buffer;
  try {
    // inflateSync with maxOutputLength inflates in 16 KiB steps and stops at the first step over the
    // cap, so a zip bomb costs the cap, not its inflated size.
    out = zlib.inflateSync(data, { maxOutputLength: Math.max(1, budget.remaining) });
  } catch (err) {
    if (err instanceof Error && (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooMuchText(type, keyword, budget);
    const reason = err instanceof Error ? err.message : String(err);
    throw corrupt(`compressed ${type} chunk "${keyword}" does not inflate (${reason})`);
  }
  spend(budget, out.length, type, keyword);
  return out;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw corrupt(`${what} is not valid UTF-8`);
  }
}

function decodeTextChunk(chunk: RawChunk, budget: TextBudget): PngTextChunk {
  const { type, data } = chunk;
  if (!isTextChunkType(type)) throw new TypeError(`${type} is not a text chunk.`);
  const nul = data.indexOf(0);
  if (nul < 1 || nul > 79) throw corrupt(`${type} chunk at byte ${chunk.start} has no valid keyword`);
  const keyword = data.toString("latin1", 0, nul);
  if (type === "tEXt") {
    spend(budget, data.length - nul - 1, type, keyword);
    return { type, keyword, text: data.toString("latin1", nul + 1), compressed: false };
  }
  if (type === "zTXt") {
    if (nul + 1 >= data.length || data[nul + 1] !== 0) {
      throw corrupt(`zTXt chunk "${keyword}" uses an unknown compression method`);
    }
    const text = inflateText(data.subarray(nul + 2), type, keyword, budget).toString("latin1");
    return { type, keyword, text, compressed: true };
  }
  // iTXt: keyword NUL, compression flag, compression method, language tag NUL, translated keyword NUL, text
  if (nul + 3 > data.length) throw corrupt(`iTXt chunk "${keyword}" is too short`);
  const flag = data[nul + 1];
  const method = data[nul + 2];
  if (flag !== 0 && flag !== 1) throw corrupt(`iTXt chunk "${keyword}" has compression flag ${flag}`);
  if (flag === 1 && method !== 0) throw corrupt(`iTXt chunk "${keyword}" uses an unknown compression method`);
  const langStart = nul + 3;
  const langEnd = data.indexOf(0, langStart);
  if (langEnd < 0) throw corrupt(`iTXt chunk "${keyword}" has an unterminated language tag`);
  const transEnd = data.indexOf(0, langEnd + 1);
  if (transEnd < 0) throw corrupt(`iTXt chunk "${keyword}" has an unterminated translated keyword`);
  const languageTag = data.toString("latin1", langStart, langEnd);
  const translatedKeyword = decodeUtf8(data.subarray(langEnd + 1, transEnd), `iTXt chunk "${keyword}" translated keyword`);
  const body = data.subarray(transEnd + 1);
  if (flag === 0) spend(budget, body.length, type, keyword);
  const textBytes = flag === 1 ? inflateText(body, type, keyword, budget) : body;
  const text = decodeUtf8(textBytes, `iTXt chunk "${keyword}" text`);
  return { type, keyword, text, compressed: flag === 1, languageTag, translatedKeyword };
}

function isTextChunkType(type: string): type is PngTextChunkType {
  return type === "tEXt" || type === "zTXt" || type === "iTXt";
}

/**
 * Every tEXt, zTXt and iTXt chunk of a PNG, in file order. Throws a one-line Error when the buffer
 * is not a PNG, is truncated, or has a chunk whose CRC or text structure is wrong, or when its text
 * chunks hold more than `maxTextBytes` bytes of text all together (inflated).
 */
export function readPngTextChunks(png: Uint8Array, maxTextBytes = MAX_PNG_TEXT_BYTES): PngTextChunk[] {
  const budget: TextBudget = { limit: maxTextBytes, remaining: maxTextBytes };
  return readChunks(png)
    .filter((c) => isTextChunkType(c.type))
    .map((c) => decodeTextChunk(c, budget));
}

// ---------------------------------------------------------------------------------------------
// Text chunk encoding

/** True when every UTF-16 unit of `text` is U+0001..U+00FF, i.e. it can be stored as tEXt. */
export function isLatin1Text(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0 || code > 0xff) return false;
  }
  return true;
}

/** One chunk (length, type, data, CRC); also used by tests to build files by hand. */
export function makeChunk(type: string, data: Buffer): Buffer {
  if (data.length > MAX_CHUNK_LENGTH) throw new RangeError(`PNG ${type} chunk would be ${data.length} bytes, over the format's limit.`);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * `text` with every unpaired UTF-16 surrogate replaced by U+FFFD, as UTF-8 encoding does anyway:
 * writing metadata must never fail at the end of a generation because a prompt held half a pair.
 */
export function wellFormedText(text: string): string {
  return /\p{Cs}/u.test(text) ? Buffer.from(text, "utf8").toString("utf8") : text;
}

/**
 * The bytes of one text chunk (length, type, data, CRC): `tEXt` when the text is Latin-1 without
 * NUL, otherwise an uncompressed `iTXt` with empty language tag and translated keyword (unpaired
 * surrogates written as U+FFFD).
 */
export function encodePngTextChunk(keyword: string, text: string): Buffer {
  validatePngKeyword(keyword);
  const key = Buffer.from(keyword, "latin1");
  if (isLatin1Text(text)) {
    return makeChunk("tEXt", Buffer.concat([key, Buffer.from([0]), Buffer.from(text, "latin1")]));
  }
  // keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL
  const header = Buffer.from([0, 0, 0, 0, 0]);
  return makeChunk("iTXt", Buffer.concat([key, header, Buffer.from(wellFormedText(text), "utf8")]));
}

/** The keyword of a text chunk without decoding (or inflating) its text. */
function chunkKeyword(chunk: RawChunk): string {
  const nul = chunk.data.indexOf(0);
  return chunk.data.toString("latin1", 0, nul < 0 ? chunk.data.length : nul);
}

/**
 * A copy of `png` with a text chunk `keyword` = `text` placed just before the first IDAT. Any text
 * chunk already carrying the same keyword is dropped, so the file ends up with exactly one.
 * Throws a one-line Error when `png` is not a valid PNG, RangeError for a bad keyword.
 */
export function insertPngText(png: Uint8Array, keyword: string, text: string): Buffer {
  const newChunk = encodePngTextChunk(keyword, text);
  const chunks = readChunks(png);
  const firstIdat = chunks.findIndex((c) => c.type === "IDAT");
  if (firstIdat < 0) throw corrupt("it has no IDAT chunk");
  const buf = asBuffer(png);
  const parts: Buffer[] = [PNG_SIGNATURE];
  chunks.forEach((chunk, i) => {
    if (i === firstIdat) parts.push(newChunk);
    if (isTextChunkType(chunk.type) && chunkKeyword(chunk) === keyword) return;
    parts.push(buf.subarray(chunk.start, chunk.end));
  });
  return Buffer.concat(parts);
}

/**
 * The text of the first text chunk named `keyword`, or undefined when there is none. Only that chunk
 * is decoded and CRC-checked (others are never inflated, and image data is not checksummed: this is
 * metadata reading, not image decoding), and its text may be at most `maxTextBytes` bytes (after
 * inflating; inflating stops there). Throws a one-line Error for a PNG whose structure is broken,
 * whose chunk asked for is corrupt, or whose text is too long.
 */
export function readPngText(png: Uint8Array, keyword: string, maxTextBytes = MAX_PNG_TEXT_BYTES): string | undefined {
  const chunk = readChunks(png, "none").find((c) => isTextChunkType(c.type) && chunkKeyword(c) === keyword);
  if (chunk === undefined) return undefined;
  verifyCrc(asBuffer(png), chunk);
  return decodeTextChunk(chunk, { limit: maxTextBytes, remaining: maxTextBytes }).text;
}

// ---------------------------------------------------------------------------------------------
// Private binary chunks (data other programs skip: an ancillary chunk type, lowercase first letter)

/** Throws a RangeError unless `type` is an ancillary, private chunk type (e.g. "esMk"): what a program may add without breaking readers. */
function checkPrivateType(type: string): void {
  if (!/^[a-z][a-z][A-Z][a-zA-Z]$/.test(type)) throw new RangeError(`PNG chunk type ${JSON.stringify(type)} is not an ancillary private type (two lowercase letters, an uppercase one, a letter).`);
}

/**
 * A copy of `png` without any chunk of the types in `drop`, and with `add`'s chunks placed just
 * before IEND (after the image data, where readers that stop at IDAT never pay for them). Only
 * ancillary private types may be added or dropped. Throws a one-line Error when `png` is not a valid PNG.
 */
export function replacePngChunks(png: Uint8Array, drop: readonly string[], add: readonly { readonly type: string; readonly data: Uint8Array }[]): Buffer {
  for (const type of [...drop, ...add.map((c) => c.type)]) checkPrivateType(type);
  const chunks = readChunks(png);
  const buf = asBuffer(png);
  const parts: Buffer[] = [PNG_SIGNATURE];
  for (const chunk of chunks) {
    if (chunk.type === "IEND") parts.push(...add.map((c) => makeChunk(c.type, asBuffer(c.data))));
    if (!drop.includes(chunk.type)) parts.push(buf.subarray(chunk.start, chunk.end));
  }
  return Buffer.concat(parts);
}

/**
 * The data of the first chunk of `type` (an ancillary private type), or undefined when there is
 * none; at most `maxBytes` of it, else a one-line Error. Only that chunk's CRC is checked (see readPngText).
 */
export function readPngChunk(png: Uint8Array, type: string, maxBytes: number): Buffer | undefined {
  checkPrivateType(type);
  const chunk = readChunks(png, "none").find((c) => c.type === type);
  if (chunk === undefined) return undefined;
  if (chunk.data.length > maxBytes) throw new Error(`The PNG's ${type} chunk is ${chunk.data.length} bytes, over the ${maxBytes} Easel reads.`);
  verifyCrc(asBuffer(png), chunk);
  return Buffer.from(chunk.data);
}
