import { cleanup, fireEvent, render } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { renderApp } from "../../../test/app";
import { overview } from "../../../test/fixtures";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeLog } from "../../../test/fakeLog";
import { until } from "../../../test/fixtures";
import ViewHost from "../../../test/ViewHost.svelte";
import { Router } from "../../router.svelte";
import AuditView from "./AuditView.svelte";
import { summary, whyLinks } from "./events";
import { eventAt } from "../../../test/fakeLog";
import { apiFilters, sameFilters, stateFrom, toRfc3339 } from "./params";

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const $$ = (css: string) => [...document.querySelectorAll<HTMLElement>(css)];
const tid = (id: string) => $(`[data-testid="${id}"]`);

beforeEach(() => {
  window.location.hash = "#/audit";
});
afterEach(() => {
  cleanup();
  clearMocks();
});

function mount(log: FakeLog, hash = "#/audit") {
  window.location.hash = hash;
  const router = new Router((p) => p === "/audit" || p === "/accounts", "/audit");
  const result = render(ViewHost, {
    props: { backend: log, router, view: AuditView, props: { debounceMs: 20, verifyPollMs: 10 } },
  });
  return { ...result, router };
}

const rowsShown = () => $$('[data-testid="audit-row"][data-position]');
const positions = () => rowsShown().map((r) => Number(r.dataset.position));
const key = (k: string) => fireEvent.keyDown(tid("audit-list")!, { key: k });

