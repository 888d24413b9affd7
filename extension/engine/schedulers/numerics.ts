// The few numpy / torch numerics the schedulers depend on, reproduced the way those libraries compute
// them, so a schedule built here has the same float values as the one diffusers builds.
//
// Two precisions meet in diffusers' schedulers: numpy bookkeeping in float64 (np.linspace, np.arange,
// np.interp, Karras sigmas) and torch float32 tensors (betas, alphas_cumprod, sigmas once converted,
// every latent-sized operation). `Math.fround` after each float32 operation emulates the latter.

export const fround = Math.fround;

/**
 * numpy's `round` (`np.round`, `ndarray.round()`): halves go to the even neighbour, unlike `Math.round`.
 * diffusers rounds timesteps with it, and e.g. `np.linspace(0, 999, 3)` hits 499.5 -> 500, 498.5 -> 498.
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * `np.linspace(start, stop, num)` (endpoint=True) in float64: numpy computes `i * step + start` with
 * `step = (stop - start) / (num - 1)` and then pins the last value to `stop` exactly.
 */
export function npLinspace(start: number, stop: number, num: number): number[] {
  const out: number[] = new Array<number>(num);
  if (num <= 0) return [];
  const div = num - 1;
  const delta = stop - start;
  if (div === 0) {
    out[0] = start;
    return out;
  }
  const step = delta / div;
  for (let i = 0; i < num; i++) {
    // numpy falls back to (i / div) * delta when the step underflows to zero.
    out[i] = (step === 0 ? (i / div) * delta : i * step) + start;
  }
  out[num - 1] = stop;
  return out;
}

/**
 * `np.linspace(start, stop, num, endpoint=False)`: the same formula with `num` intervals and no pinning.
 * LCM picks its inference indices with it.
 */
export function npLinspaceNoEndpoint(start: number, stop: number, num: number): number[] {
  const out: number[] = new Array<number>(num);
  const delta = stop - start;
  const step = delta / num;
  for (let i = 0; i < num; i++) out[i] = (step === 0 ? (i / num) * delta : i * step) + start;
  return out;
}

/**
 * `np.arange(start, stop, step)` for floats: the length is `ceil((stop - start) / step)`, the first two
 * values are `start` and `start + step`, and numpy's fill continues with `start + i * delta` where
 * `delta = (start + step) - start` (which can differ from `step` in the last bit).
 */
export function npArange(start: number, stop: number, step: number): number[] {
  if (step === 0) throw new RangeError("npArange: step must not be zero");
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const out: number[] = new Array<number>(length);
  if (length === 0) return out;
  out[0] = start;
  if (length === 1) return out;
  const second = start + step;
  out[1] = second;
  const delta = second - start;
  for (let i = 2; i < length; i++) out[i] = start + i * delta;
  return out;
}

/**
 * `np.interp(x, np.arange(len(fp)), fp)`: piecewise-linear interpolation over integer knots, in float64,
 * with numpy's formula `slope * (x - xp[j]) + fp[j]` and exact knots returned unchanged.
 */
export function npInterpOverIndex(x: number, fp: ArrayLike<number>): number {
  const n = fp.length;
  if (Number.isNaN(x)) return x;
  if (x < 0) return fp[0];
  if (x >= n - 1) return fp[n - 1];
  const j = Math.floor(x);
  if (j === x) return fp[j];
  const slope = (fp[j + 1] - fp[j]) / 1;
  return slope * (x - j) + fp[j];
}

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` on the CPU: start, end and the step are
 * float32; the first half counts up from `start`, the second half counts down from `end`.
 * (torch's vectorised loop can differ from this scalar formula by an ulp on some elements; betas feed
 * only into cumulative products, where that is far below anything visible.)
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  const s = fround(start);
  const e = fround(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = fround(fround(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? fround(s + fround(step * i)) : fround(e - fround(step * (steps - i - 1)));
  }
  return out;
}

/** `x ** 0.5` on a float32 tensor: sqrt rounded once to float32. */
export function sqrtF32(x: number): number {
  return fround(Math.sqrt(x));
}

/** `torch.log` on a float32 value. */
export function logF32(x: number): number {
  return fround(Math.log(x));
}

/** `torch.exp` on a float32 value. */
export function expF32(x: number): number {
  return fround(Math.exp(x));
}
