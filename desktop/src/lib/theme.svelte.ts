// Light and dark themes: the system's choice (`prefers-color-scheme`) unless the user picked
// one, remembered in localStorage. The resolved theme is `<html data-theme="light|dark">`,
// which app.css's tokens follow.

import { getContext, setContext } from "svelte";

export type ThemePreference = "system" | "light" | "dark";
export type ResolvedTheme = "light" | "dark";

export const THEME_STORAGE_KEY = "leadorch.theme";
const PREFERENCES: readonly ThemePreference[] = ["system", "light", "dark"];

function isPreference(v: unknown): v is ThemePreference {
  return typeof v === "string" && (PREFERENCES as readonly string[]).includes(v);
}

export class Theme {
  preference = $state<ThemePreference>("system");
  systemDark = $state(false);
  resolved: ResolvedTheme = $derived(
    this.preference === "system" ? (this.systemDark ? "dark" : "light") : this.preference,
  );

  #storage: Storage | undefined;
  #root: HTMLElement;

  constructor(
    win: Window = window,
    root: HTMLElement = win.document.documentElement,
  ) {
    this.#root = root;
    try {
      this.#storage = win.localStorage;
    } catch {
      // Storage can be refused (private modes); the choice then lasts for this window.
      this.#storage = undefined;
    }
    const saved = this.#read();
    if (isPreference(saved)) this.preference = saved;
    const media = win.matchMedia?.("(prefers-color-scheme: dark)");
    if (media) {
      this.systemDark = media.matches;
      media.addEventListener("change", (e) => {
        this.systemDark = e.matches;
        this.apply();
      });
    }
    this.apply();
  }

  /** Picks a theme (or `system`) and remembers it. */
  set(preference: ThemePreference): void {
    this.preference = preference;
    try {
      if (preference === "system") this.#storage?.removeItem(THEME_STORAGE_KEY);
      else this.#storage?.setItem(THEME_STORAGE_KEY, preference);
    } catch {
      /* not remembered, still applied */
    }
    this.apply();
  }

  /** The other theme than the one shown (the `T` shortcut). */
  toggle(): void {
    this.set(this.resolved === "dark" ? "light" : "dark");
  }

  apply(): void {
    this.#root.dataset.theme = this.resolved;
    this.#root.style.colorScheme = this.resolved;
  }

  #read(): string | null {
    try {
      return this.#storage?.getItem(THEME_STORAGE_KEY) ?? null;
    } catch {
      return null;
    }
  }
}

// The app's Theme in Svelte's context, for views that offer the choice (Settings).
const THEME_KEY = Symbol("theme");

export function setTheme(theme: Theme): Theme {
  return setContext(THEME_KEY, theme);
}

/** The app's Theme, or `undefined` when the view is mounted without one (a test host). */
export function getTheme(): Theme | undefined {
  return getContext<Theme | undefined>(THEME_KEY);
}
