import { formatProgressLine, type PullProgress } from "../hub/progress";
import type { StepProgress } from "../types";

/**
 * One line redrawn in place on a terminal (a download's or a generation's progress), erased before
 * the next line of output. Silent when disabled (not a terminal, or --json).
 */
export class StatusLine {
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly enabled: boolean,
  ) {}

  show(text: string): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[2K${text}`);
    this.drawn = true;
  }

  clear(): void {
    if (!this.drawn) return;
    this.stream.write("\r\x1b[2K");
    this.drawn = false;
  }

  /** A download's `onProgress`: bytes, speed and ETA. */
  readonly pull = (p: PullProgress): void => this.show(formatProgressLine(p));
}

/** A generation's progress bar: image, step, it/s and ETA, redrawn at most every 80 ms. */
export class ProgressBar {
  private lastDraw = 0;
  private readonly line: StatusLine;

  constructor(stream: NodeJS.WritableStream) {
    this.line = new StatusLine(stream, true);
  }

  update(p: StepProgress): void {
    const now = Date.now();
    if (p.step !== p.steps && now - this.lastDraw < 80) return;
    this.lastDraw = now;
    const width = 24;
    const filled = Math.round((p.step / p.steps) * width);
    const rate = p.elapsedMs > 0 ? (p.step * 1000) / p.elapsedMs : 0;
    const remaining = rate > 0 ? (p.steps - p.step) / rate : 0;
    const image = p.images > 1 ? `image ${p.image + 1}/${p.images} ` : "";
    this.line.show(`${image}[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.step}/${p.steps} ${rate.toFixed(2)} it/s ETA ${remaining.toFixed(1)}s`);
  }

  done(): void {
    this.line.clear();
  }
}
