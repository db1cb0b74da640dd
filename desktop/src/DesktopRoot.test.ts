import { fireEvent, render } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { tick } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import DesktopRoot from "./DesktopRoot.svelte";
import { TauriBackend } from "./lib/backend";
import { TauriConnectionShell, type ConnectionState } from "./lib/backend/connection";
import { Theme } from "./lib/theme.svelte";
import { overview, until } from "./test/fixtures";

beforeEach(() => {
  window.location.hash = "";
  localStorage.clear();
});
afterEach(() => clearMocks());

const $ = (css: string) => document.querySelector<HTMLElement>(css);

/** The desktop over a mocked shell whose connection `connection_set` switches. */
function desktop() {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  let state: ConnectionState = { mode: "local", database: "sqlite:///home/op/leadorch.db" };
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    switch (cmd) {
      case "overview":
        return state.mode === "local"
          ? overview([])
          : { ...overview([]), database: `${state.url} (remote)` };
      case "connection_get":
        return state;
      case "connection_set": {
        const c = (args as { connection: { mode: string; url?: string } }).connection;
        state = c.mode === "local" ? state : { mode: "remote", url: c.url!, key_name: "k", reachable: true, error: null };
        return state;
      }
    }
    throw { code: "internal", message: `unexpected ${cmd}` };
  });
  render(DesktopRoot, {
    props: { backend: new TauriBackend(), connection: new TauriConnectionShell(), theme: new Theme() },
  });
  return calls;
}

async function palette(command: string) {
  await fireEvent.keyDown(document.body, { key: "k", ctrlKey: true, bubbles: true });
  await until(() => !!$(`#palette-item-${command}`), "the palette");
  await fireEvent.click($(`#palette-item-${command}`)!);
}

describe("the desktop's Connection… dialog", () => {
  it("opens from the palette, switches to a daemon, and re-mounts the app over it", async () => {
    const calls = desktop();
    await until(() => !!$("#database"), "the app");
    expect($("#palette-item-sign-out")).toBeNull();
    await palette("connection");
    await until(() => !!$("#connection-dialog #connection-current p:not(.muted)"), "the dialog");
    await fireEvent.click($("#connection-remote")!);
    await tick();
    await fireEvent.input($("#connection-url")!, { target: { value: "https://daemon.example:8080" } });
    await fireEvent.input($("#connection-key")!, { target: { value: "lo_secret" } });
    await fireEvent.submit($("#connection-form")!);
    await until(() => $("#database")?.textContent?.includes("https://daemon.example:8080") ?? false, "the re-mount");
    expect($("#connection-dialog")).toBeNull();
    expect(calls.filter((c) => c.cmd === "overview")).toHaveLength(2);
    expect(calls.find((c) => c.cmd === "connection_set")?.args).toEqual({
      connection: { mode: "remote", url: "https://daemon.example:8080", api_key: "lo_secret" },
    });
  });

  it("closes with Escape, puts the focus back, and keeps shortcuts away from the app meanwhile", async () => {
    desktop();
    await until(() => !!$("#database"), "the app");
    $("#view-title")!.focus();
    await palette("connection");
    await until(() => !!$("#connection-dialog"), "the dialog");
    await until(() => $("#connection-dialog")!.contains(document.activeElement), "focus in the dialog");
    // `?` would open the palette over the app; the dialog keeps it.
    await fireEvent.keyDown($("#connection-local")!, { key: "?", bubbles: true });
    await tick();
    expect($("#palette")).toBeNull();
    await fireEvent.keyDown($("#connection-local")!, { key: "Escape", bubbles: true });
    await until(() => !$("#connection-dialog"), "the dialog to close");
    await until(() => document.activeElement?.id === "view-title", "the focus back");
  });

  it("keeps Tab inside the dialog, from the last control to the first and back", async () => {
    desktop();
    await until(() => !!$("#database"), "the app");
    await palette("connection");
    await until(() => !!$("#connection-dialog #connection-current p:not(.muted)"), "the dialog");
    const first = $("#connection-close")!;
    const last = $("#connection-switch")!;
    last.focus();
    await fireEvent.keyDown(last, { key: "Tab", bubbles: true });
    expect(document.activeElement).toBe(first);
    await fireEvent.keyDown(first, { key: "Tab", shiftKey: true, bubbles: true });
    expect(document.activeElement).toBe(last);
  });
});
