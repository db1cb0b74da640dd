import { afterEach, describe, expect, it, vi } from "vitest";
import type { EventView } from "../../../generated/EventView";
import {
  type Note,
  type Notifier,
  type NotifyPermission,
  NotificationWatcher,
  Notifications,
  NOTIFICATIONS_STORAGE_KEY,
  noteFor,
  webNotifier,
} from "./notifications.svelte";
import { SettingsEngine } from "./testEngine";

afterEach(() => {
  vi.useRealTimers();
  localStorage.clear();
});

function event(position: number, type: string, stream: string, fields: Record<string, unknown>): EventView {
  return {
    position,
    stream,
    stream_version: 1,
    event_id: `e-${position}`,
    type,
    schema_version: "1.0",
    recorded_at: "2026-12-06T10:00:00Z",
    actor: "daemon",
    trace_id: null,
    data: { [type]: { ...fields, at: "2026-12-06T10:00:00Z" } } as EventView["data"],
    hash: "0",
  };
}

/** A Notifier that records what it shows, with a permission the test sets. */
class FakeNotifier implements Notifier {
  shown: Note[] = [];
  asked = 0;
  constructor(
    public state: NotifyPermission = "granted",
    public answer: NotifyPermission = "granted",
  ) {}
  permission() {
    return this.state;
  }
  async requestPermission() {
    this.asked++;
    this.state = this.answer;
    return this.answer;
  }
  show(note: Note) {
    this.shown.push(note);
  }
}

describe("webNotifier", () => {
  it("shows through the Notification API only when it is granted", async () => {
    const made: { title: string; options?: NotificationOptions }[] = [];
    class FakeNotification {
      static permission: NotificationPermission = "default";
      static requestPermission = vi.fn(async () => (FakeNotification.permission = "granted"));
      constructor(title: string, options?: NotificationOptions) {
        made.push({ title, options });
      }
    }
    const n = webNotifier({ Notification: FakeNotification as never });
    expect(n.permission()).toBe("default");
    n.show({ title: "t", body: "b", tag: "x" });
    expect(made).toEqual([]);
    expect(await n.requestPermission()).toBe("granted");
    n.show({ title: "A change failed", body: "Campaign 1/2: quota", tag: "leadorch-7" });
    expect(made).toEqual([{ title: "A change failed", options: { body: "Campaign 1/2: quota", tag: "leadorch-7" } }]);
  });

  it("says unsupported without the API, and denied when asking throws", async () => {
    expect(webNotifier({}).permission()).toBe("unsupported");
    expect(await webNotifier({}).requestPermission()).toBe("unsupported");
    const refusing = {
      permission: "default",
      requestPermission: () => Promise.reject(new Error("no")),
    };
    expect(await webNotifier({ Notification: refusing as never }).requestPermission()).toBe("denied");
  });
});

describe("Notifications", () => {
  it("is off until turned on, remembers the choice, and asks permission only when undecided", async () => {
    const fake = new FakeNotifier("default", "granted");
    const n = new Notifications(fake, localStorage);
    expect(n.enabled).toBe(false);
    expect(n.show({ title: "t", body: "b", tag: "x" })).toBe(false);
    await n.setEnabled(true);
    expect(fake.asked).toBe(1);
    expect(n.permission).toBe("granted");
    expect(localStorage.getItem(NOTIFICATIONS_STORAGE_KEY)).toBe("on");
    expect(new Notifications(fake, localStorage).enabled).toBe(true);
    expect(n.show({ title: "t", body: "b", tag: "x" })).toBe(true);
    expect(fake.shown).toHaveLength(1);

    await n.setEnabled(false);
    expect(localStorage.getItem(NOTIFICATIONS_STORAGE_KEY)).toBeNull();
    expect(new Notifications(fake, localStorage).enabled).toBe(false);
    expect(n.show({ title: "t", body: "b", tag: "y" })).toBe(false);
    expect(fake.shown).toHaveLength(1);
  });

  it("shows nothing when the system refused", async () => {
    const fake = new FakeNotifier("denied");
    const n = new Notifications(fake, localStorage);
    await n.setEnabled(true);
    expect(fake.asked).toBe(0);
    expect(n.permission).toBe("denied");
    expect(n.show({ title: "t", body: "b", tag: "x" })).toBe(false);
    expect(fake.shown).toEqual([]);
  });
});

