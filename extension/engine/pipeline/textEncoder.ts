import type { ModelSession } from "../onnx/session";
import { floatData, numericTensor } from "../onnx/session";

/** Runs the text encoder on token id rows; returns last_hidden_state. */
export async function encodeTokens(session: ModelSession, rows: readonly (readonly number[])[]): Promise<Float32Array> {
  const idsPort = session.input("input_ids") ?? session.inputs[0];
  const length = rows[0].length;
  const flat = rows.flat();
  const outputs = await session.run({ [idsPort.name]: numericTensor(idsPort, flat, [rows.length, length]) });
  const name = session.output("last_hidden_state")?.name ?? session.outputs[0].name;
  return floatData(outputs[name], "text_encoder"); // [n,77,D] f32
}
