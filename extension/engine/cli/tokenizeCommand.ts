import path from "node:path";
import { badArgument } from "../errors";
import { promptChunks } from "../pipeline/promptEncoding";
import { chunkPrompt, isPromptSyntax, PROMPT_SYNTAXES } from "../text/a1111Prompt";
import { ClipTokenizer } from "../text/clipTokenizer";
import { parseCommandArgs, stringValue } from "./args";
import { TOKENIZE_HELP } from "./help";

export async function tokenizeCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "tokenize",
    args,
    {
      model: { type: "string" },
      "prompt-syntax": { type: "string" },
      json: { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(`${TOKENIZE_HELP}\n`);
    return 0;
  }
  const model = stringValue(values, "model");
  if (!model) throw badArgument("missing --model DIR: the model whose tokenizer to use");
  const syntax = stringValue(values, "prompt-syntax") ?? "plain";
  if (!isPromptSyntax(syntax)) throw badArgument(`unknown --prompt-syntax "${syntax}": use one of ${PROMPT_SYNTAXES.join(", ")}`);
  if (positionals.length !== 1) throw badArgument('give the text to tokenize as one argument (quote it: easel tokenize --model DIR "a cat")');
  const tokenizer = await ClipTokenizer.load(path.join(model, "tokenizer"));
  const text = positionals[0];
  const chunks = promptChunks(tokenizer, text, syntax);
  // Only the plain syntax drops tokens; the a1111 syntax adds chunks instead.
  const plain = tokenizer.encode(text);
  const count = syntax === "plain" ? plain.count : chunkPrompt(tokenizer, text).count;
  const truncated = syntax === "plain" && plain.truncated;
  if (values.json) {
    const rows = chunks.map((c) => ({ ids: c.ids, weights: c.weights }));
    process.stdout.write(`${JSON.stringify({ chunks: rows, ids: chunks[0].ids, count, truncated })}\n`);
  } else {
    chunks.forEach((c, i) => {
      if (chunks.length > 1) process.stdout.write(`chunk ${i + 1}/${chunks.length}\n`);
      process.stdout.write(`ids: ${c.ids.join(" ")}\n`);
      if (syntax === "a1111") process.stdout.write(`weights: ${c.weights.map((w) => Number(w.toFixed(4))).join(" ")}\n`);
    });
    const room = tokenizer.maxLength - 2;
    const total = syntax === "plain" ? `${count}/${room}` : `${count} in ${chunks.length} chunk${chunks.length === 1 ? "" : "s"} of ${room}`;
    process.stdout.write(`tokens: ${total}${truncated ? " (truncated: the text past 75 tokens is ignored)" : ""}\n`);
  }
  return 0;
}
