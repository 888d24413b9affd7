import { badArgument } from "../errors";
import { formatDoctor, runDoctor } from "../doctor";
import { parseCommandArgs } from "./args";
import { DOCTOR_HELP } from "./help";
import { terminalJson, terminalSafe } from "./terminalText";

/** `easel doctor [--json]`: what each execution provider says on this machine, and how to enable a missing one. */
export async function doctorCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("doctor", args, { json: { type: "boolean" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" } }, true);
  if (values.help) {
    process.stdout.write(`${DOCTOR_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0) throw badArgument(`easel doctor takes no arguments (got "${positionals[0]}"): run 'easel doctor' or 'easel doctor --json'`);
  const report = await runDoctor();
  // Runtime messages (a probe's error) are quoted as they came: no control characters reach the terminal.
  process.stdout.write(values.json ? `${terminalJson(report)}\n` : `${terminalSafe(formatDoctor(report).join("\n"))}\n`);
  return 0;
}
