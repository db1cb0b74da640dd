import { describe, expect, it } from "vitest";
import { Theme, THEME_STORAGE_KEY } from "./theme.svelte";

/** A window whose system theme the test sets, with its own storage and root element. */
function fakeWindow(systemDark: boolean, saved?: string) {
  const listeners: ((e: { matches: boolean }) => void)[] = [];
  const media = {
    matches: systemDark,
    addEventListener: (_: string, f: (e: { matches: boolean }) => void) => listeners.push(f),
  };
  const store = new Map<string, string>(saved ? [[THEME_STORAGE_KEY, saved]] : []);
  const localStorage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  };
  const win = {
    document,
    localStorage,
    matchMedia: (q: string) => {
      expect(q).toBe("(prefers-color-scheme: dark)");
      return media;
    },
  } as unknown as Window;
  const root = document.createElement("html");
  return {
    win,
    root,
    store,
    systemChanges: (dark: boolean) => listeners.forEach((f) => f({ matches: dark })),
  };
}

describe("Theme", () => {
  it("follows the system until the user picks one", () => {
    const w = fakeWindow(true);
    const theme = new Theme(w.win, w.root);
    expect(theme.preference).toBe("system");
    expect(w.root.dataset.theme).toBe("dark");
    w.systemChanges(false);
    expect(w.root.dataset.theme).toBe("light");
    expect(w.root.style.colorScheme).toBe("light");
  });

  it("keeps a manual choice over the system's, and remembers it", () => {
    const w = fakeWindow(false);
    const theme = new Theme(w.win, w.root);
    theme.set("dark");
    expect(w.root.dataset.theme).toBe("dark");
    expect(w.store.get(THEME_STORAGE_KEY)).toBe("dark");
    w.systemChanges(false);
    expect(w.root.dataset.theme).toBe("dark");
    // The next start reads it back.
    const again = new Theme(w.win, document.createElement("html"));
    expect(again.preference).toBe("dark");
    expect(again.resolved).toBe("dark");
  });

  it("forgets the choice when set back to the system", () => {
    const w = fakeWindow(true, "light");
    const theme = new Theme(w.win, w.root);
    expect(w.root.dataset.theme).toBe("light");
    theme.set("system");
    expect(w.store.has(THEME_STORAGE_KEY)).toBe(false);
    expect(w.root.dataset.theme).toBe("dark");
  });

  it("toggles to the other theme than the one shown", () => {
    const w = fakeWindow(true);
    const theme = new Theme(w.win, w.root);
    theme.toggle();
    expect(theme.preference).toBe("light");
    theme.toggle();
    expect(theme.preference).toBe("dark");
  });

  it("ignores a stored value it does not know", () => {
    const w = fakeWindow(false, "sepia");
    const theme = new Theme(w.win, w.root);
    expect(theme.preference).toBe("system");
    expect(w.root.dataset.theme).toBe("light");
  });
});
