// Desktop notifications for what an operator must act on: a change that failed, a capacity
// source that started failing, a Google account that needs consent again. Off until the
// operator turns them on in Settings (kept in localStorage); shown through the `Notification`
// web API only when the system permits it. Notifications name campaigns, sources and accounts,
// never a lead's personal data.
import { getContext, setContext } from "svelte";
import type { EventView } from "../../../generated/EventView";
import type { EventWindow } from "../../../generated/EventWindow";
import type { Backend } from "../../backend";

export const NOTIFICATIONS_STORAGE_KEY = "leadorch.notifications";

/** The system's answer: `unsupported` where there is no `Notification` API. */
export type NotifyPermission = "default" | "granted" | "denied" | "unsupported";

/** One notification to show. */
export interface Note {
  title: string;
  body: string;
  /** Notifications with the same tag replace each other. */
  tag: string;
}

/** What shows notifications: the web API (`webNotifier`), or a fake in tests. */
export interface Notifier {
  permission(): NotifyPermission;
  requestPermission(): Promise<NotifyPermission>;
  show(note: Note): void;
}

/** The `Notification` constructor's static side, as far as it is used here. */
interface NotificationApi {
  readonly permission: NotificationPermission;
  requestPermission(): Promise<NotificationPermission>;
  new (title: string, options?: NotificationOptions): Notification;
}

/** A Notifier over the web `Notification` API of `scope` (the window by default). */
export function webNotifier(scope: { Notification?: NotificationApi } = globalThis as never): Notifier {
  return {
    permission: () => (scope.Notification ? scope.Notification.permission : "unsupported"),
    requestPermission: async () => {
      if (!scope.Notification) return "unsupported";
      try {
        return await scope.Notification.requestPermission();
      } catch {
        return "denied";
      }
    },
    show: (note) => {
      if (scope.Notification?.permission !== "granted") return;
      try {
        new scope.Notification(note.title, { body: note.body, tag: note.tag });
      } catch {
        // A webview that refuses notifications after granting them: nothing to show.
      }
    },
  };
}

/** The operator's choice, and whether the system lets us notify. */
export class Notifications {
  enabled = $state(false);
  permission = $state<NotifyPermission>("unsupported");

  #notifier: Notifier;
  #storage: Storage | undefined;

  constructor(notifier: Notifier = webNotifier(), storage?: Storage) {
    this.#notifier = notifier;
    try {
      this.#storage = storage ?? globalThis.localStorage;
    } catch {
      this.#storage = undefined;
    }
    try {
      this.enabled = this.#storage?.getItem(NOTIFICATIONS_STORAGE_KEY) === "on";
    } catch {
      this.enabled = false;
    }
    this.permission = notifier.permission();
  }

  /** Turns notifications on or off (remembered); turning on asks the system's permission. */
  async setEnabled(on: boolean): Promise<void> {
    this.enabled = on;
    try {
      if (on) this.#storage?.setItem(NOTIFICATIONS_STORAGE_KEY, "on");
      else this.#storage?.removeItem(NOTIFICATIONS_STORAGE_KEY);
    } catch {
      /* not remembered, still applied */
    }
    this.permission = this.#notifier.permission();
    if (on && this.permission === "default") {
      this.permission = await this.#notifier.requestPermission();
    }
  }

  /** Shows `note` when notifications are on and permitted; whether it was shown. */
  show(note: Note): boolean {
    if (!this.enabled) return false;
    this.permission = this.#notifier.permission();
    if (this.permission !== "granted") return false;
    this.#notifier.show(note);
    return true;
  }
}

const KEY = Symbol("notifications");

export function setNotifications(n: Notifications): Notifications {
  return setContext(KEY, n);
}

export function getNotifications(): Notifications | undefined {
  return getContext<Notifications | undefined>(KEY);
}

/** The event types that notify, as the log names them. */
export const NOTIFY_TYPES = ["ChangeFailed", "SourceFailing", "ReconsentNeeded"] as const;

/** What follows the first `:` of a stream (`campaign:1234/5678` → `1234/5678`). */
function streamName(stream: string): string {
  const i = stream.indexOf(":");
  return i < 0 ? stream : stream.slice(i + 1);
}

