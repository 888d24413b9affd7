import type { ModelSession } from "../onnx/session";
import { floatData, floatTensor, numericTensor } from "../onnx/session";

export interface UnetInputs {
  readonly sample: Float32Array; // [b,4,h,w] f32
  readonly batch: number;
  readonly latentHeight: number;
  readonly latentWidth: number;
  readonly timestep: number;
  readonly hiddenStates: Float32Array; // [b,77,D] f32
  readonly textLength: number;
  readonly textWidth: number;
  readonly timestepCond?: Float32Array; // [1,C] f32, repeated over the batch
}

/**
 * One UNet evaluation. The timestep goes in as the graph declares it (float32, float16 or int64,
 * truncated like numpy's cast). A graph exported with batch 1 gets the batch one row at a time.
 */
export async function runUnet(session: ModelSession, fixedBatch: number | undefined, x: UnetInputs): Promise<Float32Array> {
  if (fixedBatch !== undefined && fixedBatch !== x.batch && fixedBatch === 1 && x.batch > 1) {
    const latentSize = x.sample.length / x.batch;
    const hiddenSize = x.hiddenStates.length / x.batch;
    const out = new Float32Array(x.sample.length); // [b,4,h,w] f32
    for (let b = 0; b < x.batch; b++) {
      const row = await runUnet(session, fixedBatch, {
        ...x,
        batch: 1,
        sample: x.sample.subarray(b * latentSize, (b + 1) * latentSize),
        hiddenStates: x.hiddenStates.subarray(b * hiddenSize, (b + 1) * hiddenSize),
      });
      out.set(row, b * latentSize);
    }
    return out;
  }
  const samplePort = session.input("sample")!;
  const timestepPort = session.input("timestep")!;
  const hiddenPort = session.input("encoder_hidden_states")!;
  const feed = {
    [samplePort.name]: floatTensor(samplePort, x.sample, [x.batch, 4, x.latentHeight, x.latentWidth]),
    [timestepPort.name]: numericTensor(timestepPort, new Array<number>(x.batch).fill(x.timestep), [x.batch]),
    [hiddenPort.name]: floatTensor(hiddenPort, x.hiddenStates, [x.batch, x.textLength, x.textWidth]),
  };
  const condPort = session.input("timestep_cond");
  if (condPort && x.timestepCond) {
    const width = x.timestepCond.length;
    const rows = new Float32Array(width * x.batch); // [b,C] f32
    for (let b = 0; b < x.batch; b++) rows.set(x.timestepCond, b * width);
    feed[condPort.name] = floatTensor(condPort, rows, [x.batch, width]);
  }
  const outputs = await session.run(feed);
  const name = session.output("out_sample")?.name ?? session.outputs[0].name;
  return floatData(outputs[name], "unet"); // [b,4,h,w] f32
}
