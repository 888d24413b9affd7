import { notSupportedYet } from "../errors";
import type { ModelSession } from "../onnx/session";
import { floatData, floatTensor, numericTensor } from "../onnx/session";

/** Every SD UNet predicts 4 latent channels, an inpainting UNet's 9 inputs included. */
const UNET_OUT_CHANNELS = 4;

export interface UnetInputs {
  readonly sample: Float32Array; // [b,4|9,h,w] f32 (9: an inpainting UNet's latents + mask + masked-image latents)
  readonly batch: number;
  readonly latentHeight: number;
  readonly latentWidth: number;
  readonly timestep: number;
  readonly hiddenStates: Float32Array; // [b,77,D] f32
  readonly textLength: number;
  readonly textWidth: number;
  readonly timestepCond?: Float32Array; // [1,C] f32, repeated over the batch
  /** SDXL's added conditioning, one row per batch entry. */
  readonly added?: { readonly textEmbeds: Float32Array; readonly timeIds: Float32Array }; // [b,P] f32, [b,6] f32
}

/** The inputs that carry one row per batch entry, which a fixed-batch graph gets in runs or repeated. */
type RowInputs = Pick<UnetInputs, "sample" | "hiddenStates" | "added">;

function mapRows(x: UnetInputs, f: (rows: Float32Array) => Float32Array): RowInputs {
  return {
    sample: f(x.sample),
    hiddenStates: f(x.hiddenStates),
    added: x.added && { textEmbeds: f(x.added.textEmbeds), timeIds: f(x.added.timeIds) },
  };
}

/** Rows [from, to) of a [b,…] tensor. */
function rowRange(t: Float32Array, batch: number, from: number, to: number): Float32Array {
  const size = t.length / batch;
  return t.subarray(from * size, to * size);
}

/** A [b,…] tensor repeated `times` times along the batch: [b·times,…]. */
function repeatRows(t: Float32Array, times: number): Float32Array {
  const out = new Float32Array(t.length * times);
  for (let copy = 0; copy < times; copy++) out.set(t, copy * t.length);
  return out;
}

/**
 * One UNet evaluation. The timestep goes in as the graph declares it (float32, float16, or int64 /
 * int32 rounded to the nearest integer: see numericTensor). A graph exported with a fixed batch
 * gets the rows in runs of that batch (batch 1: CFG's halves one at a time), or, when it takes
 * more rows than there are (batch 2, exported for CFG, running a guidance-free model), the rows
 * repeated to fill it and only the first ones' result kept.
 */
export async function runUnet(session: ModelSession, fixedBatch: number | undefined, x: UnetInputs): Promise<Float32Array> {
  const plane = x.latentHeight * x.latentWidth;
  const sampleChannels = x.sample.length / (x.batch * plane);
  const outSize = UNET_OUT_CHANNELS * plane;
  if (fixedBatch !== undefined && fixedBatch !== x.batch) {
    if (x.batch % fixedBatch === 0) {
      const out = new Float32Array(outSize * x.batch); // [b,4,h,w] f32
      for (let b = 0; b < x.batch; b += fixedBatch) {
        const rows = await runUnet(session, fixedBatch, { ...x, batch: fixedBatch, ...mapRows(x, (t) => rowRange(t, x.batch, b, b + fixedBatch)) });
        out.set(rows, b * outSize);
      }
      return out;
    }
    if (fixedBatch % x.batch === 0) {
      const out = await runUnet(session, fixedBatch, { ...x, batch: fixedBatch, ...mapRows(x, (t) => repeatRows(t, fixedBatch / x.batch)) });
      return out.slice(0, outSize * x.batch); // [b,4,h,w] f32
    }
    throw notSupportedYet(`a UNet exported for a fixed batch of ${fixedBatch} (this generation needs ${x.batch} rows per step); export it with a dynamic batch or a batch of 1`);
  }
  const samplePort = session.input("sample")!;
  const timestepPort = session.input("timestep")!;
  const hiddenPort = session.input("encoder_hidden_states")!;
  const feed = {
    [samplePort.name]: floatTensor(samplePort, x.sample, [x.batch, sampleChannels, x.latentHeight, x.latentWidth]),
    [timestepPort.name]: numericTensor(timestepPort, new Array<number>(x.batch).fill(x.timestep), [x.batch]),
    [hiddenPort.name]: floatTensor(hiddenPort, x.hiddenStates, [x.batch, x.textLength, x.textWidth]),
  };
  const condPort = session.input("timestep_cond");
  if (condPort && x.timestepCond) {
    const width = x.timestepCond.length;
    feed[condPort.name] = floatTensor(condPort, repeatRows(x.timestepCond, x.batch), [x.batch, width]); // [b,C]
  }
  const textEmbedsPort = session.input("text_embeds");
  const timeIdsPort = session.input("time_ids");
  if (textEmbedsPort && timeIdsPort && x.added) {
    feed[textEmbedsPort.name] = floatTensor(textEmbedsPort, x.added.textEmbeds, [x.batch, x.added.textEmbeds.length / x.batch]);
    feed[timeIdsPort.name] = floatTensor(timeIdsPort, x.added.timeIds, [x.batch, x.added.timeIds.length / x.batch]);
  }
  const outputs = await session.run(feed);
  const name = session.output("out_sample")?.name ?? session.outputs[0].name;
  return floatData(outputs[name], "unet"); // [b,4,h,w] f32
}
