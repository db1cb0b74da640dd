// The Replay view's actions as palette commands (App.svelte lists them, with their keys, and
// runs them only while Replay is shown): each is sent to the view as a window event.

export const REPLAY_EVENT = "leadorch:replay";

export type ReplayAction = "prev-evaluation" | "next-evaluation" | "prev-event" | "next-event" | "now";

export const REPLAY_COMMANDS: readonly { action: ReplayAction; title: string; keys: string; keywords: string }[] = [
  { action: "prev-evaluation", title: "Replay: previous evaluation", keys: "[", keywords: "time travel step back decision" },
  { action: "next-evaluation", title: "Replay: next evaluation", keys: "]", keywords: "time travel step forward decision" },
  { action: "prev-event", title: "Replay: previous event", keys: ",", keywords: "time travel step back position" },
  { action: "next-event", title: "Replay: next event", keys: ".", keywords: "time travel step forward position" },
  { action: "now", title: "Replay: back to now", keys: "n", keywords: "time travel head latest present refresh" },
];

/** Asks the Replay view to do `action`. */
export function sendReplay(action: ReplayAction, target: Window = window): void {
  target.dispatchEvent(new CustomEvent<ReplayAction>(REPLAY_EVENT, { detail: action }));
}

/** The action a key pressed on the scrubber itself means (where the shell's shortcuts are off). */
export function replayActionForKey(key: string): ReplayAction | null {
  return REPLAY_COMMANDS.find((c) => c.keys === key.toLowerCase())?.action ?? null;
}
