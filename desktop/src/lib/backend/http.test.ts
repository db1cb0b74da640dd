import { afterEach, describe, expect, it, vi } from "vitest";
import type { AccountView } from "../../generated/AccountView";
import type { Progress } from "../../generated/Progress";
import { eventStream, fakeFetch, json, problem, type FetchCall } from "../../test/fakeFetch";
import { until } from "../../test/fixtures";
import { CONSENT_POLL_MS, HttpBackend, REMOTE_KEY_CHECK, STREAM_BACKOFF_MS } from "./http";
import { PROGRESS_POLL_MS } from "./progress";
import { ApiProblem, CommandError } from "./types";

const BASE = "http://daemon.test";
const KEY = "lo_test_key";

afterEach(() => vi.useRealTimers());

function backend(handler: Parameters<typeof fakeFetch>[0], extra: { onUnauthorized?: () => void } = {}) {
  const f = fakeFetch(handler, BASE);
  return { ...f, backend: new HttpBackend({ baseUrl: `${BASE}/`, apiKey: KEY, fetch: f.fetch, ...extra }) };
}

async function rejection<E>(p: Promise<unknown>, cls: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    return e as E;
  }
  throw new Error("expected the call to fail");
}

function view(over: Partial<AccountView> = {}): AccountView {
  return {
    account: "ops",
    status: "connected",
    customers: ["111"],
    connected_at: "2026-12-01T09:30:00Z",
    reconsent_reason: null,
    data_deleted_at: null,
    quota_exhausted_until: null,
    ...over,
  };
}

