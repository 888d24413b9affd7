// Writes .safetensors files for tests (F32 tensors, or F16 when asked), laid out as the
// safetensors library writes them: 8-byte header length, JSON header padded with spaces to 8 bytes, data.
import fs from "node:fs";
import { toFloat16 } from "../../extension/engine/onnx/float16";

export interface TestTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly dtype?: "F32" | "F16";
}

export function safetensorsBytes(tensors: Readonly<Record<string, TestTensor>>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = t.dtype === "F16" ? Buffer.from(toFloat16(t.data).buffer) : Buffer.from(new Float32Array(t.data).buffer);
    header[name] = { dtype: t.dtype ?? "F32", shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += " ";
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json), ...parts]);
}

export function writeSafetensors(file: string, tensors: Readonly<Record<string, TestTensor>>, metadata?: Record<string, string>): void {
  fs.writeFileSync(file, safetensorsBytes(tensors, metadata));
}
