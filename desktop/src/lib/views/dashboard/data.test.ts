import { describe, expect, it } from "vitest";
import { nearestMark } from "../../components/chart";
import {
  ageText,
  bounds,
  changeAuthor,
  chartData,
  decisionOf,
  flipOf,
  gauge,
  maxAge,
  newestActivity,
  olderActivity,
  parseRange,
  rangeParams,
  rangeProblem,
  replayParams,
  spanText,
  warnings,
  type Decision,
  type Flip,
} from "./data";
import { BE, NL, campaign, campaignEvent, reading, source, team } from "./testdata";

const T0 = Date.parse("2026-12-01T00:00:00Z");
const at = (min: number) => new Date(T0 + min * 60_000).toISOString();
const sec = (min: number) => (T0 + min * 60_000) / 1000;

describe("the dashboard's chart", () => {
  it("holds each reading until the next, as a percentage, with a gap before the first", () => {
    const readings = new Map([["sales-nl", [reading(at(10), 5, 10, 2, 1), reading(at(30), 12, 10, 1, 2)]]]);
    const c = chartData(new Date(at(0)), new Date(at(60)), readings, [], []);
    expect(c.xs).toEqual([sec(0), sec(10), sec(30), sec(60)]);
    expect(c.series[0].label).toBe("sales-nl utilisation %");
    expect(c.series[0].values).toEqual([null, 50, 120, 120]);
    expect(c.series[0].stepped).toBe(true);
  });

  it("walks each campaign's on/off back from its status now through the pauses and resumes applied", () => {
    const campaigns = [
      campaign({ id: NL, team: "sales-nl", status: "paused" }),
      campaign({ id: BE, team: "sales-nl", status: "enabled" }),
      campaign({ id: "1/3", team: null, status: "enabled" }),
    ];
    const flips = [
      // NL: paused at 20 (so on before), resumed at 40, paused again at 90 (after the range).
      { campaign: NL, on: false, at: T0 + 20 * 60_000 },
      { campaign: NL, on: true, at: T0 + 40 * 60_000 },
      { campaign: NL, on: false, at: T0 + 90 * 60_000 },
    ];
    const c = chartData(new Date(at(0)), new Date(at(60)), new Map(), campaigns, flips);
    expect(c.xs).toEqual([sec(0), sec(20), sec(40), sec(60)]);
    const nl = c.series.find((s) => s.label === "sales-nl: campaigns on")!;
    expect(nl.scale).toBe("count");
    expect(nl.values).toEqual([2, 1, 2, 2]);
    expect(c.series.find((s) => s.label === "no team: campaigns on")!.values).toEqual([1, 1, 1, 1]);
  });

  it("reads decisions and flips from the campaigns' events, and links a decision to Replay", () => {
    const requested = campaignEvent(40, NL, "ChangeRequested", { change_id: "c-1", change: "pause", reason: null, decision_ref: "ev-1", at: at(5) });
    expect(decisionOf(requested)).toEqual({ position: 40, at: at(5), campaign: NL, change: "pause", changeId: "c-1", evaluation: "ev-1" });
    expect(replayParams(decisionOf(requested)!)).toEqual({ at: "40", campaign: NL, evaluation: "ev-1" });
    const byHand = campaignEvent(41, NL, "ChangeRequested", { change_id: "c-2", change: { set_budget: { daily_budget_micros: 1 } }, reason: null, decision_ref: null, at: at(6) });
    expect(decisionOf(byHand)!.change).toBe("set_budget");
    expect(replayParams(decisionOf(byHand)!)).toEqual({ at: "41", campaign: NL });
    expect(flipOf(campaignEvent(42, NL, "ChangeApplied", { change_id: "c-1", change: "pause", at: at(7) }))).toEqual({ campaign: NL, on: false, at: T0 + 7 * 60_000 });
    expect(flipOf(campaignEvent(43, NL, "ChangeApplied", { change_id: "c-2", change: { set_budget: {} }, at: at(8) }))).toBeNull();
  });

  it("finds the mark a click is on", () => {
    expect(nearestMark([10, 50, 54], 53)).toBe(2);
    expect(nearestMark([10, 50], 30)).toBe(-1);
  });
});

