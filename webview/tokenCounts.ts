// The live "n/75" (plain syntax) or "n/75 · k chunks" (AUTOMATIC1111's) beside each prompt: text is
// sent to the host (which has the model's CLIP tokenizer) a moment after typing stops, and only
// the answer for the latest text is shown.
import type { PromptField, TokenCountMessage } from "../extension/protocol/studioMessages";
import { byId, show } from "./dom";
import { post } from "./vscodeApi";

const DEBOUNCE_MS = 250;

interface FieldView {
  readonly counter: HTMLSpanElement;
  readonly warning: HTMLParagraphElement;
  seq: number;
  timer?: ReturnType<typeof setTimeout>;
}

export class TokenCounts {
  private readonly views: Record<PromptField, FieldView> = {
    prompt: { counter: byId("prompt-tokens", "span"), warning: byId("prompt-cut", "p"), seq: 0 },
    negativePrompt: { counter: byId("negative-prompt-tokens", "span"), warning: byId("negative-prompt-cut", "p"), seq: 0 },
  };

  constructor(private readonly text: (field: PromptField) => string) {}

  /** Asks for a count once typing pauses. */
  schedule(field: PromptField): void {
    const view = this.views[field];
    clearTimeout(view.timer);
    view.timer = setTimeout(() => this.request(field), DEBOUNCE_MS);
  }

  /** Counts both fields now (a new model may tokenize differently). */
  refresh(): void {
    this.request("prompt");
    this.request("negativePrompt");
  }

  receive(message: TokenCountMessage): void {
    const view = this.views[message.field];
    if (message.seq !== view.seq) return;
    const chunks = message.chunks ?? 1;
    // AUTOMATIC1111's syntax cuts nothing: a long prompt takes more 75-token chunks, and the counter
    // shows the chunk being typed into ("12/75 · 2 chunks"), as A1111's does. The plain syntax cuts
    // after 75 tokens, which the warning says.
    const a1111 = message.syntax === "a1111";
    const over = !a1111 && message.count !== undefined && message.truncated;
    const inChunk = message.chunkCount ?? message.count;
    view.counter.textContent =
      message.count === undefined ? "" : a1111 ? `${inChunk}/${message.max} · ${chunks} ${chunks === 1 ? "chunk" : "chunks"}` : `${message.count}/${message.max}`;
    view.counter.title =
      message.count === undefined
        ? "Tokens are counted once a model is downloaded"
        : a1111
          ? `${message.count} tokens in ${chunks} ${chunks === 1 ? "chunk" : "chunks"} of ${message.max}, each encoded on its own; ${inChunk} in the last`
          : `${message.count} of the ${message.max} tokens the text encoder reads`;
    view.counter.classList.toggle("over", over);
    show(view.warning, over);
    view.warning.textContent = over ? `Over ${message.max} tokens: the text encoder ignores everything after token ${message.max}; shorten the text or move the important words forward.` : "";
  }

  private request(field: PromptField): void {
    const view = this.views[field];
    clearTimeout(view.timer);
    view.seq += 1;
    post({ type: "countTokens", field, text: this.text(field), seq: view.seq });
  }
}
