// The form's text fields and the StudioForm they stand for, both ways, with the checks the user
// should see before anything is sent (the host checks again: this is for quick, precise feedback).
// No DOM here, so the unit tests run it directly.
import {
  AUTO_UPSCALER, BACKGROUND_CHOICES, DECODER_CHOICES, INIT_MODES, MAX_STUDIO_LORAS, OUTPAINT_SIDE_NAMES, SIZE_CHOICES, type BackgroundChoice, type DecoderChoice, type FormPatch, type ImageRef, type InitMode, type OutpaintSides,
  type QualityChoice, type SchedulerChoice, type SeedMode, type StudioLora,
  type SizeChoice, type StudioForm, type StudioLimits,
} from "../extension/protocol/studioMessages";

const isInitMode = (v: unknown): v is InitMode => (INIT_MODES as readonly unknown[]).includes(v);

const isSizeChoice = (v: string): v is SizeChoice => (SIZE_CHOICES as readonly string[]).includes(v);

/** What the controls hold: text as typed, choices as their values. */
export interface FormFields {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly scheduler: string;
  readonly steps: string;
  readonly guidance: string;
  readonly seedMode: string;
  readonly seed: string;
  readonly size: string;
  readonly width: string;
  readonly height: string;
  readonly batch: string;
  readonly strength: string;
  readonly decoder: string;
  readonly tileable: boolean;
  /** Empty: no hires fix. */
  readonly hiresScale: string;
  readonly hiresStrength: string;
  /** Empty: the first pass's steps. */
  readonly hiresSteps: string;
  /** An upscaler's name, or "" (AUTO_UPSCALER) for the engine's choice. */
  readonly hiresUpscaler: string;
  readonly background: string;
  /** Empty: soft edges. */
  readonly matte: string;
  readonly initImage?: ImageRef;
  readonly initMode: string;
  /** Pixels per side as typed (outpainting). */
  readonly outpaint: Readonly<Record<(typeof OUTPAINT_SIDE_NAMES)[number], string>>;
  /** The painted mask (base64 PNG), undefined when nothing is painted. */
  readonly mask?: string;
  // ---- LoRAs and fast mode (issue 10)
  /** The picker's LoRAs, each weight as typed. */
  readonly loras: readonly LoraField[];
  readonly quality: string;
  /** The fast-mode LoRA's catalog id; "" for the host's choice (easel.fastLora, else the family's default). */
  readonly fastLora: string;
}

export interface LoraField {
  readonly name: string;
  readonly weight: string;
}

export type FieldName = Exclude<keyof FormFields, "initImage" | "tileable" | "outpaint" | "fastLora"> | `outpaint-${(typeof OUTPAINT_SIDE_NAMES)[number]}`;

export interface FieldProblem {
  readonly field: FieldName;
  readonly message: string;
}

export const DEFAULT_FORM: StudioForm = {
  prompt: "",
  negativePrompt: "",
  scheduler: "default",
  seedMode: "random",
  seed: "",
  size: "default",
  batch: 1,
  strength: 0.6,
  decoder: "default",
  tileable: false,
  hiresStrength: 0.5,
  hiresSteps: 0,
  hiresUpscaler: AUTO_UPSCALER,
  background: "opaque",
};

/** A1111's hires-fix slider goes up to 4 (the host checks the size the scale makes). */
const MAX_HIRES_SCALE = 4;

const isDecoderChoice = (v: string): v is DecoderChoice => (DECODER_CHOICES as readonly string[]).includes(v);
const decoderOf = (text: string, fallback: DecoderChoice): DecoderChoice => (isDecoderChoice(text) ? text : fallback);
const backgroundOf = (text: string, fallback: BackgroundChoice): BackgroundChoice => ((BACKGROUND_CHOICES as readonly string[]).includes(text) ? (text as BackgroundChoice) : fallback);