describe("Audit view over a million events", () => {
  it("lists the first events in order and draws only the rows in view", async () => {
    const log = new FakeLog(1_000_000);
    mount(log);
    await until(() => rowsShown().length > 0, "the first rows");
    expect(tid("audit-total")!.textContent!.trim()).toBe("1,000,000");
    expect(positions().slice(0, 3)).toEqual([1, 2, 3]);
    // A window of rows, not a million elements.
    expect($$('[data-testid="audit-row"]').length).toBeLessThan(60);
    const first = rowsShown()[0];
    expect(first.dataset.type).toBe("LeadStatusChanged");
    expect(first.textContent).toContain("lead:f-1");
    expect(tid("audit-list")!.getAttribute("aria-rowcount")).toBe("1000001"); // with the header row
    // The list asked for windows by position, never the whole log.
    expect(log.calls.every((c) => !/limit=(\d{4,})/.test(c.path))).toBe(true);
  });

  it("shows the first rows before the count answers, and reopens when the count disagrees", async () => {
    const log = new FakeLog(1000);
    let release!: () => void;
    log.gate = (c) => {
      if (c.path.startsWith("/v1/events/count")) return new Promise<void>((r) => (release = r));
    };
    const answer = log.answer.bind(log);
    log.answer = (m, p) => {
      const a = answer(m, p) as { count?: number };
      return p.startsWith("/v1/events/count") ? { ...a, count: 999 } : a;
    };
    mount(log);
    await until(() => rowsShown().length > 0, "the first rows");
    expect(tid("audit-total")!.textContent!.trim()).toBe("1,000");
    log.gate = () => {};
    release();
    await until(() => tid("audit-total")!.textContent!.trim() === "999", "the counted length");
  });

  it("jumps to the last event with End, in one request from the end", async () => {
    const log = new FakeLog(1_000_000);
    mount(log);
    await until(() => rowsShown().length > 0, "the first rows");
    log.calls = [];
    await key("End");
    await until(() => positions().includes(1_000_000), "the last row");
    expect(log.calls.filter((c) => c.path.startsWith("/v1/events?")).map((c) => c.path)).toEqual([
      "/v1/events?before=1000001&limit=200",
    ]);
    const last = $('[data-position="1000000"]')!;
    expect(last.getAttribute("aria-selected")).toBe("true");
    expect(tid("audit-following")!.dataset.following).toBe("true");
  });

  it("filters by type through the form, keeps it in the route, and reaches the end of the filter", async () => {
    const log = new FakeLog(1_000_000);
    const { router } = mount(log);
    await until(() => rowsShown().length > 0, "the first rows");
    await fireEvent.input(tid("filter-type")!, { target: { value: "ChangeRequested" } });
    await fireEvent.submit(tid("audit-filters")!);
    expect(router.params.type).toBe("ChangeRequested");
    expect(window.location.hash).toContain("type=ChangeRequested");
    await until(() => rowsShown().length > 0 && rowsShown().every((r) => r.dataset.type === "ChangeRequested"), "filtered rows");
    expect(tid("audit-total")!.textContent!.trim()).toBe("142,857");
    expect(log.calls.some((c) => c.path === "/v1/events/count?type=ChangeRequested")).toBe(true);
    log.calls = [];
    await fireEvent.click(tid("audit-end")!);
    await until(() => positions().includes(999_995), "the last ChangeRequested");
    expect(log.calls.some((c) => c.path.startsWith("/v1/events?type=ChangeRequested&before=1000001"))).toBe(true);
    // Clearing goes back to every event.
    await fireEvent.click(tid("filter-clear")!);
    expect(router.params.type).toBeUndefined();
    await until(() => tid("audit-total")!.textContent!.trim() === "1,000,000", "all events again");
  });

  it("cancels a slow count and goes back to the view shown before", async () => {
    const log = new FakeLog(1000);
    const { router } = mount(log);
    await until(() => rowsShown().length > 0, "rows");
    let release!: () => void;
    log.gate = (c) => {
      if (c.path.startsWith("/v1/events/count?actor=")) return new Promise<void>((r) => (release = r));
    };
    await fireEvent.input(tid("filter-actor")!, { target: { value: "daemon" } });
    await fireEvent.submit(tid("audit-filters")!);
    await until(() => !!tid("audit-count-cancel"), "the cancel button");
    expect(tid("audit-range")!.textContent).toContain("Counting");
    expect(tid("audit-list")!.getAttribute("aria-busy")).toBe("true");
    await fireEvent.click(tid("audit-count-cancel")!);
    expect(router.params.actor).toBeUndefined();
    expect(log.calls.find((c) => c.path.startsWith("/v1/events/count?actor="))!.aborted).toBe(true);
    release();
    await until(() => !tid("audit-count-cancel") && rowsShown().length > 0, "the view before");
    expect(positions().slice(0, 2)).toEqual([1, 2]);
  });

  it("opens a view filtered from a link, and shows a wrong filter's problem", async () => {
    const log = new FakeLog(1000);
    mount(log, "#/audit?actor=daemon");
    await until(() => rowsShown().length > 0, "rows");
    expect(positions().slice(0, 3)).toEqual([3, 6, 9]);
    expect((tid("filter-actor") as HTMLInputElement).value).toBe("daemon");
    cleanup();
    mount(new FakeLog(1000), "#/audit?type=Nope");
    await until(() => !!$("#audit-error"), "the error");
    expect($("#audit-error")!.textContent).toContain("not an event type");
  });

  it("moves the selection with the keys and opens the detail with Enter", async () => {
    const log = new FakeLog(1_000_000);
    const { router } = mount(log);
    await until(() => rowsShown().length > 0, "the first rows");
    await key("ArrowDown");
    await key("ArrowDown");
    await key("ArrowDown");
    await key("ArrowUp");
    expect(tid("audit-list")!.getAttribute("aria-activedescendant")).toBe("audit-row-1");
    await key("PageDown");
    const afterPage = Number(tid("audit-list")!.getAttribute("aria-activedescendant")!.slice("audit-row-".length));
    expect(afterPage).toBeGreaterThan(10);
    await key("Home");
    await key("Enter");
    expect(router.params.event).toBe("1");
    await until(() => tid("detail-position")?.textContent === "1", "the detail");
    await key("Escape");
    expect(router.params.event).toBeUndefined();
    expect(tid("event-detail")).toBeNull();
  });

  it("reveals personal fields, erases the subject after typing its id, and then shows them erased", async () => {
    const log = new FakeLog(1000);
    mount(log, "#/audit?event=7");
    await until(() => !!tid("detail-reveal"), "the detail");
    const fields = () => $$('[data-testid="personal-field"]');
    expect(fields().map((f) => f.dataset.state)).toEqual(["hidden", "hidden"]);
    expect(tid("detail-data")!.textContent).not.toContain("person7@example.org");
    await fireEvent.click(tid("detail-reveal")!);
    await until(() => fields()[0]?.dataset.state === "revealed", "revealed");
    expect(fields()[0].querySelector('[data-testid="personal-value"]')!.textContent!.trim()).toBe("person7@example.org");
    expect(log.calls.some((c) => c.path === "/v1/events/7?reveal=true")).toBe(true);

    await fireEvent.click($('[data-testid="erase-subject"][data-subject="subj-7"]')!);
    const submit = tid("erase-submit") as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    await fireEvent.input(tid("erase-input")!, { target: { value: "subj-" } });
    expect(submit.disabled).toBe(true);
    await fireEvent.input(tid("erase-input")!, { target: { value: "subj-7" } });
    expect(submit.disabled).toBe(false);
    await fireEvent.submit(tid("erase-confirm")!);
    await until(() => !!tid("erase-result"), "the erasure");
    expect(log.calls.some((c) => c.method === "DELETE" && c.path === "/v1/subjects/subj-7")).toBe(true);
    expect(tid("erase-result")!.textContent).toContain("Erased subj-7");
    await until(() => fields()[0]?.dataset.state === "erased", "erased fields");
    expect(fields().map((f) => f.querySelector('[data-testid="personal-value"]')!.textContent!.trim())).toEqual(["erased", "erased"]);
    expect(tid("detail-erased")).not.toBeNull();
    expect(document.body.textContent).not.toContain("person7@example.org");
  });

  it("selects in the list the event a link opened", async () => {
    const log = new FakeLog(1_000_000);
    mount(log, "#/audit?type=LeadReceived&event=700000");
    await until(() => tid("detail-position")?.textContent === "700000", "the detail");
    await until(() => !!$('[data-position="700000"][aria-selected="true"]'), "the selected row");
    expect(tid("audit-list")!.getAttribute("aria-activedescendant")).toBe(`audit-row-${700_000 / 7 - 1}`);
  });

  it("lets End win over a link's event still being found (the list is not dragged back)", async () => {
    const log = new FakeLog(1_000_000);
    let release!: () => void;
    log.gate = (c) => {
      if (c.path.includes("after=699999")) return new Promise<void>((r) => (release = r));
    };
    mount(log, "#/audit?type=LeadReceived&event=700000");
    await until(() => tid("detail-locate")?.textContent?.trim() === "Finding…", "the event being found");
    await fireEvent.click(tid("audit-end")!);
    await until(() => !!$('[data-position="999999"][aria-selected="true"]'), "the last LeadReceived selected");
    log.gate = () => {};
    release();
    await until(() => tid("detail-locate")?.textContent?.trim() === "Show in list", "the finding over");
    await new Promise((r) => setTimeout(r, 50));
    expect($('[data-position="999999"]')?.getAttribute("aria-selected")).toBe("true");
    expect(tid("audit-following")!.dataset.following).toBe("true");
    // Asked again, by the user, it does move the list.
    await fireEvent.click(tid("detail-locate")!);
    await until(() => !!$('[data-position="700000"][aria-selected="true"]'), "the linked event selected");
  });

  it("links an evaluation to the replay view (Why?)", async () => {
    const log = new FakeLog(1000);
    const { router } = mount(log, "#/audit?event=9");
    await until(() => !!tid("detail-why"), "the why link");
    const nav = vi.spyOn(router, "navigate");
    await fireEvent.click(tid("detail-why")!);
    expect(nav).toHaveBeenCalledWith("/replay", { campaign: "1234567890/111", at: "8" });
  });

  it("verifies the chain with progress and a rate, can cancel, and shows the result", async () => {
    const log = new FakeLog(1_000_000);
    mount(log);
    await until(() => tid("verify-state")?.dataset.state === "idle", "idle");
    await fireEvent.click(tid("verify-start")!);
    await until(() => !!tid("verify-progress"), "the progress bar");
    log.verify = { ...log.verify, checked: 420_000, detail: "checked 420000 of 1000000 events" };
    await until(() => tid("verify-checked")?.textContent === "420,000 / 1,000,000", "progress");
    expect(tid("verify-progress")!.getAttribute("aria-valuenow")).toBe("420000");
    log.verify = { ...log.verify, checked: 520_000 };
    await until(() => /events\/s/.test(tid("verify-rate")?.textContent ?? ""), "the rate");
    await fireEvent.click(tid("verify-cancel")!);
    expect(log.calls.some((c) => c.method === "DELETE" && c.path === "/v1/audit/verify")).toBe(true);
    log.verify = {
      ...log.verify,
      state: "passed",
      checked: 1_000_000,
      head_hash: "ab".repeat(32),
      finished_at: "2026-12-06T09:12:03.000Z",
      detail: "the chain holds",
    };
    await until(() => tid("verify-state")?.dataset.state === "passed", "passed");
    expect(tid("verify-result")!.textContent).toContain("1,000,000");
    expect(tid("verify-progress")).toBeNull();
    log.verify = { ...log.verify, state: "failed", first_bad_position: 4242, detail: "the chain is broken at position 4242: hash mismatch" };
    await fireEvent.click(tid("verify-start")!);
    // The fake starts a new run; make it end broken.
    log.verify = { ...log.verify, state: "failed", first_bad_position: 4242, detail: "the chain is broken at position 4242: hash mismatch" };
    await until(() => tid("verify-state")?.dataset.state === "failed", "failed");
    expect(tid("verify-bad-position")!.textContent).toBe("4,242");
  });

  it("shows new events live, following the tail when at the end, and stops watching when left", async () => {
    const log = new FakeLog(1000);
    const { unmount } = mount(log);
    await until(() => rowsShown().length > 0, "rows");
    await until(() => log.watchers === 1, "watching");
    await key("End");
    await until(() => positions().includes(1000), "the end");
    log.append(3);
    log.append(2);
    await until(() => tid("audit-total")!.textContent!.trim() === "1,005", "the new total");
    await until(() => positions().includes(1005), "the new last row");
    // One count for the burst (debounced).
    expect(log.calls.filter((c) => c.path.startsWith("/v1/events/count?after=1000")).length).toBe(1);
    unmount();
    expect(log.watchers).toBe(0);
  });

  it("keeps the rows in view when events arrive while reading older ones", async () => {
    const log = new FakeLog(1000);
    mount(log);
    await until(() => rowsShown().length > 0, "rows");
    await until(() => log.watchers === 1, "watching");
    const before = positions()[0];
    log.append(50);
    await until(() => tid("audit-total")!.textContent!.trim() === "1,050", "the new total");
    expect(positions()[0]).toBe(before);
  });

  it("tells a new user what to do with an empty log, and a filter that matches nothing", async () => {
    mount(new FakeLog(0));
    await until(() => !!$("#audit-empty"), "the empty state");
    expect($("#audit-empty")!.textContent).toContain("Go to Accounts");
    cleanup();
    mount(new FakeLog(1000), "#/audit?stream=lead:none");
    await until(() => !!$("#audit-no-match"), "no match");
    await fireEvent.click($("#audit-no-match button")!);
    await until(() => rowsShown().length > 0, "rows again");
  });
});

