import fs from "node:fs";
import path from "node:path";
import { badArgument } from "../errors";
import { ClipTokenizer } from "../text/clipTokenizer";
import { parseCommandArgs, stringValue } from "./args";
import { TOKENIZE_HELP } from "./help";

export async function tokenizeCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "tokenize",
    args,
    { model: { type: "string" }, json: { type: "boolean" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    true,
  );
  if (values.help) {
    process.stdout.write(`${TOKENIZE_HELP}\n`);
    return 0;
  }
  const model = stringValue(values, "model");
  if (!model) throw badArgument("missing --model DIR: the model whose tokenizer to use");
  if (positionals.length !== 1) throw badArgument('give the text to tokenize as one argument (quote it: easel tokenize --model DIR "a cat")');
  const tokenizer = await ClipTokenizer.load(path.join(model, "tokenizer"));
  // SDXL's second tokenizer splits the same tokens but may pad with another token ("!").
  const secondDir = path.join(model, "tokenizer_2");
  const tokenizer2 = fs.existsSync(secondDir) ? await ClipTokenizer.load(secondDir) : undefined;
  const result = tokenizer.encode(positionals[0]);
  const result2 = tokenizer2?.encode(positionals[0]);
  if (values.json) {
    const second = result2 && { tokenizer_2: { ids: result2.ids, count: result2.count, truncated: result2.truncated } };
    process.stdout.write(`${JSON.stringify({ ids: result.ids, count: result.count, truncated: result.truncated, ...second })}\n`);
  } else {
    process.stdout.write(`ids: ${result.ids.join(" ")}\n`);
    if (result2) process.stdout.write(`ids (tokenizer_2): ${result2.ids.join(" ")}\n`);
    const room = tokenizer.maxLength - 2;
    process.stdout.write(`tokens: ${result.count}/${room}${result.truncated ? ` (truncated: the text past ${room} tokens is ignored)` : ""}\n`);
  }
  return 0;
}
