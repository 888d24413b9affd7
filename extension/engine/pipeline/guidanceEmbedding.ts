// LCM's `timestep_cond`: diffusers' get_guidance_scale_embedding of w = guidance - 1, i.e. the
// sinusoidal embedding of 1000·w, sin half then cos half, computed in float32 as torch does.

export function guidanceScaleEmbedding(guidance: number, embeddingDim: number): Float32Array {
  const f = Math.fround;
  const w = f(f(guidance - 1) * 1000);
  const halfDim = Math.floor(embeddingDim / 2);
  const logBase = f(f(Math.log(10000)) / (halfDim - 1));
  const out = new Float32Array(embeddingDim); // [1, embeddingDim] f32; odd widths keep a zero pad
  for (let i = 0; i < halfDim; i++) {
    const freq = f(Math.exp(f(i * -logBase)));
    const arg = f(w * freq);
    out[i] = Math.sin(arg);
    out[halfDim + i] = Math.cos(arg);
  }
  return out;
}
