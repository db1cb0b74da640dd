// What differs between the state at the chosen moment (`/v1/replay?at=…`) and now (the
// replay at the head): per campaign, team and rule, the fields that changed since, with their
// value then and now, so the tables can mark them.
import type { CampaignView } from "../../../generated/CampaignView";
import type { Replay } from "../../../generated/Replay";
import type { RuleThen } from "../../../generated/RuleThen";
import type { TeamThen } from "../../../generated/TeamThen";

export interface FieldChange {
  field: string;
  then: string;
  now: string;
}

/** How a row compares with now: `same`, `changed` (see `fields`), `new` (not there then), `gone`. */
export interface RowDiff {
  kind: "same" | "changed" | "gone";
  fields: FieldChange[];
}

export interface ReplayDiff {
  campaigns: Map<string, RowDiff>;
  teams: Map<string, RowDiff>;
  rules: Map<string, RowDiff>;
  /** Ids that exist now and did not then. */
  newCampaigns: string[];
  newTeams: string[];
  newRules: string[];
  /** How many rows of the three tables differ (changed or gone) plus those new since. */
  total: number;
}

/** Money in micros as the account's units, two decimals. */
/** The tone of a campaign's status pill (`app.css` `.pill`). */
export function statusTone(status: string): "ok" | "warn" | "danger" | "muted" {
  return status === "enabled" ? "ok" : status === "paused" ? "warn" : status === "removed" ? "danger" : "muted";
}

export function money(micros: number): string {
  return (micros / 1_000_000).toFixed(2);
}

/** A bidding strategy as recorded (`"maximize_conversions"`, or `{target_cpa: {…}}`). */
export function biddingText(b: unknown): string {
  if (b === null || b === undefined) return "—";
  if (typeof b === "string") return b;
  if (typeof b === "object") {
    const entries = Object.entries(b as Record<string, unknown>);
    if (entries.length === 1) {
      const [name, v] = entries[0];
      if (v && typeof v === "object") {
        const parts = Object.entries(v as Record<string, unknown>).map(([k, x]) =>
          typeof x === "number" && k.endsWith("_micros") ? money(x) : String(x),
        );
        return `${name} ${parts.join(" ")}`.trim();
      }
      return `${name} ${String(v)}`;
    }
  }
  return JSON.stringify(b);
}

/** The compared fields of a campaign, as shown. */
export function campaignFields(c: CampaignView): Record<string, string> {
  return {
    status: c.status,
    budget: money(c.daily_budget_micros),
    bidding: biddingText(c.bidding),
    team: c.team ?? "—",
    labels: c.labels.join(", ") || "—",
    hold: c.manual_hold_until ?? "—",
    pending: String(c.pending_changes),
    "last change": c.last_change ? `${changeText(c.last_change.change)} (${c.last_change.state})` : "—",
  };
}

/** A campaign change as recorded (`"pause"`, `{set_budget: {daily_budget_micros}}`). */
export function changeText(change: unknown): string {
  if (typeof change === "string") return change;
  return biddingText(change);
}

export function teamFields(t: TeamThen): Record<string, string> {
  return {
    agents: String(t.agents_available),
    open: String(t.open_leads),
    max: String(t.max_open_leads),
  };
}

export function ruleFields(r: RuleThen): Record<string, string> {
  return { version: `v${r.version}`, enabled: r.enabled ? "enabled" : "disabled" };
}

function rows<T>(
  then: T[],
  now: T[],
  key: (t: T) => string,
  fields: (t: T) => Record<string, string>,
): { diffs: Map<string, RowDiff>; added: string[] } {
  const nowBy = new Map(now.map((x) => [key(x), x]));
  const diffs = new Map<string, RowDiff>();
  for (const t of then) {
    const id = key(t);
    const n = nowBy.get(id);
    if (!n) {
      diffs.set(id, { kind: "gone", fields: [] });
      continue;
    }
    const a = fields(t);
    const b = fields(n);
    const changed = Object.keys(a)
      .filter((f) => a[f] !== b[f])
      .map((f) => ({ field: f, then: a[f], now: b[f] }));
    diffs.set(id, { kind: changed.length ? "changed" : "same", fields: changed });
  }
  const seen = new Set(then.map(key));
  const added = now.map(key).filter((id) => !seen.has(id));
  return { diffs, added };
}

/** Compares the replay `then` with `now` (the replay at the head). */
export function diffReplay(then: Replay, now: Replay): ReplayDiff {
  const c = rows(then.campaigns, now.campaigns, (x) => x.id, campaignFields);
  const t = rows(then.teams, now.teams, (x) => x.team, teamFields);
  const r = rows(then.rules, now.rules, (x) => x.id, ruleFields);
  const differing = (m: Map<string, RowDiff>) =>
    [...m.values()].filter((d) => d.kind !== "same").length;
  return {
    campaigns: c.diffs,
    teams: t.diffs,
    rules: r.diffs,
    newCampaigns: c.added,
    newTeams: t.added,
    newRules: r.added,
    total:
      differing(c.diffs) + differing(t.diffs) + differing(r.diffs) +
      c.added.length + t.added.length + r.added.length,
  };
}

/** The change of one field of a row, if it changed. */
export function changeOf(d: RowDiff | undefined, field: string): FieldChange | undefined {
  return d?.fields.find((f) => f.field === field);
}
