// The form's controls: reading them into FormFields, writing a form back, and the parts that
// depend on the model (size presets, default placeholders) or on other fields (custom size,
// fixed seed, the img2img image and its strength).
import { AUTO_UPSCALER, type ImageRef, type InitMode, type ModelsMessage, type PresetId, type SchedulerOption, type StudioForm, type UpscalerOption } from "../extension/protocol/studioMessages";
import { byId, selectValue, setOptions, show } from "./dom";
import { type FieldName, type FieldProblem, type FormFields, fieldsFromForm, outpaintProblem } from "./formValues";
import { MaskEditor } from "./maskEditor";
import { LoraPicker } from "./loraPicker";

const PRESET_LABELS: Readonly<Record<PresetId, string>> = {
  "1:1": "Square 1:1",
  "4:3": "Landscape 4:3",
  "3:4": "Portrait 3:4",
  "16:9": "Wide 16:9",
  "9:16": "Tall 9:16",
  // SDXL's sizes, with the ratio each is closest to (A1111's names for its buckets).
  "1024x1024": "SDXL square 1:1",
  "1152x896": "SDXL landscape 9:7",
  "896x1152": "SDXL portrait 7:9",
  "1216x832": "SDXL landscape 19:13",
  "832x1216": "SDXL portrait 13:19",
  "1344x768": "SDXL wide 7:4",
  "768x1344": "SDXL tall 4:7",
};

type ValueControl = HTMLElement & { value: string; disabled: boolean; invalid: boolean };

export class FormView {
  readonly prompt = byId("prompt", "vscode-textarea");
  readonly negativePrompt = byId("negative-prompt", "vscode-textarea");
  private readonly scheduler = byId("scheduler", "vscode-single-select");
  private readonly steps = byId("steps", "vscode-textfield");
  private readonly guidance = byId("guidance", "vscode-textfield");
  private readonly batch = byId("batch", "vscode-textfield");
  private readonly seedMode = byId("seed-mode", "vscode-single-select");
  private readonly seed = byId("seed", "vscode-textfield");
  private readonly reuseSeed = byId("reuse-seed", "vscode-button");
  private readonly size = byId("size", "vscode-single-select");
  private readonly customSize = byId("custom-size", "div");
  private readonly width = byId("width", "vscode-textfield");
  private readonly height = byId("height", "vscode-textfield");
  private readonly initThumb = byId("init-thumb", "img");
  private readonly initName = byId("init-name", "span");
  private readonly clearInit = byId("clear-init", "vscode-button");
  private readonly strengthField = byId("strength-field", "div");
  private readonly strength = byId("strength", "vscode-textfield");
  private readonly decoder = byId("decoder", "vscode-single-select");
  private readonly tileable = byId("tileable", "vscode-checkbox");
  private readonly hiresScale = byId("hires-scale", "vscode-textfield");
  private readonly hiresStrength = byId("hires-strength", "vscode-textfield");
  private readonly hiresSteps = byId("hires-steps", "vscode-textfield");
  private readonly hiresUpscaler = byId("hires-upscaler", "vscode-single-select");
  /** The upscalers the host offered (Lanczos and the downloaded models); Automatic is always there. */
  private upscalers: readonly UpscalerOption[] = [];
  private readonly background = byId("background", "vscode-single-select");
  private readonly matte = byId("matte", "vscode-textfield");
  private readonly problem = byId("form-problem", "p");
  private readonly initModeField = byId("init-mode-field", "div");
  private readonly initMode = byId("init-mode", "vscode-single-select");
  private readonly maskEditor = byId("mask-editor", "div");
  private readonly outpaintField = byId("outpaint-field", "div");
  private readonly outpaintSize = byId("outpaint-size", "p");
  private readonly outpaintLeft = byId("outpaint-left", "vscode-textfield");
  private readonly outpaintRight = byId("outpaint-right", "vscode-textfield");
  private readonly outpaintTop = byId("outpaint-top", "vscode-textfield");
  private readonly outpaintBottom = byId("outpaint-bottom", "vscode-textfield");
  readonly mask: MaskEditor;
  // ---- LoRAs and fast mode (issue 10)
  readonly loras: LoraPicker;
  private readonly quality = byId("quality", "vscode-single-select");
  private initImage: ImageRef | undefined;
  private lastSeed: string | undefined;
  private granularity = 64;
  private maxSide = 2048;
  private minSide = 64;

