// What the dashboard reads and what it makes of it: the campaigns, the teams with their last
// capacity reading and the source's health, the chart's series over a time range, the
// decisions on it, and the warnings. Everything here is plain functions over the API's
// answers (tested in data.test.ts); DashboardView.svelte only asks and draws.
//
// Where each part comes from, and why that source (the cheapest that is correct):
// - Campaigns, their state, last change and pending count: `GET /v1/campaigns` (one fold of
//   the facts the engine keeps anyway).
// - Teams: `GET /v1/teams`, and the teams the campaigns name that no one defined (their
//   readings are pushed all the same); each team's readings over the range: `GET
//   /v1/teams/{team}/capacity?from&to&limit`, and its last reading (the gauge) from the same
//   answer when the range ends now and holds one, else `?limit=1`.
// - Sources' health and age: `GET /v1/capacity/sources` (a table the daemon writes).
// - Accounts needing re-consent: `GET /v1/google/accounts` (scope admin: a key without it just
//   shows no such warning).
// - Decisions on the chart: `ChangeRequested` events (`GET /v1/events?type=ChangeRequested
//   &from&to`), not `GET /v1/evaluations`: that route has no time filter (only log positions)
//   and each item carries the whole facts its rules saw, so 30 days of scheduled evaluations
//   would be read page by page to find the few that changed something. A `ChangeRequested`
//   is exactly a decision that changed something: one indexed query by type and recorded
//   time, naming the campaign (its stream), the change, and the deciding evaluation
//   (`decision_ref`; `null` when made by hand).
// - Times: the range is one of event time (when things happened), as the capacity route
//   filters readings. For a preset (the last hours, ending now) events are asked for by
//   recorded time (`from`/`to`: the log's time index, cheap), which is the event time give
//   or take a moment on a live engine; a custom range asks by event time (`event_from`/
//   `event_to`: rows of the type parsed one by one, dearer, but right for a simulated or
//   imported past whose events were recorded later). Decisions are then kept by their own
//   time, so the list and the chart always agree.
// - Campaign on/off over time: `ChangeApplied` events from the range's start (`type=
//   ChangeApplied&from`, again one indexed query), walked back from each campaign's status
//   now (a pause applied means it was on before). `CampaignObserved` would say it directly
//   but its snapshot is sealed personal data, `null` in the events API; `/v1/replay` folds the
//   whole log for one moment. Changes made outside the engine (`ChangedOutsideEngine`) are
//   not in this series.
import type { AccountView } from "../../../generated/AccountView";
import type { CampaignView } from "../../../generated/CampaignView";
import type { EventView } from "../../../generated/EventView";
import type { EventWindow } from "../../../generated/EventWindow";
import type { JsonValue } from "../../../generated/serde_json/JsonValue";
import type { RecordedReading } from "../../../generated/RecordedReading";
import type { SourceHealth } from "../../../generated/SourceHealth";
import type { SourcesAnswer } from "../../../generated/SourcesAnswer";
import type { TeamList } from "../../../generated/TeamList";
import type { TeamResponse } from "../../../generated/TeamResponse";
import { ApiProblem, CommandError, type Backend } from "../../backend";
import type { ChartData, ChartMark, Series } from "../../components/chart";
import { payload } from "../audit/events";
import { blankTeam } from "../teams/form";

// ---------------------------------------------------------------------------------------
// The time range

export type Preset = "24h" | "7d" | "30d";

export const PRESETS: { id: Preset; label: string; hours: number }[] = [
  { id: "24h", label: "Last 24 h", hours: 24 },
  { id: "7d", label: "Last 7 days", hours: 24 * 7 },
  { id: "30d", label: "Last 30 days", hours: 24 * 30 },
];

/** The range the chart shows: a preset ending now, or a custom from/to (RFC 3339). */
export type Range = { kind: "preset"; preset: Preset } | { kind: "custom"; from: string; to: string };

/** The range in the route's query (`range=7d`, or `from=…&to=…`); last 24 h by default. */
export function parseRange(params: Record<string, string>): Range {
  if (params.from && params.to) return { kind: "custom", from: params.from, to: params.to };
  const preset = PRESETS.find((p) => p.id === params.range);
  return { kind: "preset", preset: preset?.id ?? "24h" };
}

