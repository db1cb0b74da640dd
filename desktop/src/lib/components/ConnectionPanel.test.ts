import { fireEvent, render } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import { until } from "../../test/fixtures";
import { CommandError } from "../backend";
import { TauriConnectionShell, type ConnectionRequest, type ConnectionShell, type ConnectionState } from "../backend/connection";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import ConnectionPanel from "./ConnectionPanel.svelte";

afterEach(() => clearMocks());

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const input = (css: string) => document.querySelector<HTMLInputElement>(css)!;

const LOCAL: ConnectionState = { mode: "local", database: "sqlite:///home/op/leadorch.db" };
const REMOTE: ConnectionState = {
  mode: "remote",
  url: "https://leadorch.example:8080",
  key_name: "ops-laptop",
  reachable: true,
  error: null,
};

/** A shell answering from `state`, recording what it was asked; `refuse` fails set/test. */
class FakeShell implements ConnectionShell {
  asked: { what: "test" | "set"; connection: ConnectionRequest }[] = [];
  refuse: CommandError | null = null;
  constructor(public state: ConnectionState) {}
  async get() {
    return this.state;
  }
  async test(connection: ConnectionRequest) {
    this.asked.push({ what: "test", connection });
    if (this.refuse) throw this.refuse;
    return this.answer(connection);
  }
  async set(connection: ConnectionRequest) {
    this.asked.push({ what: "set", connection });
    if (this.refuse) throw this.refuse;
    this.state = this.answer(connection);
    return this.state;
  }
  answer(c: ConnectionRequest): ConnectionState {
    return c.mode === "local" ? LOCAL : { mode: "remote", url: c.url, key_name: "ops-laptop", reachable: true, error: null };
  }
}

async function mounted(state: ConnectionState, onswitched = vi.fn()) {
  const shell = new FakeShell(state);
  render(ConnectionPanel, { props: { shell, onswitched } });
  await until(() => !!$("#connection-current p:not(.muted)"), "the connection");
  return { shell, onswitched };
}

async function type(css: string, value: string) {
  await fireEvent.input(input(css), { target: { value } });
}