describe("the dashboard's teams and warnings", () => {
  it("makes a connector's reading stale after three poll intervals; pushed readings never", () => {
    const now = new Date(T0 + 60 * 60_000);
    const crm = source({ name: "crm", last_poll_at: at(58), next_poll_at: at(60) }); // every 2 min
    expect(maxAge(crm)).toBe(6 * 60_000);
    expect(maxAge(null)).toBe(3 * 60_000);
    const fresh = gauge(team({ name: "be", capacity_source: "connector:crm" }), reading(at(55), 1, 4, 1, 1), [crm], now);
    expect(fresh.stale).toBe(false);
    expect(fresh.utilisation).toBe(0.25);
    const old = gauge(team({ name: "be", capacity_source: "connector:crm" }), reading(at(50), 1, 4, 1, 1), [crm], now);
    expect(old.stale).toBe(true);
    const pushed = gauge(team({ name: "nl" }), reading(at(0), 1, 4, 1, 1), [crm], now);
    expect(pushed.stale).toBe(false);
    expect(pushed.maxAgeMs).toBeNull();
    const none = gauge(team({ name: "x", capacity_source: "connector:crm" }), null, [crm], now);
    expect(warnings([], [none], [], []).map((w) => w.kind)).toEqual(["no-reading"]);
    expect(warnings([], [old], [crm], []).map((w) => w.kind)).toEqual(["stale"]);
    expect(warnings([], [], [source({ state: "degraded" })], [])[0].tone).toBe("warn");
  });

  it("says who asked for a change: a rule named in the reason, or by hand", () => {
    expect(changeAuthor({ reason: "[capacity_gate] too busy", decision_ref: "ev" })).toEqual({ by: "rule capacity_gate", rule: "capacity_gate", why: "too busy" });
    expect(changeAuthor({ reason: "", decision_ref: "ev" })).toEqual({ by: "a rule", rule: null, why: "" });
    expect(changeAuthor({ reason: "launch", decision_ref: null })).toEqual({ by: "by hand", rule: null, why: "launch" });
  });

  it("writes durations as operators read them", () => {
    expect(ageText(45_000)).toBe("45 s");
    expect(ageText(12 * 60_000)).toBe("12 min");
    expect(ageText(185 * 60_000)).toBe("3 h 5 min");
    expect(ageText(52 * 3_600_000)).toBe("2 d 4 h");
  });
});