export function fieldsFromForm(form: StudioForm): FormFields {
  return {
    prompt: form.prompt,
    negativePrompt: form.negativePrompt,
    scheduler: form.scheduler,
    steps: form.steps === undefined ? "" : String(form.steps),
    guidance: form.guidance === undefined ? "" : String(form.guidance),
    seedMode: form.seedMode,
    seed: form.seed,
    size: form.size,
    width: form.width === undefined ? "" : String(form.width),
    height: form.height === undefined ? "" : String(form.height),
    batch: String(form.batch),
    strength: String(form.strength),
    decoder: form.decoder,
    tileable: form.tileable,
    hiresScale: form.hiresScale === undefined ? "" : String(form.hiresScale),
    hiresStrength: String(form.hiresStrength),
    hiresSteps: form.hiresSteps ? String(form.hiresSteps) : "",
    hiresUpscaler: form.hiresUpscaler ?? AUTO_UPSCALER,
    background: form.background,
    matte: form.matte ? String(form.matte) : "",
    initImage: form.initImage,
    initMode: form.initMode ?? "img2img",
    outpaint: { left: String(form.outpaint?.left ?? 0), right: String(form.outpaint?.right ?? 0), top: String(form.outpaint?.top ?? 0), bottom: String(form.outpaint?.bottom ?? 0) },
    mask: form.mask,
    loras: (form.loras ?? []).map((l) => ({ name: l.name, weight: String(l.weight) })),
    quality: form.quality ?? "normal",
    fastLora: form.fastLora ?? "",
  };
}

// ---- LoRAs and fast mode (issue 10)
/** The engine's LoRA weight limit, until the host's "loras" message says it. */
export const DEFAULT_LORA_WEIGHT_LIMIT = 10;
const qualityOf = (text: string): QualityChoice | undefined => (text === "fast" ? "fast" : undefined);

/** The picker's LoRAs as numbers, or the first whose weight is not one within ±limit. */
function lorasFromFields(loras: readonly LoraField[], limit: number): { readonly loras: StudioLora[] } | { readonly problem: FieldProblem } {
  const out: StudioLora[] = [];
  for (const l of loras.slice(0, MAX_STUDIO_LORAS)) {
    const weight = isNumberText(l.weight) ? Number(l.weight) : NaN;
    if (!(weight >= -limit && weight <= limit)) {
      return { problem: { field: "loras", message: `The weight of LoRA ${l.name} must be a number from -${limit} to ${limit} (1 is its full effect, negative weights subtract it).` } };
    }
    out.push({ name: l.name, weight });
  }
  return { loras: out };
}

/** A saved or patched form's LoRAs, whatever shape they were stored in (bad entries dropped). */
function savedLoras(value: unknown): StudioLora[] {
  if (!Array.isArray(value)) return [];
  const out: StudioLora[] = [];
  for (const item of value.slice(0, MAX_STUDIO_LORAS)) {
    const o = typeof item === "object" && item !== null ? (item as Record<string, unknown>) : {};
    if (typeof o.name === "string" && o.name !== "" && typeof o.weight === "number" && Number.isFinite(o.weight) && !out.some((l) => l.name === o.name)) out.push({ name: o.name, weight: o.weight });
  }
  return out;
}

/** The form's LoRA and quality fields, present only when they say something (so a plain form stays as it was). */
function loraPart(loras: readonly StudioLora[], quality: QualityChoice | undefined, fastLora = ""): Pick<StudioForm, "loras" | "quality" | "fastLora"> {
  return { ...(loras.length > 0 ? { loras } : {}), ...(quality ? { quality } : {}), ...(quality === "fast" && FAST_LORA_ID.test(fastLora) ? { fastLora } : {}) };
}

/** A catalog id, as the host's message check wants it (anything else is the host's choice). */
const FAST_LORA_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The form with a patch's fields put in (only the fields the patch has). */
export function applyPatch(form: StudioForm, patch: FormPatch): StudioForm {
  const out: Record<string, unknown> = { ...form };
  for (const [key, value] of Object.entries(patch)) if (value !== undefined) out[key] = value;
  return out as unknown as StudioForm;
}

// `\d+\.?\d*` could split a run of digits n ways before failing (quadratic on a long pasted value);
// with the fraction optional as a whole, no two parts can match the same digits.
function isNumberText(text: string): boolean {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text.trim());
}

export interface FormContext {
  readonly limits: StudioLimits;
  readonly granularity: number;
  readonly schedulers: readonly string[];
  /** The starting image's pixel size, once the page has loaded it (outpainting's sizes are checked against it). */
  readonly initSize?: { readonly width: number; readonly height: number };
  /** LoRA weights go from -limit to limit (the host says; DEFAULT_LORA_WEIGHT_LIMIT before it has). */
  readonly loraWeightLimit?: number;
}

/**
 * What is wrong with extending an image of `image` size by `sides` for a model of `granularity`, in
 * one sentence that says what would work; undefined when the sizes are fine (the engine's rule:
 * each new side a multiple of the granularity, within the limits).
 */