  constructor(private readonly onChange: () => void) {
    this.mask = new MaskEditor(() => {
      this.sync();
      this.onChange();
    });
    this.loras = new LoraPicker(() => this.onChange());
    for (const control of this.controls()) {
      control.addEventListener("input", () => this.changed(control));
      control.addEventListener("change", () => this.changed(control));
    }
    this.tileable.addEventListener("change", () => this.onChange());
    this.reuseSeed.addEventListener("click", () => this.useLastSeed());
    this.clearInit.addEventListener("click", () => this.setInitImage(undefined));
  }

  read(): FormFields {
    return {
      prompt: this.prompt.value,
      negativePrompt: this.negativePrompt.value,
      scheduler: this.scheduler.value,
      steps: this.steps.value,
      guidance: this.guidance.value,
      seedMode: this.seedMode.value,
      seed: this.seed.value,
      size: this.size.value,
      width: this.width.value,
      height: this.height.value,
      batch: this.batch.value,
      strength: this.strength.value,
      decoder: this.decoder.value,
      tileable: this.tileable.checked,
      hiresScale: this.hiresScale.value,
      hiresStrength: this.hiresStrength.value,
      hiresSteps: this.hiresSteps.value,
      hiresUpscaler: this.hiresUpscaler.value,
      background: this.background.value,
      matte: this.matte.value,
      initImage: this.initImage,
      initMode: this.initMode.value,
      outpaint: { left: this.outpaintLeft.value, right: this.outpaintRight.value, top: this.outpaintTop.value, bottom: this.outpaintBottom.value },
      mask: this.initImage && this.initMode.value === "inpaint" ? this.mask.toPng() : undefined,
      loras: this.loras.read(),
      quality: this.quality.value,
      fastLora: this.loras.readFastLora(),
    };
  }

  /** The starting image's pixel size, once it has loaded. */
  get initSize(): { readonly width: number; readonly height: number } | undefined {
    return this.initImage ? this.mask.imageSize : undefined;
  }

  /** Easel: Inpaint Image… / Extend Image…: the mode chosen and its editor in view. */
  setInitMode(mode: InitMode): void {
    selectValue(this.initMode, mode);
    // Inpainting and outpainting draw the new area from noise (diffusers' default strength 1).
    if (mode !== "img2img") this.strength.value = "1";
    this.sync();
    this.onChange();
    (mode === "inpaint" ? this.maskEditor : this.outpaintField).scrollIntoView({ block: "nearest" });
    if (mode === "inpaint") this.mask.focus();
    else this.outpaintLeft.focus();
  }

  write(form: StudioForm): void {
    const f = fieldsFromForm(form);
    this.prompt.value = f.prompt;
    this.negativePrompt.value = f.negativePrompt;
    selectValue(this.scheduler, f.scheduler);
    this.steps.value = f.steps;
    this.guidance.value = f.guidance;
    selectValue(this.seedMode, f.seedMode);
    this.seed.value = f.seed;
    selectValue(this.size, f.size);
    this.width.value = f.width;
    this.height.value = f.height;
    this.batch.value = f.batch;
    this.strength.value = f.strength;
    selectValue(this.decoder, f.decoder);
    this.tileable.checked = f.tileable;
    this.hiresScale.value = f.hiresScale;
    this.hiresStrength.value = f.hiresStrength;
    this.hiresSteps.value = f.hiresSteps;
    this.showUpscalers(f.hiresUpscaler);
    selectValue(this.background, f.background);
    this.matte.value = f.matte;
    selectValue(this.initMode, f.initMode);
    this.outpaintLeft.value = f.outpaint.left;
    this.outpaintRight.value = f.outpaint.right;
    this.outpaintTop.value = f.outpaint.top;
    this.outpaintBottom.value = f.outpaint.bottom;
    this.setInitImage(form.initImage, false);
    this.mask.setMask(form.mask);
    this.loras.write(f.loras);
    selectValue(this.quality, f.quality);
    this.loras.writeFastLora(f.fastLora);
    this.sync();
  }

