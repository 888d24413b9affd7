// The form's text fields and the StudioForm they stand for, both ways, with the checks the user
// should see before anything is sent (the host checks again: this is for quick, precise feedback).
// No DOM here, so the unit tests run it directly.
import {
  DECODER_CHOICES, SIZE_CHOICES, type DecoderChoice, type FormPatch, type ImageRef, type SchedulerChoice, type SeedMode, type SizeChoice, type StudioForm, type StudioLimits,
} from "../extension/protocol/studioMessages";

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
  readonly initImage?: ImageRef;
}

export type FieldName = Exclude<keyof FormFields, "initImage" | "tileable">;

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
};

/** A1111's hires-fix slider goes up to 4 (the host checks the size the scale makes). */
const MAX_HIRES_SCALE = 4;

const isDecoderChoice = (v: string): v is DecoderChoice => (DECODER_CHOICES as readonly string[]).includes(v);
const decoderOf = (text: string, fallback: DecoderChoice): DecoderChoice => (isDecoderChoice(text) ? text : fallback);

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
    initImage: form.initImage,
  };
}

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
      ? { id: init.id, name: init.name, thumb: init.thumb }
      : undefined;
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
  };
}
