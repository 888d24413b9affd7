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
  const result = tokenizer.encode(positionals[0]);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ids: result.ids, count: result.count, truncated: result.truncated })}\n`);
  } else {
    process.stdout.write(`ids: ${result.ids.join(" ")}\n`);
    process.stdout.write(`tokens: ${result.count}/${tokenizer.maxLength - 2}${result.truncated ? " (truncated: the text past 75 tokens is ignored)" : ""}\n`);
  }
  return 0;
}