describe("HttpBackend.request", () => {
  it("sends the key as a Bearer token, the body as JSON, and answers the parsed body", async () => {
    const { backend: b, calls } = backend(() => json(201, { id: "r-1", version: 2 }));
    const got = await b.request("POST", "/v1/rules?dry_run=true", { source: "//! priority: 10\n" });
    expect(got).toEqual({ id: "r-1", version: 2 });
    expect(calls).toHaveLength(1);
    const c = calls[0];
    // The trailing slash of the base URL is dropped.
    expect(c.url).toBe(`${BASE}/v1/rules?dry_run=true`);
    expect(c.method).toBe("POST");
    expect(c.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(c.headers["content-type"]).toBe("application/json");
    expect(c.headers.accept).toContain("application/problem+json");
    expect(JSON.parse(c.body!)).toEqual({ source: "//! priority: 10\n" });
    expect(c.headers["progress-token"]).toBeUndefined();
  });

  it("sends no body or content type without a body, and answers null for 204", async () => {
    const { backend: b, calls } = backend(() => new Response(null, { status: 204 }));
    await expect(b.request("DELETE", "/v1/rules/r-1")).resolves.toBeNull();
    expect(calls[0].body).toBeUndefined();
    expect(calls[0].headers["content-type"]).toBeUndefined();
  });

  it("throws an ApiProblem with the problem's fields for a non-2xx answer", async () => {
    const { backend: b } = backend(() =>
      problem(422, "the rule does not compile: unexpected '}'", {
        title: "Invalid field",
        field: "source",
        line: 3,
        column: 7,
        errors: [{ field: "source", problem: "unexpected '}'" }],
      }),
    );
    const e = await rejection(b.request("PUT", "/v1/rules/r-1", {}), ApiProblem);
    expect(e.status).toBe(422);
    expect(e.title).toBe("Invalid field");
    expect(e.detail).toBe("the rule does not compile: unexpected '}'");
    expect(e.field).toBe("source");
    expect([e.line, e.column]).toEqual([3, 7]);
    expect(e.errors).toEqual([{ field: "source", problem: "unexpected '}'" }]);
  });

  it("still throws an ApiProblem for an error page that is no JSON (a proxy's)", async () => {
    const { backend: b } = backend(() => new Response("<html>Bad Gateway</html>", { status: 502 }));
    const e = await rejection(b.request("GET", "/v1/rules"), ApiProblem);
    expect(e.status).toBe(502);
    expect(e.title).toBe("HTTP 502");
  });

  it("refuses a 2xx answer that is no JSON as internal", async () => {
    const { backend: b } = backend(() => new Response("<html>hello</html>", { status: 200 }));
    const e = await rejection(b.request("GET", "/v1/rules"), CommandError);
    expect(e.code).toBe("internal");
  });

  it("tells onUnauthorized about a 401, and still throws its problem", async () => {
    const onUnauthorized = vi.fn();
    const { backend: b } = backend(() => problem(401, "unknown API key"), { onUnauthorized });
    const e = await rejection(b.request("GET", "/v1/rules"), ApiProblem);
    expect(e.status).toBe(401);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it("turns a network failure into CommandError unreachable naming the daemon", async () => {
    const { backend: b } = backend(() => {
      throw new TypeError("Failed to fetch");
    });
    const e = await rejection(b.request("GET", "/v1/rules"), CommandError);
    expect(e.code).toBe("unreachable");
    expect(e.message).toContain(BASE);
    expect(e.message).toContain("Failed to fetch");
  });

  it("refuses a path that is not absolute without fetching", async () => {
    const { backend: b, calls } = backend(() => null);
    const e = await rejection(b.request("GET", "v1/rules"), CommandError);
    expect(e.code).toBe("input");
    expect(calls).toEqual([]);
  });

  it("aborts the fetch when the signal aborts, and rejects as cancelled", async () => {
    const { backend: b, calls } = backend(() => new Promise(() => {}));
    const abort = new AbortController();
    const pending = b.request("POST", "/v1/rules/r/backtest", {}, { signal: abort.signal });
    await until(() => calls.length === 1, "the fetch");
    abort.abort();
    const e = await rejection(pending, CommandError);
    expect(e.code).toBe("cancelled");
    expect(calls[0].signal?.aborted).toBe(true);
  });

  it("does not fetch for a request whose signal has already aborted", async () => {
    const { backend: b, calls } = backend(() => null);
    const abort = new AbortController();
    abort.abort();
    const e = await rejection(b.request("GET", "/v1/rules", undefined, { signal: abort.signal }), CommandError);
    expect(e.code).toBe("cancelled");
    expect(calls).toEqual([]);
  });
});

describe("HttpBackend.request with onProgress", () => {
  const report = (token: string, done: number): Progress => ({ token, unit: "events", done, total: 1000 });

  function longRequest(progress: (n: number, token: string) => unknown) {
    let release: (r: Response) => void = () => {};
    let polls = 0;
    const f = backend((c: FetchCall) => {
      if (c.path.startsWith("/v1/progress/")) return progress(++polls, c.path.slice("/v1/progress/".length));
      return new Promise<Response>((r) => (release = r));
    });
    const polled = () => f.calls.filter((c) => c.path.startsWith("/v1/progress/"));
    return { ...f, polled, release: (r: Response) => release(r) };
  }

  it("sends a Progress-Token header and polls its progress, one poll at a time, until the answer", async () => {
    vi.useFakeTimers();
    let answerPoll: (r: Response) => void = () => {};
    const d = longRequest((n, token) => {
      if (n === 1) return json(404, { title: "Not Found" });
      if (n === 2) return new Promise<Response>((r) => (answerPoll = r));
      return report(token, n * 100);
    });
    const seen: Progress[] = [];
    const pending = d.backend.request("POST", "/v1/rules/r/backtest", {}, { onProgress: (p) => seen.push(p) });
    const token = d.calls[0].headers["progress-token"];
    expect(token).toMatch(/^[A-Za-z0-9_-]{1,64}$/);

    await vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS - 1);
    expect(d.polled()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(d.polled()).toHaveLength(1);
    expect(d.polled()[0].headers.authorization).toBe(`Bearer ${KEY}`);
    // Not reporting yet: no report, no failure.
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS);
    expect(d.polled()).toHaveLength(2);
    // The second poll is slow: no third one goes out meanwhile.
    await vi.advanceTimersByTimeAsync(10 * PROGRESS_POLL_MS);
    expect(d.polled()).toHaveLength(2);
    answerPoll(json(200, report(token, 200)));
    await vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS);
    expect(d.polled()).toHaveLength(3);
    expect(seen).toEqual([report(token, 200), report(token, 300)]);

    d.release(json(200, { evaluations: 288 }));
    await expect(pending).resolves.toEqual({ evaluations: 288 });
    await vi.advanceTimersByTimeAsync(10 * PROGRESS_POLL_MS);
    expect(d.polled()).toHaveLength(3);
    expect(seen).toHaveLength(2);
  });

  it("stops polling when the request is aborted", async () => {
    vi.useFakeTimers();
    const d = longRequest((_n, token) => report(token, 1));
    const abort = new AbortController();
    const seen: Progress[] = [];
    const pending = d.backend.request("GET", "/v1/replay?at=9", undefined, {
      signal: abort.signal,
      onProgress: (p) => seen.push(p),
    });
    await vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS);
    expect(seen).toHaveLength(1);
    abort.abort();
    expect((await rejection(pending, CommandError)).code).toBe("cancelled");
    await vi.advanceTimersByTimeAsync(10 * PROGRESS_POLL_MS);
    expect(d.polled()).toHaveLength(1);
    expect(seen).toHaveLength(1);
  });
});

