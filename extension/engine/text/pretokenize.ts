// Text normalisation and pre-tokenisation of Hugging Face's *fast* CLIPTokenizer (tokenizer.json of
// transformers' CLIPConverter): NFC, whitespace runs -> " ", lower-case; then CLIP's split pattern keeps
// the matches and drops everything else (whitespace). The BOS/EOS tokens written literally in a prompt
// are split out of the raw text first, as the fast tokenizer's added-token pass does; the pad token is
// not ("!" stays ordinary punctuation for SD 2.x tokenizers).

/**
 * Unicode White_Space, which is what Oniguruma's `\s` (used by the tokenizers library) matches.
 * JavaScript's `\s` differs: it adds U+FEFF and lacks U+0085.
 */
const WS = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const WHITESPACE_RUN = new RegExp(`[${WS}]+`, "gu");
const EDGE_WHITESPACE = new RegExp(`^[${WS}]+|[${WS}]+$`, "gu");

/**
 * CLIP's pattern as the fast tokenizer has it: without the special-token alternatives (those are split
 * out beforehand). Case-insensitivity does not matter: the text is already lower-cased.
 */
const CLIP_PATTERN = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WS}\\p{L}\\p{N}]+`, "gu");

/**
 * Lower-cases code point by code point, as Rust's `char::to_lowercase` in the tokenizers library does.
 * String.prototype.toLowerCase differs only in applying Final_Sigma (word-final "Σ" -> "ς"), so the
 * slow path is taken only for text holding a capital sigma.
 */
function lowerCase(text: string): string {
  if (!text.includes("\u03a3")) return text.toLowerCase();
  let out = "";
  for (const ch of text) out += ch.toLowerCase();
  return out;
}

/** NFC, whitespace runs collapsed to one space, trimmed, lower-cased. */
export function normalizeText(text: string): string {
  return lowerCase(text.normalize("NFC").replace(WHITESPACE_RUN, " ").replace(EDGE_WHITESPACE, ""));
}

/** A piece of the prompt: either a normalised word for BPE, or a special token taken as it is. */
export type PreToken = { readonly kind: "word"; readonly text: string } | { readonly kind: "special"; readonly text: string };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Splits a raw prompt into special tokens and normalised CLIP-pattern words, in order. */
export class PreTokenizer {
  private readonly specialPattern: RegExp | undefined;

  constructor(specialTokens: readonly string[]) {
    // Longest first, so that a special token that starts another is not preferred over it.
    const sorted = [...new Set(specialTokens.filter((t) => t.length > 0))].sort((a, b) => b.length - a.length);
    this.specialPattern = sorted.length > 0 ? new RegExp(sorted.map(escapeRegExp).join("|"), "gu") : undefined;
  }

  split(text: string): PreToken[] {
    const out: PreToken[] = [];
    if (this.specialPattern === undefined) {
      pushWords(text, out);
      return out;
    }
    let last = 0;
    for (const match of text.matchAll(this.specialPattern)) {
      const index = match.index ?? 0;
      pushWords(text.slice(last, index), out);
      out.push({ kind: "special", text: match[0] });
      last = index + match[0].length;
    }
    pushWords(text.slice(last), out);
    return out;
  }
}

/** Normalises a raw segment and appends its CLIP-pattern words. */
function pushWords(segment: string, out: PreToken[]): void {
  const normalized = normalizeText(segment);
  if (normalized.length === 0) return;
  for (const match of normalized.matchAll(CLIP_PATTERN)) out.push({ kind: "word", text: match[0] });
}
