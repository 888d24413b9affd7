// What a CLI command talks through: the process's streams (or a test's), the model store, and a
// signal that Ctrl+C aborts, so a download, an import or a generation stops cleanly.

import type { ModelStore } from "../hub/store";

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly store?: ModelStore;
  readonly signal?: AbortSignal;
}

/** A signal that Ctrl+C aborts until `dispose()` removes the listener (a second Ctrl+C then ends the process as usual). */
export function interruptSignal(): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  return { signal: controller.signal, dispose: () => process.removeListener("SIGINT", onSigint) };
}

/** Runs a command with the process's streams and a signal that Ctrl+C aborts (the listener removed after). */
export function withProcessIo(run: (io: CommandIo) => Promise<number>): Promise<number> {
  const interrupt = interruptSignal();
  return run({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, signal: interrupt.signal }).finally(() => interrupt.dispose());
}
