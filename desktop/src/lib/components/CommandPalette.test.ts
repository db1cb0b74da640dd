import { fireEvent } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { tick } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderApp } from "../../test/app";
import { overview, until } from "../../test/fixtures";

beforeEach(() => {
  window.location.hash = "#/accounts"; // the dashboard is the default view
  localStorage.clear();
});
afterEach(() => clearMocks());

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const items = () =>
  [...document.querySelectorAll<HTMLElement>("#palette [role=option]")].map((e) => e.dataset.command);

async function key(target: Element | Document, key: string, init: KeyboardEventInit = {}) {
  await fireEvent.keyDown(target, { key, bubbles: true, ...init });
  await tick();
}

async function ready() {
  renderApp(() => overview([]));
  await until(() => !!$("#no-accounts"), "the app");
}

describe("command palette", () => {
  it("opens with Ctrl+K, lists views and actions with their shortcuts, and closes with Escape", async () => {
    await ready();
    expect($("#palette")).toBeNull();
    await key(document.body, "k", { ctrlKey: true });
    await until(() => document.activeElement?.id === "palette-input", "focus in the palette");
    expect(items()).toEqual([
      "go-dashboard",
      "go-accounts",
      "go-rules",
      "go-audit",
      "go-replay",
      "go-teams",
      "go-leads",
      "go-settings",
      "connect-google",
      "new-rule",
      "refresh",
      "palette",
      "leads-search",
      "replay-prev-evaluation",
      "replay-next-evaluation",
      "replay-prev-event",
      "replay-next-event",
      "replay-now",
      "theme-toggle",
      "theme-light",
      "theme-dark",
      "theme-system",
    ]);
    const go = $("#palette-item-go-accounts")!;
    expect(go.textContent).toContain("Go to Accounts");
    expect([...go.querySelectorAll("kbd")].map((k) => k.textContent)).toEqual(["G", "A"]);
    await key($("#palette-input")!, "Escape");
    expect($("#palette")).toBeNull();
  });

  it("filters as you type; the arrows move and Enter runs: navigation focuses the view", async () => {
    // From the default view (the dashboard) to Accounts.
    window.location.hash = "";
    renderApp(() => overview([]));
    await until(() => $("#view-title")?.textContent === "Dashboard", "the dashboard");
    expect(window.location.hash).toBe("");
    await key(document.body, "?");
    const input = $("#palette-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "accounts" } });
    expect(items()[0]).toBe("go-accounts");
    expect(items()).not.toContain("theme-dark");
    expect($("[aria-selected=true]")!.dataset.command).toBe("go-accounts");
    await key(input, "ArrowDown");
    expect($("[aria-selected=true]")!.dataset.command).toBe(items()[1]);
    await key(input, "ArrowUp");
    await key(input, "Enter");
    await until(() => document.activeElement?.id === "view-title", "focus on the view");
    expect($("#palette")).toBeNull();
    expect(window.location.hash).toBe("#/accounts");
    expect($("#nav-accounts")!.getAttribute("aria-current")).toBe("page");
  });

  it("runs an action: Connect puts the cursor in the account name", async () => {
    await ready();
    await key(document.body, "k", { ctrlKey: true });
    await fireEvent.input($("#palette-input")!, { target: { value: "connect" } });
    await key($("#palette-input")!, "Enter");
    await until(() => document.activeElement?.id === "account-name", "focus on the name");
  });

  it("says when nothing matches", async () => {
    await ready();
    await key(document.body, "k", { ctrlKey: true });
    await fireEvent.input($("#palette-input")!, { target: { value: "zzzz" } });
    expect(items()).toEqual([]);
    expect($("#palette")!.textContent).toContain("No view or action matches");
    await key($("#palette-input")!, "Enter");
    expect($("#palette")).not.toBeNull();
  });
});

describe("keyboard shortcuts and the theme", () => {
  it("switches theme from the top bar, the T key and the palette", async () => {
    const { theme } = await (async () => {
      const r = renderApp(() => overview([]));
      await until(() => !!$("#no-accounts"), "the app");
      return r;
    })();
    const root = document.documentElement;
    expect(root.dataset.theme).toBe("light");
    await fireEvent.click($("#theme-dark")!);
    expect(root.dataset.theme).toBe("dark");
    expect(localStorage.getItem("leadorch.theme")).toBe("dark");
    expect($("#theme-dark")!.getAttribute("aria-checked")).toBe("true");
    await key(document.body, "t");
    expect(root.dataset.theme).toBe("light");
    await key(document.body, "k", { ctrlKey: true });
    await fireEvent.input($("#palette-input")!, { target: { value: "system" } });
    await key($("#palette-input")!, "Enter");
    expect(theme.preference).toBe("system");
    expect(localStorage.getItem("leadorch.theme")).toBeNull();
  });

  it("keeps single-key shortcuts out of text fields", async () => {
    await ready();
    const name = $("#account-name")!;
    name.focus();
    await key(name, "t");
    expect(document.documentElement.dataset.theme).toBe("light");
    await key(document.body, "g");
    await key(document.body, "a");
    await until(() => document.activeElement?.id === "view-title", "g a goes to Accounts");
    await key(document.body, "c");
    expect(document.activeElement?.id).toBe("account-name");
  });
});