  /** The hires fix's upscalers, keeping the one chosen. */
  setUpscalers(upscalers: readonly UpscalerOption[]): void {
    this.upscalers = upscalers;
    this.showUpscalers(this.hiresUpscaler.value);
  }

  /**
   * The upscaler choices with `chosen` selected. A name none of them has (an image made with a model
   * that is not downloaded here, recalled) stays chosen, marked, so Generate says what is missing
   * instead of silently using another upscaler.
   */
  private showUpscalers(chosen: string): void {
    const options = [{ value: AUTO_UPSCALER, label: "Automatic: a downloaded model, else Lanczos" }, ...this.upscalers.map((u) => ({ value: u.name, label: u.label }))];
    if (!options.some((o) => o.value === chosen)) options.push({ value: chosen, label: `${chosen} (not downloaded)` });
    setOptions(this.hiresUpscaler, options, chosen);
  }

  setSchedulers(options: readonly SchedulerOption[]): void {
    setOptions(this.scheduler, options, this.scheduler.value || "default");
  }

  /** Sizes and placeholders for the chosen model. */
  setModel(models: ModelsMessage): void {
    const { geometry, defaults } = models;
    setOptions(
      this.size,
      [
        { value: "default", label: `Model default (${geometry.defaultWidth}×${geometry.defaultHeight})` },
        ...geometry.presets.map((p) => ({ value: p.id, label: `${PRESET_LABELS[p.id]} · ${p.width}×${p.height}` })),
        { value: "custom", label: "Custom…" },
      ],
      this.size.value || "default",
    );
    for (const side of [this.width, this.height]) {
      side.step = geometry.granularity;
      side.min = geometry.granularity;
    }
    this.granularity = geometry.granularity;
    this.sync();
    this.steps.placeholder = defaults.steps === undefined ? "default" : `${defaults.steps} (default)`;
    this.guidance.placeholder = defaults.guidance === undefined ? "default" : `${defaults.guidance} (default)`;
  }

  setLimits(maxSteps: number, maxBatch: number, minSide: number, maxSide: number): void {
    this.steps.max = maxSteps;
    this.hiresSteps.max = maxSteps;
    this.batch.max = maxBatch;
    this.minSide = minSide;
    this.maxSide = maxSide;
  }

  setInitImage(image: ImageRef | undefined, notify = true): void {
    this.initImage = image;
    show(this.initThumb, !!image);
    if (image) this.initThumb.src = image.thumb;
    else this.initThumb.removeAttribute("src");
    this.initName.textContent = image ? image.name : "None: the image starts from noise";
    this.initName.classList.toggle("muted", !image);
    show(this.clearInit, !!image);
    show(this.strengthField, !!image);
    this.mask.setImage(image?.thumb);
    this.sync();
    if (notify) this.onChange();
  }

  /** The seed of the last image, for "Reuse Last". */
  setLastSeed(seed: string | undefined): void {
    this.lastSeed = seed;
    this.reuseSeed.disabled = seed === undefined;
    this.reuseSeed.title = seed === undefined ? "Generate an image first" : `Use seed ${seed} again`;
  }