export function outpaintProblem(image: { readonly width: number; readonly height: number }, sides: OutpaintSides, granularity: number, limits: Pick<StudioLimits, "minSide" | "maxSide">): { readonly field: FieldName; readonly message: string } | undefined {
  for (const [axis, size, a, b] of [["width", image.width, "left", "right"], ["height", image.height, "top", "bottom"]] as const) {
    const added = sides[a] + sides[b];
    const total = size + added;
    const what = `${a[0].toUpperCase()}${a.slice(1)} + ${b}`;
    if (total > limits.maxSide) return { field: `outpaint-${a}`, message: `${what} makes the ${axis} ${size} + ${added} = ${total}, over the ${limits.maxSide}-pixel limit: extend by less.` };
    if (total % granularity !== 0) {
      const up = Math.ceil(total / granularity) * granularity - size;
      const down = Math.floor(total / granularity) * granularity - size;
      const choices = down > 0 ? `${down} or ${up}` : `${up}`;
      return { field: `outpaint-${a}`, message: `${what} makes the ${axis} ${size} + ${added} = ${total}, not a multiple of ${granularity} as this model needs: make ${what.toLowerCase()} add up to ${choices}.` };
    }
  }
  return undefined;
}

/** The form the fields describe, or the first problem (in the order the fields appear). */
export function formFromFields(f: FormFields, ctx: FormContext): { readonly form: StudioForm } | { readonly problem: FieldProblem } {
  const problem = (field: FieldName, message: string) => ({ problem: { field, message } });
  const whole = (text: string) => (/^\s*\d+\s*$/.test(text) ? Number(text) : NaN);
  if (f.prompt.trim() === "") return problem("prompt", "Describe the image first.");
  if (!ctx.schedulers.includes(f.scheduler)) return problem("scheduler", "Choose a scheduler.");
  const steps = f.steps.trim() === "" ? undefined : whole(f.steps);
  if (steps !== undefined && !(steps >= 1 && steps <= ctx.limits.maxSteps)) {
    return problem("steps", `Steps must be a whole number from 1 to ${ctx.limits.maxSteps}, or empty for the default.`);
  }
  const guidance = f.guidance.trim() === "" ? undefined : isNumberText(f.guidance) ? Number(f.guidance) : NaN;
  if (guidance !== undefined && !(guidance >= 0 && guidance <= ctx.limits.maxGuidance)) {
    return problem("guidance", `Guidance must be a number from 0 to ${ctx.limits.maxGuidance}, or empty for the default.`);
  }
  const batch = whole(f.batch);
  if (!(batch >= 1 && batch <= ctx.limits.maxBatch)) return problem("batch", `Images must be a whole number from 1 to ${ctx.limits.maxBatch}.`);
  const seedMode: SeedMode = f.seedMode === "fixed" ? "fixed" : "random";
  const seed = f.seed.trim();
  if (seedMode === "fixed" && (!/^\d{1,20}$/.test(seed) || BigInt(seed) > BigInt(ctx.limits.maxSeed))) {
    return problem("seed", `A fixed seed must be a whole number from 0 to ${ctx.limits.maxSeed}.`);
  }
  if (!isSizeChoice(f.size)) return problem("size", "Choose a size.");
  const size = f.size as SizeChoice;
  let width: number | undefined;
  let height: number | undefined;
  if (size === "custom") {
    const { minSide, maxSide } = ctx.limits;
    const g = ctx.granularity;
    for (const [field, text] of [["width", f.width], ["height", f.height]] as const) {
      const v = whole(text);
      if (!(v >= minSide && v <= maxSide) || v % g !== 0) {
        return problem(field, `The ${field} must be a multiple of ${g} from ${Math.ceil(minSide / g) * g} to ${Math.floor(maxSide / g) * g} pixels for this model.`);
      }
      if (field === "width") width = v;
      else height = v;
    }
  }
  const strength = isNumberText(f.strength) ? Number(f.strength) : NaN;
  if (f.initImage && !(strength > 0 && strength <= 1)) return problem("strength", "Strength must be above 0 and at most 1 (0.6 keeps the image's layout).");
  const hiresScale = f.hiresScale.trim() === "" ? undefined : isNumberText(f.hiresScale) ? Number(f.hiresScale) : NaN;
  if (hiresScale !== undefined && !(hiresScale > 1 && hiresScale <= MAX_HIRES_SCALE)) {
    return problem("hiresScale", `The hires scale must be above 1 and at most ${MAX_HIRES_SCALE} (e.g. 2), or empty for none.`);
  }
  if (hiresScale !== undefined && f.initImage) return problem("hiresScale", "The hires fix upscales a generated image: remove the init image or clear the hires scale.");
  const hiresStrength = isNumberText(f.hiresStrength) ? Number(f.hiresStrength) : NaN;
  if (hiresScale !== undefined && !(hiresStrength > 0 && hiresStrength <= 1)) return problem("hiresStrength", "The hires strength must be above 0 and at most 1 (e.g. 0.5).");
  const matte = f.matte.trim() === "" ? undefined : isNumberText(f.matte) ? Number(f.matte) : NaN;
  if (matte !== undefined && !(matte > 0 && matte < 1)) return problem("matte", "The matte threshold must be above 0 and below 1 (e.g. 0.5 for hard edges), or empty for soft edges.");
  const hiresSteps = f.hiresSteps.trim() === "" ? 0 : whole(f.hiresSteps);
  if (hiresScale !== undefined && !(hiresSteps >= 0 && hiresSteps <= ctx.limits.maxSteps)) {
    return problem("hiresSteps", `Hires steps must be a whole number from 1 to ${ctx.limits.maxSteps}, or empty for the first pass's steps.`);
  }
  const initMode: InitMode = f.initImage && isInitMode(f.initMode) ? f.initMode : "img2img";
  let outpaint: OutpaintSides | undefined;
  if (initMode === "inpaint" && f.mask === undefined) return problem("mask", "Paint the area to repaint on the image first (white is repainted).");
  if (initMode === "outpaint") {
    const sides: Record<string, number> = {};
    for (const side of OUTPAINT_SIDE_NAMES) {
      const v = whole(f.outpaint[side]);
      if (!(v >= 0 && v <= ctx.limits.maxSide)) return problem(`outpaint-${side}`, `Extend the ${side} side by a whole number of pixels from 0 to ${ctx.limits.maxSide}.`);
      sides[side] = v;
    }
    outpaint = sides as OutpaintSides;
    if (OUTPAINT_SIDE_NAMES.every((side) => outpaint?.[side] === 0)) return problem("outpaint-left", "Give at least one side some pixels to extend the image by.");
    const wrong = ctx.initSize ? outpaintProblem(ctx.initSize, outpaint, ctx.granularity, ctx.limits) : undefined;
    if (wrong) return { problem: wrong };
  }
  const loras = lorasFromFields(f.loras, ctx.loraWeightLimit ?? DEFAULT_LORA_WEIGHT_LIMIT);
  if ("problem" in loras) return loras;
  return {
    form: {
      prompt: f.prompt,
      negativePrompt: f.negativePrompt,
      scheduler: f.scheduler as SchedulerChoice,
      steps,
      guidance,
      seedMode,
      seed: seedMode === "fixed" ? seed : "",
      size,
      width,
      height,
      batch,
      initImage: f.initImage,
      strength: strength > 0 && strength <= 1 ? strength : DEFAULT_FORM.strength,
      decoder: decoderOf(f.decoder, DEFAULT_FORM.decoder),
      tileable: f.tileable,
      ...(hiresScale === undefined ? {} : { hiresScale }),
      hiresStrength: hiresStrength > 0 && hiresStrength <= 1 ? hiresStrength : DEFAULT_FORM.hiresStrength,
      hiresSteps: hiresSteps >= 0 && hiresSteps <= ctx.limits.maxSteps ? hiresSteps : 0,
      hiresUpscaler: f.hiresUpscaler,
      background: backgroundOf(f.background, DEFAULT_FORM.background),
      ...(matte === undefined ? {} : { matte }),
      ...(initMode === "img2img" ? {} : { initMode }),
      ...(initMode === "inpaint" ? { mask: f.mask } : {}),
      ...(outpaint ? { outpaint } : {}),
      ...loraPart(loras.loras, qualityOf(f.quality), f.fastLora),
    },
  };
}

