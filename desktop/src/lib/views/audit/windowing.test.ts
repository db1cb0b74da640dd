import { describe, expect, it } from "vitest";
import { FakeLog, TYPES, eventAt } from "../../../test/fakeLog";
import { until } from "../../../test/fixtures";
import { EventRows, MAX_SCROLL_PX, NEAR, ROW_HEIGHT, ScrollMap, Stale, query, type Filters, type Get } from "./windowing";

const MILLION = 1_000_000;

function rows(log: FakeLog, filters: Filters = {}, page?: number) {
  const get: Get = (path, signal) => log.request("GET", path, undefined, { signal });
  return new EventRows(get, filters, page);
}

/** Every loaded row `i` is the `i`-th match of `pred`, oldest first (checked by counting). */
function expectExact(r: EventRows, pred: (p: number) => boolean, from: number, to: number) {
  let index = -1;
  for (let p = 1, seen = 0; p <= r.head; p++) {
    if (!pred(p)) continue;
    if (seen === from) index = p;
    seen++;
    if (seen > from) break;
  }
  let p = index;
  for (let i = from; i < to; i++) {
    expect(r.row(i)?.position, `row ${i}`).toBe(p);
    p++;
    while (p <= r.head && !pred(p)) p++;
  }
}

describe("ScrollMap", () => {
  it("keeps a million 24 px rows under the height cap by scaling, and reaches the last row", () => {
    const m = new ScrollMap(MILLION);
    expect(m.contentPx).toBe(24_000_000);
    expect(m.spacerPx).toBe(MAX_SCROLL_PX);
    expect(m.spacerPx).toBeLessThan(33_500_000);
    expect(m.scaled).toBe(true);
    const viewport = 600;
    const bottom = m.spacerPx - viewport;
    const r = m.range(bottom, viewport, 0);
    expect(r.last).toBe(MILLION);
    expect(r.first).toBe(MILLION - viewport / ROW_HEIGHT);
    // The last row is drawn at the viewport's bottom edge.
    expect(m.rowTop(MILLION - 1, bottom, viewport) + ROW_HEIGHT).toBeCloseTo(bottom + viewport, 6);
    // The middle of the scrollbar is the middle of the log.
    const mid = m.range(bottom / 2, viewport, 0);
    expect(Math.abs(mid.first - (MILLION - viewport / ROW_HEIGHT) / 2)).toBeLessThan(2);
    // Going there and back is the identity.
    expect(m.scrollTopFor(m.virtualTop(1234.5, viewport), viewport)).toBeCloseTo(1234.5, 6);
  });

  it("does not scale a short list", () => {
    const m = new ScrollMap(100);
    expect(m.scaled).toBe(false);
    expect(m.spacerPx).toBe(2400);
    expect(m.range(240, 480, 2)).toEqual({ first: 10, last: 30, start: 8, end: 32, virtualTop: 240 });
    expect(m.rowTop(10, 240, 480)).toBe(240);
  });

  it("scrolls just enough to show a row, in either direction", () => {
    const m = new ScrollMap(MILLION);
    const vp = 240; // ten rows
    expect(m.scrollTopToShow(5, 0, vp)).toBe(0);
    const down = m.scrollTopToShow(500_000, 0, vp);
    const r = m.range(down, vp, 0);
    expect(r.first).toBeLessThanOrEqual(500_000);
    expect(r.last).toBeGreaterThan(500_000);
    const up = m.scrollTopToShow(10, down, vp);
    expect(m.range(up, vp, 0).first).toBe(10);
  });
});

