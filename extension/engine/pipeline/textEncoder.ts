import { notSupportedYet } from "../errors";
import type { ModelSession } from "../onnx/session";
import { floatData, numericTensor } from "../onnx/session";
import { fixedBatchOf } from "../model/modelInfo";

/**
 * Runs the text encoder on token id rows; returns last_hidden_state. A graph exported with a fixed
 * batch (static-shape exports fix it alongside the UNet's) gets the rows in runs of that batch
 * (batch 1: CFG's two prompts one at a time), or repeated to fill it, keeping the first results.
 */
export async function encodeTokens(session: ModelSession, rows: readonly (readonly number[])[]): Promise<Float32Array> {
  const idsPort = session.input("input_ids") ?? session.inputs[0];
  const fixedBatch = fixedBatchOf(idsPort, "text_encoder/model.onnx");
  if (fixedBatch !== undefined && fixedBatch !== rows.length) {
    if (rows.length % fixedBatch === 0) {
      const parts: Float32Array[] = [];
      for (let r = 0; r < rows.length; r += fixedBatch) parts.push(await encodeTokens(session, rows.slice(r, r + fixedBatch)));
      const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0)); // [n,77,D] f32
      parts.forEach((part, i) => out.set(part, i * part.length));
      return out;
    }
    if (fixedBatch % rows.length === 0) {
      const filled: (readonly number[])[] = [];
      while (filled.length < fixedBatch) filled.push(...rows);
      const all = await encodeTokens(session, filled); // [fixed,77,D] f32
      return all.slice(0, (all.length / fixedBatch) * rows.length); // [n,77,D] f32
    }
    throw notSupportedYet(`a text encoder exported for a fixed batch of ${fixedBatch} (this generation encodes ${rows.length} prompts); export it with a dynamic batch or a batch of 1`);
  }
  const length = rows[0].length;
  const flat = rows.flat();
  const outputs = await session.run({ [idsPort.name]: numericTensor(idsPort, flat, [rows.length, length]) });
  const name = session.output("last_hidden_state")?.name ?? session.outputs[0].name;
  return floatData(outputs[name], "text_encoder"); // [n,77,D] f32
}