/**
 * The form as typed so far, for saving while the user is still editing: each field that reads as a
 * value is taken, one that does not (yet) keeps its previous value, and nothing is refused.
 */
export function draftForm(f: FormFields, previous: StudioForm): StudioForm {
  const optionalNumber = (text: string, old: number | undefined) => (text.trim() === "" ? undefined : isNumberText(text) ? Number(text) : old);
  const number = (text: string, old: number) => (isNumberText(text) ? Number(text) : old);
  return {
    prompt: f.prompt,
    negativePrompt: f.negativePrompt,
    scheduler: f.scheduler === "" ? previous.scheduler : (f.scheduler as SchedulerChoice),
    steps: optionalNumber(f.steps, previous.steps),
    guidance: optionalNumber(f.guidance, previous.guidance),
    seedMode: f.seedMode === "fixed" ? "fixed" : "random",
    seed: f.seed.trim(),
    size: isSizeChoice(f.size) ? f.size : previous.size,
    width: optionalNumber(f.width, previous.width),
    height: optionalNumber(f.height, previous.height),
    batch: number(f.batch, previous.batch),
    initImage: f.initImage,
    strength: number(f.strength, previous.strength),
    decoder: decoderOf(f.decoder, previous.decoder),
    tileable: f.tileable,
    hiresScale: optionalNumber(f.hiresScale, previous.hiresScale),
    hiresStrength: number(f.hiresStrength, previous.hiresStrength),
    hiresSteps: f.hiresSteps.trim() === "" ? 0 : /^\s*\d+\s*$/.test(f.hiresSteps) ? Number(f.hiresSteps) : previous.hiresSteps,
    hiresUpscaler: f.hiresUpscaler,
    background: backgroundOf(f.background, previous.background),
    matte: optionalNumber(f.matte, previous.matte),
    initMode: isInitMode(f.initMode) ? f.initMode : previous.initMode,
    mask: f.mask,
    outpaint: {
      left: number(f.outpaint.left, previous.outpaint?.left ?? 0),
      right: number(f.outpaint.right, previous.outpaint?.right ?? 0),
      top: number(f.outpaint.top, previous.outpaint?.top ?? 0),
      bottom: number(f.outpaint.bottom, previous.outpaint?.bottom ?? 0),
    },
    // A weight still being typed keeps its previous value.
    ...loraPart(
      f.loras.slice(0, MAX_STUDIO_LORAS).map((l) => ({ name: l.name, weight: isNumberText(l.weight) ? Number(l.weight) : (previous.loras?.find((p) => p.name === l.name)?.weight ?? 1) })),
      qualityOf(f.quality),
      f.fastLora,
    ),
  };
}

