// Download progress for a UI: bytes, rate and ETA for each file and for the whole pull, sent at
// most every `intervalMs` (and always at the end) so a fast link does not flood the callback.

export type FileState = "waiting" | "downloading" | "verified";

export interface FileProgress {
  readonly path: string;
  readonly bytes: number;
  readonly total: number;
  readonly state: FileState;
  /** Bytes per second over the last few seconds. */
  readonly rate: number;
  /** Seconds left at that rate; undefined while the rate is unknown. */
  readonly eta: number | undefined;
}

export interface PullProgress {
  readonly repo: string;
  readonly commit: string;
  readonly bytes: number;
  readonly total: number;
  readonly rate: number;
  readonly eta: number | undefined;
  readonly files: readonly FileProgress[];
}

const WINDOW_MS = 5_000;

/** Bytes per second over a sliding window of (time, fetched bytes) samples. */
class RateMeter {
  private samples: { t: number; fetched: number }[] = [];
  private fetched = 0;

  add(bytes: number, now: number): void {
    this.fetched += bytes;
    this.samples.push({ t: now, fetched: this.fetched });
    while (this.samples.length > 2 && now - this.samples[1].t > WINDOW_MS) this.samples.shift();
  }

  rate(now: number): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const span = Math.max(now - first.t, 1);
    return ((this.fetched - first.fetched) * 1000) / span;
  }
}

interface FileEntry {
  path: string;
  bytes: number;
  total: number;
  state: FileState;
  meter: RateMeter;
}

export class ProgressTracker {
  private readonly files = new Map<string, FileEntry>();
  private readonly meter = new RateMeter();
  private lastSent = 0;

  constructor(
    private readonly repo: string,
    private readonly commit: string,
    files: readonly { path: string; size: number }[],
    private readonly onProgress: ((p: PullProgress) => void) | undefined,
    private readonly intervalMs = 100,
    private readonly now: () => number = () => Date.now(),
  ) {
    const t = this.now();
    for (const f of files) {
      const meter = new RateMeter();
      meter.add(0, t);
      this.files.set(f.path, { path: f.path, bytes: 0, total: f.size, state: "waiting", meter });
    }
    this.meter.add(0, t);
  }

  bytes(path: string, delta: number, fetched: boolean): void {
    const f = this.files.get(path);
    if (!f) return;
    f.bytes += delta;
    if (f.state === "waiting") f.state = "downloading";
    const t = this.now();
    if (fetched) {
      f.meter.add(delta, t);
      this.meter.add(delta, t);
    }
    this.emit(false);
  }

  verified(path: string): void {
    const f = this.files.get(path);
    if (f) f.state = "verified";
    this.emit(false);
  }

  snapshot(): PullProgress {
    const t = this.now();
    const files: FileProgress[] = [];
    let bytes = 0;
    let total = 0;
    for (const f of this.files.values()) {
      const rate = f.state === "downloading" ? f.meter.rate(t) : 0;
      files.push({ path: f.path, bytes: f.bytes, total: f.total, state: f.state, rate, eta: eta(f.total - f.bytes, rate, f.state === "verified") });
      bytes += f.bytes;
      total += f.total;
    }
    const rate = this.meter.rate(t);
    return { repo: this.repo, commit: this.commit, bytes, total, rate, eta: eta(total - bytes, rate, bytes === total), files };
  }

  emit(final: boolean): void {
    if (!this.onProgress) return;
    const t = this.now();
    if (!final && t - this.lastSent < this.intervalMs) return;
    this.lastSent = t;
    this.onProgress(this.snapshot());
  }
}

function eta(left: number, rate: number, done: boolean): number | undefined {
  if (done || left <= 0) return 0;
  return rate > 0 ? left / rate : undefined;
}

/** `1.2 GB`, `350 MB`, `12 kB`: decimal units, as download sizes are usually shown. */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, "0");
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}

/** One line for a terminal: total, rate, ETA and the files being fetched. */
export function formatProgressLine(p: PullProgress): string {
  const pct = p.total > 0 ? Math.floor((p.bytes / p.total) * 100) : 100;
  const active = p.files.filter((f) => f.state === "downloading").map((f) => f.path.split("/").slice(-2).join("/"));
  return `${pct}% ${formatBytes(p.bytes)}/${formatBytes(p.total)} ${formatBytes(p.rate)}/s ETA ${formatDuration(p.eta)}${active.length ? ` ${active.join(", ")}` : ""}`;
}
