// Elementwise helpers for flattened NCHW tensors; small on purpose, so the loop reads like diffusers.

/** [a; b] along the batch axis. */
export function concatBatch(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Classifier-free guidance: uncond + g · (cond − uncond), over a [2, …] prediction. */
export function applyGuidance(pred: Float32Array, guidance: number): Float32Array {
  const n = pred.length / 2;
  const out = new Float32Array(n); // [1,4,h,w] f32
  for (let i = 0; i < n; i++) {
    const uncond = pred[i];
    out[i] = uncond + guidance * (pred[n + i] - uncond);
  }
  return out;
}

export function scale(values: Float32Array, factor: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * factor;
  return out;
}

/** False when any value is NaN or ±Infinity: one pass, a fraction of a UNet step's cost. */
export function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/**
 * What a user can do when a model's numbers overflow: the cause is nearly always the model (an fp16
 * export that overflows on this provider, weights or a scheduler config that blow up), not the prompt.
 */
export const NON_FINITE_ADVICE = "its weights or scheduler config overflow; try another scheduler or provider, a lower guidance scale, or an fp32 export of the model";
