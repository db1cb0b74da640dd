import { fireEvent, render } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import App from "../../../App.svelte";
import { Theme } from "../../theme.svelte";
import { FakeBackend, problem, type Route } from "../../../test/fakeBackend";
import { until } from "../../../test/fixtures";
import {
  BRAND,
  EVALUATIONS,
  HEAD,
  event,
  evaluationView,
  explainAt,
  replayAt,
  timeOf,
} from "../../../test/replayFixtures";

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const $$ = (css: string) => [...document.querySelectorAll<HTMLElement>(css)];
const tid = (id: string) => $(`[data-testid="${id}"]`);

/** The engine over the fixtures' history of `head` events. */
function world(head = { value: HEAD }, over: Partial<Record<string, Route>> = {}): Route {
  return (path, q) => {
    const custom = over[path];
    if (custom) return custom(path, q, "GET");
    const num = (k: string) => (q.has(k) ? Number(q.get(k)) : null);
    switch (path) {
      case "/v1/events/count":
        return { count: EVALUATIONS.length, exact: true, head: head.value, counted_after: 0 };
      case "/v1/replay": {
        const at = q.get("at")!;
        return replayAt(/^\d+$/.test(at) ? Number(at) : positionOfTime(at));
      }
      case "/v1/events": {
        const before = num("before");
        const after = num("after") ?? 0;
        const limit = num("limit") ?? 100;
        const to = q.get("to");
        let positions = Array.from({ length: head.value }, (_, i) => i + 1);
        if (q.get("type") === "EvaluationRecorded") positions = EVALUATIONS.filter((p) => p <= head.value);
        const stream = q.get("stream");
        if (stream) positions = positions.filter((p) => event(p).stream === stream);
        if (to) positions = positions.filter((p) => timeOf(p) < to);
        positions = positions.filter((p) => p > after && (before === null || p < before));
        if (before !== null) positions.reverse();
        return {
          items: positions.slice(0, limit).map((p) => event(p)),
          next: null,
          head: head.value,
          order: before !== null ? "newest_first" : "oldest_first",
        };
      }
      case "/v1/evaluations": {
        const after = num("after") ?? 0;
        return { items: EVALUATIONS.filter((p) => p > after && p <= head.value).map(evaluationView), next: null };
      }
      case `/v1/campaigns/${BRAND}/explain`: {
        const at = q.get("at");
        return explainAt(at === null ? head.value : /^\d+$/.test(at) ? Number(at) : positionOfTime(at));
      }
    }
    return problem(404, `no route ${path}`);
  };
}

function positionOfTime(t: string): number {
  let p = 0;
  for (let i = 1; i <= HEAD; i++) if (timeOf(i) <= new Date(t).toISOString()) p = i;
  return p;
}

function open(hash: string, route: Route) {
  window.location.hash = hash;
  const backend = new FakeBackend(route);
  const result = render(App, { props: { backend, theme: new Theme() } });
  return { backend, ...result };
}

function row(id: string): HTMLElement | null {
  return $(`[data-testid="replay-campaign-row"][data-campaign="${id}"]`);
}

beforeEach(() => {
  window.location.hash = "";
  localStorage.clear();
});
afterEach(() => {
  document.body.innerHTML = "";
});

