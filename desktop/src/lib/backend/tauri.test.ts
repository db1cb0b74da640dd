import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";
import { account, overview } from "../../test/fixtures";
import { ApiProblem, CommandError, TauriBackend } from "./index";

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
