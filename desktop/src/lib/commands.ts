// What the command palette lists and the keyboard shortcuts run: every view and action of
// the app, each with the keys that run it without the palette.

export interface Command {
  id: string;
  title: string;
  /** The palette's section: "Go to", "Actions", "Theme". */
  group: string;
  /**
   * The shortcut: `mod+k` (a chord; `mod` is Ctrl, or ⌘ on a Mac) or `g a` (keys one after
   * the other, outside text fields).
   */
  keys?: string;
  /** More words the palette's filter matches. */
  keywords?: string;
  /** Why the command is unavailable now (shown; the command does not run). */
  disabledReason?: string;
  /**
   * A view's own command (available only while its view is shown): while available, its
   * shortcut wins over a global command with the same keys (Replay's `N` "now" over "New rule").
   */
  scoped?: boolean;
  run: () => void | Promise<void>;
}

/** The commands whose title, group or keywords hold every word of `query`, best first. */
export function filterCommands(commands: readonly Command[], query: string): Command[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...commands];
  const scored: { c: Command; score: number; i: number }[] = [];
  commands.forEach((c, i) => {
    const title = c.title.toLowerCase();
    const haystack = `${title} ${c.group.toLowerCase()} ${(c.keywords ?? "").toLowerCase()}`;
    if (!words.every((w) => haystack.includes(w))) return;
    // Titles that start with the query first, then titles holding it, then keyword matches.
    const score = title.startsWith(words[0]) ? 0 : title.includes(words[0]) ? 1 : 2;
    scored.push({ c, score, i });
  });
  return scored.sort((a, b) => a.score - b.score || a.i - b.i).map((s) => s.c);
}

export function isMac(nav: Navigator | undefined = globalThis.navigator): boolean {
  return !!nav && /Mac|iPhone|iPad/.test(nav.platform || nav.userAgent);
}

/** The keys of a shortcut as they are shown: `mod+k` → ["Ctrl", "K"], `g a` → ["G", "A"]. */
export function keyLabels(keys: string, mac = isMac()): string[] {
  const parts = keys.includes("+") ? keys.split("+") : keys.split(" ");
  return parts.map((k) => {
    switch (k) {
      case "mod":
        return mac ? "⌘" : "Ctrl";
      case "shift":
        return mac ? "⇧" : "Shift";
      case "alt":
        return mac ? "⌥" : "Alt";
      default:
        return k.length === 1 ? k.toUpperCase() : k;
    }
  });
}

/** Whether typing in `target` should keep single-key shortcuts away. */
export function isEditable(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  // (The attribute too: CodeMirror's content element; jsdom has no isContentEditable.)
  if (target.isContentEditable || target.getAttribute("contenteditable") === "true") return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (target as HTMLInputElement).type;
  return !["button", "submit", "reset", "checkbox", "radio"].includes(type);
}

/** Whether a key event is the chord `keys` (`mod+k`). */
export function isChord(e: KeyboardEvent, keys: string, mac = isMac()): boolean {
  const parts = keys.split("+");
  const key = parts[parts.length - 1];
  const mod = parts.includes("mod");
  const modPressed = mac ? e.metaKey : e.ctrlKey;
  return (
    e.key.toLowerCase() === key &&
    mod === modPressed &&
    parts.includes("shift") === e.shiftKey &&
    parts.includes("alt") === e.altKey
  );
}

/**
 * Single-key shortcuts typed one after another (`g a`): feed it each key; it answers the
 * command once a whole sequence was typed within `timeoutMs` between keys.
 */
export class SequenceMatcher {
  #typed: string[] = [];
  #last = 0;

  constructor(
    private commands: () => readonly Command[],
    private timeoutMs = 1200,
  ) {}

  feed(key: string, now: number = Date.now()): Command | null {
    if (now - this.#last > this.timeoutMs) this.#typed = [];
    this.#last = now;
    this.#typed.push(key.toLowerCase());
    const sequences = this.commands().filter((c) => c.keys && !c.keys.includes("+"));
    for (;;) {
      const typed = this.#typed.join(" ");
      const exact = sequences.filter((c) => c.keys === typed);
      const done =
        exact.find((c) => c.scoped && !c.disabledReason) ??
        exact.find((c) => !c.disabledReason) ??
        exact[0];
      if (done) {
        this.#typed = [];
        return done;
      }
      if (sequences.some((c) => c.keys!.startsWith(typed + " "))) return null;
      // No shortcut goes on like this: start again from the last key.
      if (this.#typed.length <= 1) {
        this.#typed = [];
        return null;
      }
      this.#typed = this.#typed.slice(1);
    }
  }

  reset(): void {
    this.#typed = [];
  }
}