describe("Replay view", () => {
  it("opens on now: the state at the head, the scrubber at the head, the time of the last event", async () => {
    const { backend } = open("#/replay", world());
    await until(() => !!row(BRAND), "the campaigns");
    expect(row(BRAND)!.dataset.status).toBe("paused");
    const scrubber = tid("replay-scrubber") as HTMLInputElement;
    expect(scrubber.max).toBe(String(HEAD));
    expect(scrubber.value).toBe(String(HEAD));
    expect(tid("replay-position")!.textContent).toBe(String(HEAD));
    expect(tid("replay-mode")!.textContent).toBe("Now");
    await until(() => !!tid("replay-time"), "the time");
    expect(tid("replay-time")!.textContent).toBe("2026-12-04 09:40:00 UTC");
    expect(backend.to("/v1/replay").map((c) => c.query.get("at"))).toEqual([String(HEAD)]);
    // Now: nothing to compare with.
    expect(tid("replay-summary")).toBeNull();
    expect(tid("replay-rules")!.textContent).toContain("capacity-guard");
    expect(tid("replay-teams")!.textContent).toContain("12 / 10");
    // The evaluations are marked under the scrubber.
    await until(() => $$('[data-testid="replay-marks"] .mark').length === 3, "the marks");
    expect($$('[data-testid="replay-marks"] .mark').map((m) => m.dataset.position)).toEqual(["20", "58", "90"]);
  });

  it("scrubbing back shows the campaign enabled then, marked as differing from now, and keeps the moment in the link", async () => {
    const { backend } = open("#/replay", world());
    await until(() => !!row(BRAND), "the campaigns");
    const scrubber = tid("replay-scrubber") as HTMLInputElement;
    await fireEvent.input(scrubber, { target: { value: "40" } });
    // The position shows at once; the replay is asked once the scrubber rests.
    expect(tid("replay-position")!.textContent).toBe("40");
    await until(() => row(BRAND)?.dataset.status === "enabled", "the campaign as it was");
    expect(window.location.hash).toBe("#/replay?at=40");
    expect(row(BRAND)!.dataset.diff).toBe("changed");
    expect(row(BRAND)!.querySelector('[data-testid="replay-campaign-now-status"]')!.textContent).toBe("now paused");
    expect(row("1234567890/1002")!.dataset.diff).toBe("same");
    expect(tid("replay-summary")!.textContent).toContain("differences from now");
    expect($('[data-testid="replay-team-row"]')!.dataset.diff).toBe("changed");
    expect($('[data-testid="replay-rule-row"]')!.dataset.diff).toBe("same");
    expect(tid("replay-mode")!.textContent).toContain("As of position 40");
    await until(() => tid("replay-time")?.textContent === "2026-12-04 08:40:00 UTC", "its time");
    expect(backend.to("/v1/replay").map((c) => c.query.get("at"))).toEqual([String(HEAD), "40"]);
  });

  it("moves by keyboard: arrows one event, PageDown a page, Home the start, End back to now", async () => {
    const { backend } = open("#/replay?at=50", world());
    await until(() => !!row(BRAND), "the campaigns");
    const scrubber = tid("replay-scrubber") as HTMLInputElement;
    scrubber.focus();
    await fireEvent.keyDown(scrubber, { key: "ArrowLeft" });
    await fireEvent.keyDown(scrubber, { key: "ArrowLeft" });
    expect(tid("replay-position")!.textContent).toBe("48");
    await fireEvent.keyDown(scrubber, { key: "PageDown" });
    expect(tid("replay-position")!.textContent).toBe("38");
    await until(() => window.location.hash === "#/replay?at=38", "the moment kept");
    // Only the resting position was replayed (not 49 and 48 on the way).
    expect(backend.to("/v1/replay").map((c) => c.query.get("at"))).not.toContain("49");
    await fireEvent.keyDown(scrubber, { key: "Home" });
    await until(() => window.location.hash === "#/replay?at=1", "the first event");
    await fireEvent.keyDown(scrubber, { key: "End" });
    await until(() => window.location.hash === "#/replay", "now");
    await until(() => tid("replay-mode")!.textContent === "Now", "now again");
  });

  it("steps evaluation by evaluation with [ and ], and back to now with N", async () => {
    open("#/replay?at=70", world());
    await until(() => !!row(BRAND), "the campaigns");
    await fireEvent.keyDown(document.body, { key: "[" });
    await until(() => window.location.hash === "#/replay?at=58", "the evaluation before");
    await until(() => tid("replay-position")!.textContent === "58", "its position");
    await fireEvent.keyDown(document.body, { key: "[" });
    await until(() => window.location.hash === "#/replay?at=20", "the one before that");
    await fireEvent.keyDown(document.body, { key: "]" });
    await until(() => window.location.hash === "#/replay?at=58", "the next one");
    await fireEvent.keyDown(document.body, { key: "." });
    await until(() => window.location.hash === "#/replay?at=59", "one event on");
    await fireEvent.keyDown(document.body, { key: "n" });
    await until(() => window.location.hash === "#/replay", "now");
    // On the scrubber, where the shell's single-key shortcuts are off, the same keys work.
    const scrubber = tid("replay-scrubber")!;
    scrubber.focus();
    await fireEvent.keyDown(scrubber, { key: "[" });
    await until(() => window.location.hash === "#/replay?at=90", "the last evaluation");
  });

  it("lists its steps in the palette, runnable only while Replay is shown", async () => {
    open("#/replay?at=70", world());
    await until(() => !!row(BRAND), "the campaigns");
    await fireEvent.keyDown(document.body, { key: "k", ctrlKey: true });
    await until(() => !!$("#palette-item-replay-prev-evaluation"), "the palette");
    expect($("#palette-item-replay-prev-evaluation")!.textContent).toContain("Replay: previous evaluation");
    await fireEvent.click($("#palette-item-replay-prev-evaluation")!);
    await until(() => window.location.hash === "#/replay?at=58", "stepped from the palette");
    // Elsewhere the keys do nothing.
    window.location.hash = "#/accounts";
    await until(() => !tid("replay-view"), "left");
    await fireEvent.keyDown(document.body, { key: "]" });
    await new Promise((r) => setTimeout(r, 50));
    expect(window.location.hash).toBe("#/accounts");
  });

  it("opens straight on a link from the audit log: the campaign's why at that moment", async () => {
    const { backend } = open(`#/replay?at=100&campaign=${encodeURIComponent(BRAND)}`, world());
    await until(() => !!tid("why-headline"), "the why");
    expect(tid("why-status")!.textContent).toBe("paused");
    expect(tid("why-cause")!.dataset.kind).toBe("engine");
    expect(tid("why-cause")!.textContent).toContain("The engine applied pause");
    expect(tid("why-reason")!.textContent).toContain("team sales-nl is full");
    const decided = tid("why-decided-by")!;
    expect(decided.dataset.evaluation).toBe("ev-58");
    expect(decided.textContent).toContain("team sales-nl: 12 open of 10 max, 0 agents available");
    const outcomes = [...decided.querySelectorAll('[data-testid="why-outcome"]')].map((e) => e.textContent);
    expect(outcomes).toEqual(["→ accepted", "→ held back: cooldown (until 2026-12-04 09:30:00 UTC)"]);
    expect(backend.to(`/v1/campaigns/${BRAND}/explain`)[0].query.get("at")).toBe("100");
    // The evaluations around it: each rule's decision and what was applied.
    await until(() => $$('[data-testid="why-evaluation"]').length === 3, "the evaluations");
    const ev58 = $('[data-testid="why-evaluation"][data-evaluation="ev-58"]')!;
    expect(ev58.querySelector('[data-testid="why-applied"]')!.textContent).toContain("pause (capacity-guard, change ch-1)");
    expect([...ev58.querySelectorAll<HTMLElement>('[data-testid="why-decision"]')].map((d) => d.dataset.tone)).toEqual([
      "accepted",
      "held",
      "none",
    ]);
    expect(row(BRAND)!.getAttribute("aria-selected")).toBe("true");
  });

  it("opens on an evaluation id when the link names no moment, and marks it", async () => {
    open(`#/replay?campaign=${encodeURIComponent(BRAND)}&evaluation=ev-58`, world());
    await until(() => window.location.hash.includes("at=58"), "the evaluation's position");
    await until(() => !!$('[data-testid="why-evaluation"][data-evaluation="ev-58"].marked'), "the marked evaluation");
    await until(() => tid("why-status")?.textContent === "enabled", "enabled at 58");
    expect(tid("why-pending")!.textContent).toContain("pause");
  });

  it("selects a campaign from its row by keyboard, and closes the why with its button", async () => {
    open("#/replay?at=80", world());
    await until(() => !!row(BRAND), "the campaigns");
    const first = row(BRAND)!;
    first.focus();
    await fireEvent.keyDown(first, { key: "ArrowDown" });
    expect(document.activeElement).toBe(row("1234567890/1002"));
    await fireEvent.keyDown(row("1234567890/1002")!, { key: "ArrowUp" });
    await fireEvent.keyDown(row(BRAND)!, { key: "Enter" });
    await until(() => !!tid("why-panel"), "the why");
    expect(window.location.hash).toContain(`campaign=${encodeURIComponent(BRAND)}`);
    await fireEvent.click(tid("why-close")!);
    await until(() => !tid("why-panel"), "closed");
    expect(window.location.hash).toBe("#/replay?at=80");
  });

  it("shows a busy state with Cancel while a replay runs, and cancels the engine's work", async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const { backend } = open(
      "#/replay?at=30",
      world(undefined, {
        "/v1/replay": async (_p, q) => {
          if (q.get("at") === "30") await slow;
          return replayAt(Number(q.get("at")));
        },
      }),
    );
    await until(() => !!tid("replay-busy"), "busy");
    expect(tid("replay-scrubber")).not.toBeNull();
    const call = backend.to("/v1/replay")[0];
    await fireEvent.click(tid("replay-cancel")!);
    await until(() => !!tid("replay-cancelled"), "cancelled");
    expect(call.signal!.aborted).toBe(true);
    expect(tid("replay-busy")).toBeNull();
    release();
  });

  it("shows each replay's progress while it runs, and says when it replays now for the comparison", async () => {
    const release = new Map<string, () => void>();
    const { backend } = open(
      "#/replay?at=30",
      world(undefined, {
        "/v1/replay": async (_p, q) => {
          const at = q.get("at")!;
          await new Promise<void>((r) => release.set(at, r));
          return replayAt(Number(at));
        },
      }),
    );
    const report = (done: number, total: number | null) => ({ token: "t", unit: "events", done, total });
    await until(() => !!tid("replay-progress"), "the progress bar");
    // Indeterminate until the engine reports.
    expect(tid("replay-progress")!.hasAttribute("aria-valuenow")).toBe(false);
    expect(tid("replay-progress-text")).toBeNull();
    expect(tid("replay-busy")!.textContent).toContain("Replaying…");
    expect(tid("replay-cancel")).not.toBeNull();
    backend.to("/v1/replay")[0].onProgress!(report(420000, 1000000));
    await until(() => tid("replay-progress-text")?.textContent === "420,000 / 1,000,000 events", "the progress");
    expect(tid("replay-progress")!.getAttribute("aria-valuenow")).toBe("420000");
    expect(tid("replay-progress")!.getAttribute("aria-valuemax")).toBe("1000000");

    // The moment is in; now follows, for the comparison, on a bar of its own.
    release.get("30")!();
    await until(() => backend.to("/v1/replay").length === 2, "the replay of now");
    await until(() => !!tid("replay-busy")?.textContent?.includes("Replaying now for the comparison…"), "its label");
    expect(tid("replay-progress")!.hasAttribute("aria-valuenow")).toBe(false);
    expect(tid("replay-progress-text")).toBeNull();
    backend.to("/v1/replay")[1].onProgress!(report(60, 100));
    await until(() => tid("replay-progress-text")?.textContent === "60 / 100 events", "its progress");

    release.get(String(HEAD))!();
    await until(() => !tid("replay-busy"), "done");
    expect(tid("replay-progress")).toBeNull();
    expect(row(BRAND)!.dataset.status).toBe("enabled");
  });

  it("cancels the previous replay when the scrubber moves on", async () => {
    const { backend } = open(
      "#/replay?at=30",
      world(undefined, {
        "/v1/replay": async (_p, q) => {
          if (q.get("at") === "30") await new Promise(() => {});
          return replayAt(Number(q.get("at")));
        },
      }),
    );
    await until(() => !!tid("replay-busy"), "busy");
    await fireEvent.input(tid("replay-scrubber")!, { target: { value: "70" } });
    await until(() => row(BRAND)?.dataset.status === "paused", "the later moment");
    expect(backend.to("/v1/replay")[0].signal!.aborted).toBe(true);
    expect(tid("replay-cancelled")).toBeNull();
  });

  it("follows the head when looking at now, and only widens the scrubber when looking back", async () => {
    const head = { value: HEAD };
    const { backend } = open("#/replay", world(head));
    await until(() => !!row(BRAND), "the campaigns");
    head.value = 120;
    backend.push(120);
    await until(() => backend.to("/v1/replay").some((c) => c.query.get("at") === "120"), "a refresh at the new head");
    await until(() => tid("replay-head")!.textContent === "120", "the new head");

    await fireEvent.input(tid("replay-scrubber")!, { target: { value: "40" } });
    await until(() => window.location.hash === "#/replay?at=40", "a past moment");
    await until(() => !tid("replay-busy"), "loaded");
    const asked = backend.to("/v1/replay").length;
    head.value = 130;
    backend.push(130);
    await until(() => (tid("replay-scrubber") as HTMLInputElement).max === "130", "the wider range");
    await new Promise((r) => setTimeout(r, 700));
    expect(backend.to("/v1/replay").length).toBe(asked);
    expect((tid("replay-scrubber") as HTMLInputElement).value).toBe("40");
  });

  it("lets a slow replay of now finish while events keep coming, then refreshes once", async () => {
    const head = { value: HEAD };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { backend } = open(
      "#/replay",
      world(head, {
        "/v1/replay": async (_p, q) => {
          if (q.get("at") === String(HEAD)) await gate;
          return replayAt(Number(q.get("at")));
        },
      }),
    );
    await until(() => !!tid("replay-busy"), "busy");
    head.value = 101;
    backend.push(101);
    head.value = 102;
    backend.push(102);
    await new Promise((r) => setTimeout(r, 700));
    const first = backend.to("/v1/replay")[0];
    expect(first.signal!.aborted).toBe(false);
    expect(backend.to("/v1/replay")).toHaveLength(1);
    release();
    await until(() => backend.to("/v1/replay").some((c) => c.query.get("at") === "102"), "the refresh after it");
    await until(() => !tid("replay-busy"), "done");
    expect(backend.to("/v1/replay").map((c) => c.query.get("at"))).toEqual(["100", "102"]);
  });

  it("keeps the why in step with the head at now, and still when looking back", async () => {
    const head = { value: HEAD };
    const { backend } = open(`#/replay?campaign=${encodeURIComponent(BRAND)}`, world(head));
    await until(() => !!tid("why-headline"), "the why");
    const explains = () => backend.to(`/v1/campaigns/${BRAND}/explain`).length;
    expect(explains()).toBe(1);
    expect(backend.to(`/v1/campaigns/${BRAND}/explain`)[0].query.has("at")).toBe(false);
    head.value = 110;
    backend.push(110);
    await until(() => explains() === 2, "the why again at the new head");
    // The Now button refreshes what "now" shows.
    await fireEvent.click(tid("replay-now")!);
    await until(() => backend.to("/v1/replay").length === 3, "a refresh");
    await fireEvent.input(tid("replay-scrubber")!, { target: { value: "59" } });
    await until(() => tid("why-status")?.textContent === "enabled", "the why then");
    const asked = explains();
    head.value = 111;
    backend.push(111);
    await new Promise((r) => setTimeout(r, 700));
    expect(explains()).toBe(asked);
  });

  it("goes to a time typed in the picker, as UTC", async () => {
    const { backend } = open("#/replay", world());
    await until(() => !!row(BRAND), "the campaigns");
    const input = tid("replay-time-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "2026-12-04T08:30:00" } });
    await fireEvent.click(tid("replay-time-go")!);
    await until(() => window.location.hash === "#/replay?at=2026-12-04T08%3A30%3A00Z", "the time kept");
    await until(() => row(BRAND)?.dataset.status === "enabled", "the campaign then");
    expect(backend.to("/v1/replay").at(-1)!.query.get("at")).toBe("2026-12-04T08:30:00Z");
    expect(tid("replay-mode")!.textContent).toContain("2026-12-04 08:30:00 UTC");
    await until(() => tid("replay-position")!.textContent === "30", "its position on the log");

    // "As known then": the same time as the recorded time too.
    await fireEvent.click(tid("replay-known-at-toggle")!);
    await fireEvent.input(input, { target: { value: "2026-12-04T08:20:00" } });
    await fireEvent.click(tid("replay-time-go")!);
    await until(() => backend.to("/v1/replay").at(-1)!.query.get("known_at") === "2026-12-04T08:20:00Z", "known_at");
    expect(window.location.hash).toContain("known_at=2026-12-04T08%3A20%3A00Z");
    await until(() => !!tid("replay-known-at"), "the tag");
    // Moving on the log drops it.
    await fireEvent.keyDown(tid("replay-scrubber")!, { key: "ArrowRight" });
    await until(() => !window.location.hash.includes("known_at"), "known_at dropped");
  });

  it("shows what the engine refused, and a campaign it does not know then", async () => {
    open(
      `#/replay?at=yesterday&campaign=${encodeURIComponent("9/9")}`,
      world(undefined, {
        "/v1/replay": () => problem(422, "at \"yesterday\" is neither a position nor a time", { field: "at" }),
        "/v1/campaigns/9/9/explain": () => problem(404, "no campaign 9/9"),
      }),
    );
    await until(() => !!tid("replay-error"), "the error");
    expect($("#replay-error")!.textContent).toContain("The engine refused at");
    expect(tid("replay-error")!.textContent).toContain("neither a position nor a time");
    await until(() => !!tid("why-error"), "the why's error");
    expect(tid("why-error")!.textContent).toContain("no campaign 9/9");
  });

  it("tells a new user what to do when the log is empty, and stops watching when left", async () => {
    const { backend } = open("#/replay", world({ value: 0 }));
    await until(() => !!tid("replay-empty"), "the empty state");
    expect(tid("replay-empty")!.textContent).toContain("The event log is empty");
    expect(tid("replay-scrubber")).toBeNull();
    expect(backend.to("/v1/replay")).toEqual([]);
    expect(backend.listeners.size).toBe(1);
    window.location.hash = "#/accounts";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    await until(() => backend.stopped === 1, "the watch stopped");
  });
});
