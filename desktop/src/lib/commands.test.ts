import { describe, expect, it } from "vitest";
import { filterCommands, isChord, keyLabels, SequenceMatcher, type Command } from "./commands";

const cmd = (id: string, title: string, keys?: string, keywords?: string): Command => ({
  id,
  title,
  group: "Test",
  keys,
  keywords,
  run: () => {},
});

describe("commands", () => {
  const all = [
    cmd("go-accounts", "Go to Accounts", "g a", "google"),
    cmd("go-audit", "Go to Audit log", "g l"),
    cmd("connect", "Connect Google account", "c", "oauth"),
    cmd("theme", "Switch to dark theme", "t"),
  ];

  it("filters on every word, titles that start with the query first", () => {
    expect(filterCommands(all, "").map((c) => c.id)).toEqual(all.map((c) => c.id));
    expect(filterCommands(all, "google").map((c) => c.id)).toEqual(["connect", "go-accounts"]);
    // "Connect Google account" holds "go" and "acc" too, after the title that starts so.
    expect(filterCommands(all, "go acc").map((c) => c.id)).toEqual(["go-accounts", "connect"]);
    expect(filterCommands(all, "audit").map((c) => c.id)).toEqual(["go-audit"]);
    expect(filterCommands(all, "OAUTH").map((c) => c.id)).toEqual(["connect"]);
    expect(filterCommands(all, "nothing like this")).toEqual([]);
  });

  it("runs sequences typed in time, and starts again after a wrong key", () => {
    const m = new SequenceMatcher(() => all, 1000);
    expect(m.feed("g", 0)).toBeNull();
    expect(m.feed("a", 100)?.id).toBe("go-accounts");
    expect(m.feed("g", 200)).toBeNull();
    expect(m.feed("x", 300)).toBeNull();
    expect(m.feed("t", 400)?.id).toBe("theme");
    // Too slow: the `g` is forgotten, the `a` alone is nothing.
    expect(m.feed("g", 500)).toBeNull();
    expect(m.feed("a", 2000)).toBeNull();
    // `g` then `c`: no "g c", but "c" alone is a shortcut.
    expect(m.feed("g", 3000)).toBeNull();
    expect(m.feed("c", 3100)?.id).toBe("connect");
  });

  it("shows chords and sequences for the platform", () => {
    expect(keyLabels("mod+k", false)).toEqual(["Ctrl", "K"]);
    expect(keyLabels("mod+k", true)).toEqual(["⌘", "K"]);
    expect(keyLabels("g a", false)).toEqual(["G", "A"]);
  });

  it("matches a chord only with exactly its modifiers", () => {
    const ev = (init: KeyboardEventInit) => new KeyboardEvent("keydown", init);
    expect(isChord(ev({ key: "k", ctrlKey: true }), "mod+k", false)).toBe(true);
    expect(isChord(ev({ key: "K", ctrlKey: true }), "mod+k", false)).toBe(true);
    expect(isChord(ev({ key: "k", metaKey: true }), "mod+k", true)).toBe(true);
    expect(isChord(ev({ key: "k", metaKey: true }), "mod+k", false)).toBe(false);
    expect(isChord(ev({ key: "k", ctrlKey: true, shiftKey: true }), "mod+k", false)).toBe(false);
    expect(isChord(ev({ key: "k" }), "mod+k", false)).toBe(false);
  });

  it("lets an available view command's shortcut win over a global one with the same keys", () => {
    const newRule = cmd("new-rule", "New rule", "n");
    const now: Command = { ...cmd("replay-now", "Replay: back to now", "n"), scoped: true };
    const m = new SequenceMatcher(() => [newRule, now], 1000);
    expect(m.feed("n", 0)?.id).toBe("replay-now");
    const away: Command = { ...now, disabledReason: "open Replay first" };
    const m2 = new SequenceMatcher(() => [newRule, away], 1000);
    expect(m2.feed("n", 0)?.id).toBe("new-rule");
  });
});
