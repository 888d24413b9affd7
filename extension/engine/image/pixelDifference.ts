/**
 * The conformance kit's measure of two images of the same size and layout: the mean and the
 * largest absolute difference over every channel value (0..255).
 */
export function pixelDifference(a: Uint8Array, b: Uint8Array): { readonly mean: number; readonly max: number } {
  if (a.length !== b.length) throw new Error(`pixel buffers of ${a.length} and ${b.length} values`);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: a.length === 0 ? 0 : sum / a.length, max };
}
