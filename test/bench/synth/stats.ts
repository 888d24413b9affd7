// Value statistics for the activation check: random weights must give finite, normal activations
// (a NaN breaks the pipeline, a denormal makes CPU kernels many times slower and the timings lie).

export const FLT_MIN_NORMAL = 1.1754943508222875e-38;

export interface ValueStats {
  count: number;
  nan: number;
  inf: number;
  denormal: number;
  zero: number;
  maxAbs: number;
  /** Smallest non-zero magnitude. */
  minAbs: number;
  sumSquares: number;
}

export const emptyStats = (): ValueStats => ({ count: 0, nan: 0, inf: 0, denormal: 0, zero: 0, maxAbs: 0, minAbs: Infinity, sumSquares: 0 });

export function addStats(into: ValueStats, data: Float32Array): ValueStats {
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (Number.isNaN(x)) into.nan++;
    else if (!Number.isFinite(x)) into.inf++;
    else if (x === 0) into.zero++;
    else {
      const a = Math.abs(x);
      if (a < FLT_MIN_NORMAL) into.denormal++;
      if (a > into.maxAbs) into.maxAbs = a;
      if (a < into.minAbs) into.minAbs = a;
      into.sumSquares += x * x;
    }
  }
  into.count += data.length;
  return into;
}

export const rms = (s: ValueStats): number => Math.sqrt(s.sumSquares / Math.max(1, s.count));
export const healthy = (s: ValueStats): boolean => s.nan === 0 && s.inf === 0 && s.denormal === 0;

export function formatStats(s: ValueStats): string {
  return `${s.count} values: NaN ${s.nan}, Inf ${s.inf}, denormal ${s.denormal}, zero ${s.zero}, max |x| ${s.maxAbs.toPrecision(3)}, min |x|>0 ${s.minAbs.toPrecision(3)}, rms ${rms(s).toPrecision(3)}`;
}
