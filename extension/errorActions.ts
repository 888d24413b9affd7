// The one error→action table: an error as Easel shows it anywhere (the Studio in place, a
// notification elsewhere) is its one-line message, which already says what to do, plus the
// actions that fix it, chosen by the error's code. No `vscode` here: the host runs the actions
// (errorMessages.ts, the Studio panel).
import { EaselError, type EaselErrorCode, firstLine } from "./engine/errors";
import { ProtocolError } from "./engine/host/validate";
import type { StudioError } from "./protocol/studioMessages";

export type ErrorAction = StudioError["actions"][number];
type Action = ErrorAction;

const CHOOSE_MODEL: Action = { id: "chooseModel", label: "Choose Model" };
const SHOW_LOG: Action = { id: "showLog", label: "Show Log" };

export const ERROR_ACTIONS: Readonly<Record<EaselErrorCode, readonly Action[]>> = {
  "bad-argument": [],
  "model-missing": [CHOOSE_MODEL, { id: "downloadModel", label: "Download Model…" }],
  "model-invalid": [CHOOSE_MODEL, SHOW_LOG],
  "model-unsupported": [CHOOSE_MODEL],
  "provider-unavailable": [{ id: "providerSettings", label: "Change Provider" }, SHOW_LOG],
  "image-invalid": [{ id: "pickInitImage", label: "Choose Another Image" }],
  "output-unwritable": [{ id: "outputSettings", label: "Change Output Folder" }],
  cancelled: [],
  internal: [SHOW_LOG],
};

/** The message and actions for a failure ("Try Again" first when retrying may help). */
export function describeError(error: unknown): StudioError {
  if (error instanceof ProtocolError) {
    return { code: "bad-argument", message: `the form is not valid: ${error.message}`, actions: [] };
  }
  const code: EaselErrorCode = error instanceof EaselError ? error.code : "internal";
  const message = error instanceof EaselError ? error.message : firstLine(error);
  const retry: Action[] = error instanceof EaselError && error.retryable ? [{ id: "retry", label: "Try Again" }] : [];
  return { code, message, actions: [...retry, ...ERROR_ACTIONS[code]] };
}


/**
 * Where a person finds each action outside the surface that failed (an agent's tool result names
 * them for the user to run); undefined for the ones only that surface has.
 */
export const ACTION_PLACES: Readonly<Record<ErrorAction["id"], string | undefined>> = {
  chooseModel: "the command 'Easel: Choose Model'",
  downloadModel: "the command 'Easel: Download Model…'",
  providerSettings: "the setting easel.provider",
  outputSettings: "the setting easel.output.folder",
  showLog: "the command 'Easel: Show Log'",
  retry: undefined,
  pickInitImage: undefined,
};

/** A failure as an agent reads it in a tool result: the one line, and what the user can run to fix it. */
export function agentErrorLine(error: unknown): string {
  const { message, actions } = describeError(error);
  const places = actions.flatMap((a) => (ACTION_PLACES[a.id] ? [ACTION_PLACES[a.id]] : []));
  return places.length === 0 ? message : `${message} (the user can fix this with ${places.join(" or ")})`;
}
