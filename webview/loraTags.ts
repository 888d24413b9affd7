// `<lora:NAME:WEIGHT>` in the Studio's prompt, as the page sees it before generating: the
// completion at the caret (typing `<lora:` offers the LoRA names, accepting writes `<lora:NAME:1>`)
// and a line for each tag the generation would fail on (a name the folders do not have, a LoRA for
// another base). The tags are read as the engine reads them (engine/lora/promptTags.ts:
// A1111's `<(\w+):([^>]+)>`, kinds `lora` and `lyco`); the engine stays the authority. No DOM here.
import type { LoraOption, PromptSyntax } from "../extension/protocol/studioMessages";

/** The LoRA name being typed at the caret: `<lora:pa|` → { start: offset of "pa", partial: "pa" }. */
export function completionAt(text: string, caret: number): { readonly start: number; readonly partial: string } | undefined {
  const before = text.slice(0, caret);
  const m = /<(?:lora|lyco):([^:>\s<]*)$/.exec(before);
  if (!m) return undefined;
  return { start: caret - m[1].length, partial: m[1] };
}

/** The names to offer for a partial name: those that start with it first, then those that contain it (case ignored). */
export function completions(partial: string, options: readonly LoraOption[]): LoraOption[] {
  const p = partial.toLowerCase();
  const usable = options.filter((o) => !o.problem && !o.unfit);
  const starts = usable.filter((o) => o.name.toLowerCase().startsWith(p));
  const contains = usable.filter((o) => !o.name.toLowerCase().startsWith(p) && o.name.toLowerCase().includes(p));
  return [...starts, ...contains];
}

/**
 * The prompt with a name accepted at `start` (where the partial name begins): the partial name and
 * whatever rest of a tag follows the caret are replaced by `NAME:1>`; the caret goes after the tag.
 */
export function acceptCompletion(text: string, start: number, caret: number, name: string): { readonly text: string; readonly caret: number } {
  // A tag already closed after the caret (completing inside `<lora:pa|per:0.5>`) keeps its weight.
  const rest = text.slice(caret);
  const closed = /^[^:>\s<]*(:[^>\s<]*)?>/.exec(rest);
  const tail = closed ? `${closed[1] ?? ":1"}>` : ":1>";
  const inserted = `${name}${tail}`;
  const after = closed ? rest.slice(closed[0].length) : rest;
  return { text: `${text.slice(0, start)}${inserted}${after}`, caret: start + inserted.length };
}

/** The LoRA names of a prompt's tags, as the engine reads them. */
export function promptLoraNames(prompt: string): string[] {
  const names: string[] = [];
  for (const m of prompt.matchAll(/<(\w+):([^>]+)>/g)) {
    if (m[1] !== "lora" && m[1] !== "lyco") continue;
    const name = m[2].split(":")[0].trim();
    if (name !== "" && !names.includes(name)) names.push(name);
  }
  return names;
}

/** Lines for the prompt's LoRA tags that would fail (or be read as text), empty when all is well. */
export function promptLoraWarnings(prompt: string, options: readonly LoraOption[], syntax: PromptSyntax, folders: readonly string[]): string[] {
  const names = promptLoraNames(prompt);
  if (names.length === 0) return [];
  if (syntax !== "a1111") {
    return [`<lora:…> tags are read only with easel.promptSyntax set to a1111: as it is, the text encoder gets them as words. Use the LoRA picker, or change the setting.`];
  }
  const out: string[] = [];
  for (const name of names) {
    const option = options.find((o) => o.name === name);
    if (!option) out.push(`<lora:${name}>: no LoRA named ${name} in ${folders.length > 0 ? folders.join(", ") : "the LoRA folders"}: the generation would fail. Check the name (Ctrl+Space after <lora: lists them) or Refresh.`);
    else if (option.problem) out.push(`<lora:${name}> cannot be used: ${option.problem}`);
    else if (option.unfit) out.push(`<lora:${name}> is ${option.unfit}.`);
  }
  return out;
}
