#!/usr/bin/env node
// The `easel` command. Every failure ends as one `error:` line on stderr and a non-zero exit;
// --verbose adds the stack.
// First: it decides which ONNX Runtime this process loads (the CUDA folder's, when installed).
import "./gpu/preferProvisionedOrt";
import { EaselError, firstLine } from "./errors";
import { assetsCommand } from "./cli/assetsCommand";
import { generateCommand, outpaintCommand } from "./cli/generateCommand";
import { gpuCommand } from "./cli/gpuCommand";
import { MAIN_HELP } from "./cli/help";
import { doctorCommand } from "./cli/doctorCommand";
import { infoCommand } from "./cli/infoCommand";
import { mcpCommand } from "./cli/mcpCommand";
import { modelsCommand } from "./cli/modelsCommand";
import { packCommand } from "./cli/packCommand";
import { rembgCommand } from "./cli/rembgCommand";
import { terminalSafe } from "./cli/terminalText";
import { tokenizeCommand } from "./cli/tokenizeCommand";
import { upscaleCommand } from "./cli/upscaleCommand";
import { EASEL_VERSION } from "./version";

const COMMANDS: Record<string, (args: readonly string[]) => Promise<number>> = {
  generate: generateCommand,
  outpaint: outpaintCommand,
  upscale: upscaleCommand,
  tokenize: tokenizeCommand,
  info: infoCommand,
  models: modelsCommand,
  gpu: gpuCommand,
  rembg: rembgCommand,
  pack: packCommand,
  doctor: doctorCommand,
  mcp: mcpCommand,
  assets: assetsCommand,
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
  if (!run) throw new EaselError("bad-argument", `unknown command "${command}": use ${Object.keys(COMMANDS).join(", ")} (see 'easel --help')`);
  return run(rest);
}

// `easel info x.png | head` closes the pipe before everything is written: stop quietly, as Unix
// tools do, rather than die on an unhandled EPIPE with a stack trace. Whatever the command wrote to
// disk is complete by then (files are written atomically before anything is printed about them).
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}

const verbose = process.argv.includes("--verbose");
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof EaselError ? error.message : firstLine(error);
    // Messages can quote a file's bytes (a PNG chunk keyword, a Hub's reply): no control characters.
    process.stderr.write(`error: ${terminalSafe(message)}\n`);
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = error instanceof EaselError && error.code === "cancelled" ? 130 : 1;
  },
);