/** The fields of an event's data (`{ "ChangeFailed": { … } }`). */
function fields(e: EventView): Record<string, unknown> {
  const data = e.data as Record<string, unknown> | null;
  const inner = data && typeof data === "object" ? data[e.type] : undefined;
  return inner && typeof inner === "object" ? (inner as Record<string, unknown>) : {};
}

const text = (v: unknown) => (typeof v === "string" ? v : "");

/** The notification for one event, or `null` for a type that does not notify. */
export function noteFor(e: EventView): Note | null {
  const f = fields(e);
  const what = streamName(e.stream);
  const tag = `leadorch-${e.position}`;
  switch (e.type) {
    case "ChangeFailed":
      return {
        title: "A change failed",
        body: `Campaign ${what}: ${text(f.error) || "no reason given"}${f.retryable === true ? " (it will be tried again)" : ""}`,
        tag,
      };
    case "SourceFailing":
      return {
        title: "A capacity source is failing",
        body: `${what}${f.kind ? ` (${text(f.kind)})` : ""}: ${text(f.error) || text(f.error_kind) || "no reason given"}`,
        tag,
      };
    case "ReconsentNeeded":
      return {
        title: "A Google account needs consent again",
        body: `${what}: ${text(f.reason) || "Google refused its grant"}. Reconnect it in Accounts.`,
        tag,
      };
    default:
      return null;
  }
}

/** More than this many events of one type at once make one summary notification. */
export const SUMMARY_OVER = 3;

const SUMMARY: Record<(typeof NOTIFY_TYPES)[number], string> = {
  ChangeFailed: `More than ${SUMMARY_OVER} changes failed`,
  SourceFailing: `More than ${SUMMARY_OVER} capacity source failures`,
  ReconsentNeeded: `More than ${SUMMARY_OVER} Google accounts need consent again`,
};

/** The largest `before` the API takes that JavaScript counts exactly: the end of the log. */
const END = Number.MAX_SAFE_INTEGER;

/**
 * Follows the log while notifications are on: from the head when it starts (what happened
 * before is not news), it reads the new events of the notifying types each time the head
 * moves (debounced) and shows them.
 */
export class NotificationWatcher {
  /** The last position looked at; `null` until the start has read the head. */
  seen: number | null = null;
  #backend: Backend;
  #notifications: Notifications;
  #debounceMs: number;
  #stop: (() => void) | null = null;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #latest = 0;
  #running: Promise<void> = Promise.resolve();

  constructor(backend: Backend, notifications: Notifications, debounceMs = 1000) {
    this.#backend = backend;
    this.#notifications = notifications;
    this.#debounceMs = debounceMs;
  }

  async start(): Promise<void> {
    try {
      const end = await this.#backend.request<EventWindow>("GET", `/v1/events?before=${END}&limit=1`);
      this.seen = end.head;
    } catch {
      this.seen = 0;
    }
    if (this.#stopped) return;
    try {
      const stop = await this.#backend.watchHead((head) => this.#onHead(head));
      if (this.#stopped) stop();
      else this.#stop = stop;
    } catch {
      // No live head (a backend that cannot watch): nothing to follow.
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#stop?.();
    this.#stop = null;
  }

  #onHead(head: number): void {
    this.#latest = Math.max(this.#latest, head);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#running.then(() => this.check(this.#latest));
    }, this.#debounceMs);
  }

  /** Reads and shows what the notifying types recorded after `seen`, up to `head`. */
  async check(head: number): Promise<void> {
    if (this.#stopped || this.seen === null || head <= this.seen) return;
    const after = this.seen;
    for (const type of NOTIFY_TYPES) {
      let items: EventView[];
      try {
        const page = await this.#backend.request<EventWindow>(
          "GET",
          `/v1/events?after=${after}&before=${head + 1}&type=${type}&limit=${SUMMARY_OVER + 1}`,
        );
        // With `before`, the API answers newest first: notify in log order.
        items = [...page.items].sort((a, b) => a.position - b.position);
      } catch {
        continue;
      }
      if (this.#stopped) return;
      if (items.length > SUMMARY_OVER) {
        this.#notifications.show({
          title: SUMMARY[type],
          body: "Open Lead Orchestrator's audit log to see them.",
          tag: `leadorch-${type}-${head}`,
        });
        continue;
      }
      for (const e of items) {
        const note = noteFor(e);
        if (note) this.#notifications.show(note);
      }
    }
    this.seen = Math.max(this.seen ?? 0, head);
  }
}
