// The one interface every view talks to: over the Tauri shell's commands (`tauri.ts`) in the
// desktop app, over the daemon's HTTP API (`http.ts`) in a browser.
import type { AccountSummary } from "../../generated/AccountSummary";
import type { ConsentStarted } from "../../generated/ConsentStarted";
import type { Overview } from "../../generated/Overview";
import type { Progress } from "../../generated/Progress";

/** The methods the engine's HTTP API answers. */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** How one {@link Backend.request} may be cut short, and followed while it runs. */
export interface RequestOptions {
  /**
   * Aborting it cancels the work in the engine (a backtest, a replay) and rejects the call
   * with a {@link CommandError} whose code is `cancelled`.
   */
  signal?: AbortSignal;
  /**
   * Called with how far the engine has come, a few times a second while the request runs,
   * for the routes that report it (a backtest, a replay); never after the call settles.
   * Routes that report nothing, or not yet, simply never call it.
   */
  onProgress?: (progress: Progress) => void;
}

export interface Backend {
  /** The main view: the database, the master key's source and check value, the accounts. */
  overview(): Promise<Overview>;
  /**
   * "Connect Google account": the shell sends the system browser to Google's consent page
   * and keeps the consent until {@link Backend.finishGoogleConsent}.
   */
  startGoogleConsent(account: string): Promise<ConsentStarted>;
  /** Waits for Google's answer to the started consent; the account as listed. */
  finishGoogleConsent(): Promise<AccountSummary>;
  /**
   * One request to the engine's HTTP API (`path` with its query, e.g. `/v1/rules?x=1`).
   * Resolves to the 2xx body; a non-2xx answer throws an {@link ApiProblem}, a call that
   * could not be made a {@link CommandError}.
   */
  request<T = unknown>(
    method: HttpMethod,
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<T>;
  /**
   * Calls `listener` with the log's head position (the last event's) whenever events are
   * appended, by this app or by another process such as a daemon, within a second or two.
   * Resolves to the function that stops it.
   */
  watchHead(listener: (head: number) => void): Promise<() => void>;
  /**
   * Saves `contents` (text, e.g. a subject's export as JSON) to a file the user picks in the
   * system's save dialog, which opens on `suggestedName`. Resolves to the path saved, or
   * `null` when the user cancelled the dialog; a file that could not be written rejects with
   * a {@link CommandError}. The shell's `save_file` command (`{ name, contents }`).
   */
  saveFile(suggestedName: string, contents: string): Promise<string | null>;
}

/**
 * A shell command that failed, as `{code, message}`: `not_open` (the app could not open its
 * database or key), `input`, `consent`, `cancelled` (the caller aborted), `unreachable` (the
 * browser build: the daemon did not answer), `internal` — match
 * on `code`, never on `message`.
 */
export class CommandError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "CommandError";
    this.code = code;
  }

  /** Whatever a rejected `invoke` gave, as a `CommandError`. */
  static from(e: unknown): CommandError {
    if (e instanceof CommandError) return e;
    if (typeof e === "object" && e !== null) {
      const { code, message } = e as { code?: unknown; message?: unknown };
      if (typeof code === "string" && typeof message === "string") {
        return new CommandError(code, message);
      }
      if (e instanceof Error) return new CommandError("internal", e.message);
    }
    // Tauri itself rejects with a bare string (an unknown command, a bad argument).
    return new CommandError("internal", typeof e === "string" ? e : String(e));
  }
}

/** One field at fault in a request the API refused. */
export interface FieldIssue {
  field: string;
  problem: string;
}

/**
 * A non-2xx answer of the HTTP API: its RFC 9457 problem details (`type`, `title`,
 * `status`, `detail`, and where the API gives them `field`, `errors`, `line`, `column`).
 */
export class ApiProblem extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly field?: string;
  readonly errors: FieldIssue[];
  readonly line?: number;
  readonly column?: number;

  constructor(status: number, body: unknown) {
    const p = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
    const num = (v: unknown): number | undefined =>
      typeof v === "number" && Number.isFinite(v) ? v : undefined;
    const title = str(p.title) ?? `HTTP ${status}`;
    const detail = str(p.detail) ?? "";
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiProblem";
    this.status = status;
    this.type = str(p.type) ?? "about:blank";
    this.title = title;
    this.detail = detail;
    this.field = str(p.field);
    this.errors = Array.isArray(p.errors)
      ? p.errors.flatMap((i) => {
          const issue = (typeof i === "object" && i !== null ? i : {}) as Record<string, unknown>;
          const field = str(issue.field);
          const problem = str(issue.problem);
          return field !== undefined && problem !== undefined ? [{ field, problem }] : [];
        })
      : [];
    this.line = num(p.line);
    this.column = num(p.column);
  }
}