describe("noteFor", () => {
  it("words the three kinds, and nothing else notifies", () => {
    expect(noteFor(event(7, "ChangeFailed", "campaign:1234567890/111", { change_id: "c", error: "quota exceeded", retryable: true }))).toEqual({
      title: "A change failed",
      body: "Campaign 1234567890/111: quota exceeded (it will be tried again)",
      tag: "leadorch-7",
    });
    expect(
      noteFor(event(8, "SourceFailing", "capacity_source:acme/hubspot", { kind: "hubspot", error_kind: "auth", error: "401 from HubSpot" }))!.body,
    ).toBe("acme/hubspot (hubspot): 401 from HubSpot");
    const reconsent = noteFor(event(9, "ReconsentNeeded", "google_account:acme/ops", { account_id: "a", reason: "invalid_grant" }))!;
    expect(reconsent.title).toBe("A Google account needs consent again");
    expect(reconsent.body).toContain("acme/ops: invalid_grant");
    expect(noteFor(event(10, "LeadReceived", "lead:f-1", { email: "someone@example.com" }))).toBeNull();
  });
});

describe("NotificationWatcher", () => {
  function setup() {
    const engine = new SettingsEngine();
    engine.head = 100;
    const fake = new FakeNotifier("granted");
    const n = new Notifications(fake, localStorage);
    return { engine, fake, n };
  }

  it("starts at the head and shows what the notifying types record after it", async () => {
    vi.useFakeTimers();
    const { engine, fake, n } = setup();
    await n.setEnabled(true);
    engine.events = [
      event(50, "ChangeFailed", "campaign:1/1", { error: "old news" }),
      event(101, "LeadReceived", "lead:f-1", {}),
      event(102, "ChangeFailed", "campaign:1/2", { error: "quota exceeded", retryable: false }),
      event(103, "ReconsentNeeded", "google_account:acme/ops", { reason: "invalid_grant" }),
      event(104, "ChangeFailed", "campaign:1/3", { error: "budget locked", retryable: false }),
    ];
    const w = new NotificationWatcher(engine, n, 1000);
    await w.start();
    expect(w.seen).toBe(100);
    expect(engine.watchers).toBe(1);
    engine.push(102);
    engine.push(104);
    await vi.advanceTimersByTimeAsync(999);
    expect(fake.shown).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(w.seen).toBe(104));
    // In log order within a type (the API answers newest first).
    expect(fake.shown.map((s) => s.body)).toEqual([
      "Campaign 1/2: quota exceeded",
      "Campaign 1/3: budget locked",
      "acme/ops: invalid_grant. Reconnect it in Accounts.",
    ]);
    const reads = engine.made("GET", "/v1/events").slice(1);
    expect(reads.map((r) => r.query.get("type"))).toEqual(["ChangeFailed", "SourceFailing", "ReconsentNeeded"]);
    expect(reads.every((r) => r.query.get("after") === "100" && r.query.get("before") === "105")).toBe(true);

    // Nothing new: nothing shown again.
    engine.push(105);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.waitFor(() => expect(w.seen).toBe(105));
    expect(fake.shown).toHaveLength(3);

    w.stop();
    expect(engine.watchers).toBe(0);
  });

  it("sums up a burst in one notification", async () => {
    vi.useFakeTimers();
    const { engine, fake, n } = setup();
    await n.setEnabled(true);
    engine.events = Array.from({ length: 10 }, (_, i) => event(101 + i, "SourceFailing", `capacity_source:acme/s${i}`, { error: "down" }));
    const w = new NotificationWatcher(engine, n, 10);
    await w.start();
    engine.push(110);
    await vi.advanceTimersByTimeAsync(10);
    await vi.waitFor(() => expect(w.seen).toBe(110));
    expect(fake.shown).toHaveLength(1);
    expect(fake.shown[0].title).toBe("More than 3 capacity source failures");
    w.stop();
  });

  it("shows nothing once notifications are turned off", async () => {
    vi.useFakeTimers();
    const { engine, fake, n } = setup();
    await n.setEnabled(true);
    engine.events = [event(101, "ChangeFailed", "campaign:1/2", { error: "x" })];
    const w = new NotificationWatcher(engine, n, 10);
    await w.start();
    await n.setEnabled(false);
    engine.push(101);
    await vi.advanceTimersByTimeAsync(10);
    await vi.waitFor(() => expect(w.seen).toBe(101));
    expect(fake.shown).toEqual([]);
    w.stop();
  });
});