describe("ConnectionPanel", () => {
  it("shows the local connection, with no remote fields", async () => {
    await mounted(LOCAL);
    expect($("#connection-current")!.textContent).toContain("sqlite:///home/op/leadorch.db");
    expect(input("#connection-local").checked).toBe(true);
    expect($("#connection-url")).toBeNull();
    expect($("#connection-key")).toBeNull();
  });

  it("shows a remote connection, its key's name, and why it is unreachable", async () => {
    await mounted({ ...REMOTE, reachable: false, error: "connection refused (os error 111)" });
    expect($("#connection-current")!.textContent).toContain("https://leadorch.example:8080");
    expect($("#connection-current")!.textContent).toContain("ops-laptop");
    expect($("#connection-reachable")!.dataset.reachable).toBe("false");
    expect($("#connection-state-error")!.textContent).toContain("connection refused");
    expect(input("#connection-remote").checked).toBe(true);
    expect(input("#connection-url").value).toBe("https://leadorch.example:8080");
    // The stored key is kept unless another is typed.
    expect(input("#connection-key").placeholder).toMatch(/keep the stored key/);
  });

  it("switches to a daemon with a password field for the key, then forgets the key", async () => {
    const { shell, onswitched } = await mounted(LOCAL);
    await fireEvent.click(input("#connection-remote"));
    await tick();
    expect(input("#connection-key").type).toBe("password");
    await type("#connection-url", " https://daemon.example:8080 ");
    await type("#connection-key", "lo_secret");
    await fireEvent.submit($("#connection-form")!);
    await until(() => onswitched.mock.calls.length === 1, "the switch");
    expect(shell.asked).toEqual([
      { what: "set", connection: { mode: "remote", url: "https://daemon.example:8080", api_key: "lo_secret" } },
    ]);
    expect(onswitched.mock.calls[0][0]).toMatchObject({ mode: "remote", url: "https://daemon.example:8080" });
    expect(input("#connection-key").value).toBe("");
    expect($("#connection-current")!.textContent).toContain("https://daemon.example:8080");
  });

  it("keeps the stored key when the key field is left empty", async () => {
    const { shell } = await mounted(REMOTE);
    await fireEvent.click($("#connection-test")!);
    await until(() => !!$("#connection-tested"), "the test");
    expect(shell.asked).toEqual([{ what: "test", connection: { mode: "remote", url: "https://leadorch.example:8080" } }]);
    expect($("#connection-tested")!.textContent).toContain("Works");
  });

  it("tests without switching", async () => {
    const { shell, onswitched } = await mounted(LOCAL);
    await fireEvent.click($("#connection-test")!);
    await until(() => !!$("#connection-tested"), "the test");
    expect(shell.asked).toEqual([{ what: "test", connection: { mode: "local" } }]);
    expect(onswitched).not.toHaveBeenCalled();
    expect(shell.state).toBe(LOCAL);
  });

  it("refuses an address that is no http(s) URL on its field, without asking the shell", async () => {
    const { shell } = await mounted(LOCAL);
    await fireEvent.click(input("#connection-remote"));
    await tick();
    await type("#connection-url", "ftp://daemon.example");
    await fireEvent.submit($("#connection-form")!);
    await tick();
    expect(input("#connection-url").getAttribute("aria-invalid")).toBe("true");
    expect($("#connection-url-hint")!.textContent).toContain("http:// or https://");
    expect(document.activeElement?.id).toBe("connection-url");
    await type("#connection-url", "");
    await fireEvent.click($("#connection-test")!);
    await tick();
    expect($("#connection-url-hint")!.textContent).toContain("Enter the daemon's address");
    expect(shell.asked).toEqual([]);
  });

  it("shows the shell's refusal, and leaves the connection as it was", async () => {
    const { shell, onswitched } = await mounted(LOCAL);
    shell.refuse = new CommandError("input", "the daemon refused the API key: unknown key");
    await fireEvent.click(input("#connection-remote"));
    await tick();
    await type("#connection-url", "https://daemon.example");
    await type("#connection-key", "lo_wrong");
    await fireEvent.submit($("#connection-form")!);
    await until(() => !!$("#connection-error"), "the error");
    expect($("#connection-error")!.textContent).toContain("Could not switch");
    expect($("#connection-error")!.textContent).toContain("refused the API key");
    expect(onswitched).not.toHaveBeenCalled();
    expect($("#connection-current")!.textContent).toContain("This computer's database");
  });

  it("says when the connection cannot be read", async () => {
    const shell = new FakeShell(LOCAL);
    shell.get = () => Promise.reject(new CommandError("internal", "command connection_get not found"));
    render(ConnectionPanel, { props: { shell } });
    await until(() => !!$("#connection-load-error"), "the error");
    expect($("#connection-load-error")!.textContent).toContain("connection_get not found");
  });
});

describe("TauriConnectionShell", () => {
  it("calls connection_get, connection_test and connection_set with the connection", async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === "connection_set") throw { code: "input", message: "the URL is not http(s)" };
      return LOCAL;
    });
    const shell = new TauriConnectionShell();
    expect(await shell.get()).toEqual(LOCAL);
    await shell.test({ mode: "local" });
    const e = await shell.set({ mode: "remote", url: "x" }).catch((e: unknown) => e);
    expect(e).toBeInstanceOf(CommandError);
    expect((e as CommandError).code).toBe("input");
    expect(calls).toEqual([
      { cmd: "connection_get", args: {} },
      { cmd: "connection_test", args: { connection: { mode: "local" } } },
      { cmd: "connection_set", args: { connection: { mode: "remote", url: "x" } } },
    ]);
  });
});
