import { Engine } from "../engine";
import { badArgument, EaselError, firstLine } from "../errors";
import { writeFileAtomic } from "../image/atomicWrite";
import { isProviderChoice, PROVIDER_NAMES, resolveProvider } from "../onnx/providers";
import { OUTPAINT_FILLS, type OutpaintFill } from "../pipeline/outpaint";
import { isSchedulerChoice, randomSeed } from "../pipeline/resolveRequest";
import { seedFromString } from "../random/torchGenerator";
import { SCHEDULER_NAMES } from "../schedulers/scheduler";
import type { GenerateRequest } from "../types";
import { integerValue, numberValue, parseCommandArgs, readImageArgument, stringValue, type ParsedArgs } from "./args";
import { GENERATE_HELP, OUTPAINT_HELP } from "./help";
import { resolveModelForCli } from "./modelsCommand";
import { checkWritable, outputPaths } from "./outputPaths";
import { ProgressBar } from "./progressBar";

const COMMON_OPTIONS = {
  model: { type: "string" },
  prompt: { type: "string" },
  "negative-prompt": { type: "string" },
  scheduler: { type: "string" },
  steps: { type: "string" },
  guidance: { type: "string" },
  seed: { type: "string" },
  batch: { type: "string" },
  strength: { type: "string" },
  provider: { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "prompt-syntax": { type: "string" },
  "accept-license": { type: "boolean" },
} as const;

const GENERATE_OPTIONS = {
  ...COMMON_OPTIONS,
  width: { type: "string" },
  height: { type: "string" },
  "init-image": { type: "string" },
  mask: { type: "string" },
} as const;

const OUTPAINT_OPTIONS = {
  ...COMMON_OPTIONS,
  image: { type: "string" },
  left: { type: "string" },
  right: { type: "string" },
  top: { type: "string" },
  bottom: { type: "string" },
  overlap: { type: "string" },
  fill: { type: "string" },
} as const;

export async function generateCommand(args: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs("generate", args, GENERATE_OPTIONS, false);
  if (values.help) {
    process.stdout.write(`${GENERATE_HELP}\n`);
    return 0;
  }
  const initPath = stringValue(values, "init-image");
  const maskPath = stringValue(values, "mask");
  if (maskPath !== undefined && initPath === undefined) throw badArgument("--mask needs the image it masks: add --init-image FILE");
  return runGeneration(values, {
    width: integerValue(values, "width"),
    height: integerValue(values, "height"),
    initImage: initPath === undefined ? undefined : await readImageArgument(initPath, "init image "),
    mask: maskPath === undefined ? undefined : await readImageArgument(maskPath, "mask "),
  });
}

/** `easel outpaint`: generate's options, the image to extend and the pixels to add on each side. */
export async function outpaintCommand(args: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs("outpaint", args, OUTPAINT_OPTIONS, false);
  if (values.help) {
    process.stdout.write(`${OUTPAINT_HELP}\n`);
    return 0;
  }
  const imagePath = stringValue(values, "image");
  if (imagePath === undefined) throw badArgument("missing --image FILE: the image to extend");
  const fill = stringValue(values, "fill");
  if (fill !== undefined && !(OUTPAINT_FILLS as readonly string[]).includes(fill)) throw badArgument(`unknown --fill "${fill}": use ${OUTPAINT_FILLS.join(" or ")}`);
  const outpaint = {
    left: integerValue(values, "left"),
    right: integerValue(values, "right"),
    top: integerValue(values, "top"),
    bottom: integerValue(values, "bottom"),
    overlap: integerValue(values, "overlap"),
    fill: fill as OutpaintFill | undefined,
  };
  for (const [side, n] of Object.entries(outpaint)) {
    if (typeof n === "number" && n < 0) throw badArgument(`--${side} must be 0 or more pixels (got ${n})`);
  }
  return runGeneration(values, { initImage: await readImageArgument(imagePath, "image "), outpaint });
}

async function runGeneration(values: ParsedArgs["values"], image: Pick<GenerateRequest, "width" | "height" | "initImage" | "mask" | "outpaint">): Promise<number> {
  if (values["prompt-syntax"] !== undefined) throw new EaselError("bad-argument", "not supported yet: --prompt-syntax (prompt weighting) is later work");
  const model = stringValue(values, "model");
  if (!model) throw badArgument("missing --model MODEL: a diffusers ONNX folder, a catalog id or owner/name (see 'easel models list')");
  const prompt = stringValue(values, "prompt");
  if (prompt === undefined) throw badArgument('missing --prompt TEXT (use --prompt "" for an empty prompt)');
  const scheduler = stringValue(values, "scheduler") ?? "default";
  if (!isSchedulerChoice(scheduler)) throw badArgument(`unknown scheduler "${scheduler}": use one of default, ${SCHEDULER_NAMES.join(", ")}`);
  const provider = stringValue(values, "provider") ?? "auto";
  if (!isProviderChoice(provider)) throw badArgument(`unknown provider "${provider}": use one of ${PROVIDER_NAMES.join(", ")}`);
  const seedText = stringValue(values, "seed");
  const seed = seedText === undefined ? randomSeed() : parseSeed(seedText);
  const batch = integerValue(values, "batch") ?? 1;
  const strength = numberValue(values, "strength");
  const request: GenerateRequest = {
    prompt,
    negativePrompt: stringValue(values, "negative-prompt"),
    scheduler,
    steps: integerValue(values, "steps"),
    guidance: numberValue(values, "guidance"),
    seed,
    batch,
    strength,
    ...image,
  };
  const paths = outputPaths(stringValue(values, "out"), prompt, seed, Math.max(1, batch));
  for (const file of paths) await checkWritable(file);

  // --model: an existing folder, else a catalog id / added folder, else owner/name[@rev] (pulled first).
  // The provider first (its probe is cached for Engine.load): a catalog model that cannot run on it
  // is refused before gigabytes are downloaded.
  const { provider: runsOn } = await resolveProvider(provider);
  const modelDir = await resolveModelForCli(model, { acceptLicense: values["accept-license"] === true, json: values.json === true, provider: runsOn });
  const engine = await Engine.load(modelDir, { provider });
  if (values.verbose) {
    for (const s of engine.skippedProviders) process.stderr.write(`provider ${s.provider} skipped: ${s.reason ?? "unavailable"}\n`);
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  const bar = process.stderr.isTTY && !values.json ? new ProgressBar(process.stderr) : undefined;
  if (seedText === undefined && !values.json) process.stderr.write(`seed ${seed}\n`);
  try {
    const result = await engine.generate(request, { signal: controller.signal, onStep: (p) => bar?.update(p) });
    bar?.done();
    for (let i = 0; i < result.images.length; i++) await writeFileAtomic(paths[i], result.images[i].png);
    if (values.json) {
      const images = result.images.map((img, i) => `{"path":${JSON.stringify(paths[i])},"seed":${img.seed}}`);
      process.stdout.write(`{"images":[${images.join(",")}],"provider":${JSON.stringify(result.provider)},"seconds":${result.seconds.toFixed(3)}}\n`);
    } else {
      for (let i = 0; i < result.images.length; i++) process.stdout.write(`${paths[i]}\n`);
      process.stderr.write(`${result.images.length} image(s), ${result.sampler}, ${result.request.steps} steps, provider ${result.provider}, ${result.seconds.toFixed(1)}s\n`);
    }
    return 0;
  } finally {
    bar?.done();
    process.removeListener("SIGINT", onSigint);
    await engine.dispose();
  }
}

function parseSeed(text: string): bigint {
  try {
    return seedFromString(text);
  } catch (error) {
    throw badArgument(`--seed: ${firstLine(error)}`);
  }
}