describe("Audit view in the app", () => {
  it("is reached with G then L and reads the log through the shell's api_request", async () => {
    window.location.hash = "#/accounts"; // the dashboard is the default view
    const log = new FakeLog(5000);
    const { calls } = renderApp((cmd, args) => {
      if (cmd === "overview") return overview();
      if (cmd === "api_request") {
        const { method, path } = args.request as { method: "GET"; path: string };
        try {
          return { status: 200, body: log.answer(method, path) };
        } catch (e) {
          const p = e as { status: number; detail: string };
          return { status: p.status, body: { title: "problem", status: p.status, detail: p.detail } };
        }
      }
      return null; // watch_head, the event plugin's listen/unlisten
    });
    await until(() => !!$("#no-accounts"), "the accounts view");
    await fireEvent.keyDown(document.body, { key: "g" });
    await fireEvent.keyDown(document.body, { key: "l" });
    await until(() => rowsShown().length > 0, "the audit rows");
    expect(window.location.hash).toBe("#/audit");
    expect(document.activeElement?.id).toBe("view-title");
    expect(tid("audit-total")!.textContent!.trim()).toBe("5,000");
    expect($("#nav-audit")!.getAttribute("aria-current")).toBe("page");
    expect(calls.some((c) => c.cmd === "watch_head")).toBe(true);
  });
});

