// The inpainting mask, painted on a canvas laid over the starting image. The canvas has the image's
// own pixel size (the mask must match it), holds white strokes on transparency, and is sent as a
// PNG that is black where nothing was painted: white repaints, as the engine reads it. Usable from
// the keyboard when the canvas has focus: B brush, E eraser, [ and ] size, I invert, Delete clear,
// arrow keys move the brush (Shift: four times as far), Space paints where it is.
import { byId, show } from "./dom";

type Tool = "brush" | "eraser";

const MIN_SIZE = 2;
const MAX_SIZE = 512;

export class MaskEditor {
  readonly canvas = byId("mask-canvas", "canvas");
  private readonly image = byId("mask-image", "img");
  private readonly cursor = byId("mask-cursor", "div");
  private readonly brushButton = byId("mask-brush", "vscode-button");
  private readonly eraserButton = byId("mask-eraser", "vscode-button");
  private readonly sizeInput = byId("mask-size", "input");
  private readonly sizeValue = byId("mask-size-value", "span");
  private tool: Tool = "brush";
  /** Where the last stroke point was, in image pixels (pointer or keyboard). */
  private last: { x: number; y: number } | undefined;
  private drawing = false;
  private keyboardPen = false;
  private keyboardAt = { x: 0, y: 0 };
  /** A mask to put on once the image's size is known (a restored form). */
  private pending: string | undefined;
  private painted = false;
  /** The last toPng() answer, until the canvas changes (the form is read on every keystroke). */
  private encoded: string | undefined;

  constructor(private readonly onChange: () => void) {
    this.brushButton.addEventListener("click", () => this.setTool("brush"));
    this.eraserButton.addEventListener("click", () => this.setTool("eraser"));
    byId("mask-invert", "vscode-button").addEventListener("click", () => this.invert());
    byId("mask-clear", "vscode-button").addEventListener("click", () => this.clear());
    this.sizeInput.addEventListener("input", () => this.setSize(Number(this.sizeInput.value)));
    this.image.addEventListener("load", () => this.imageLoaded());
    this.canvas.addEventListener("pointerdown", (e) => this.pointerDown(e));
    this.canvas.addEventListener("pointermove", (e) => this.pointerMove(e));
    this.canvas.addEventListener("pointerup", () => this.strokeEnd());
    this.canvas.addEventListener("pointercancel", () => this.strokeEnd());
    this.canvas.addEventListener("pointerleave", () => show(this.cursor, this.keyboardPen));
    this.canvas.addEventListener("keydown", (e) => this.key(e));
    this.canvas.addEventListener("keyup", (e) => {
      if (e.key !== " ") return;
      this.keyboardPen = false;
      this.last = undefined;
      this.onChange();
    });
    this.canvas.addEventListener("blur", () => show(this.cursor, false));
    this.setTool("brush");
    this.setSize(Number(this.sizeInput.value));
  }

  /** The starting image to paint on; a different image starts with an empty mask. */
  setImage(src: string | undefined): void {
    if (src === undefined) {
      this.image.removeAttribute("src");
      this.resize(0, 0);
      return;
    }
    if (this.image.getAttribute("src") !== src) {
      this.clear(false);
      this.image.src = src;
    }
  }

  /** Puts a mask (base64 PNG: white repaints) on the canvas, once the image is there. */
  setMask(base64: string | undefined): void {
    if (base64 === undefined) {
      if (this.painted) this.clear(false);
      return;
    }
    this.pending = base64;
    if (this.image.complete && this.image.naturalWidth > 0) this.applyPending();
  }

  /** The starting image's size as shown (EXIF-oriented, as the engine reads it), once loaded. */
  get imageSize(): { readonly width: number; readonly height: number } | undefined {
    return this.image.naturalWidth > 0 ? { width: this.image.naturalWidth, height: this.image.naturalHeight } : undefined;
  }

  /** The mask as a base64 PNG (black background, white strokes), or undefined when nothing is painted. */
  toPng(): string | undefined {
    if (!this.painted || this.canvas.width === 0) return this.pending;
    if (this.encoded !== undefined) return this.encoded;
    const out = document.createElement("canvas");
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const ctx = out.getContext("2d");
    if (!ctx) return undefined;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(this.canvas, 0, 0);
    this.encoded = out.toDataURL("image/png").replace(/^data:image\/png;base64,/, "");
    return this.encoded;
  }

  focus(): void {
    this.canvas.focus();
  }

  private get ctx(): CanvasRenderingContext2D | undefined {
    return this.canvas.getContext("2d", { willReadFrequently: true }) ?? undefined;
  }

  private get size(): number {
    return Number(this.sizeInput.value);
  }

  private imageLoaded(): void {
    this.resize(this.image.naturalWidth, this.image.naturalHeight);
    this.keyboardAt = { x: this.canvas.width / 2, y: this.canvas.height / 2 };
    this.applyPending();
    this.onChange();
  }

  private resize(width: number, height: number): void {
    this.encoded = undefined;
    if (this.canvas.width === width && this.canvas.height === height) return;
    this.canvas.width = width;
    this.canvas.height = height;
    this.painted = false;
  }