describe("HttpBackend.overview", () => {
  it("reads /readyz and the Google accounts, and says what it cannot know remotely", async () => {
    const { backend: b, calls } = backend((c) =>
      c.path === "/readyz"
        ? { status: "ready", database: "postgres", schema_version: 31 }
        : [
            view({ quota_exhausted_until: "2026-12-08T08:00:00Z" }),
            // From a daemon older than the quota hold's field.
            { ...view({ account: "odd", status: "something_new" }), quota_exhausted_until: undefined },
          ],
    );
    const o = await b.overview();
    expect(o.database).toBe(`${BASE} (postgres)`);
    expect(o.master_key).toBe("held by the daemon");
    expect(o.master_key_check).toBe(REMOTE_KEY_CHECK);
    expect(o.accounts.map((a) => [a.account, a.status])).toEqual([
      ["ops", "connected"],
      ["odd", "not_connected"],
    ]);
    expect(o.accounts.map((a) => a.quota_exhausted_until)).toEqual(["2026-12-08T08:00:00Z", null]);
    expect(calls.map((c) => c.path).sort()).toEqual(["/readyz", "/v1/google/accounts"]);
  });

  it("shows no accounts to a key without the admin scope", async () => {
    const { backend: b } = backend((c) =>
      c.path === "/readyz" ? { status: "ready", database: "sqlite", schema_version: 31 } : problem(403, "needs admin"),
    );
    expect((await b.overview()).accounts).toEqual([]);
  });

  it("is not open when the key is refused or the daemon is not ready", async () => {
    const refused = backend(() => problem(401, "unknown API key")).backend;
    const e = await rejection(refused.overview(), CommandError);
    expect(e.code).toBe("not_open");
    expect(e.message).toContain("refused the API key");
    const away = backend((c) => (c.path === "/readyz" ? problem(503, "the schema is version 30") : [])).backend;
    const f = await rejection(away.overview(), CommandError);
    expect(f.code).toBe("not_open");
    expect(f.message).toContain("the schema is version 30");
  });

  it("is unreachable when nothing answers", async () => {
    const { backend: b } = backend(() => {
      throw new TypeError("Failed to fetch");
    });
    expect((await rejection(b.overview(), CommandError)).code).toBe("unreachable");
  });
});

describe("HttpBackend Google consent", () => {
  const started = (account: string) =>
    json(202, {
      account,
      consent_url: "https://accounts.example/auth?x=1",
      redirect_uri: "http://127.0.0.1:8765/callback",
      waits_until: new Date(Date.now() + 60_000).toISOString(),
    });

  it("starts the consent on the daemon and waits until the account is connected anew", async () => {
    vi.useFakeTimers();
    let listed = 0;
    const { backend: b, calls } = backend((c) => {
      if (c.method === "POST") return started("ops");
      listed++;
      // Before the consent, and for two polls after: the old grant.
      if (listed <= 3) return [view({ status: "reconsent_needed" })];
      return [view({ connected_at: "2026-12-06T17:00:00Z", customers: ["111", "222"] })];
    });
    const s = await b.startGoogleConsent("ops");
    expect(s).toEqual({ account: "ops", consent_page: "https://accounts.example/auth?x=1", browser_opened: false });
    expect(calls.find((c) => c.method === "POST")?.path).toBe("/v1/google/accounts/ops/consent");
    const finished = b.finishGoogleConsent();
    await vi.advanceTimersByTimeAsync(2 * CONSENT_POLL_MS);
    expect(listed).toBe(3);
    await vi.advanceTimersByTimeAsync(CONSENT_POLL_MS);
    const a = await finished;
    expect(a.customers).toEqual(["111", "222"]);
    expect(a.status).toBe("connected");
  });

  it("encodes the account name in the path", async () => {
    const { backend: b, calls } = backend((c) => (c.method === "POST" ? started("a/b") : []));
    await b.startGoogleConsent("a/b");
    expect(calls.find((c) => c.method === "POST")?.path).toBe("/v1/google/accounts/a%2Fb/consent");
  });

  it("fails as consent when the daemon's wait is over", async () => {
    vi.useFakeTimers();
    const { backend: b } = backend((c) => (c.method === "POST" ? started("ops") : [view({ status: "not_connected", connected_at: null })]));
    await b.startGoogleConsent("ops");
    const finished = rejection(b.finishGoogleConsent(), CommandError);
    await vi.advanceTimersByTimeAsync(62_000);
    const e = await finished;
    expect(e.code).toBe("consent");
    expect(e.message).toContain("ops");
  });

  it("fails as consent when no consent was started", async () => {
    const { backend: b } = backend(() => []);
    expect((await rejection(b.finishGoogleConsent(), CommandError)).code).toBe("consent");
  });

  it("passes the daemon's refusal of the consent on as its problem", async () => {
    const { backend: b } = backend((c) => (c.method === "POST" ? problem(409, "Google is not configured") : []));
    const e = await rejection(b.startGoogleConsent("ops"), ApiProblem);
    expect(e.status).toBe(409);
  });
});

