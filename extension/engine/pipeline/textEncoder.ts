import { notSupportedYet } from "../errors";
import type { ModelSession } from "../onnx/session";
import { floatData, numericTensor } from "../onnx/session";
import { fixedBatchOf, type TextEncoderUse } from "../model/modelInfo";
import type { TextEncoderRun } from "./promptEncoding";

/**
 * Runs a text encoder on token id rows and returns the named outputs, each [n, …] f32. A graph
 * exported with a fixed batch (static-shape exports fix it alongside the UNet's) gets the rows in
 * runs of that batch (batch 1: CFG's two prompts one at a time), or repeated to fill it, keeping
 * the first results.
 */
export async function runTextEncoder(session: ModelSession, rows: readonly (readonly number[])[], outputNames: readonly string[]): Promise<Float32Array[]> {
  const idsPort = session.input("input_ids") ?? session.inputs[0];
  const fixedBatch = fixedBatchOf(idsPort, "text_encoder/model.onnx");
  if (fixedBatch !== undefined && fixedBatch !== rows.length) {
    if (rows.length % fixedBatch === 0) {
      const parts: Float32Array[][] = [];
      for (let r = 0; r < rows.length; r += fixedBatch) parts.push(await runTextEncoder(session, rows.slice(r, r + fixedBatch), outputNames));
      return outputNames.map((_, o) => {
        const out = new Float32Array(parts.reduce((n, p) => n + p[o].length, 0)); // [n,…] f32
        let offset = 0;
        for (const part of parts) {
          out.set(part[o], offset);
          offset += part[o].length;
        }
        return out;
      });
    }
    if (fixedBatch % rows.length === 0) {
      const filled: (readonly number[])[] = [];
      while (filled.length < fixedBatch) filled.push(...rows);
      const all = await runTextEncoder(session, filled, outputNames); // each [fixed,…] f32
      return all.map((t) => t.slice(0, (t.length / fixedBatch) * rows.length)); // each [n,…] f32
    }
    throw notSupportedYet(`a text encoder exported for a fixed batch of ${fixedBatch} (this generation encodes ${rows.length} prompts); export it with a dynamic batch or a batch of 1`);
  }
  const length = rows[0].length;
  const flat = rows.flat();
  const outputs = await session.run({ [idsPort.name]: numericTensor(idsPort, flat, [rows.length, length]) });
  return outputNames.map((name) => floatData(outputs[name], session.component));
}

/**
 * One encoder as promptEncoding.ts runs it on rows of ids: the hidden states the model reads (last
 * or penultimate layer, as `use` names them) and, for SDXL's second encoder, the pooled embedding.
 */
export function textEncoderRun(use: TextEncoderUse, session: ModelSession): TextEncoderRun {
  const names = use.pooledOutput ? [use.hiddenOutput, use.pooledOutput] : [use.hiddenOutput];
  return async (rows) => {
    const [hidden, pooled] = await runTextEncoder(session, rows, names); // [n,77,D] f32, [n,P] f32
    return { hidden, pooled };
  };
}

/**
 * Concatenates each encoder's hidden states on the last axis, as diffusers' SDXL pipeline does
 * (torch.concat(prompt_embeds_list, dim=-1)): [n,L,D1] + [n,L,D2] → [n,L,D1+D2]. One encoder's
 * states come back as they are.
 */
export function concatHiddenStates(parts: readonly Float32Array[], widths: readonly number[], rows: number, length: number): Float32Array {
  if (parts.length === 1) return parts[0];
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * length * total); // [n,L,ΣD] f32
  for (let p = 0, offset = 0; p < parts.length; offset += widths[p], p++) {
    const part = parts[p]; // [n,L,D_p] f32
    const width = widths[p];
    for (let position = 0; position < rows * length; position++) {
      out.set(part.subarray(position * width, (position + 1) * width), position * total + offset);
    }
  }
  return out;
}