/** The route's query for a range (`undefined` drops a key). */
export function rangeParams(r: Range): Record<string, string | undefined> {
  return r.kind === "preset"
    ? { range: r.preset === "24h" ? undefined : r.preset, from: undefined, to: undefined }
    : { range: undefined, from: r.from, to: r.to };
}

/** A range's bounds as dates; a preset ends at `now`. */
export function bounds(r: Range, now: Date = new Date()): { from: Date; to: Date; endsNow: boolean } {
  if (r.kind === "custom") return { from: new Date(r.from), to: new Date(r.to), endsNow: false };
  const hours = PRESETS.find((p) => p.id === r.preset)!.hours;
  return { from: new Date(now.getTime() - hours * 3_600_000), to: now, endsNow: true };
}

/** Why a custom range cannot be shown, naming the field; `null` when it can. */
export function rangeProblem(from: string, to: string): { field: "from" | "to"; message: string } | null {
  const f = Date.parse(from);
  const t = Date.parse(to);
  if (!from || Number.isNaN(f)) return { field: "from", message: "From is not a date and time." };
  if (!to || Number.isNaN(t)) return { field: "to", message: "To is not a date and time." };
  if (t <= f) return { field: "to", message: "To must be after From." };
  return null;
}

/** A date as RFC 3339 UTC without milliseconds (what the API's time parameters take). */
export function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A `datetime-local` input's value (local time, minutes) for an RFC 3339 time. */
export function localInput(t: string): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` input's value as RFC 3339 UTC (`""` when it is no time). */
export function fromLocalInput(v: string): string {
  if (!v) return "";
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? "" : iso(d);
}

/** A span as the range's text says it: "24 hours", "7 days", "1 hour", else as `ageText`. */
export function spanText(ms: number): string {
  const day = 24 * 3_600_000;
  if (ms >= 2 * day && ms % day === 0) return `${ms / day} days`;
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return ms === 3_600_000 ? "1 hour" : `${ms / 3_600_000} hours`;
  return ageText(ms);
}

// ---------------------------------------------------------------------------------------
// A range with nothing in it, and activity before it

/** The newest thing the chart could draw: a team's last reading, or a campaign's last change. */
export interface Activity {
  /** RFC 3339. */
  at: string;
  kind: "reading" | "change";
}

/**
 * The newest activity known: the latest of each team's last reading and each campaign's last
 * change (asked for, or ended); `null` when there is none. A reading wins a tie.
 */
export function newestActivity(
  latest: Map<string, RecordedReading | null>,
  campaigns: CampaignView[],
): Activity | null {
  const candidates: { at: string | null | undefined; kind: Activity["kind"] }[] = [
    ...[...latest.values()].map((r) => ({ at: r?.at, kind: "reading" as const })),
    ...campaigns.flatMap((c) => [
      { at: c.last_change?.requested_at, kind: "change" as const },
      { at: c.last_change?.ended_at, kind: "change" as const },
    ]),
  ];
  let best: Activity | null = null;
  let bestMs = -Infinity;
  for (const { at, kind } of candidates) {
    const ms = at ? Date.parse(at) : NaN;
    if (at && !Number.isNaN(ms) && ms > bestMs) {
      best = { at, kind };
      bestMs = ms;
    }
  }
  return best;
}

/** A range that holds nothing while there was activity before it, and the way to that activity. */
export interface OlderActivity {
  newest: Activity;
  /** The range's length, ms (kept by `range`). */
  spanMs: number;
  /** The same span, ending on the first whole minute after the newest activity. */
  range: { kind: "custom"; from: string; to: string };
}

/**
 * When `range` (a preset ends at `now`) holds nothing to draw — no team's reading, no
 * decision and no pause or resume — and the newest known activity is before its start: that
 * activity, and the same span up to it. `null` when the range holds something, when there is
 * no activity at all, or when the activity is not before the range.
 */
export function olderActivity(
  range: Range,
  now: Date,
  data: Pick<DashboardData, "readings" | "latest" | "campaigns" | "decisions" | "flips">,
): OlderActivity | null {
  const { from, to } = bounds(range, now);
  const f = from.getTime();
  const t = to.getTime();
  const spanMs = t - f;
  if (Number.isNaN(spanMs) || spanMs <= 0) return null;
  const within = (ms: number) => ms >= f && ms <= t;
  for (const rs of data.readings.values()) if (rs.some((r) => within(Date.parse(r.at)))) return null;
  if (data.decisions.some((d) => within(Date.parse(d.at)))) return null;
  if (data.flips.some((x) => within(x.at))) return null;
  const newest = newestActivity(data.latest, data.campaigns);
  if (newest === null) return null;
  const newestMs = Date.parse(newest.at);
  if (newestMs >= f) return null;
  const end = Math.floor(newestMs / 60_000) * 60_000 + 60_000;
  return { newest, spanMs, range: { kind: "custom", from: iso(new Date(end - spanMs)), to: iso(new Date(end)) } };
}

// ---------------------------------------------------------------------------------------
// Campaigns and their last change

/** A change as recorded (`"pause"`, `{"set_budget": {…}}`) as a word. */
export function changeName(change: JsonValue | undefined): string {
  if (typeof change === "string") return change;
  if (change && typeof change === "object" && !Array.isArray(change)) return Object.keys(change)[0] ?? "change";
  return "change";
}

/**
 * Who asked for a change and why: the rule named at the start of the reason (the engine
 * records `[rule] reason`) when an evaluation decided it, else by hand.
 */
export function changeAuthor(c: { reason: string; decision_ref: string | null }): { by: string; rule: string | null; why: string } {
  const m = /^\[([^\]]+)\]\s*(.*)$/s.exec(c.reason);
  if (c.decision_ref === null) return { by: "by hand", rule: null, why: m ? m[2] : c.reason };
  if (m) return { by: `rule ${m[1]}`, rule: m[1], why: m[2] };
  return { by: "a rule", rule: null, why: c.reason };
}

/** Campaigns whose last change failed first, then by name. */
export function sortCampaigns(cs: CampaignView[]): CampaignView[] {
  const failed = (c: CampaignView) => (c.last_change?.state === "failed" ? 0 : 1);
  return [...cs].sort((a, b) => failed(a) - failed(b) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

// ---------------------------------------------------------------------------------------
// Teams: the gauge and the reading's age

/** How old a reading may be, for a connector whose poll interval is unknown (3 × 1 min, the config's default). */
export const DEFAULT_MAX_AGE_MS = 3 * 60_000;

export interface Gauge {
  team: string;
  /** `pushed`, `leads` or `connector:<name>`. */
  source: string;
  /** The connector's health, for a `connector:` source the daemon reported on. */
  health: SourceHealth | null;
  reading: RecordedReading | null;
  /** open / max (`null`: no reading, or no capacity at all). */
  utilisation: number | null;
  /** Milliseconds since the reading was taken. */
  ageMs: number | null;
  /** The reading is older than its source's maximum age (only connectors' readings go stale). */
  stale: boolean;
  /** How old a reading of this source may be (`null`: it never goes stale). */
  maxAgeMs: number | null;
}

/** The source's name for a team's `connector:<name>`, else null. */
export function connectorName(source: string): string | null {
  return source.startsWith("connector:") ? source.slice("connector:".length) : null;
}

/**
 * How old a connector's reading may be: three poll intervals (the config's default
 * `max_age`), the interval read from the source's last and next poll; the engine's own
 * `max_age_secs` is not in the API's readings.
 */
export function maxAge(health: SourceHealth | null): number {
  if (health?.last_poll_at && health.next_poll_at) {
    const interval = Date.parse(health.next_poll_at) - Date.parse(health.last_poll_at);
    if (interval > 0) return 3 * interval;
  }
  return DEFAULT_MAX_AGE_MS;
}

/**
 * The teams `campaigns` name that are not in `defined`, by name, as a team with no settings
 * whose readings are pushed (the only way a team no one defined gets readings).
 */
export function undefinedTeams(defined: TeamResponse[], campaigns: CampaignView[]): TeamResponse[] {
  const known = new Set(defined.map((t) => t.name));
  const names = new Set(campaigns.map((c) => c.team).filter((t): t is string => !!t && !known.has(t)));
  return [...names].sort().map((name) => blankTeam(name));
}

export function gauge(team: TeamResponse, reading: RecordedReading | null, sources: SourceHealth[], now: Date): Gauge {
  const name = connectorName(team.capacity_source);
  const health = name === null ? null : (sources.find((s) => s.name === name) ?? null);
  const ageMs = reading ? Math.max(0, now.getTime() - Date.parse(reading.at)) : null;
  // Pushed readings and readings counted from leads never go stale (engine/domain capacity.rs).
  const maxAgeMs = name === null ? null : maxAge(health);
  const utilisation = reading
    ? (reading.utilisation ?? (reading.max_open_leads > 0 ? reading.open_leads / reading.max_open_leads : null))
    : null;
  return {
    team: team.name,
    source: team.capacity_source,
    health,
    reading,
    utilisation,
    ageMs,
    maxAgeMs,
    stale: maxAgeMs !== null && reading !== null && ageMs! > maxAgeMs,
  };
}

/** The gauge's tone: ok below 80 %, warn to 100 %, danger at or above (or stale). */
export function gaugeTone(g: Gauge): "ok" | "warn" | "danger" | "muted" {
  if (g.utilisation === null) return "muted";
  if (g.utilisation >= 1) return "danger";
  if (g.utilisation >= 0.8) return "warn";
  return "ok";
}

/** A duration as "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function ageText(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** A ratio as a whole percentage, `83 %`. */
export function percent(r: number): string {
  return `${Math.round(r * 100).toLocaleString("en-US")} %`;
}

export function sourceTone(state: string): "ok" | "warn" | "danger" | "muted" {
  if (state === "ok") return "ok";
  if (state === "failing") return "danger";
  if (state === "degraded") return "warn";
  return "muted";
}

// ---------------------------------------------------------------------------------------
// Warnings

export interface Warning {
  kind: "reconsent" | "stale" | "source" | "failed-change" | "no-reading";
  /** What it is about: an account, a team, a source or a campaign id. */
  subject: string;
  text: string;
  tone: "warn" | "danger";
}

export function warnings(
  accounts: AccountView[],
  gauges: Gauge[],
  sources: SourceHealth[],
  campaigns: CampaignView[],
): Warning[] {
  const out: Warning[] = [];
  for (const a of accounts) {
    if (a.status === "reconsent_needed") {
      out.push({
        kind: "reconsent",
        subject: a.account,
        tone: "danger",
        text: `Google account ${a.account} needs consent again${a.reconsent_reason ? `: ${a.reconsent_reason}` : ""}. Its campaigns are not read or changed until it is reconnected.`,
      });
    }
  }
  for (const s of sources) {
    if (s.state === "failing" || s.state === "degraded") {
      const n = s.consecutive_failures;
      out.push({
        kind: "source",
        subject: s.name,
        tone: s.state === "failing" ? "danger" : "warn",
        text:
          s.state === "failing"
            ? `Capacity source ${s.name} is failing (${n.toLocaleString("en-US")} failed poll${n === 1 ? "" : "s"} in a row${s.error_kind ? `, ${s.error_kind}` : ""})${s.last_error ? `: ${s.last_error}` : ""}.`
            : `Capacity source ${s.name} is degraded: some teams did not answer${s.last_error ? ` (${s.last_error})` : ""}.`,
      });
    }
  }
  for (const g of gauges) {
    if (g.stale) {
      out.push({
        kind: "stale",
        subject: g.team,
        tone: "warn",
        text: `Team ${g.team}'s capacity is stale: the last reading is ${ageText(g.ageMs!)} old (at most ${ageText(g.maxAgeMs!)} from ${g.source}). Rules see the team as stale.`,
      });
    } else if (g.reading === null && g.source.startsWith("connector:")) {
      out.push({
        kind: "no-reading",
        subject: g.team,
        tone: "warn",
        text: `Team ${g.team} has no capacity reading yet from ${g.source}.`,
      });
    }
  }
  for (const c of campaigns) {
    if (c.last_change?.state === "failed") {
      out.push({
        kind: "failed-change",
        subject: c.id,
        tone: "danger",
        text: `The last change to ${c.name} (${changeName(c.last_change.change)}) failed${c.last_change.error ? `: ${c.last_change.error}` : ""}.`,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Decisions and on/off over time

/** A change asked for in the range: a mark on the chart and a row of the list under it. */
export interface Decision {
  /** The `ChangeRequested` event's log position. */
  position: number;
  /** When it was requested (the event's own time). */
  at: string;
  campaign: string;
  change: string;
  changeId: string;
  /** The deciding evaluation; `null` for a change made by hand. */
  evaluation: string | null;
}

function campaignOf(stream: string): string | null {
  return stream.startsWith("campaign:") ? stream.slice("campaign:".length) : null;
}

export function decisionOf(e: EventView): Decision | null {
  const campaign = campaignOf(e.stream);
  if (e.type !== "ChangeRequested" || campaign === null) return null;
  const p = payload(e);
  return {
    position: e.position,
    at: typeof p.at === "string" ? p.at : e.recorded_at,
    campaign,
    change: changeName(p.change),
    changeId: typeof p.change_id === "string" ? p.change_id : "",
    evaluation: typeof p.decision_ref === "string" ? p.decision_ref : null,
  };
}

/**
 * The replay view's query for a decision: the campaign as of the decision's event (the log
 * position, as the audit log's "Why?" links), and the deciding evaluation to highlight.
 */
export function replayParams(d: Decision): Record<string, string> {
  const params: Record<string, string> = { at: String(d.position), campaign: d.campaign };
  if (d.evaluation) params.evaluation = d.evaluation;
  return params;
}

/** A `pause` / `resume` applied to a campaign. */
export interface Flip {
  campaign: string;
  on: boolean;
  /** Unix ms. */
  at: number;
}

export function flipOf(e: EventView): Flip | null {
  const campaign = campaignOf(e.stream);
  if (e.type !== "ChangeApplied" || campaign === null) return null;
  const p = payload(e);
  const change = changeName(p.change);
  if (change !== "pause" && change !== "resume") return null;
  const at = Date.parse(typeof p.at === "string" ? p.at : e.recorded_at);
  return Number.isNaN(at) ? null : { campaign, on: change === "resume", at };
}

const secs = (ms: number) => Math.floor(ms / 1000);

export const COLOURS = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5"];

/**
 * The chart: each team's utilisation (%, a step: a reading holds until the next) over
 * [from, to], and for each team the number of its campaigns on (enabled), on the right axis,
 * from each campaign's status now walked back through the pauses and resumes applied since
 * `from` (`flips`, any order, may run past `to`).
 */
export function chartData(
  from: Date,
  to: Date,
  readings: Map<string, RecordedReading[]>,
  campaigns: CampaignView[],
  flips: Flip[],
): ChartData {
  const f = from.getTime();
  const t = to.getTime();
  const xsSet = new Set<number>([secs(f), secs(t)]);
  const inRange = (ms: number) => ms >= f && ms <= t;
  for (const rs of readings.values()) for (const r of rs) if (inRange(Date.parse(r.at))) xsSet.add(secs(Date.parse(r.at)));
  for (const fl of flips) if (inRange(fl.at)) xsSet.add(secs(fl.at));
  const xs = [...xsSet].sort((a, b) => a - b);
  const series: Series[] = [];
  const teams = [...readings.keys()].sort();
  teams.forEach((team, i) => {
    const rs = [...readings.get(team)!].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    let k = 0;
    let last: number | null = null;
    const values = xs.map((x) => {
      while (k < rs.length && secs(Date.parse(rs[k].at)) <= x) {
        const r = rs[k++];
        last = r.utilisation === null ? null : Math.round(r.utilisation * 1000) / 10;
      }
      return last;
    });
    series.push({ label: `${team} utilisation %`, colour: COLOURS[i % COLOURS.length], stepped: true, values });
  });
  // On/off: each campaign's state at `from`, then its flips in time order.
  const byCampaign = new Map<string, Flip[]>();
  for (const fl of flips) byCampaign.set(fl.campaign, [...(byCampaign.get(fl.campaign) ?? []), fl]);
  const groups = new Map<string, CampaignView[]>();
  for (const c of campaigns) {
    const g = c.team ?? "no team";
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  [...groups.keys()].sort().forEach((g, gi) => {
    const members = groups.get(g)!;
    const timelines = members.map((c) => {
      const fs = (byCampaign.get(c.id) ?? []).sort((a, b) => a.at - b.at);
      // Walk back from now: the state before the earliest flip since `from` is its opposite.
      const onNow = c.status === "enabled";
      const onAtFrom = fs.length > 0 ? !fs[0].on : onNow;
      return { onAtFrom, flips: fs.filter((x) => x.at > f) };
    });
    const values = xs.map((x) =>
      timelines.reduce((n, tl) => {
        let on = tl.onAtFrom;
        for (const fl of tl.flips) if (secs(fl.at) <= x) on = fl.on;
        return n + (on ? 1 : 0);
      }, 0),
    );
    series.push({
      label: `${g}: campaigns on`,
      colour: COLOURS[(teams.length + gi) % COLOURS.length],
      stepped: true,
      values,
      scale: "count",
    });
  });
  return { xs, series };
}

export function marksOf(ds: Decision[]): ChartMark[] {
  return ds.map((d) => ({ x: secs(Date.parse(d.at)), label: `${d.change} ${d.campaign}` }));
}

// ---------------------------------------------------------------------------------------
// Loading

/** One part of the dashboard that could not be read, and why. */
export interface PartError {
  part: string;
  message: string;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiProblem) return e.detail ? `${e.title}: ${e.detail}` : e.title;
  if (e instanceof CommandError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** `v` when it is an array, else an error naming what was read (an answer of another shape). */
function list<T>(v: unknown, what: string): T[] {
  if (Array.isArray(v)) return v as T[];
  throw new Error(`${what}: the engine's answer is not a list`);
}

export interface DashboardData {
  campaigns: CampaignView[];
  teams: TeamResponse[];
  /** Each team's readings over the range, oldest first. */
  readings: Map<string, RecordedReading[]>;
  /** Teams whose readings in the range were more than the limit (the oldest are left out). */
  truncated: string[];
  /** Each team's last reading (`null`: none). */
  latest: Map<string, RecordedReading | null>;
  sources: SourceHealth[];
  accounts: AccountView[];
  decisions: Decision[];
  flips: Flip[];
  /** Decisions in the range beyond what was read. */
  moreDecisions: boolean;
  /** The parts that could not be read (the rest is shown). */
  errors: PartError[];
}

export const READING_LIMIT = 10_000;
const EVENT_PAGE = 1000;

/** Which time the events are asked for by: recorded (indexed) or their own (parsed). */
export type Basis = "recorded" | "event";

/**
 * The events of `type` from `from` (to `to`), oldest first, by `basis`; a few pages at most
 * (more by event time, whose pages may come back sparse: each walks a bounded span).
 */
async function eventsOf(
  backend: Backend,
  type: string,
  basis: Basis,
  from: Date,
  to: Date | null,
  signal: AbortSignal,
): Promise<{ items: EventView[]; more: boolean }> {
  const items: EventView[] = [];
  let after: string | null = null;
  const [fromKey, toKey] = basis === "recorded" ? ["from", "to"] : ["event_from", "event_to"];
  const pages = basis === "recorded" ? 5 : 20;
  for (let page = 0; page < pages; page++) {
    const q = new URLSearchParams({ type, [fromKey]: iso(from), limit: String(EVENT_PAGE) });
    if (to) q.set(toKey, iso(to));
    if (after !== null) q.set("after", after);
    const w: EventWindow = await backend.request<EventWindow>("GET", `/v1/events?${q}`, undefined, { signal });
    items.push(...list<EventView>(w?.items, "events"));
    if (w.next === null || w.next === after) return { items, more: false };
    after = w.next;
  }
  return { items, more: true };
}

function inRange(t: string, from: Date, to: Date): boolean {
  const ms = Date.parse(t);
  return ms >= from.getTime() && ms <= to.getTime();
}

/** Reads everything the dashboard shows over `range`; throws only when the campaigns cannot be read. */
export async function loadDashboard(backend: Backend, range: Range, now: Date, signal: AbortSignal): Promise<DashboardData> {
  const { from, to, endsNow } = bounds(range, now);
  const errors: PartError[] = [];
  const get = <T>(path: string) => backend.request<T>("GET", path, undefined, { signal });
  const part = <T>(name: string, p: Promise<T>, fallback: T): Promise<T> => {
    const settled = (async () => {
      try {
        return await p;
      } catch (e) {
        if (e instanceof CommandError && e.code === "cancelled") throw e;
        errors.push({ part: name, message: errorText(e) });
        return fallback;
      }
    })();
    // Awaited below, unless an earlier part's failure ends the load first: a cancelled part
    // then rejects with no one awaiting it, which is not an error.
    settled.catch(() => {});
    return settled;
  };
  const campaignsP = get<unknown>("/v1/campaigns").then((v) => list<CampaignView>(v, "campaigns"));
  campaignsP.catch(() => {}); // awaited below; handled there
  const teamsP = part("teams", get<TeamList>("/v1/teams").then((t) => list<TeamResponse>(t?.items, "teams")), [] as TeamResponse[]);
  const sourcesP = part("capacity sources", get<SourcesAnswer>("/v1/capacity/sources").then((s) => list<SourceHealth>(s?.sources, "capacity sources")), [] as SourceHealth[]);
  // Listing accounts needs the admin scope; without it there is simply no re-consent warning.
  const accountsP = get<unknown>("/v1/google/accounts").then((v) => list<AccountView>(v, "Google accounts")).catch((e) => {
    if (e instanceof ApiProblem && e.status === 403) return [] as AccountView[];
    if (e instanceof CommandError && e.code === "cancelled") throw e;
    errors.push({ part: "Google accounts", message: errorText(e) });
    return [] as AccountView[];
  });
  accountsP.catch(() => {}); // awaited below, as the parts are
  const basis: Basis = endsNow ? "recorded" : "event";
  const decisionsP = part(
    "decisions",
    eventsOf(backend, "ChangeRequested", basis, from, to, signal),
    { items: [] as EventView[], more: false },
  );
  // From `from` to now (not `to`): walking back from the status now needs every flip since.
  const flipsP = part("campaign changes", eventsOf(backend, "ChangeApplied", basis, from, null, signal), {
    items: [] as EventView[],
    more: false,
  });
  // Teams the campaigns name that no one defined (their readings pushed or simulated without
  // `leadorch teams set`) are shown too: the rules weigh their capacity all the same.
  const [defined, named] = await Promise.all([teamsP, campaignsP.catch(() => [] as CampaignView[])]);
  const teams = [...defined, ...undefinedTeams(defined, named)];
  const readings = new Map<string, RecordedReading[]>();
  const latest = new Map<string, RecordedReading | null>();
  const truncated: string[] = [];
  await Promise.all(
    teams.map(async (t) => {
      const base = `/v1/teams/${encodeURIComponent(t.name)}/capacity`;
      const q = new URLSearchParams({ from: iso(from), to: iso(to), limit: String(READING_LIMIT) });
      const rs = await part(`${t.name}'s capacity`, get<unknown>(`${base}?${q}`).then((v) => list<RecordedReading>(v, "readings")), []);
      readings.set(t.name, rs);
      if (rs.length >= READING_LIMIT) truncated.push(t.name);
      if (endsNow && rs.length > 0) {
        latest.set(t.name, rs[rs.length - 1]);
      } else {
        const last = await part(`${t.name}'s capacity`, get<unknown>(`${base}?limit=1`).then((v) => list<RecordedReading>(v, "readings")), []);
        latest.set(t.name, last[last.length - 1] ?? null);
      }
    }),
  );
  const [campaigns, sources, accounts, decisionEvents, flipEvents] = await Promise.all([
    campaignsP,
    sourcesP,
    accountsP,
    decisionsP,
    flipsP,
  ]);
  return {
    campaigns,
    teams,
    readings,
    truncated: truncated.sort(),
    latest,
    sources,
    accounts,
    decisions: decisionEvents.items
      .map(decisionOf)
      .filter((d): d is Decision => d !== null && inRange(d.at, from, to))
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.position - b.position),
    moreDecisions: decisionEvents.more,
    flips: flipEvents.items.map(flipOf).filter((x): x is Flip => x !== null),
    errors,
  };
}
