import type { StepProgress } from "../types";

/** A one-line progress bar redrawn in place on a terminal: image, step, it/s and ETA. */
export class ProgressBar {
  private lastDraw = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(p: StepProgress): void {
    const now = Date.now();
    if (p.step !== p.steps && now - this.lastDraw < 80) return;
    this.lastDraw = now;
    const width = 24;
    const filled = Math.round((p.step / p.steps) * width);
    const rate = p.elapsedMs > 0 ? (p.step * 1000) / p.elapsedMs : 0;
    const remaining = rate > 0 ? (p.steps - p.step) / rate : 0;
    const image = p.images > 1 ? `image ${p.image + 1}/${p.images} ` : "";
    const line = `${image}[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.step}/${p.steps} ${rate.toFixed(2)} it/s ETA ${remaining.toFixed(1)}s`;
    this.stream.write(`\r\x1b[2K${line}`);
  }

  done(): void {
    if (this.lastDraw > 0) this.stream.write("\r\x1b[2K");
  }
}
