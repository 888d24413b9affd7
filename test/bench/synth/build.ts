// node --import tsx test/bench/synth/build.ts [--size turbo|base|sdxl|all] [--out DIR] [--seed N] [--flops] [--check]
// Builds the real-size synthetic SD-Turbo / SD 2.1-base / SDXL base folders for the bench (cached outside the
// repository, rebuilt when the builder version changes) and prints each component's FLOPs.
import path from "node:path";
import { FOLDER, SET, VARIANTS, type Variant } from "./configs";
import { product } from "./graph";
import { checkActivations } from "./check";
import { buildComponent, buildModelFolder, componentsOf, DEFAULT_SEED, ensureModelSet, readStamp } from "./modelSet";

interface Args {
  readonly variants: readonly Variant[];
  readonly out: string | undefined;
  readonly seed: number;
  readonly flopsOnly: boolean;
  readonly check: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let variants: readonly Variant[] = ["turbo"];
  let out: string | undefined;
  let seed = DEFAULT_SEED;
  let flopsOnly = false;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--size") {
      const v = value();
      if (v === "all") variants = VARIANTS;
      else if (v === "turbo" || v === "base" || v === "sdxl") variants = [v];
      else throw new Error(`--size ${v}: use turbo, base, sdxl or all`);
    } else if (arg === "--out") out = path.resolve(value());
    else if (arg === "--seed") seed = Number(value());
    else if (arg === "--flops") flopsOnly = true;
    else if (arg === "--check") check = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(seed) || seed < 0) throw new Error("--seed takes a non-negative integer");
  if (out && variants.length > 1) throw new Error("--out takes one --size");
  return { variants, out, seed, flopsOnly, check };
}

const g = (flops: number) => (flops / 1e9).toFixed(1);

function printFlops(variants: readonly Variant[]): void {
  console.log("| model | component | parameters | size | dense GFLOP | conv | linear | attention | other (est.) |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const set of new Set(variants.map((v) => SET[v]))) {
  const model = set === SET.sdxl ? "SDXL" : "SD 2.1";
  for (const component of componentsOf(set)) {
    for (const side of [256, 512]) {
      const graph = buildComponent(set, component, { batch: 1, height: side / 8, width: side / 8 });
      const f = graph.flops;
      const params = graph.weights.reduce((n, w) => n + product(w.dims), 0);
      const text = component.startsWith("text_encoder");
      const size = text ? "77 tokens" : `${side}²`;
      console.log(`| ${model} | ${component} | ${(params / 1e6).toFixed(1)} M | ${size} | ${g(f.conv + f.linear + f.attention)} | ${g(f.conv)} | ${g(f.linear)} | ${g(f.attention)} | ${g(f.other)} |`);
      if (text) break;
    }
  }
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  printFlops(args.variants);
  if (args.flopsOnly) return;
  const log = (line: string) => console.error(line);
  for (const variant of args.variants) {
    let dir: string;
    if (args.out) {
      dir = args.out;
      const stamp = readStamp(dir);
      if (stamp?.seed === args.seed && stamp.variant === variant) log(`${dir} is up to date`);
      else buildModelFolder(dir, SET[variant], variant, { seed: args.seed, log });
    } else {
      dir = ensureModelSet(variant, { seed: args.seed, log });
    }
    console.log(`${FOLDER[variant]}: ${dir}`);
    if (args.check) await checkActivations(dir, log, SET[variant]);
  }
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
