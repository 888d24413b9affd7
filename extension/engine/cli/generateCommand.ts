import { Engine } from "../engine";
import { badArgument, EaselError, firstLine } from "../errors";
import { writeFileAtomic } from "../image/atomicWrite";
import { isProviderChoice, PROVIDER_NAMES, resolveProvider } from "../onnx/providers";
import { isSchedulerChoice, randomSeed } from "../pipeline/resolveRequest";
import { seedFromString } from "../random/torchGenerator";
import { SCHEDULER_NAMES } from "../schedulers/scheduler";
import { isPromptSyntax, PROMPT_SYNTAXES } from "../text/a1111Prompt";
import type { GenerateRequest } from "../types";
import { integerValue, numberValue, parseCommandArgs, readImageArgument, stringValue } from "./args";
import { GENERATE_HELP } from "./help";
import { resolveModelForCli } from "./modelsCommand";
import { checkWritable, outputPaths } from "./outputPaths";
import { ProgressBar } from "./progressBar";

const OPTIONS = {
  model: { type: "string" },
  prompt: { type: "string" },
  "negative-prompt": { type: "string" },
  scheduler: { type: "string" },
  steps: { type: "string" },
  guidance: { type: "string" },
  seed: { type: "string" },
  width: { type: "string" },
  height: { type: "string" },
  batch: { type: "string" },
  "init-image": { type: "string" },
  strength: { type: "string" },
  provider: { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  mask: { type: "string" },
  "prompt-syntax": { type: "string" },
  "accept-license": { type: "boolean" },
} as const;

export async function generateCommand(args: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs("generate", args, OPTIONS, false);
  if (values.help) {
    process.stdout.write(`${GENERATE_HELP}\n`);
    return 0;
  }
  if (values.mask !== undefined) throw new EaselError("bad-argument", "not supported yet: --mask (inpainting) is later work");
  const promptSyntax = stringValue(values, "prompt-syntax") ?? "plain";
  if (!isPromptSyntax(promptSyntax)) throw badArgument(`unknown --prompt-syntax "${promptSyntax}": use one of ${PROMPT_SYNTAXES.join(", ")}`);
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
  const initPath = stringValue(values, "init-image");
  const request: GenerateRequest = {
    prompt,
    negativePrompt: stringValue(values, "negative-prompt"),
    scheduler,
    steps: integerValue(values, "steps"),
    guidance: numberValue(values, "guidance"),
    seed,
    width: integerValue(values, "width"),
    height: integerValue(values, "height"),
    batch,
    initImage: initPath === undefined ? undefined : await readImageArgument(initPath, "init image "),
    strength,
    promptSyntax,
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

