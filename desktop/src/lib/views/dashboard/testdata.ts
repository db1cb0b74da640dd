// The dashboard tests' engine: two campaigns (one whose last change failed), two teams (one
// pushed and over capacity, one from a failing connector with a stale reading), an account
// needing consent again, and a decision with the pause it applied — all relative to `now`,
// so ages read the same whenever the tests run.
import type { AccountView } from "../../../generated/AccountView";
import type { CampaignView } from "../../../generated/CampaignView";
import type { EventView } from "../../../generated/EventView";
import type { RecordedReading } from "../../../generated/RecordedReading";
import type { SourceHealth } from "../../../generated/SourceHealth";
import type { TeamResponse } from "../../../generated/TeamResponse";
import type { JsonValue } from "../../../generated/serde_json/JsonValue";
import { problem, type Route } from "../../../test/fakeBackend";

export const NL = "1234567890/111";
export const BE = "1234567890/222";
const MIN = 60_000;
const HOUR = 60 * MIN;

export function ago(now: number, ms: number): string {
  return new Date(now - ms).toISOString();
}

export function campaign(over: Partial<CampaignView> = {}): CampaignView {
  return {
    id: NL,
    name: "NL Generic",
    status: "enabled",
    daily_budget_micros: 50_000_000,
    bidding: "maximize_conversions",
    labels: [],
    team: "sales-nl",
    last_observed_at: null,
    manual_hold_until: null,
    pending_changes: 0,
    last_change: null,
    ...over,
  };
}

export function team(over: Partial<TeamResponse> = {}): TeamResponse {
  return {
    name: "sales-nl",
    time_zone: null,
    hours: [],
    holidays: [],
    max_open_leads: 10,
    max_open_leads_from: "team",
    capacity_source: "pushed",
    members: [],
    defined_at: "2026-12-01T08:00:00Z",
    updated_at: "2026-12-01T08:00:00Z",
    ...over,
  };
}

export function reading(at: string, open: number, max: number, agents: number, position: number, source = "push-key"): RecordedReading {
  return {
    at,
    agents_available: agents,
    open_leads: open,
    max_open_leads: max,
    utilisation: max > 0 ? open / max : null,
    source,
    position,
  };
}

export function source(over: Partial<SourceHealth> = {}): SourceHealth {
  return {
    name: "crm",
    kind: "http_poll",
    state: "ok",
    teams: 1,
    last_poll_at: null,
    last_success_at: null,
    last_error_at: null,
    last_error: null,
    error_kind: null,
    consecutive_failures: 0,
    limit_info: null,
    next_poll_at: null,
    ...over,
  };
}

export function campaignEvent(position: number, campaignId: string, type: string, data: Record<string, JsonValue>): EventView {
  const at = typeof data.at === "string" ? data.at : "2026-12-01T00:00:00Z";
  return {
    position,
    stream: `campaign:${campaignId}`,
    stream_version: position,
    event_id: `e-${position}`,
    type,
    schema_version: "1.0",
    recorded_at: at,
    actor: "daemon",
    trace_id: null,
    data: { [type]: data },
    hash: "00",
  };
}

/** The world the view reads; tests change its fields and push a new head. */
export class World {
  campaigns: CampaignView[];
  teams: TeamResponse[];
  readings: Record<string, RecordedReading[]>;
  sources: SourceHealth[];
  accounts: AccountView[];
  events: EventView[];
  /** Paths answered with a problem instead. */
  failing = new Map<string, number>();

