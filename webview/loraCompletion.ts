// `<lora:` completion in the prompt box (AUTOMATIC1111's syntax only) and the line under the prompt
// for tags that would fail. A listbox under the prompt offers the names; the prompt keeps the focus
// (aria-activedescendant names the active option): ArrowUp/ArrowDown move, Enter or Tab accept,
// Escape closes, Ctrl+Space opens it again; a click accepts too. loraTags.ts holds the text logic.
import type { LorasMessage, LoraOption } from "../extension/protocol/studioMessages";
import { byId, h, show } from "./dom";
import { acceptCompletion, completionAt, completions, promptLoraWarnings } from "./loraTags";

export class LoraCompletion {
  private readonly box = byId("lora-completions", "ul");
  private readonly warning = byId("prompt-loras", "p");
  private message: LorasMessage | undefined;
  private shown: LoraOption[] = [];
  private active = 0;
  private start = 0;

  constructor(private readonly prompt: HTMLElementTagNameMap["vscode-textarea"]) {
    prompt.addEventListener("input", () => {
      this.update(true);
      this.warn();
    });
    prompt.addEventListener("keydown", (e) => this.key(e));
    prompt.addEventListener("blur", () => this.close());
    // Keeps the caret in the prompt while an option is clicked.
    this.box.addEventListener("mousedown", (e) => e.preventDefault());
  }

  setLoras(message: LorasMessage): void {
    this.message = message;
    this.warn();
    if (!this.box.hidden) this.update(false);
  }

  /** The prompt was written (a restore, a reload): its tags are checked again. */
  refresh(): void {
    this.close();
    this.warn();
  }

  private get textarea(): HTMLTextAreaElement | undefined {
    return this.prompt.wrappedElement ?? undefined;
  }

  private warn(): void {
    const m = this.message;
    const lines = m ? promptLoraWarnings(this.prompt.value, m.loras, m.promptSyntax, m.folders) : [];
    this.warning.textContent = lines.join(" ");
    show(this.warning, lines.length > 0);
  }

  /** Opens, narrows or closes the list for the text at the caret. */
  private update(keepActive: boolean): void {
    const m = this.message;
    const ta = this.textarea;
    const at = ta && m && m.promptSyntax === "a1111" ? completionAt(ta.value, ta.selectionStart) : undefined;
    const options = at && m ? completions(at.partial, m.loras) : [];
    if (!at || options.length === 0) {
      this.close();
      return;
    }
    const previous = this.shown[this.active]?.name;
    this.start = at.start;
    this.shown = options;
    const kept = keepActive && previous !== undefined ? options.findIndex((o) => o.name === previous) : -1;
    this.active = kept >= 0 ? kept : 0;
    this.box.replaceChildren(
      ...options.map((o, i) => {
        const li = h("li", { id: `lora-completion-${i}`, role: "option", "aria-selected": i === this.active ? "true" : "false" }, h("span", {}, o.name), h("span", { class: "muted" }, o.base ?? ""));
        li.addEventListener("click", () => this.accept(i));
        return li;
      }),
    );
    show(this.box, true);
    this.prompt.setAttribute("aria-expanded", "true");
    this.markActive();
  }

  private markActive(): void {
    const items = [...this.box.children];
    items.forEach((li, i) => li.setAttribute("aria-selected", i === this.active ? "true" : "false"));
    items[this.active]?.scrollIntoView({ block: "nearest" });
    this.textarea?.setAttribute("aria-activedescendant", `lora-completion-${this.active}`);
  }

  private close(): void {
    if (this.box.hidden) return;
    show(this.box, false);
    this.box.replaceChildren();
    this.shown = [];
    this.prompt.setAttribute("aria-expanded", "false");
    this.textarea?.removeAttribute("aria-activedescendant");
  }

  private key(e: KeyboardEvent): void {
    if (e.key === " " && e.ctrlKey) {
      e.preventDefault();
      this.update(false);
      return;
    }
    if (this.box.hidden) return;
    const n = this.shown.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      this.markActive();
    } else if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey && !e.shiftKey) || e.key === "Tab") {
      e.preventDefault();
      this.accept(this.active);
    } else if (e.key === "Escape") {
      // Closes the list only: Escape does not also cancel a generation here.
      e.preventDefault();
      e.stopPropagation();
      this.close();
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight" || e.key === "Home" || e.key === "End") {
      // The caret moves after this event: read where it lands.
      setTimeout(() => this.update(true));
    }
  }

  private accept(index: number): void {
    const ta = this.textarea;
    const option = this.shown[index];
    if (!ta || !option) return;
    const done = acceptCompletion(ta.value, this.start, ta.selectionStart, option.name);
    this.close();
    ta.value = done.text;
    ta.setSelectionRange(done.caret, done.caret);
    ta.focus();
    // The textarea element takes its value from this input event; the form saves and counts tokens on it.
    ta.dispatchEvent(new Event("input", { bubbles: true, composed: true }));
  }
}
