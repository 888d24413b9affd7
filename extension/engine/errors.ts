// Every failure a user can cause surfaces as one EaselError: a one-line message that says what is
// wrong and what to do, plus a stable code the extension can react to (and whether a retry helps).

/** Every code, once: the type and the engine protocol's validator both come from this list. */
export const EASEL_ERROR_CODES = [
  "bad-argument",
  "model-missing",
  "model-invalid",
  "model-unsupported",
  "provider-unavailable",
  "image-invalid",
  "output-unwritable",
  "cancelled",
  "internal",
] as const;
export type EaselErrorCode = (typeof EASEL_ERROR_CODES)[number];

export class EaselError extends Error {
  constructor(
    readonly code: EaselErrorCode,
    message: string,
    readonly retryable = false,
  ) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "EaselError";
  }
}

export function notSupportedYet(what: string): EaselError {
  return new EaselError("model-unsupported", `not supported yet: ${what}`);
}

export function badArgument(message: string): EaselError {
  return new EaselError("bad-argument", message);
}

/** The first line of any thrown value, for places that must report one line. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "unknown error";
}