  constructor(readonly now: number) {
    this.campaigns = [
      campaign({
        id: NL,
        name: "NL Generic",
        status: "paused",
        team: "sales-nl",
        last_change: {
          change_id: "c-1",
          change: "pause",
          reason: "[capacity_gate] sales-nl is at 120 % of its capacity",
          decision_ref: "ev-1",
          requested_at: ago(now, 2 * HOUR),
          state: "applied",
          ended_at: ago(now, 2 * HOUR - 1000),
          error: null,
        },
      }),
      campaign({
        id: BE,
        name: "BE Brand",
        status: "enabled",
        team: "sales-be",
        pending_changes: 1,
        last_change: {
          change_id: "c-2",
          change: { set_budget: { daily_budget_micros: 1000 } },
          reason: "raise for the launch",
          decision_ref: null,
          requested_at: ago(now, 30 * MIN),
          state: "failed",
          ended_at: ago(now, 29 * MIN),
          error: "CAMPAIGN_BUDGET_TOO_LOW: the budget is under the minimum",
        },
      }),
    ];
    this.teams = [
      team({ name: "sales-be", capacity_source: "connector:crm" }),
      team({ name: "sales-nl", capacity_source: "pushed" }),
    ];
    this.readings = {
      "sales-nl": [reading(ago(now, 3 * HOUR), 8, 10, 4, 10), reading(ago(now, HOUR), 12, 10, 3, 30)],
      "sales-be": [reading(ago(now, 20 * MIN), 4, 10, 2, 35, "crm")],
    };
    this.sources = [
      source({
        name: "crm",
        state: "failing",
        consecutive_failures: 4,
        error_kind: "unavailable",
        last_error: "HTTP 503 from the CRM",
        last_poll_at: ago(now, MIN),
        next_poll_at: ago(now, 0),
      }),
    ];
    this.accounts = [
      { account: "agency-main", status: "connected", customers: ["1234567890"], connected_at: ago(now, 48 * HOUR), reconsent_reason: null, data_deleted_at: null, quota_exhausted_until: null },
      { account: "agency-old", status: "reconsent_needed", customers: [], connected_at: ago(now, 480 * HOUR), reconsent_reason: "Google refused the grant (invalid_grant)", data_deleted_at: null, quota_exhausted_until: null },
    ];
    this.events = [
      campaignEvent(40, NL, "ChangeRequested", { change_id: "c-1", change: "pause", reason: null, decision_ref: "ev-1", at: ago(now, 2 * HOUR) }),
      campaignEvent(41, NL, "ChangeApplied", { change_id: "c-1", change: "pause", at: ago(now, 2 * HOUR - 1000) }),
      campaignEvent(45, BE, "ChangeRequested", { change_id: "c-2", change: { set_budget: { daily_budget_micros: 1000 } }, reason: null, decision_ref: null, at: ago(now, 30 * MIN) }),
    ];
  }

  /** A new decision (and its pause) appended to the log. */
  decide(position: number, campaignId: string, change: string, evaluation: string, msAgo: number) {
    const at = ago(this.now, msAgo);
    this.events.push(
      campaignEvent(position, campaignId, "ChangeRequested", { change_id: `c-${position}`, change, reason: null, decision_ref: evaluation, at }),
    );
  }

  route(): Route {
    return (path, q) => {
      const failing = this.failing.get(path);
      if (failing) return problem(failing, `${path} is broken in this test`);
      if (path === "/v1/campaigns") return this.campaigns;
      if (path === "/v1/teams") return { items: this.teams };
      if (path === "/v1/capacity/sources") return { sources: this.sources };
      if (path === "/v1/google/accounts") return this.accounts;
      const cap = /^\/v1\/teams\/([^/]+)\/capacity$/.exec(path);
      if (cap) {
        const from = q.get("from");
        const to = q.get("to");
        const limit = Number(q.get("limit") ?? 1000);
        const rs = (this.readings[decodeURIComponent(cap[1])] ?? []).filter(
          (r) => (!from || r.at >= from) && (!to || r.at < to),
        );
        return rs.slice(-limit);
      }
      if (path === "/v1/events") {
        const type = q.get("type");
        const from = q.get("from");
        const to = q.get("to");
        const eventFrom = q.get("event_from");
        const eventTo = q.get("event_to");
        const after = Number(q.get("after") ?? 0);
        const own = (e: EventView) => String((e.data as Record<string, { at: string }>)[e.type].at);
        const items = this.events
          .filter((e) => e.type === type && e.position > after)
          .filter((e) => (!from || e.recorded_at >= from) && (!to || e.recorded_at < to))
          .filter((e) => (!eventFrom || own(e) >= eventFrom) && (!eventTo || own(e) < eventTo))
          .sort((a, b) => a.position - b.position);
        return { items, next: null, head: 100, order: "oldest_first" };
      }
      return problem(404, `no route ${path}`);
    };
  }
}