  showProblem(problem: FieldProblem | undefined): void {
    for (const c of this.controls()) c.invalid = false;
    show(this.problem, !!problem);
    this.problem.textContent = problem?.message ?? "";
    if (!problem) return;
    if (problem.field === "mask") {
      this.mask.focus();
      return;
    }
    if (problem.field === "loras") {
      this.loras.focusInvalid();
      return;
    }
    const control = this.controlFor(problem.field);
    control.invalid = true;
    control.focus();
  }

  private useLastSeed(): void {
    if (this.lastSeed === undefined) return;
    selectValue(this.seedMode, "fixed");
    this.seed.value = this.lastSeed;
    this.sync();
    this.onChange();
  }

  private changed(control: ValueControl): void {
    control.invalid = false;
    if (control === this.seedMode && this.seedMode.value === "fixed") this.seed.focus();
    this.sync();
    this.onChange();
  }

  /** Shows and enables what the current choices make relevant. */
  private sync(): void {
    const fixed = this.seedMode.value === "fixed";
    this.seed.disabled = !fixed;
    this.seed.placeholder = fixed ? "a whole number" : "a new one each time";
    const mode = this.initImage ? this.initMode.value : "img2img";
    show(this.customSize, this.size.value === "custom" && mode === "img2img");
    show(this.initModeField, !!this.initImage);
    show(this.maskEditor, mode === "inpaint");
    show(this.outpaintField, mode === "outpaint");
    // The size picker does not apply when the image's own size decides (inpainting, outpainting).
    this.size.disabled = mode !== "img2img" && !!this.initImage;
    this.outpaintSize.textContent = mode === "outpaint" ? this.outpaintSummary() : "";
  }

  /** "512×512 → 640×512", or what is wrong with the sides, as they are typed. */
  private outpaintSummary(): string {
    const image = this.mask.imageSize;
    if (!image) return "";
    const n = (text: string) => (/^\s*\d+\s*$/.test(text) ? Number(text) : NaN);
    const sides = { left: n(this.outpaintLeft.value), right: n(this.outpaintRight.value), top: n(this.outpaintTop.value), bottom: n(this.outpaintBottom.value) };
    if (Object.values(sides).some((v) => Number.isNaN(v))) return "Each side: a whole number of pixels.";
    const wrong = outpaintProblem(image, sides, this.granularity, { minSide: this.minSide, maxSide: this.maxSide });
    return wrong ? wrong.message : `${image.width}×${image.height} → ${image.width + sides.left + sides.right}×${image.height + sides.top + sides.bottom}`;
  }

  private controlFor(field: Exclude<FieldName, "mask" | "loras">): ValueControl {
    const map: Record<Exclude<FieldName, "mask" | "loras">, ValueControl> = {
      quality: this.quality,
      prompt: this.prompt, negativePrompt: this.negativePrompt, scheduler: this.scheduler, steps: this.steps,
      guidance: this.guidance, seedMode: this.seedMode, seed: this.seed, size: this.size, width: this.width,
      height: this.height, batch: this.batch, strength: this.strength, decoder: this.decoder, background: this.background, matte: this.matte, initMode: this.initMode,
      hiresScale: this.hiresScale, hiresStrength: this.hiresStrength, hiresSteps: this.hiresSteps, hiresUpscaler: this.hiresUpscaler,
      "outpaint-left": this.outpaintLeft, "outpaint-right": this.outpaintRight, "outpaint-top": this.outpaintTop, "outpaint-bottom": this.outpaintBottom,
    };
    return map[field];
  }

  private controls(): ValueControl[] {
    return [
      this.prompt, this.negativePrompt, this.scheduler, this.steps, this.guidance, this.batch, this.seedMode,
      this.seed, this.size, this.width, this.height, this.strength, this.decoder, this.background, this.matte, this.initMode,
      this.hiresScale, this.hiresStrength, this.hiresSteps, this.hiresUpscaler, this.quality,
      this.outpaintLeft, this.outpaintRight, this.outpaintTop, this.outpaintBottom,
    ];
  }
}