  private applyPending(): void {
    const base64 = this.pending;
    if (base64 === undefined) return;
    const img = new Image();
    img.addEventListener("load", () => {
      const ctx = this.ctx;
      if (!ctx || img.naturalWidth !== this.canvas.width || img.naturalHeight !== this.canvas.height) {
        this.pending = undefined;
        return;
      }
      ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      ctx.drawImage(img, 0, 0);
      // Grey level → coverage: white (repaint) stays white and opaque, black becomes transparent.
      const data = ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
      const px = data.data;
      for (let i = 0; i < px.length; i += 4) {
        const grey = Math.round(0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2]);
        px[i] = px[i + 1] = px[i + 2] = 255;
        px[i + 3] = grey;
      }
      ctx.putImageData(data, 0, 0);
      // The canvas now shows this mask: until it is painted on, the mask sent is these very bytes
      // (re-encoding the canvas could move an edge pixel by a rounding step, and a recall must be exact).
      this.encoded = base64;
      this.pending = undefined;
      this.painted = true;
      this.onChange();
    });
    img.src = `data:image/png;base64,${base64}`;
  }

  private setTool(tool: Tool): void {
    this.tool = tool;
    this.brushButton.setAttribute("aria-pressed", String(tool === "brush"));
    this.eraserButton.setAttribute("aria-pressed", String(tool === "eraser"));
  }

  private setSize(size: number): void {
    const clamped = Math.min(MAX_SIZE, Math.max(MIN_SIZE, Math.round(size)));
    this.sizeInput.value = String(clamped);
    this.sizeValue.textContent = `${clamped} px`;
    this.placeCursor(this.keyboardAt);
  }

  /** Image pixels under a pointer event. */
  private at(e: PointerEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) / rect.width) * this.canvas.width, y: ((e.clientY - rect.top) / rect.height) * this.canvas.height };
  }

  private pointerDown(e: PointerEvent): void {
    if (this.canvas.width === 0 || e.button !== 0) return;
    this.canvas.setPointerCapture(e.pointerId);
    this.drawing = true;
    this.last = undefined;
    this.stroke(this.at(e));
  }

  private pointerMove(e: PointerEvent): void {
    const p = this.at(e);
    this.placeCursor(p);
    if (this.drawing) this.stroke(p);
  }

  private strokeEnd(): void {
    if (!this.drawing) return;
    this.drawing = false;
    this.last = undefined;
    this.onChange();
  }

  /** Paints (or erases) a round dab at `p`, joined to the last point by a line of the brush's width. */
  private stroke(p: { x: number; y: number }): void {
    this.encoded = undefined;
    const ctx = this.ctx;
    if (!ctx) return;
    ctx.globalCompositeOperation = this.tool === "brush" ? "source-over" : "destination-out";
    ctx.fillStyle = ctx.strokeStyle = "#fff";
    ctx.lineWidth = this.size;
    ctx.lineCap = "round";
    ctx.beginPath();
    if (this.last) {
      ctx.moveTo(this.last.x, this.last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
    } else {
      ctx.arc(p.x, p.y, this.size / 2, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalCompositeOperation = "source-over";
    this.last = p;
    this.painted = true;
  }

  private invert(): void {
    this.encoded = undefined;
    const ctx = this.ctx;
    if (!ctx || this.canvas.width === 0) return;
    const data = ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      px[i] = px[i + 1] = px[i + 2] = 255;
      px[i + 3] = 255 - px[i + 3];
    }
    ctx.putImageData(data, 0, 0);
    this.painted = true;
    this.onChange();
  }

  private clear(notify = true): void {
    this.encoded = undefined;
    this.ctx?.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.pending = undefined;
    this.painted = false;
    if (notify) this.onChange();
  }

  private placeCursor(p: { x: number; y: number }): void {
    if (this.canvas.width === 0) return;
    const scale = this.canvas.clientWidth / this.canvas.width;
    this.cursor.style.left = `${p.x * scale}px`;
    this.cursor.style.top = `${p.y * scale}px`;
    this.cursor.style.width = this.cursor.style.height = `${this.size * scale}px`;
    show(this.cursor, true);
  }

  private key(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const step = Math.max(1, this.size / 4) * (e.shiftKey ? 4 : 1);
    const move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
    if (move) {
      this.keyboardAt = {
        x: Math.min(this.canvas.width, Math.max(0, this.keyboardAt.x + move[0])),
        y: Math.min(this.canvas.height, Math.max(0, this.keyboardAt.y + move[1])),
      };
      if (this.keyboardPen) this.stroke(this.keyboardAt);
      this.placeCursor(this.keyboardAt);
    } else if (e.key === " ") {
      if (!this.keyboardPen) {
        this.keyboardPen = true;
        this.last = undefined;
        this.stroke(this.keyboardAt);
        this.onChange();
      }
    } else if (e.key === "b" || e.key === "B") this.setTool("brush");
    else if (e.key === "e" || e.key === "E") this.setTool("eraser");
    else if (e.key === "[") this.setSize(this.size - Math.max(1, Math.round(this.size / 8)));
    else if (e.key === "]") this.setSize(this.size + Math.max(1, Math.round(this.size / 8)));
    else if (e.key === "i" || e.key === "I") this.invert();
    else if (e.key === "Delete" || e.key === "Backspace") this.clear();
    else return;
    e.preventDefault();
    e.stopPropagation();
  }
}
