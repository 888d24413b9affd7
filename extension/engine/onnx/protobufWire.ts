// The protobuf wire format, read with positioned reads: an ONNX graph's initializers (gigabytes) are
// skipped by their length, never read, unless asked for. Shared by the float-timestep patch and the
// graph-weights reader (LoRA, checkpoint import).

import type { FileHandle } from "node:fs/promises";

// Wire types.
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

/** The fields of a small message already in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return { read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * A file read in 1 MiB windows: a graph's nodes and tensor headers are small and consecutive, so
 * most reads come from the last window.
 */
export function fileSource(handle: FileHandle): ByteSource {
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

// ---------------------------------------------------------------------------------------------
// Writing

export function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** A length-delimited field: tag, length, payload. */
export function lenField(number: number, payload: Uint8Array): Uint8Array[] {
  return [encodeVarint(number * 8 + LEN), encodeVarint(payload.length), payload];
}

export function varintField(number: number, value: number): Uint8Array[] {
  return [encodeVarint(number * 8 + VARINT), encodeVarint(value)];
}

export function stringField(number: number, text: string): Uint8Array[] {
  return lenField(number, new TextEncoder().encode(text));
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}
