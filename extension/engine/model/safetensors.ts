// A safetensors file read by offset: the JSON header is parsed and checked against the file (every
// tensor inside the data area, sized as its dtype and shape say, none overlapping), then tensors are
// read one at a time, so a multi-GB checkpoint is never held in memory. Pickle files (.ckpt/.pt) are
// refused by their bytes before anything else: unpickling runs code the file chooses. The one reader
// of the format: checkpoint import and LoRAs both open their files here.
import { promises as fs } from "node:fs";
import path from "node:path";
import { EaselError } from "../errors";
import { float16BitsToFloat32 } from "../onnx/float16";

export const SAFETENSORS_DTYPES = ["F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Absolute byte range in the file. */
  readonly start: number;
  readonly end: number;
}

/** A header larger than this is not a checkpoint's (SDXL's is about 200 KB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** The file is not a safetensors file that can be read; `reason` lets a caller word its own line (a LoRA's). */
export class SafetensorsFormatError extends EaselError {
  constructor(
    file: string,
    readonly reason: string,
  ) {
    super("model-invalid", `${path.basename(file)} is not a valid safetensors file (${reason}): download it again or re-save it as safetensors`);
  }
}

function invalid(file: string, why: string): SafetensorsFormatError {
  return new SafetensorsFormatError(file, why);
}

/**
 * Pickle (protocol 2..5) starts with 0x80 and the protocol; torch's zip checkpoints with "PK". A
 * safetensors header's JSON starts at byte 8 with "{" (its length's first byte may be 0x80 too).
 */
function looksLikePickle(head: Uint8Array): boolean {
  if (head[8] === 0x7b) return false;
  return (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) || (head[0] === 0x50 && head[1] === 0x4b);
}

export class SafetensorsFile {
  private constructor(
    readonly file: string,
    private readonly handle: fs.FileHandle,
    readonly tensors: ReadonlyMap<string, TensorEntry>,
    /** The header's `__metadata__` (string values only, as the format says). */
    readonly metadata: Readonly<Record<string, string>>,
    readonly size: number,
    /** Where the data area starts: 8 + the header's length. */
    readonly dataStart: number,
  ) {}

  static async open(file: string): Promise<SafetensorsFile> {
    const ext = path.extname(file).toLowerCase();
    if (ext === ".ckpt" || ext === ".pt" || ext === ".pth" || ext === ".bin") {
      throw new EaselError("model-unsupported", `${path.basename(file)} is a pickle checkpoint, which Easel never loads (unpickling can run code): convert it to .safetensors first (e.g. with A1111's or ComfyUI's "save as safetensors")`);
    }
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, "r");
    } catch (error) {
      throw new EaselError("bad-argument", `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"}): give the path of a .safetensors file`);
    }
    try {
      const size = (await handle.stat()).size;
      const head = Buffer.alloc(9);
      const { bytesRead } = await handle.read(head, 0, 9, 0);
      if (looksLikePickle(head)) {
        throw new EaselError("model-unsupported", `${path.basename(file)} is a pickle checkpoint, which Easel never loads (unpickling can run code): convert it to .safetensors first`);
      }
      if (bytesRead < 9) throw invalid(file, "shorter than its header");
      const headerLength = Number(head.readBigUInt64LE(0));
      if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > size) throw invalid(file, `its header claims ${headerLength} bytes of a ${size}-byte file`);
      const headerBytes = Buffer.alloc(headerLength);
      await handle.read(headerBytes, 0, headerLength, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBytes.toString("utf8"));
      } catch {
        throw invalid(file, "its header is not JSON");
      }
      if (typeof header !== "object" || header === null || Array.isArray(header)) throw invalid(file, "its header is not a JSON object");
      const dataStart = 8 + headerLength;
      const tensors = new Map<string, TensorEntry>();
      let metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
        if (name === "__metadata__") {
          if (typeof value === "object" && value !== null) metadata = Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string"));
          continue;
        }
        tensors.set(name, parseEntry(file, name, value, dataStart, size));
      }
      // Ranges must not overlap: a header that points two tensors at the same bytes lies about the file.
      const sorted = [...tensors.values()].sort((a, b) => a.start - b.start);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i].start < sorted[i - 1].end) throw invalid(file, `tensors ${sorted[i - 1].name} and ${sorted[i].name} overlap`);
      }
      return new SafetensorsFile(file, handle, tensors, metadata, size, dataStart);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The raw bytes of one tensor, read from the file now. */
  async readBytes(entry: TensorEntry): Promise<Buffer> {
    const buffer = Buffer.alloc(entry.end - entry.start);
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await this.handle.read(buffer, done, buffer.length - done, entry.start + done);
      if (bytesRead === 0) throw invalid(this.file, `it ends inside ${entry.name}: the file is truncated`);
      done += bytesRead;
    }
    return buffer;
  }

  /** One tensor as float32 (F32, F16, BF16 and F64 tensors). */
  async readFloat32(entry: TensorEntry): Promise<Float32Array> {
    return toFloat32(await this.readBytes(entry), entry.dtype, entry.name);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function parseEntry(file: string, name: string, value: unknown, dataStart: number, size: number): TensorEntry {
  if (typeof value !== "object" || value === null) throw invalid(file, `entry ${name} is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== "string" || !(SAFETENSORS_DTYPES as readonly string[]).includes(dtype)) throw invalid(file, `${name} has dtype ${String(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw invalid(file, `${name} has no valid shape`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) throw invalid(file, `${name} has no valid data_offsets`);
  const [begin, end] = offsets as number[];
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const bytes = elements * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (end < begin || end - begin !== bytes) throw invalid(file, `${name}'s header says ${end - begin} bytes for a ${dtype} tensor of shape [${(shape as number[]).join(",")}] (${bytes} bytes)`);
  if (dataStart + end > size) throw invalid(file, `${name} lies past the end of the file (byte ${dataStart + end} of ${size}): the file is truncated`);
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], start: dataStart + begin, end: dataStart + end };
}

let halfValues: Float32Array | undefined;

/** Every half float's value (256 KB, made once): a lookup per element instead of a decode. */
function halfTable(): Float32Array {
  if (!halfValues) {
    halfValues = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfValues[h] = float16BitsToFloat32(h);
  }
  return halfValues;
}

export function toFloat32(bytes: Buffer, dtype: SafetensorsDtype, name: string): Float32Array {
  const n = bytes.length / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case "F32":
      // Little-endian hosts (every platform ONNX Runtime ships for): the bytes are the values.
      new Uint8Array(out.buffer).set(bytes);
      return out;
    case "F16": {
      const table = halfTable();
      const halves = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      for (let i = 0; i < n; i++) out[i] = table[halves[i]];
      return out;
    }
    case "BF16": {
      // bfloat16 is float32's upper half.
      const word = new Uint32Array(1);
      const f = new Float32Array(word.buffer);
      for (let i = 0; i < n; i++) {
        word[0] = bytes.readUInt16LE(i * 2) << 16;
        out[i] = f[0];
      }
      return out;
    }
    case "F64":
      for (let i = 0; i < n; i++) out[i] = bytes.readDoubleLE(i * 8);
      return out;
    default:
      throw new EaselError("model-unsupported", `${name} is a ${dtype} tensor where weights (floats) were expected: this is not a Stable Diffusion checkpoint Easel can import`);
  }
}
