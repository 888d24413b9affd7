// The protobuf wire format, read with positioned reads: ONNX graphs are walked field by field, a
// UNet's initializers (gigabytes when embedded) skipped by their length, never read unless asked for,
// and written back as byte ranges of the original. The one reader/writer of ONNX protobuf: the
// float-timestep patch, seamless tiling (circularPadding.ts), provider traits, and the graph-weights
// reader that LoRA and checkpoint import share (graphWeights.ts).

import fs from "node:fs/promises";

// Protobuf wire types.
export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

export interface Field {
  readonly number: number;
  readonly wireType: number;
  /** The varint's value (VARINT), or the payload's length (LEN). */
  readonly value: number;
  /** Where the field's tag starts. */
  readonly tagStart: number;
  /** Where the payload (LEN) or the varint (VARINT) starts. */
  readonly start: number;
  /** Just past the field. */
  readonly end: number;
}

/** Reads a region of bytes: a whole buffer, or a file read on demand. */
export interface ByteSource {
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function readVarint(bytes: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < bytes.length && i < pos + 10; i++) {
    value += (bytes[i] & 0x7f) * scale;
    if ((bytes[i] & 0x80) === 0) return { value, next: i + 1 };
    scale *= 128;
  }
  throw new Error("truncated varint");
}

/** The fields of a message in [start, end) of `source`, headers only (payloads are not read). */
export async function* fieldsOf(source: ByteSource, start: number, end: number): AsyncGenerator<Field> {
  let pos = start;
  while (pos < end) {
    const head = await source.read(pos, Math.min(20, end - pos));
    const tag = readVarint(head, 0);
    const number = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (wireType === VARINT) {
      const v = readVarint(head, tag.next);
      yield { number, wireType, value: v.value, tagStart: pos, start: pos + tag.next, end: pos + v.next };
      pos += v.next;
    } else if (wireType === LEN) {
      const len = readVarint(head, tag.next);
      const payload = pos + len.next;
      yield { number, wireType, value: len.value, tagStart: pos, start: payload, end: payload + len.value };
      pos = payload + len.value;
    } else if (wireType === FIXED64 || wireType === FIXED32) {
      const size = wireType === FIXED64 ? 8 : 4;
      yield { number, wireType, value: 0, tagStart: pos, start: pos + tag.next, end: pos + tag.next + size };
      pos += tag.next + size;
    } else {
      throw new Error(`unexpected wire type ${wireType}`);
    }
  }
  if (pos !== end) throw new Error("message overruns its length");
}

/** fieldsOf for a message already in memory, synchronously (a node's fields: thousands per graph, no awaits). */
export function* fieldsIn(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const tag = readVarint(bytes, pos);
    const number = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (wireType === VARINT) {
      const v = readVarint(bytes, tag.next);
      yield { number, wireType, value: v.value, tagStart: pos, start: tag.next, end: v.next };
      pos = v.next;
    } else if (wireType === LEN) {
      const len = readVarint(bytes, tag.next);
      yield { number, wireType, value: len.value, tagStart: pos, start: len.next, end: len.next + len.value };
      pos = len.next + len.value;
    } else if (wireType === FIXED64 || wireType === FIXED32) {
      const size = wireType === FIXED64 ? 8 : 4;
      yield { number, wireType, value: 0, tagStart: pos, start: tag.next, end: tag.next + size };
      pos = tag.next + size;
    } else {
      throw new Error(`unexpected wire type ${wireType}`);
    }
  }
  if (pos !== end) throw new Error("message overruns its length");
}

export const utf8 = new TextDecoder();

/** The fields of a small message already in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return { read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * A file read through 1 MiB windows: nodes and tensor headers are small and consecutive, so most
 * reads come from the last window.
 */
export function fileSource(handle: fs.FileHandle): ByteSource {
  let window = Buffer.alloc(0);
  let windowStart = 0;
  return {
    async read(offset, length) {
      if (offset < windowStart || offset + length > windowStart + window.length) {
        const buffer = Buffer.alloc(Math.max(length, 1 << 20));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        window = buffer.subarray(0, bytesRead);
        windowStart = offset;
      }
      return window.subarray(offset - windowStart, offset - windowStart + length);
    },
  };
}

/** Runs `work` with the file open as a windowed ByteSource (fileSource). `size` is the file's length. */
export async function withFileSource<T>(file: string, work: (source: ByteSource, size: number, handle: fs.FileHandle) => Promise<T>): Promise<T> {
  const handle = await fs.open(file, "r");
  try {
    const size = (await handle.stat()).size;
    return await work(fileSource(handle), size, handle);
  } finally {
    await handle.close();
  }
}

/** A StringStringEntryProto's key and value (key 1, value 2): an external_data entry, metadata. */
export function stringEntry(entry: Uint8Array): [string, string] {
  let key = "";
  let value = "";
  for (const e of fieldsIn(entry, 0, entry.length)) {
    if (e.wireType !== LEN) continue;
    if (e.number === 1) key = utf8.decode(entry.subarray(e.start, e.end));
    else if (e.number === 2) value = utf8.decode(entry.subarray(e.start, e.end));
  }
  return [key, value];
}

/** Adds the external-data file of a TensorProto (its external_data entry with key "location") to `into`. */
export async function collectLocation(source: ByteSource, tensor: Field, into: Set<string>): Promise<void> {
  // TensorProto.external_data = 13: StringStringEntryProto {key 1, value 2}.
  for await (const f of fieldsOf(source, tensor.start, tensor.end)) {
    if (f.number !== 13 || f.wireType !== LEN) continue;
    const [key, value] = stringEntry(await source.read(f.start, f.value));
    if (key === "location") into.add(value);
  }
}

// ---- writing ------------------------------------------------------------------------------------

/** Protobuf varint bytes of a non-negative integer (up to 2^53) or an int64 bigint (negatives take ten bytes). */
export function encodeVarint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return out;
}

/** A VARINT field. */
export function varintField(number: number, value: number | bigint): Uint8Array {
  return Uint8Array.from([...encodeVarint(number * 8 + VARINT), ...encodeVarint(value)]);
}

/** A LEN field holding `payload` (a nested message, bytes or a string). */
export function lenField(number: number, payload: Uint8Array | string): Uint8Array {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const head = [...encodeVarint(number * 8 + LEN), ...encodeVarint(bytes.length)];
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head, 0);
  out.set(bytes, head.length);
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
