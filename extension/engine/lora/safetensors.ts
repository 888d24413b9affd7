// The .safetensors format (8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range after the header, then the data), read with positioned reads so a
// file is never loaded whole, and checked so a file that lies about itself is one clear error.

import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import { float16BitsToFloat32 } from "../onnx/float16";

export interface SafetensorsEntry {
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range in the data section (after the header). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly file: string;
  /** Where the data section starts: 8 + the header's length. */
  readonly dataStart: number;
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Why a file is not a safetensors file we can read; the caller words the one-line error. */
export class SafetensorsFormatError extends Error {}

const BYTES_PER = { F32: 4, F16: 2, BF16: 2, F64: 8 } as const;
/** The longest header read (real LoRAs carry training metadata: a few hundred KB at most). */
const MAX_HEADER = 100 * 1024 * 1024;

export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const handle = await fs.open(file, "r");
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(8);
    if ((await handle.read(head, 0, 8, 0)).bytesRead !== 8) throw new SafetensorsFormatError("shorter than a safetensors header");
    const length = Number(head.readBigUInt64LE(0));
    if (length < 2 || length > MAX_HEADER || 8 + length > size) throw new SafetensorsFormatError("its first 8 bytes are not a safetensors header length");
    const json = Buffer.alloc(length);
    await handle.read(json, 0, length, 8);
    if (json[0] !== 0x7b /* { */) throw new SafetensorsFormatError("its header is not a JSON object");
    let parsed: unknown;
    try {
      parsed = JSON.parse(json.toString("utf8"));
    } catch {
      throw new SafetensorsFormatError("its header is not valid JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new SafetensorsFormatError("its header is not a JSON object");
    const dataStart = 8 + length;
    const tensors = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (name === "__metadata__") {
        if (typeof value === "object" && value !== null) metadata = Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string"));
        continue;
      }
      const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const shape = v.shape;
      const offsets = v.data_offsets;
      if (typeof v.dtype !== "string" || !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) || !Array.isArray(offsets) || offsets.length !== 2) {
        throw new SafetensorsFormatError(`its header entry ${name} is malformed`);
      }
      const [begin, end] = offsets as unknown[];
      if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || (begin as number) < 0 || (end as number) < (begin as number) || dataStart + (end as number) > size) {
        throw new SafetensorsFormatError(`tensor ${name} lies outside the file (truncated download?)`);
      }
      const per = BYTES_PER[v.dtype as keyof typeof BYTES_PER];
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      if (per !== undefined && count * per !== (end as number) - (begin as number)) throw new SafetensorsFormatError(`tensor ${name}'s byte range does not match its shape`);
      tensors.set(name, { dtype: v.dtype, shape: shape as number[], begin: begin as number, end: end as number });
    }
    return { file, dataStart, tensors, metadata };
  } finally {
    await handle.close();
  }
}

/** Reads the named tensors as f32 (F32, F16, BF16 and F64 convert; other dtypes are refused). */
export async function readSafetensorsFloat32(header: SafetensorsHeader, names: readonly string[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const handle = await fs.open(header.file, "r");
  try {
    for (const name of names) {
      const entry = header.tensors.get(name);
      if (!entry) throw new SafetensorsFormatError(`has no tensor ${name}`);
      const bytes = Buffer.alloc(entry.end - entry.begin);
      await handle.read(bytes, 0, bytes.length, header.dataStart + entry.begin);
      out.set(name, toFloat32(bytes, entry.dtype, name));
    }
  } finally {
    await handle.close();
  }
  return out;
}

function toFloat32(bytes: Buffer, dtype: string, name: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32": {
      const out = new Float32Array(bytes.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(bytes.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(bytes.length / 2);
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < out.length; i++) u32[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case "F64": {
      const out = new Float32Array(bytes.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    default:
      throw new SafetensorsFormatError(`tensor ${name} is ${dtype}, not a float type`);
  }
}

/**
 * A1111's LoRA hash (modules/hashes.py `addnet_hash_safetensors`, kohya's "new" additional-networks
 * hash): sha256 of everything after the header, so editing the metadata keeps it. The infotext's
 * `Lora hashes` carry its first 12 hex digits (network.py's shorthash).
 */
export async function a1111LoraHash(file: string): Promise<string> {
  const handle = await fs.open(file, "r");
  try {
    const head = Buffer.alloc(8);
    await handle.read(head, 0, 8, 0);
    const start = 8 + Number(head.readBigUInt64LE(0));
    const hash = createHash("sha256");
    for await (const chunk of handle.createReadStream({ start, autoClose: false })) hash.update(chunk as Buffer);
    return hash.digest("hex");
  } finally {
    await handle.close();
  }
}
