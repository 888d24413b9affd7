#!/usr/bin/env node
// The `easel` command. Every failure ends as one `error:` line on stderr and a non-zero exit;
// --verbose adds the stack.
import { EaselError, firstLine } from "./errors";
import { generateCommand, outpaintCommand } from "./cli/generateCommand";
import { MAIN_HELP } from "./cli/help";
import { infoCommand } from "./cli/infoCommand";
import { modelsCommand } from "./cli/modelsCommand";
import { tokenizeCommand } from "./cli/tokenizeCommand";
import { EASEL_VERSION } from "./version";

const COMMANDS: Record<string, (args: readonly string[]) => Promise<number>> = {
  generate: generateCommand,
  outpaint: outpaintCommand,
  tokenize: tokenizeCommand,
  info: infoCommand,
  models: modelsCommand,
};

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${MAIN_HELP}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${EASEL_VERSION}\n`);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) throw new EaselError("bad-argument", `unknown command "${command}": use generate, outpaint, tokenize, info or models (see 'easel --help')`);
  return run(rest);
}

const verbose = process.argv.includes("--verbose");
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof EaselError ? error.message : firstLine(error);
    process.stderr.write(`error: ${message}\n`);
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = error instanceof EaselError && error.code === "cancelled" ? 130 : 1;
  },
);
