import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ApiRequest } from "../../generated/ApiRequest";
import type { Progress } from "../../generated/Progress";
import { account, overview } from "../../test/fixtures";
import { ApiProblem, CommandError, TauriBackend } from "./index";
import { PROGRESS_POLL_MS } from "./tauri";

afterEach(() => clearMocks());

/** What `p` rejected with, checked to be a `cls`. */
async function rejection<E>(p: Promise<unknown>, cls: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    return e as E;
  }
  throw new Error("expected the call to fail");
}

function record(answer: (cmd: string, args: unknown) => unknown) {
  const calls: { cmd: string; args: unknown }[] = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    return answer(cmd, args);
  });
  return calls;
}

describe("TauriBackend commands", () => {
  it("calls the shell's commands with their arguments", async () => {
    const calls = record((cmd) => {
      switch (cmd) {
        case "overview":
          return overview([account()]);
        case "start_google_consent":
          return { account: "ops", consent_page: "https://accounts.example/auth", browser_opened: true };
        case "finish_google_consent":
          return account({ account: "ops" });
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const backend = new TauriBackend();
    expect((await backend.overview()).accounts[0].account).toBe("agency-main");
    expect((await backend.startGoogleConsent("ops")).consent_page).toBe("https://accounts.example/auth");
    expect((await backend.finishGoogleConsent()).account).toBe("ops");
    expect(calls.map((c) => c.cmd)).toEqual(["overview", "start_google_consent", "finish_google_consent"]);
    expect(calls[1].args).toEqual({ account: "ops" });
  });

  it("saves a file through the shell's save_file: the path saved, or null when cancelled", async () => {
    let answer: string | null = "/home/op/subject-s-1.json";
    const calls = record((cmd) => {
      if (cmd === "save_file") return answer;
      throw new Error(`unexpected ${cmd}`);
    });
    const backend = new TauriBackend();
    expect(await backend.saveFile("subject-s-1.json", '{"a":1}')).toBe("/home/op/subject-s-1.json");
    expect(calls).toEqual([{ cmd: "save_file", args: { name: "subject-s-1.json", contents: '{"a":1}' } }]);
    answer = null;
    expect(await backend.saveFile("subject-s-1.json", "{}")).toBeNull();
  });

  it("turns a save_file failure into a CommandError", async () => {
    record(() => {
      throw { code: "input", message: "could not write /readonly/x.json: permission denied" };
    });
    const e = await rejection(new TauriBackend().saveFile("x.json", "{}"), CommandError);
    expect(e.code).toBe("input");
  });

  it("turns a command's {code, message} into a CommandError", async () => {
    record(() => {
      throw { code: "not_open", message: "the OS keyring is not available: start one" };
    });
    const e = await rejection(new TauriBackend().overview(), CommandError);
    expect(e.code).toBe("not_open");
    expect(e.message).toBe("the OS keyring is not available: start one");
  });

  it("turns Tauri's own string rejections into an internal CommandError", async () => {
    record(() => {
      throw "command api_request not found";
    });
    const e = await rejection(new TauriBackend().request("GET", "/v1/rules"), CommandError);
    expect(e.code).toBe("internal");
    expect(e.message).toBe("command api_request not found");
  });
});

describe("TauriBackend.request", () => {
  it("sends method, path with query and body as one api_request", async () => {
    const calls = record(() => ({ status: 201, body: { id: "r-1", version: 2 } }));
    const body = { source: "//! priority: 10\n" };
    const got = await new TauriBackend().request<{ id: string; version: number }>(
      "POST",
      "/v1/rules?dry_run=true",
      body,
    );
    expect(got).toEqual({ id: "r-1", version: 2 });
    expect(calls).toEqual([
      {
        cmd: "api_request",
        args: { request: { method: "POST", path: "/v1/rules?dry_run=true", body } },
      },
    ]);
  });

  it("leaves the body out when there is none", async () => {
    const calls = record(() => ({ status: 200, body: [] }));
    await new TauriBackend().request("GET", "/v1/rules");
    expect(calls[0].args).toEqual({ request: { method: "GET", path: "/v1/rules" } });
    expect("body" in (calls[0].args as { request: object }).request).toBe(false);
  });

  it("throws an ApiProblem for a non-2xx answer, with the problem's fields", async () => {
    record(() => ({
      status: 422,
      body: {
        type: "https://leadorch.dev/problems/invalid-field",
        title: "Invalid field",
        status: 422,
        detail: "the rule does not compile: unexpected '}'",
        field: "source",
        line: 3,
        column: 7,
        errors: [{ field: "source", problem: "unexpected '}'" }, { bogus: 1 }],
      },
    }));
    const e = await rejection(new TauriBackend().request("PUT", "/v1/rules/r-1", {}), ApiProblem);
    expect(e.status).toBe(422);
    expect(e.title).toBe("Invalid field");
    expect(e.detail).toBe("the rule does not compile: unexpected '}'");
    expect(e.type).toBe("https://leadorch.dev/problems/invalid-field");
    expect(e.field).toBe("source");
    expect([e.line, e.column]).toEqual([3, 7]);
    // Entries that are no field issue are dropped rather than shown as "undefined".
    expect(e.errors).toEqual([{ field: "source", problem: "unexpected '}'" }]);
    expect(e.message).toBe("Invalid field: the rule does not compile: unexpected '}'");
  });

  it("still throws an ApiProblem when the error body is no problem JSON", async () => {
    record(() => ({ status: 502, body: null }));
    const e = await rejection(new TauriBackend().request("GET", "/v1/health"), ApiProblem);
    expect(e.status).toBe(502);
    expect(e.title).toBe("HTTP 502");
    expect(e.errors).toEqual([]);
  });

  it("treats every 2xx as success and 3xx as a problem", async () => {
    record(() => ({ status: 204, body: null }));
    await expect(new TauriBackend().request("DELETE", "/v1/rules/r-1")).resolves.toBeNull();
    clearMocks();
    record(() => ({ status: 304, body: null }));
    await expect(new TauriBackend().request("GET", "/v1/rules")).rejects.toBeInstanceOf(ApiProblem);
  });

  it("refuses a path that is not absolute without calling the shell", async () => {
    const calls = record(() => ({ status: 200, body: null }));
    const e = await rejection(new TauriBackend().request("GET", "v1/rules"), CommandError);
    expect(e.code).toBe("input");
    expect(calls).toEqual([]);
  });

  it("cancels a request in the shell when its signal aborts, and rejects as cancelled", async () => {
    let release: (r: unknown) => void = () => {};
    const calls = record((cmd) => {
      if (cmd === "api_request") return new Promise((r) => (release = r));
      if (cmd === "cancel_request") {
        // The shell drops the work; the pending command then answers as the engine does.
        release({ status: 503, body: { title: "cancelled" } });
        return null;
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const abort = new AbortController();
    const pending = new TauriBackend().request("POST", "/v1/rules/r/backtest", {}, { signal: abort.signal });
    await Promise.resolve();
    abort.abort();
    const e = await rejection(pending, CommandError);
    expect(e.code).toBe("cancelled");
    const id = (calls[0].args as { requestId: string }).requestId;
    expect(id).toMatch(/^r\d+$/);
    expect(calls[1]).toEqual({ cmd: "cancel_request", args: { requestId: id } });
  });

  it("does not call the shell for a request whose signal has already aborted", async () => {
    const calls = record(() => ({ status: 200, body: null }));
    const abort = new AbortController();
    abort.abort();
    const e = await rejection(
      new TauriBackend().request("GET", "/v1/rules", undefined, { signal: abort.signal }),
      CommandError,
    );
    expect(e.code).toBe("cancelled");
    expect(calls).toEqual([]);
  });
});

describe("TauriBackend.request with onProgress", () => {
  afterEach(() => vi.useRealTimers());

  const report = (token: string, done: number, total: number | null): Progress => ({
    token,
    unit: "events",
    done,
    total,
  });

  /**
   * The shell with one long request, answered when the test calls `release`, and polls of its
   * progress answered by `progress` (called with the poll's number, from 1).
   */
  function longRequest(progress: (n: number, token: string) => unknown) {
    let release: (r: unknown) => void = () => {};
    let polls = 0;
    const calls = record((cmd, args) => {
      if (cmd === "cancel_request") {
        release({ status: 503, body: { title: "cancelled" } });
        return null;
      }
      const { request } = args as { request: ApiRequest };
      if (cmd === "api_request" && request.path.startsWith("/v1/progress/")) {
        return progress(++polls, request.path.slice("/v1/progress/".length));
      }
      if (cmd === "api_request") return new Promise((r) => (release = r));
      throw new Error(`unexpected ${cmd}`);
    });
    const polled = () =>
      calls.filter((c) => (c.args as { request: ApiRequest }).request?.path.startsWith("/v1/progress/"));
    return { calls, polled, release: (r: unknown) => release(r) };
  }

  it("sends a token and polls its progress while the request runs, then stops", async () => {
    vi.useFakeTimers();
    const shell = longRequest((n, token) =>
      n === 1
        ? { status: 404, body: { title: "Not Found" } }
        : { status: 200, body: report(token, n * 100, 1000) },
    );
    const seen: Progress[] = [];
    const pending = new TauriBackend().request("POST", "/v1/rules/r/backtest", {}, {
      onProgress: (p) => seen.push(p),
    });
    const token = (shell.calls[0].args as { request: ApiRequest }).request.progress_token!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    // The request itself carries no id: only a signal needs one.
    expect(shell.calls[0].args).toEqual({
      request: { method: "POST", path: "/v1/rules/r/backtest", body: {}, progress_token: token },
    });

    await vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS - 1);
    expect(shell.polled()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(shell.polled()).toHaveLength(1);
    expect(shell.polled()[0].args).toEqual({ request: { method: "GET", path: `/v1/progress/${token}` } });
    // The first poll's 404 (not reporting yet) is no report and no failure.
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(2 * PROGRESS_POLL_MS);
    expect(shell.polled()).toHaveLength(3);
    expect(seen).toEqual([report(token, 200, 1000), report(token, 300, 1000)]);

    shell.release({ status: 200, body: { evaluations: 288 } });
    await expect(pending).resolves.toEqual({ evaluations: 288 });
    await vi.advanceTimersByTimeAsync(10 * PROGRESS_POLL_MS);
    expect(shell.polled()).toHaveLength(3);
    expect(seen).toHaveLength(2);
  });

  it("makes a new token for every request", async () => {
    const calls = record(() => ({ status: 200, body: null }));
    const backend = new TauriBackend();
    await backend.request("GET", "/v1/replay?at=1", undefined, { onProgress: () => {} });
    await backend.request("GET", "/v1/replay?at=2", undefined, { onProgress: () => {} });
    const [a, b] = calls.map((c) => (c.args as { request: ApiRequest }).request.progress_token);
    expect(a).toBeTruthy();
    expect(b).toBeTruthy();
    expect(a).not.toBe(b);
  });

  it("never has two polls out at once, and a failed poll does not fail the request", async () => {
    vi.useFakeTimers();
    let answerPoll: (r: unknown) => void = () => {};
    const shell = longRequest((n, token) => {
      if (n === 1) return new Promise((r) => (answerPoll = r));
      if (n === 2) throw { code: "internal", message: "the shell hiccupped" };
      return { status: 200, body: report(token, 5, null) };
    });
    const seen: Progress[] = [];
    const pending = new TauriBackend().request("GET", "/v1/replay?at=9", undefined, {
      onProgress: (p) => seen.push(p),
    });
    const token = (shell.calls[0].args as { request: ApiRequest }).request.progress_token!;
    await vi.advanceTimersByTimeAsync(10 * PROGRESS_POLL_MS);
    expect(shell.polled()).toHaveLength(1);
    // The next poll waits a full interval after the slow one answers.
    answerPoll({ status: 200, body: report(token, 1, null) });
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([report(token, 1, null)]);
    await vi.advanceTimersByTimeAsync(2 * PROGRESS_POLL_MS);
    expect(shell.polled()).toHaveLength(3);
    expect(seen).toEqual([report(token, 1, null), report(token, 5, null)]);

    shell.release({ status: 200, body: { position: 9 } });
    await expect(pending).resolves.toEqual({ position: 9 });
  });

  it("reports nothing from a poll that answers after the request settled", async () => {
    vi.useFakeTimers();
    let answerPoll: (r: unknown) => void = () => {};
    const shell = longRequest(() => new Promise((r) => (answerPoll = r)));
    const seen: Progress[] = [];
    const pending = new TauriBackend().request("GET", "/v1/replay?at=9", undefined, {
      onProgress: (p) => seen.push(p),
    });
    const token = (shell.calls[0].args as { request: ApiRequest }).request.progress_token!;
    await vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS);
    expect(shell.polled()).toHaveLength(1);
    shell.release({ status: 200, body: null });
    await pending;
    answerPoll({ status: 200, body: report(token, 9, 9) });
    await vi.advanceTimersByTimeAsync(10 * PROGRESS_POLL_MS);
    expect(seen).toEqual([]);
    expect(shell.polled()).toHaveLength(1);
  });

  it("stops polling when the request is aborted, and still cancels it in the shell", async () => {
    vi.useFakeTimers();
    const shell = longRequest((_n, token) => ({ status: 200, body: report(token, 1, 2) }));
    const abort = new AbortController();
    const seen: Progress[] = [];
    const pending = new TauriBackend().request("POST", "/v1/rules/r/backtest", {}, {
      signal: abort.signal,
      onProgress: (p) => seen.push(p),
    });
    await vi.advanceTimersByTimeAsync(PROGRESS_POLL_MS);
    expect(seen).toHaveLength(1);
    abort.abort();
    const e = await rejection(pending, CommandError);
    expect(e.code).toBe("cancelled");
    const { request, requestId } = shell.calls[0].args as { request: ApiRequest; requestId: string };
    expect(request.progress_token).toBeTruthy();
    expect(shell.calls.filter((c) => c.cmd === "cancel_request")).toEqual([
      { cmd: "cancel_request", args: { requestId } },
    ]);
    await vi.advanceTimersByTimeAsync(10 * PROGRESS_POLL_MS);
    expect(shell.polled()).toHaveLength(1);
    expect(seen).toHaveLength(1);
  });

  it("sends no token and polls nothing without onProgress", async () => {
    vi.useFakeTimers();
    const shell = longRequest(() => {
      throw new Error("no poll expected");
    });
    const pending = new TauriBackend().request("GET", "/v1/replay?at=9");
    await vi.advanceTimersByTimeAsync(10 * PROGRESS_POLL_MS);
    expect(shell.calls).toEqual([
      { cmd: "api_request", args: { request: { method: "GET", path: "/v1/replay?at=9" } } },
    ]);
    shell.release({ status: 200, body: null });
    await expect(pending).resolves.toBeNull();
  });
});
