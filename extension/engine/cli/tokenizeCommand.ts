import fs from "node:fs";
import path from "node:path";
import { badArgument } from "../errors";
import { promptChunks } from "../pipeline/promptEncoding";
import { chunkPrompt, isPromptSyntax, PROMPT_SYNTAXES, type PromptChunk, type PromptSyntax } from "../text/a1111Prompt";
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
  // SDXL's second tokenizer splits the same tokens (so the same chunks and weights) but may pad with another token ("!").
  const secondDir = path.join(model, "tokenizer_2");
  const tokenizer2 = fs.existsSync(secondDir) ? await ClipTokenizer.load(secondDir) : undefined;
  const text = positionals[0];
  const first = tokenization(tokenizer, text, syntax);
  const second = tokenizer2 && tokenization(tokenizer2, text, syntax);
  if (values.json) {
    const json = (t: Tokenization) => ({ chunks: t.chunks.map((c) => ({ ids: c.ids, weights: c.weights })), ids: t.chunks[0].ids, count: t.count, truncated: t.truncated });
    process.stdout.write(`${JSON.stringify({ ...json(first), ...(second && { tokenizer_2: json(second) }) })}\n`);
  } else {
    const { chunks } = first;
    chunks.forEach((c, i) => {
      if (chunks.length > 1) process.stdout.write(`chunk ${i + 1}/${chunks.length}\n`);
      process.stdout.write(`ids: ${c.ids.join(" ")}\n`);
      if (second) process.stdout.write(`ids (tokenizer_2): ${second.chunks[i].ids.join(" ")}\n`);
      if (syntax === "a1111") process.stdout.write(`weights: ${c.weights.map((w) => Number(w.toFixed(4))).join(" ")}\n`);
    });
    const room = tokenizer.maxLength - 2;
    const total = syntax === "plain" ? `${first.count}/${room}` : `${first.count} in ${chunks.length} chunk${chunks.length === 1 ? "" : "s"} of ${room}`;
    process.stdout.write(`tokens: ${total}${first.truncated ? ` (truncated: the text past ${room} tokens is ignored)` : ""}\n`);
  }
  return 0;
}

interface Tokenization {
  readonly chunks: readonly PromptChunk[];
  /** The prompt's own tokens (every chunk's, in the a1111 syntax). */
  readonly count: number;
  /** Only the plain syntax drops tokens; the a1111 syntax adds chunks instead. */
  readonly truncated: boolean;
}

function tokenization(tokenizer: ClipTokenizer, text: string, syntax: PromptSyntax): Tokenization {
  const chunks = promptChunks(tokenizer, text, syntax);
  if (syntax === "a1111") return { chunks, count: chunkPrompt(tokenizer, text).count, truncated: false };
  const plain = tokenizer.encode(text);
  return { chunks, count: plain.count, truncated: plain.truncated };
}
