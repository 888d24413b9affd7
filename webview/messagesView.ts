// Errors in place (with the buttons that fix them) and short notices (copied, inserted, …).
import type { ErrorActionId, StudioError } from "../extension/protocol/studioMessages";
import { byId, h, show } from "./dom";
import { post } from "./vscodeApi";

const NOTICE_MS = 6000;

export class MessagesView {
  private readonly error = byId("error", "div");
  private readonly errorMessage = byId("error-message", "p");
  private readonly errorActions = byId("error-actions", "div");
  private readonly notice = byId("notice", "p");
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;

  showError(error: StudioError): void {
    this.errorMessage.textContent = `Easel: ${error.message}`;
    this.errorActions.replaceChildren(
      ...error.actions.map((a, i) => {
        const button = h("vscode-button", { "data-action": a.id, secondary: i > 0 }, a.label);
        button.addEventListener("click", () => this.act(a.id));
        return button;
      }),
    );
    show(this.error, true);
    const first = this.errorActions.firstElementChild;
    if (first instanceof HTMLElement) first.focus();
  }

  clearError(): void {
    show(this.error, false);
    this.errorActions.replaceChildren();
  }

  showNotice(kind: "info" | "warning", text: string): void {
    clearTimeout(this.noticeTimer);
    this.notice.textContent = text;
    this.notice.classList.toggle("warning", kind === "warning");
    show(this.notice, true);
    this.noticeTimer = setTimeout(() => show(this.notice, false), kind === "warning" ? NOTICE_MS * 2 : NOTICE_MS);
  }

  private act(action: ErrorActionId): void {
    // The retry starts a new generation, which clears the error itself; the others keep it visible until then.
    post({ type: "errorAction", action });
  }
}
