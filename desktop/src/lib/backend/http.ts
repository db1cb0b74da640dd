// The Backend over the daemon's HTTP API with `fetch`, for the front end running in a browser
// (served by `leadorch daemon … --ui`). The key travels as `Authorization: Bearer …`; problems
// (RFC 9457) become ApiProblem; a network failure a CommandError `unreachable`.
//
// What has no HTTP equivalent is filled honestly (see `overview`): the database is the
// daemon's address and its dialect, the master key stays on the daemon (its check value is not
// given by the API), and Google accounts need a key with the `admin` scope (a `read` key sees
// none).
import type { AccountSummary } from "../../generated/AccountSummary";
import type { AccountView } from "../../generated/AccountView";
import type { ConsentStarted } from "../../generated/ConsentStarted";
import type { EventCount } from "../../generated/EventCount";
import type { GoogleConsentStarted } from "../../generated/GoogleConsentStarted";
import type { Overview } from "../../generated/Overview";
import type { Progress } from "../../generated/Progress";
import type { Ready } from "../../generated/Ready";
import { followProgress, progressToken } from "./progress";
import { SseParser } from "./sse";
import {
  ApiProblem,
  CommandError,
  type Backend,
  type HttpMethod,
  type RequestOptions,
} from "./types";

/** The largest log position (engine/api/src/routes/events.rs `MAX_POSITION`). */
const MAX_POSITION = "9223372036854775807";

/** The first wait before the live tail reconnects; it doubles up to {@link STREAM_BACKOFF_MAX_MS}. */
export const STREAM_BACKOFF_MS = 1_000;
export const STREAM_BACKOFF_MAX_MS = 30_000;

/** How often `finishGoogleConsent` asks whether the account is connected. */
export const CONSENT_POLL_MS = 2_000;

/** What `Overview.master_key_check` says remotely: the API does not give the check value. */
export const REMOTE_KEY_CHECK = "—";

export interface HttpBackendOptions {
  /** The daemon's address (`https://leadorch.example:8080`); a trailing `/` is dropped. */
  baseUrl: string;
  /** An API key (`lo_…`), sent as `Authorization: Bearer …`. */
  apiKey: string;
  /** The `fetch` to use (tests give a fake); the window's by default. */
  fetch?: typeof fetch;
  /** Called when the daemon answers 401 (the key was revoked or is wrong): sign in again. */
  onUnauthorized?: () => void;
}

/** A Google consent started through this backend, until `finishGoogleConsent` settles it. */
interface PendingConsent {
  account: string;
  /** Its `connected_at` before the consent started (a new grant changes it). */
  before: string | null;
  /** Until when the daemon waits for Google's answer (ms since the epoch). */
  until: number;
}

const STATUSES = new Set<AccountSummary["status"]>(["not_connected", "connected", "reconsent_needed", "revoked"]);

function summary(a: AccountView): AccountSummary {
  const status = STATUSES.has(a.status as AccountSummary["status"])
    ? (a.status as AccountSummary["status"])
    : "not_connected";
  // A daemon older than the quota hold's field leaves it out.
  return { ...a, status, quota_exhausted_until: a.quota_exhausted_until ?? null };
}

