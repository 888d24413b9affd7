import fs from "node:fs";
import path from "node:path";
import { Engine } from "../../extension/engine/engine";
import type { SchedulerName } from "../../extension/engine/schedulers/scheduler";
import type { GenerateRequest } from "../../extension/engine/types";
import { CONFORMANCE } from "./paths";
import { readRgb, type Rgb } from "./pixels";

/** One entry of the conformance suite's cases.json (the diffusers reference images' settings). */
export interface ConformanceCase {
  readonly id: string;
  readonly model: string;
  readonly scheduler: SchedulerName | "default";
  readonly steps: number;
  readonly guidance: number;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly prompt: string;
  readonly negative_prompt?: string;
  readonly init_image?: string;
  /** Inpainting: white repaints (conformance rules 14-16). */
  readonly mask_image?: string;
  readonly strength?: number;
  /** `a1111` for the cases that use AUTOMATIC1111's prompt syntax; absent means plain. */
  readonly prompt_syntax?: "a1111" | "plain";
  /** The chunk counts of [prompt, negative prompt] in that syntax. */
  readonly chunks?: readonly number[];
  /** LoRA files (in cases/) merged with their weights (conformance rule 22). */
  readonly loras?: ReadonlyArray<{ readonly file: string; readonly weight: number }>;
  /** Seamless tiling (conformance rule 21): the CLI gets --tileable. */
  readonly tileable?: boolean;
}

export const CONFORMANCE_CASES = JSON.parse(fs.readFileSync(path.join(CONFORMANCE, "cases.json"), "utf8")) as readonly ConformanceCase[];

export function conformanceCase(id: string): ConformanceCase {
  const c = CONFORMANCE_CASES.find((x) => x.id === id);
  if (!c) throw new Error(`no conformance case ${id}`);
  return c;
}

/** A case's exact settings as an engine request (what the conformance kit passes on the command line). */
export function caseRequest(c: ConformanceCase): GenerateRequest {
  const image = (name: string | undefined) => (name ? fs.readFileSync(path.join(CONFORMANCE, "cases", name)) : undefined);
  return {
    prompt: c.prompt,
    negativePrompt: c.negative_prompt ?? "",
    scheduler: c.scheduler,
    steps: c.steps,
    guidance: c.guidance,
    seed: BigInt(c.seed),
    width: c.width,
    height: c.height,
    initImage: image(c.init_image),
    mask: image(c.mask_image),
    strength: c.strength,
    promptSyntax: c.prompt_syntax,
    loras: c.loras?.map((l) => ({ name: path.join(CONFORMANCE, "cases", l.file), weight: l.weight })),
    tileable: c.tileable,
  };
}

/** The first image a model folder makes for a request, on the CPU (the engine loaded and disposed around it). */
export async function generateWith(dir: string, request: GenerateRequest): Promise<Rgb> {
  const engine = await Engine.load(dir, { provider: "cpu" });
  try {
    return await readRgb((await engine.generate(request)).images[0].png);
  } finally {
    await engine.dispose();
  }
}
