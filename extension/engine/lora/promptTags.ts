// AUTOMATIC1111's extra-network tags in a prompt, `<lora:NAME:WEIGHT>` (also `<lora:NAME>` for 1,
// `<lora:NAME:TE:UNET>` for separate text-encoder and UNet weights, and the `lyco` alias of
// A1111 ≥ 1.5), read as A1111's extra_networks.parse_prompt does (`<(\w+):([^>]+)>`) and removed from
// the text the encoder sees.

import { badArgument } from "../errors";
import { LORA_WEIGHT_LIMIT } from "./apply";

export interface LoraTag {
  readonly name: string;
  readonly textWeight: number;
  readonly unetWeight: number;
}

const TAG = /<(\w+):([^>]+)>/g;

function weight(text: string, tag: string): number {
  const n = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(n)) throw badArgument(`${tag}: the weight "${text}" is not a number (write <lora:NAME:0.8>)`);
  checkLoraWeight(n, tag);
  return n;
}

export function checkLoraWeight(w: number, what: string): void {
  if (!(w >= -LORA_WEIGHT_LIMIT && w <= LORA_WEIGHT_LIMIT)) throw badArgument(`${what}: LoRA weight ${w} is outside -${LORA_WEIGHT_LIMIT}..${LORA_WEIGHT_LIMIT}`);
}

/** The LoRA tags of a prompt and the prompt without them (other tag kinds are left in place). */
export function extractLoraTags(prompt: string): { readonly prompt: string; readonly tags: readonly LoraTag[] } {
  const tags: LoraTag[] = [];
  const rest = prompt.replace(TAG, (whole, kind: string, body: string) => {
    if (kind !== "lora" && kind !== "lyco") return whole;
    const items = body.split(":");
    const name = items[0].trim();
    if (name === "") throw badArgument(`${whole}: the tag names no LoRA (write <lora:NAME:0.8>)`);
    const te = items.length > 1 ? weight(items[1], whole) : 1;
    const unet = items.length > 2 ? weight(items[2], whole) : te;
    tags.push({ name, textWeight: te, unetWeight: unet });
    return "";
  });
  return { prompt: rest, tags };
}

/** A tag as A1111 writes it back (one weight when both are the same). */
export function formatLoraTag(name: string, textWeight: number, unetWeight: number): string {
  return textWeight === unetWeight ? `<lora:${name}:${textWeight}>` : `<lora:${name}:${textWeight}:${unetWeight}>`;
}