function cancelled(): CommandError {
  return new CommandError("cancelled", "cancelled before the daemon answered");
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export class HttpBackend implements Backend {
  readonly baseUrl: string;
  #apiKey: string;
  #fetch: typeof fetch;
  #onUnauthorized?: () => void;
  #consent: PendingConsent | null = null;

  constructor(options: HttpBackendOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    // Bound: a bare `fetch` called as a method fails with "Illegal invocation".
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#onUnauthorized = options.onUnauthorized;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: `Bearer ${this.#apiKey}`, ...extra };
  }

  #unreachable(e: unknown): CommandError {
    const why = e instanceof Error ? e.message : String(e);
    return new CommandError("unreachable", `cannot reach the daemon at ${this.baseUrl}: ${why}`);
  }

  /**
   * The overview from `GET /readyz` (the database's dialect; also checks the key) and
   * `GET /v1/google/accounts`. No HTTP route gives the master key's source or check value:
   * `database` is the daemon's address and dialect, `master_key` says the daemon holds it,
   * `master_key_check` is {@link REMOTE_KEY_CHECK}. A key without the `admin` scope (403 on
   * the accounts) sees no accounts rather than no overview.
   */
  async overview(): Promise<Overview> {
    try {
      const [ready, accounts] = await Promise.all([
        this.request<Ready>("GET", "/readyz"),
        this.request<AccountView[]>("GET", "/v1/google/accounts").catch((e: unknown) => {
          if (e instanceof ApiProblem && e.status === 403) return [] as AccountView[];
          throw e;
        }),
      ]);
      return {
        database: `${this.baseUrl} (${ready.database})`,
        master_key: "held by the daemon",
        master_key_check: REMOTE_KEY_CHECK,
        accounts: accounts.map(summary),
      };
    } catch (e) {
      if (e instanceof ApiProblem) {
        const what =
          e.status === 401
            ? `the daemon at ${this.baseUrl} refused the API key (${e.detail || e.title}): sign in again`
            : `the daemon at ${this.baseUrl} is not ready: ${e.detail || e.title}`;
        throw new CommandError("not_open", what);
      }
      throw e;
    }
  }

  /**
   * `POST /v1/google/accounts/{account}/consent`. The daemon waits for Google's answer at a
   * loopback address of its own machine, so the consent page must be opened in a browser
   * there: nothing is opened from here (`browser_opened: false`, the view shows the address).
   */
  async startGoogleConsent(account: string): Promise<ConsentStarted> {
    const before = await this.#account(account).catch(() => undefined);
    const started = await this.request<GoogleConsentStarted>(
      "POST",
      `/v1/google/accounts/${encodeURIComponent(account)}/consent`,
    );
    const until = Date.parse(started.waits_until);
    this.#consent = {
      account: started.account,
      before: before?.connected_at ?? null,
      until: Number.isFinite(until) ? until : Date.now() + 600_000,
    };
    return { account: started.account, consent_page: started.consent_url, browser_opened: false };
  }

  /**
   * Asks `GET /v1/google/accounts` every {@link CONSENT_POLL_MS} until the started account is
   * `connected` with a new `connected_at`, or the daemon's wait (`waits_until`) is over.
   */
  async finishGoogleConsent(): Promise<AccountSummary> {
    const pending = this.#consent;
    if (!pending) throw new CommandError("consent", "no Google consent was started: connect an account first");
    try {
      for (;;) {
        await sleep(CONSENT_POLL_MS);
        if (this.#consent !== pending) {
          throw new CommandError("consent", "another consent was started in the meantime");
        }
        let found: AccountView | undefined;
        try {
          found = await this.#account(pending.account);
        } catch (e) {
          // A key refused or without the scope will not get better; a blip in the network may.
          if (e instanceof ApiProblem && (e.status === 401 || e.status === 403)) throw e;
        }
        if (found && found.status === "connected" && found.connected_at !== pending.before) {
          return summary(found);
        }
        if (Date.now() > pending.until) {
          throw new CommandError(
            "consent",
            `Google's answer for ${pending.account} did not reach the daemon in time: start the consent again`,
          );
        }
      }
    } finally {
      if (this.#consent === pending) this.#consent = null;
    }
  }

  async #account(account: string): Promise<AccountView | undefined> {
    const accounts = await this.request<AccountView[]>("GET", "/v1/google/accounts");
    return accounts.find((a) => a.account === account);
  }

  async request<T = unknown>(
    method: HttpMethod,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    if (!path.startsWith("/")) {
      throw new CommandError("input", `an API path starts with "/": ${JSON.stringify(path)}`);
    }
    const { signal, onProgress } = options;
    if (signal?.aborted) throw cancelled();
    const headers = this.#headers({ Accept: "application/json, application/problem+json" });
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let stopProgress = () => {};
    if (onProgress) {
      const token = progressToken();
      headers["Progress-Token"] = token;
      stopProgress = followProgress(() => this.request<Progress>("GET", `/v1/progress/${token}`), onProgress);
    }
    // Aborting the fetch closes the connection, and the daemon drops the request's work.
    const onAbort = () => stopProgress();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      let response: Response;
      let text: string;
      try {
        response = await this.#fetch(this.baseUrl + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
          credentials: "omit",
        });
        text = await response.text();
      } catch (e) {
        if (signal?.aborted) throw cancelled();
        throw this.#unreachable(e);
      }
      if (signal?.aborted) throw cancelled();
      let parsed: unknown = null;
      if (text !== "") {
        try {
          parsed = JSON.parse(text);
        } catch {
          if (response.ok) {
            throw new CommandError("internal", `the daemon's answer to ${method} ${path} is not JSON`);
          }
          // A proxy's HTML error page: the problem then has only its status.
        }
      }
      if (!response.ok) {
        if (response.status === 401) this.#onUnauthorized?.();
        throw new ApiProblem(response.status, parsed);
      }
      return parsed as T;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      stopProgress();
    }
  }

  /**
   * The live tail: `GET /v1/events/count?after=<max>` gives the log's head cheaply (an empty
   * range), then `GET /v1/events/stream?after=<head>` sends each event committed after it
   * (read with `fetch`, which can send the key; EventSource cannot). The listener gets each
   * chunk's newest position. When the stream ends or fails it reconnects with backoff
   * ({@link STREAM_BACKOFF_MS} doubling to {@link STREAM_BACKOFF_MAX_MS}), first asking the
   * head again (told to the listener if it moved) rather than replaying what it missed.
   *
   * The stream shows the key's project only, so another project's events move nothing here;
   * the head told is then the newest of this project's (a lower bound of the log's head),
   * which is all a view of this project refetches for.
   */
  /**
   * A browser download of `contents` (JSON) named `suggestedName`: the browser, not the page,
   * chooses where it goes, so this resolves to the name asked for (never `null`: a browser does
   * not tell a page that its user cancelled a download).
   */
  async saveFile(suggestedName: string, contents: string): Promise<string | null> {
    const url = URL.createObjectURL(new Blob([contents], { type: "application/json" }));
    try {
      const a = document.createElement("a");
      a.href = url;
      a.download = suggestedName;
      a.rel = "noopener";
      document.body.append(a);
      a.click();
      a.remove();
    } finally {
      // After the click has handed the data to the browser.
      setTimeout(() => URL.revokeObjectURL(url), 0);
    }
    return suggestedName;
  }

  async watchHead(listener: (head: number) => void): Promise<() => void> {
    const stop = new AbortController();
    let known: number | null = null;
    const tell = (head: number) => {
      if (stop.signal.aborted) return;
      if (known !== null && head > known) listener(head);
      if (known === null || head > known) known = head;
    };
    const run = async () => {
      let attempt = 0;
      while (!stop.signal.aborted) {
        try {
          const count = await this.request<EventCount>("GET", `/v1/events/count?after=${MAX_POSITION}`, undefined, {
            signal: stop.signal,
          });
          tell(count.head);
          const response = await this.#fetch(`${this.baseUrl}/v1/events/stream?after=${known ?? count.head}`, {
            headers: this.#headers({ Accept: "text/event-stream" }),
            signal: stop.signal,
            credentials: "omit",
            cache: "no-store",
          });
          if (!response.ok || !response.body) {
            if (response.status === 401) this.#onUnauthorized?.();
            throw new ApiProblem(response.status, await response.json().catch(() => null));
          }
          attempt = 0;
          await this.#readStream(response.body, tell, stop.signal);
        } catch {
          // Unreachable, refused, or the stream broke: try again after a while.
        }
        if (stop.signal.aborted) break;
        await sleep(Math.min(STREAM_BACKOFF_MAX_MS, STREAM_BACKOFF_MS * 2 ** attempt++), stop.signal);
      }
    };
    void run();
    return () => stop.abort();
  }

  /** Reads the stream until it ends or sends `error`, telling each chunk's newest position. */
  async #readStream(
    body: ReadableStream<Uint8Array>,
    tell: (head: number) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    // A stopped watch ends the read at once, whether or not the fetch's abort reaches the body.
    const onAbort = () => void reader.cancel().catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        let newest = -1;
        for (const e of parser.feed(decoder.decode(value, { stream: true }))) {
          if (e.event === "error") {
            if (newest >= 0) tell(newest);
            return; // the daemon ends the stream after it
          }
          const position = e.id !== undefined && /^\d+$/.test(e.id) ? Number(e.id) : NaN;
          if (Number.isSafeInteger(position)) newest = Math.max(newest, position);
        }
        if (newest >= 0) tell(newest);
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      reader.cancel().catch(() => {});
    }
  }
}