describe("the dashboard's range", () => {
  it("reads and writes the range in the route", () => {
    expect(parseRange({})).toEqual({ kind: "preset", preset: "24h" });
    expect(parseRange({ range: "30d" })).toEqual({ kind: "preset", preset: "30d" });
    expect(parseRange({ range: "nonsense" })).toEqual({ kind: "preset", preset: "24h" });
    expect(parseRange({ from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00Z" })).toEqual({
      kind: "custom",
      from: "2026-12-01T00:00:00Z",
      to: "2026-12-02T00:00:00Z",
    });
    expect(rangeParams({ kind: "preset", preset: "24h" })).toEqual({ range: undefined, from: undefined, to: undefined });
    expect(rangeParams({ kind: "preset", preset: "7d" }).range).toBe("7d");
    const b = bounds({ kind: "preset", preset: "7d" }, new Date(T0));
    expect(T0 - b.from.getTime()).toBe(7 * 86_400_000);
    expect(b.endsNow).toBe(true);
  });

  it("names the field at fault in a custom range", () => {
    expect(rangeProblem("", "2026-12-02T00:00:00Z")).toEqual({ field: "from", message: "From is not a date and time." });
    expect(rangeProblem("2026-12-01T00:00:00Z", "soon")).toEqual({ field: "to", message: "To is not a date and time." });
    expect(rangeProblem("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z")!.field).toBe("to");
    expect(rangeProblem("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")).toBeNull();
  });
});

describe("a range with nothing in it", () => {
  const MARCH = "2026-03-02T10:00:00Z";
  const NOW = new Date("2026-12-01T12:00:00Z");
  const last24h = { kind: "preset", preset: "24h" } as const;
  const nothing = {
    readings: new Map([["sales-nl", []]]),
    latest: new Map([["sales-nl", reading(MARCH, 5, 10, 2, 1)]]),
    campaigns: [campaign({ last_change: null })],
    decisions: [] as Decision[],
    flips: [] as Flip[],
  };

  it("offers the same span up to the newest reading when the range holds nothing and the reading is older", () => {
    expect(olderActivity(last24h, NOW, nothing)).toEqual({
      newest: { at: MARCH, kind: "reading" },
      spanMs: 24 * 3_600_000,
      range: { kind: "custom", from: "2026-03-01T10:01:00Z", to: "2026-03-02T10:01:00Z" },
    });
    // A preset of 7 days keeps its 7 days; the end is the first whole minute after the reading.
    const sevenDays = olderActivity({ kind: "preset", preset: "7d" }, NOW, {
      ...nothing,
      latest: new Map([["sales-nl", reading("2026-03-02T10:00:42.5Z", 5, 10, 2, 1)]]),
    });
    expect(sevenDays!.range).toEqual({ kind: "custom", from: "2026-02-23T10:01:00Z", to: "2026-03-02T10:01:00Z" });
    // A custom range keeps its length (here 90 minutes).
    const custom = olderActivity({ kind: "custom", from: "2026-11-01T00:00:00Z", to: "2026-11-01T01:30:00Z" }, NOW, nothing);
    expect(custom!.spanMs).toBe(90 * 60_000);
    expect(custom!.range).toEqual({ kind: "custom", from: "2026-03-02T08:31:00Z", to: "2026-03-02T10:01:00Z" });
  });

  it("counts a campaign's last change as activity, the newest of all teams and campaigns winning", () => {
    const change = campaign({
      last_change: {
        change_id: "c-1",
        change: "pause",
        reason: "",
        decision_ref: null,
        requested_at: "2026-03-05T08:00:00Z",
        state: "applied",
        ended_at: "2026-03-05T08:00:03Z",
        error: null,
      },
    });
    const latest = new Map([
      ["sales-nl", reading(MARCH, 5, 10, 2, 1)],
      ["sales-be", null],
    ]);
    expect(newestActivity(latest, [change])).toEqual({ at: "2026-03-05T08:00:03Z", kind: "change" });
    expect(newestActivity(new Map([["x", null]]), [campaign({ last_change: null })])).toBeNull();
    const o = olderActivity(last24h, NOW, { ...nothing, latest, campaigns: [change] });
    expect(o!.newest.kind).toBe("change");
    expect(o!.range.to).toBe("2026-03-05T08:01:00Z");
  });

  it("says nothing when the range holds a reading, a decision or a flip, or when there is no activity at all", () => {
    const inRange = "2026-12-01T09:00:00Z";
    expect(olderActivity(last24h, NOW, { ...nothing, readings: new Map([["sales-nl", [reading(inRange, 1, 10, 1, 2)]]]) })).toBeNull();
    const d: Decision = { position: 9, at: inRange, campaign: NL, change: "pause", changeId: "c-9", evaluation: null };
    expect(olderActivity(last24h, NOW, { ...nothing, decisions: [d] })).toBeNull();
    expect(olderActivity(last24h, NOW, { ...nothing, flips: [{ campaign: NL, on: false, at: Date.parse(inRange) }] })).toBeNull();
    // A flip after a custom range's end is not in it.
    const past = { kind: "custom", from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z" } as const;
    expect(olderActivity(past, NOW, { ...nothing, flips: [{ campaign: NL, on: false, at: Date.parse(inRange) }] })).not.toBeNull();
    expect(olderActivity(last24h, NOW, { ...nothing, latest: new Map([["sales-nl", null]]) })).toBeNull();
    expect(olderActivity(last24h, NOW, { ...nothing, latest: new Map(), campaigns: [] })).toBeNull();
    // Activity after the range's start (a range in the past, before the newest reading): nothing to offer.
    expect(olderActivity({ kind: "custom", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z" }, NOW, nothing)).toBeNull();
  });

  it("writes the span as the presets read", () => {
    expect(spanText(24 * 3_600_000)).toBe("24 hours");
    expect(spanText(7 * 24 * 3_600_000)).toBe("7 days");
    expect(spanText(30 * 24 * 3_600_000)).toBe("30 days");
    expect(spanText(3_600_000)).toBe("1 hour");
    expect(spanText(90 * 60_000)).toBe("1 h 30 min");
  });
});