describe("HttpBackend.watchHead", () => {
  /** A daemon whose head is `head()` and whose streams the test writes into. */
  function daemon(head: () => number) {
    const streams: ReturnType<typeof eventStream>[] = [];
    const f = backend((c) => {
      if (c.path.startsWith("/v1/events/count?")) return { count: 0, exact: true, head: head(), counted_after: head() };
      if (c.path.startsWith("/v1/events/stream?")) {
        const s = eventStream();
        streams.push(s);
        return s.response;
      }
      return problem(404, "no such route");
    });
    const streamCalls = () => f.calls.filter((c) => c.path.startsWith("/v1/events/stream"));
    return { ...f, streams, streamCalls };
  }

  it("asks the head, then follows the stream after it, telling each chunk's newest position", async () => {
    const d = daemon(() => 100);
    const heads: number[] = [];
    const stop = await d.backend.watchHead((h) => heads.push(h));
    await until(() => d.streams.length === 1, "the stream");
    const count = d.calls[0];
    // The head costs an empty range, not a count of the log.
    expect(count.path).toBe("/v1/events/count?after=9223372036854775807");
    const s = d.streamCalls()[0];
    expect(s.path).toBe("/v1/events/stream?after=100");
    expect(s.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(s.headers.accept).toBe("text/event-stream");
    expect(heads).toEqual([]);

    d.streams[0].send(': keep-alive\n\nid: 101\nevent: LeadReceived\ndata: {"position":101}\n\nid: 10');
    await until(() => heads.length === 1, "the first event");
    expect(heads).toEqual([101]);
    d.streams[0].send('2\nevent: X\ndata: {}\n\nid: 103\nevent: X\ndata: {}\n\n');
    await until(() => heads.length === 2, "the chunk");
    // One call for the chunk, with its newest position.
    expect(heads).toEqual([101, 103]);
    stop();
    expect(d.streamCalls()[0].signal?.aborted).toBe(true);
    await until(() => d.streams[0].cancelled, "the stream read to stop");
  });

  it("reconnects with backoff after the stream ends or fails, telling a head that moved meanwhile", async () => {
    let head = 5;
    const d = daemon(() => head);
    const heads: number[] = [];
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const stop = await d.backend.watchHead((h) => heads.push(h));
    await vi.waitFor(() => expect(d.streams).toHaveLength(1));
    d.streams[0].send("id: 6\nevent: X\ndata: {}\n\n");
    await vi.waitFor(() => expect(heads).toEqual([6]));

    // The daemon's error event ends the stream.
    head = 9;
    d.streams[0].send('event: error\ndata: {"status":500}\n\n');
    await vi.advanceTimersByTimeAsync(STREAM_BACKOFF_MS - 1);
    expect(d.streams).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(d.streams).toHaveLength(2));
    expect(heads).toEqual([6, 9]);
    expect(d.streamCalls()[1].path).toBe("/v1/events/stream?after=9");

    // A connection that breaks: the wait starts again from the first step, as the last one connected.
    d.streams[1].fail();
    await vi.advanceTimersByTimeAsync(STREAM_BACKOFF_MS);
    await vi.waitFor(() => expect(d.streams).toHaveLength(3));
    expect(heads).toEqual([6, 9]);
    stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(d.streams).toHaveLength(3);
  });

  it("waits longer after each failed attempt while the daemon is away", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const f = backend(() => {
      throw new TypeError("Failed to fetch");
    });
    const stop = await f.backend.watchHead(() => {});
    await vi.waitFor(() => expect(f.calls).toHaveLength(1));
    await vi.advanceTimersByTimeAsync(STREAM_BACKOFF_MS);
    expect(f.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2 * STREAM_BACKOFF_MS - 1);
    expect(f.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(f.calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(4 * STREAM_BACKOFF_MS);
    expect(f.calls).toHaveLength(4);
    stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(f.calls).toHaveLength(4);
  });

  it("tells onUnauthorized when the stream refuses the key", async () => {
    const onUnauthorized = vi.fn();
    const f = backend(
      (c) => (c.path.startsWith("/v1/events/count") ? { count: 0, exact: true, head: 1, counted_after: 1 } : problem(401, "revoked")),
      { onUnauthorized },
    );
    const stop = await f.backend.watchHead(() => {});
    await vi.waitFor(() => expect(onUnauthorized).toHaveBeenCalled());
    stop();
  });
});
