// Wall time per pipeline stage, summed over a generation: the bench reads it, and the engine
// process will report it. performance.now() costs nanoseconds next to any ONNX run.

export type Stage = "tokenize" | "textEncoder" | "vaeEncode" | "unet" | "scheduler" | "preview" | "vaeDecode" | "png";

export class StageClock {
  readonly totals: Record<Stage, number> = { tokenize: 0, textEncoder: 0, vaeEncode: 0, unet: 0, scheduler: 0, preview: 0, vaeDecode: 0, png: 0 };
  /** Each UNet evaluation (one per step, CFG included), in milliseconds. */
  readonly unetRuns: number[] = [];

  async time<T>(stage: Stage, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.add(stage, performance.now() - start);
    }
  }

  timeSync<T>(stage: Stage, work: () => T): T {
    const start = performance.now();
    try {
      return work();
    } finally {
      this.add(stage, performance.now() - start);
    }
  }

  private add(stage: Stage, ms: number): void {
    this.totals[stage] += ms;
    if (stage === "unet") this.unetRuns.push(ms);
  }
}
