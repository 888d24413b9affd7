// HTTP statuses from the Hub, turned into one line that says what to do.
import { EaselError } from "../errors";

export interface StatusContext {
  readonly repo: string;
  readonly revision: string;
  /** `repository` or a file path. */
  readonly what: string;
  readonly body?: string;
  readonly retryAfter?: string;
  /** The Hub's X-Error-Code header: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo… */
  readonly errorCode?: string;
}

export function hubStatusError(status: number, c: StatusContext): EaselError {
  const page = `https://huggingface.co/${c.repo}`;
  const subject = c.what === "repository" ? `${c.repo}@${c.revision}` : `${c.what} of ${c.repo}@${c.revision}`;
  switch (status) {
    case 401:
      return new EaselError("model-missing", `the Hub needs a login for ${subject} (HTTP 401): it is private or gated; accept its terms at ${page} and set HF_TOKEN to a token of yours`);
    case 403:
      return new EaselError("model-missing", `the Hub refused ${subject} (HTTP 403): accept the model's terms at ${page} with the account whose HF_TOKEN you use, or use another token`);
    case 404:
      return c.errorCode === "RevisionNotFound" || c.errorCode === "EntryNotFound" || /\brev(ision)?\b/i.test(c.body ?? "") || c.what !== "repository"
        ? new EaselError("model-missing", `${subject} does not exist on the Hub (HTTP 404): check the revision and file names at ${page}`)
        : new EaselError("model-missing", `no repository ${c.repo} on the Hub (HTTP 404): check the name (owner/name); a private one also needs HF_TOKEN`);
    case 429:
      return new EaselError("model-missing", `the Hub is rate-limiting downloads (HTTP 429${c.retryAfter ? `, retry after ${c.retryAfter}s` : ""}): wait and pull again`, true);
    default:
      return status >= 500
        ? new EaselError("model-missing", `the Hub failed on ${subject} (HTTP ${status}): it is likely temporary; pull again later`, true)
        : new EaselError("model-missing", `unexpected HTTP ${status} from the Hub for ${subject}: pull again, or report it if it persists`);
  }
}

export function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
