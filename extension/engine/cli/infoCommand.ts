import { badArgument, EaselError, firstLine } from "../errors";
import { readPngParameters } from "../image/encode";
import { parseInfotext } from "../image/infotext";
import { parseCommandArgs, readImageArgument } from "./args";
import { INFO_HELP } from "./help";
import { terminalJson, terminalSafe } from "./terminalText";

export async function infoCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "info",
    args,
    { json: { type: "boolean" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    true,
  );
  if (values.help) {
    process.stdout.write(`${INFO_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw badArgument("give one PNG file: easel info FILE.png");
  const file = positionals[0];
  const bytes = await readImageArgument(file, "");
  let infotext: string | undefined;
  try {
    infotext = readPngParameters(bytes);
  } catch (error) {
    throw new EaselError("image-invalid", `${file}: ${firstLine(error)}`);
  }
  if (infotext === undefined) throw new EaselError("image-invalid", `${file} has no generation parameters (no "parameters" text chunk)`);
  if (values.json) {
    const parsed = parseInfotext(infotext);
    process.stdout.write(`${terminalJson({ prompt: parsed.prompt, negativePrompt: parsed.negativePrompt, parameters: parsed.params, infotext })}\n`);
  } else {
    // The infotext is the file's text: its control characters are shown, not sent to the terminal.
    process.stdout.write(`${terminalSafe(infotext)}\n`);
  }
  return 0;
}
