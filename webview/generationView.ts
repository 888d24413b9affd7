// Generate / Cancel, the live preview, the progress bar and the status line (step, it/s).
import type { LoadProgressMessage, PreviewMessage, StepProgressMessage } from "../extension/protocol/studioMessages";
import { byId, show } from "./dom";

export class GenerationView {
  readonly generateButton = byId("generate", "vscode-button");
  readonly cancelButton = byId("cancel", "vscode-button");
  private readonly image = byId("preview-image", "img");
  private readonly tiles = byId("preview-tiles", "div");
  private readonly empty = byId("preview-empty", "figcaption");
  private readonly bar = byId("progress", "vscode-progress-bar");
  private readonly status = byId("status", "p");
  private running = false;

  get isRunning(): boolean {
    return this.running;
  }

  started(): void {
    this.setRunning(true);
    this.bar.value = undefined;
    show(this.bar, true);
    this.status.textContent = "Starting…";
  }

  loading(m: LoadProgressMessage): void {
    this.bar.value = undefined;
    this.status.textContent = `Loading the model: ${m.component} (${m.index + 1}/${m.total})…`;
  }

  progress(m: StepProgressMessage): void {
    const fraction = (m.image + m.step / Math.max(1, m.steps)) / Math.max(1, m.images);
    this.bar.value = Math.round(fraction * 1000) / 10;
    const image = m.images > 1 ? `Image ${m.image + 1}/${m.images} · ` : "";
    this.status.textContent = `${image}Step ${m.step}/${m.steps} · ${m.itPerSec.toFixed(2)} it/s`;
  }

  preview(m: PreviewMessage): void {
    this.showImage(m.src, `Preview of image ${m.image + 1} at step ${m.step}`);
  }

  /** Ends a run: the final image (when there is one) replaces the step preview. */
  finished(status: string, image?: { readonly src: string; readonly alt: string; readonly tiled?: boolean }): void {
    this.setRunning(false);
    show(this.bar, false);
    this.status.textContent = status;
    if (image) this.showImage(image.src, image.alt, image.tiled);
  }

  /** `tiled`: a seamless texture, shown as four copies of itself, 2×2 (the single image stays for imageSrc). */
  showImage(src: string, alt: string, tiled = false): void {
    this.image.src = src;
    this.image.alt = alt;
    for (const tile of this.tiles.querySelectorAll("img")) tile.src = src;
    this.tiles.setAttribute("aria-label", tiled ? `${alt}, repeated 2×2 to show how it tiles` : "");
    show(this.image, !tiled);
    show(this.tiles, tiled);
    show(this.empty, false);
  }

  get imageSrc(): string | undefined {
    return this.image.hidden ? undefined : this.image.getAttribute("src") ?? undefined;
  }

  private setRunning(running: boolean): void {
    this.running = running;
    this.generateButton.disabled = running;
    this.cancelButton.disabled = !running;
  }
}