describe("audit helpers", () => {
  it("summarises events and finds where Why? leads", () => {
    expect(summary(eventAt(7))).toContain("lead f-7");
    expect(summary(eventAt(9))).toBe("schedule · pause 1234567890/111");
    expect(whyLinks(eventAt(9))).toEqual([{ campaign: "1234567890/111", at: "8" }]);
    expect(whyLinks(eventAt(10))).toEqual([{ campaign: "1234567890/111", at: "10" }]);
    expect(whyLinks(eventAt(7))).toEqual([]);
  });

  it("reads times typed in a filter and the route's state", () => {
    expect(toRfc3339("2026-12-01T10:00:00Z")).toBe("2026-12-01T10:00:00Z");
    expect(toRfc3339("2026-12-01T10:00:00+01:00")).toBe("2026-12-01T10:00:00+01:00");
    expect(toRfc3339("2026-12-01")).toBe(new Date(2026, 11, 1).toISOString());
    expect(toRfc3339("yesterday")).toBeNull();
    expect(stateFrom({ type: "LeadReceived", event: "12", basis: "event" })).toEqual({
      filters: { type: "LeadReceived" },
      basis: "event",
      event: 12,
    });
    expect(stateFrom({ event: "x" }).event).toBeNull();
  });

  it("sends a time range as recorded time or as event time, as the basis says", () => {
    const filters = { type: "LeadReceived", from: "2026-03-02T00:00:00Z", to: "2026-03-03T00:00:00Z" };
    expect(apiFilters({ filters, basis: "recorded", event: null })).toEqual(filters);
    expect(apiFilters({ filters, basis: "event", event: null })).toEqual({
      type: "LeadReceived",
      event_from: "2026-03-02T00:00:00Z",
      event_to: "2026-03-03T00:00:00Z",
    });
    expect(apiFilters({ filters: { actor: "sim" }, basis: "event", event: null })).toEqual({ actor: "sim" });
    // Switching the basis is a new filter.
    expect(
      sameFilters(apiFilters({ filters, basis: "recorded", event: null }), apiFilters({ filters, basis: "event", event: null })),
    ).toBe(false);
  });
});