/** A saved page state, or the defaults: old or damaged state must never break the page. */
export function formFromSaved(saved: unknown): StudioForm {
  if (typeof saved !== "object" || saved === null) return DEFAULT_FORM;
  const s = saved as Record<string, unknown>;
  const str = (k: string, fallback: string) => (typeof s[k] === "string" ? (s[k] as string) : fallback);
  const num = (k: string) => (typeof s[k] === "number" && Number.isFinite(s[k]) ? (s[k] as number) : undefined);
  const init = s.initImage as Record<string, unknown> | undefined;
  const initImage =
    typeof init === "object" && init !== null && typeof init.id === "string" && typeof init.name === "string" && typeof init.thumb === "string"
      ? { id: init.id, name: init.name, thumb: init.thumb, ...(init.stored === true ? { stored: true } : {}) }
      : undefined;
  const sides = typeof s.outpaint === "object" && s.outpaint !== null ? (s.outpaint as Record<string, unknown>) : {};
  const side = (k: string) => (typeof sides[k] === "number" && Number.isSafeInteger(sides[k]) && (sides[k] as number) >= 0 ? (sides[k] as number) : 0);
  return {
    prompt: str("prompt", ""),
    negativePrompt: str("negativePrompt", ""),
    scheduler: str("scheduler", "default") as SchedulerChoice,
    steps: num("steps"),
    guidance: num("guidance"),
    seedMode: s.seedMode === "fixed" ? "fixed" : "random",
    seed: str("seed", ""),
    size: isSizeChoice(str("size", "")) ? (str("size", "") as SizeChoice) : "default",
    width: num("width"),
    height: num("height"),
    batch: num("batch") ?? 1,
    initImage,
    strength: num("strength") ?? DEFAULT_FORM.strength,
    decoder: decoderOf(str("decoder", ""), DEFAULT_FORM.decoder),
    tileable: s.tileable === true,
    hiresScale: num("hiresScale"),
    hiresStrength: num("hiresStrength") ?? DEFAULT_FORM.hiresStrength,
    hiresSteps: Number.isSafeInteger(num("hiresSteps")) && (num("hiresSteps") ?? 0) >= 0 ? num("hiresSteps") : 0,
    hiresUpscaler: str("hiresUpscaler", AUTO_UPSCALER),
    background: backgroundOf(str("background", ""), DEFAULT_FORM.background),
    ...(num("matte") === undefined ? {} : { matte: num("matte") }),
    ...(isInitMode(s.initMode) ? { initMode: s.initMode } : {}),
    ...(typeof s.mask === "string" ? { mask: s.mask } : {}),
    outpaint: { left: side("left"), right: side("right"), top: side("top"), bottom: side("bottom") },
    ...loraPart(savedLoras(s.loras), s.quality === "fast" ? "fast" : undefined, typeof s.fastLora === "string" ? s.fastLora : ""),
  };
}
