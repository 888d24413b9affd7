// The form's controls: reading them into FormFields, writing a form back, and the parts that
// depend on the model (size presets, default placeholders) or on other fields (custom size,
// fixed seed, the img2img image and its strength).
import type { AspectId, ImageRef, ModelsMessage, SchedulerOption, StudioForm } from "../extension/protocol/studioMessages";
import { byId, selectValue, setOptions, show } from "./dom";
import { type FieldName, type FieldProblem, type FormFields, fieldsFromForm } from "./formValues";

const ASPECT_LABELS: Readonly<Record<AspectId, string>> = {
  "1:1": "Square 1:1",
  "4:3": "Landscape 4:3",
  "3:4": "Portrait 3:4",
  "16:9": "Wide 16:9",
  "9:16": "Tall 9:16",
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
  private readonly problem = byId("form-problem", "p");
  private initImage: ImageRef | undefined;
  private lastSeed: string | undefined;

  constructor(private readonly onChange: () => void) {
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
      initImage: this.initImage,
    };
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
    this.setInitImage(form.initImage, false);
    this.sync();
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
        ...geometry.presets.map((p) => ({ value: p.id, label: `${ASPECT_LABELS[p.id]} · ${p.width}×${p.height}` })),
        { value: "custom", label: "Custom…" },
      ],
      this.size.value || "default",
    );
    for (const side of [this.width, this.height]) {
      side.step = geometry.granularity;
      side.min = geometry.granularity;
    }
    this.steps.placeholder = defaults.steps === undefined ? "default" : `${defaults.steps} (default)`;
    this.guidance.placeholder = defaults.guidance === undefined ? "default" : `${defaults.guidance} (default)`;
  }

  setLimits(maxSteps: number, maxBatch: number): void {
    this.steps.max = maxSteps;
    this.batch.max = maxBatch;
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
    show(this.customSize, this.size.value === "custom");
  }

  private controlFor(field: FieldName): ValueControl {
    const map: Record<FieldName, ValueControl> = {
      prompt: this.prompt, negativePrompt: this.negativePrompt, scheduler: this.scheduler, steps: this.steps,
      guidance: this.guidance, seedMode: this.seedMode, seed: this.seed, size: this.size, width: this.width,
      height: this.height, batch: this.batch, strength: this.strength, decoder: this.decoder,
      hiresScale: this.hiresScale, hiresStrength: this.hiresStrength,
    };
    return map[field];
  }

  private controls(): ValueControl[] {
    return [
      this.prompt, this.negativePrompt, this.scheduler, this.steps, this.guidance, this.batch, this.seedMode,
      this.seed, this.size, this.width, this.height, this.strength, this.decoder, this.hiresScale, this.hiresStrength,
    ];
  }
}