describe("EventRows over a million events", () => {
  it("maps an unfiltered view by arithmetic: any window is one request", async () => {
    const log = new FakeLog(MILLION);
    const r = rows(log);
    await r.open();
    expect(r.total).toBe(MILLION);
    expect(r.contiguous).toBe(true);
    log.calls = [];
    await r.ensure(500_000, 500_030);
    expect(log.calls.map((c) => c.path)).toEqual(["/v1/events?after=500000&limit=200"]);
    expect(r.row(500_000)?.position).toBe(500_001);
    expect(r.row(500_029)?.position).toBe(500_030);
  });

  it("shows the last event with one request from the end", async () => {
    const log = new FakeLog(MILLION);
    const r = rows(log, { type: "ChangeRequested" });
    await r.open();
    const t = TYPES.indexOf("ChangeRequested");
    expect(r.total).toBe(Math.floor((MILLION - t) / TYPES.length) + 1);
    log.calls = [];
    await r.end(30);
    expect(log.calls.map((c) => c.path)).toEqual([
      `/v1/events?type=ChangeRequested&before=${MILLION + 1}&limit=200`,
    ]);
    const last = r.row(r.total - 1)!;
    expect(last.type).toBe("ChangeRequested");
    expect(MILLION - last.position).toBeLessThan(TYPES.length);
    expectExact(r, (p) => TYPES[p % TYPES.length] === "ChangeRequested", r.total - 30, r.total);
  });

  it("places a far jump into a filtered view exactly (interpolated, then counted)", async () => {
    const log = new FakeLog(MILLION);
    const r = rows(log, { type: "LeadReceived" });
    await r.open();
    log.calls = [];
    const k = Math.floor(r.total / 2);
    await r.ensure(k, k + 30);
    expectExact(r, (p) => TYPES[p % TYPES.length] === "LeadReceived", k, k + 30);
    expect(log.calls.some((c) => c.path.startsWith("/v1/events/count?type=LeadReceived&before="))).toBe(true);
    expect(log.calls.length).toBeLessThan(10);
    // Scrolling on from there pages by cursor, no count.
    log.calls = [];
    await r.ensure(k + 30, k + 60);
    expect(log.calls.every((c) => c.path.startsWith("/v1/events?"))).toBe(true);
    expectExact(r, (p) => TYPES[p % TYPES.length] === "LeadReceived", k, k + 60);
  });

  it("follows `next` through a sparse unindexed filter (the 200,000-position walk)", async () => {
    const log = new FakeLog(MILLION);
    // Only a window of an hour matches, with the actor: an unindexed, sparse filter.
    const from = eventAt(600_000).recorded_at;
    const to = eventAt(603_600).recorded_at;
    const pred = (p: number) => p >= 600_000 && p < 603_600 && p % 3 === 0;
    const r = rows(log, { actor: "daemon", from, to });
    await r.open();
    expect(r.total).toBe(1200);
    expect(r.contiguous).toBe(false);
    await r.ensure(0, 40);
    expectExact(r, pred, 0, 40);
    await r.end(40);
    expectExact(r, pred, r.total - 40, r.total);
    await r.ensure(600, 640);
    expectExact(r, pred, 600, 640);
  });

  it("counts new events as rows at the end, without renumbering the rest", async () => {
    const log = new FakeLog(1000);
    const r = rows(log, { type: "LeadReceived" });
    await r.open();
    const before = r.total;
    await r.ensure(0, 20);
    const first = r.row(0)!.position;
    log.append(70);
    expect(await r.grow()).toBe(10);
    expect(r.total).toBe(before + 10);
    expect(r.head).toBe(1070);
    expect(r.row(0)!.position).toBe(first);
    await r.end(5);
    expect(r.row(r.total - 1)!.position).toBe(1064);
  });

  it("opens an unfiltered view from its first window, then confirms the length with the count", async () => {
    const log = new FakeLog(MILLION);
    const r = rows(log);
    expect(await r.openFast()).toBe(true);
    expect(log.calls.map((c) => c.path)).toEqual(["/v1/events?after=0&limit=200"]);
    expect(r.total).toBe(MILLION);
    expect(r.row(199)?.position).toBe(200);
    expect(await r.confirm()).toBe(true);
    expect(log.calls[1].path).toBe(`/v1/events/count?before=${MILLION + 1}`);
    expect(r.provisional).toBe(false);

    // Another project's events interleaved: the count disagrees, the view must be reopened.
    const other = new FakeLog(1000);
    const answer = other.answer.bind(other);
    other.answer = (m, p) => {
      const a = answer(m, p) as { count?: number };
      return p.startsWith("/v1/events/count") ? { ...a, count: 990 } : a;
    };
    const o = rows(other);
    expect(await o.openFast()).toBe(true);
    expect(await o.confirm()).toBe(false);
    // A filtered view is counted first.
    const f = rows(new FakeLog(1000), { type: "LeadReceived" });
    expect(await f.openFast()).toBe(false);
    expect(f.total).toBe(142);
  });

  it("notices when an unfiltered view stops being contiguous", async () => {
    const log = new FakeLog(100);
    const r = rows(log);
    await r.open();
    expect(r.contiguous).toBe(true);
    const answer = log.answer.bind(log);
    log.answer = (m, p) => {
      const a = answer(m, p) as { count?: number };
      if (p.startsWith("/v1/events/count?after=100")) return { ...a, count: 3 };
      return a;
    };
    log.append(5);
    await r.grow();
    expect(r.contiguous).toBe(false);
    expect(r.total).toBe(103);
  });

  it("gives up a stale load when its signal is aborted", async () => {
    const log = new FakeLog(MILLION);
    const r = rows(log, { type: "LeadReceived" });
    await r.open();
    const ctl = new AbortController();
    let release!: () => void;
    log.gate = () => new Promise<void>((res) => (release = res));
    const load = r.ensure(100_000, 100_030, ctl.signal);
    await until(() => !!release, "the request");
    ctl.abort();
    release();
    await expect(load).rejects.toBeInstanceOf(Stale);
    expect(log.calls[log.calls.length - 1].aborted).toBe(true);
    expect(r.row(100_000)).toBeUndefined();
  });

  it("bounds a view whose count was cut to its newest positions", async () => {
    const log = new FakeLog(2_500_000);
    const r = rows(log, { actor: "daemon" });
    await r.open();
    expect(r.exact).toBe(false);
    expect(r.floor).toBe(500_000);
    await r.ensure(0, 10);
    expect(r.row(0)!.position).toBe(500_001);
    expect(NEAR).toBeGreaterThan(0);
  });

  it("finds the row of a position: arithmetic when contiguous, one window and one count when not", async () => {
    const log = new FakeLog(MILLION);
    const all = rows(log);
    await all.open();
    log.calls = [];
    expect(await all.locate(765_432)).toBe(765_431);
    expect(all.row(765_431)?.position).toBe(765_432);
    expect(log.calls.length).toBe(1);

    const leads = rows(log, { type: "LeadReceived" });
    await leads.open();
    log.calls = [];
    const i = await leads.locate(700_000);
    expect(log.calls.length).toBe(2);
    // 700,000 is a LeadReceived (≡ 0 mod 7): it is row 700,000 / 7 - 1.
    expect(i).toBe(700_000 / 7 - 1);
    expect(leads.row(i)?.position).toBe(700_000);
    // Not a match: the next one's row.
    const j = await leads.locate(700_001);
    expect(leads.row(j)?.position).toBe(700_007);
    expect(await leads.locate(MILLION + 5)).toBe(-1);
  });

  it("writes filters into the query and leaves empty ones out", () => {
    expect(query("/v1/events", { type: "LeadReceived", stream: "", actor: undefined }, { after: 5 })).toBe(
      "/v1/events?type=LeadReceived&after=5",
    );
    expect(query("/v1/events/count", { from: "2026-12-01T00:00:00+01:00" })).toBe(
      "/v1/events/count?from=2026-12-01T00%3A00%3A00%2B01%3A00",
    );
  });
});
