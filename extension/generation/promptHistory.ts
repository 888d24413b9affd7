import type * as vscode from "vscode";

const KEY = "easel.promptHistory";
const LIMIT = 30;

/** Recent prompts, newest first, kept across sessions. */
export class PromptHistory {
  constructor(private readonly state: vscode.Memento) {}

  list(): readonly string[] {
    const v = this.state.get<unknown>(KEY);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  }

  async add(prompt: string): Promise<void> {
    const p = prompt.trim();
    if (!p) return;
    await this.state.update(KEY, [p, ...this.list().filter((x) => x !== p)].slice(0, LIMIT));
  }
}
