import type { Explanation } from "../generated/Explanation";
// A small history for the Replay view's tests: a log of 100 events; campaign 1234567890/1001
// "Brand NL" is enabled until evaluation ev-58 (position 58) asks to pause it, and the pause
// is applied at position 60. Evaluations sit at positions 20, 58 and 90.
import type { CampaignView } from "../generated/CampaignView";
import type { EvaluationView } from "../generated/EvaluationView";
import type { EventView } from "../generated/EventView";
import type { Replay } from "../generated/Replay";

export const HEAD = 100;
export const BRAND = "1234567890/1001";
export const GENERIC = "1234567890/1002";
export const EVALUATIONS = [20, 58, 90];
const BASE = Date.parse("2026-12-04T08:00:00Z");

/** Position p was recorded p minutes after 08:00 UTC. */
export function timeOf(position: number): string {
  return new Date(BASE + position * 60_000).toISOString();
}

export function event(position: number, over: Partial<EventView> = {}): EventView {
  return {
    position,
    stream: EVALUATIONS.includes(position) ? `evaluation:ev-${position}` : "campaign:1234567890/1001",
    stream_version: 1,
    event_id: `e-${position}`,
    type: EVALUATIONS.includes(position) ? "EvaluationRecorded" : "CampaignObserved",
    schema_version: "1.0",
    recorded_at: timeOf(position),
    actor: "daemon",
    trace_id: null,
    data: {},
    hash: "00",
    ...over,
  };
}

export function campaignThen(id: string, over: Partial<CampaignView> = {}): CampaignView {
  return {
    id,
    name: id === BRAND ? "Brand NL" : "Generic NL",
    status: "enabled",
    daily_budget_micros: 50_000_000,
    bidding: "maximize_conversions",
    labels: ["team:sales-nl"],
    team: "sales-nl",
    last_observed_at: timeOf(5),
    manual_hold_until: null,
    pending_changes: 0,
    last_change: null,
    ...over,
  };
}

/** The state folded up to `position`. */
export function replayAt(position: number): Replay {
  const p = Math.min(position, HEAD);
  const paused = p >= 60;
  return {
    view: p >= HEAD ? `as of position ${HEAD}` : `as of position ${p}`,
    position: p,
    campaigns: [
      campaignThen(BRAND, {
        status: paused ? "paused" : "enabled",
        last_change:
          p >= 58
            ? {
                change_id: "ch-1",
                change: "pause",
                reason: "[capacity-guard] team sales-nl is full",
                decision_ref: "evaluation:ev-58",
                requested_at: timeOf(58),
                state: paused ? "applied" : "requested",
                ended_at: paused ? timeOf(60) : null,
                error: null,
              }
            : null,
        pending_changes: p >= 58 && !paused ? 1 : 0,
      }),
      campaignThen(GENERIC),
    ],
    teams: [
      {
        team: "sales-nl",
        agents_available: p >= 50 ? 0 : 3,
        open_leads: p >= 50 ? 12 : 4,
        max_open_leads: 10,
        at: timeOf(Math.min(p, 50)),
      },
    ],
    rules: [{ id: "capacity-guard", version: p >= 30 ? 2 : 1, enabled: true }],
  };
}

const brandFacts = {
  id: BRAND,
  customer_id: "1234567890",
  campaign_id: "1001",
  name: "Brand NL",
  team: "sales-nl",
  status: "enabled",
  daily_budget_micros: 50_000_000,
  leads_today: 14,
};
const teamFacts = { team: "sales-nl", agents_available: 0, open_leads: 12, max_open_leads: 10 };

export function evaluationView(position: number): EvaluationView {
  const pauses = position === 58;
  const proposal = {
    rule: "capacity-guard",
    priority: 10,
    campaign: BRAND,
    decision: { action: { action: "pause" }, reason: "team sales-nl is full (12 of 10)" },
  };
  const budget = {
    rule: "budget-pacer",
    priority: 1,
    campaign: BRAND,
    decision: { action: { action: "set_budget", daily_budget_micros: 40_000_000 }, reason: "pacing" },
  };
  return {
    position,
    id: `ev-${position}`,
    recorded_at: timeOf(position),
    evaluation: {
      trigger: pauses ? "capacity_changed" : "schedule",
      log_position: position - 1,
      at: timeOf(position),
      facts: { campaigns: [brandFacts], teams: { "sales-nl": teamFacts } },
      rules: [
        { rule_id: "capacity-guard", rule_version: 2, run: { proposals: [proposal], failures: [], logs: [], aborted: null } },
        { rule_id: "budget-pacer", rule_version: 1, run: { proposals: pauses ? [budget] : [], failures: [], logs: [], aborted: null } },
        { rule_id: "night-mode", rule_version: 4, run: { proposals: [], failures: [], logs: [], aborted: null } },
      ],
      resolution: pauses
        ? {
            accepted: [proposal],
            suppressed: [{ proposal: budget, why: { why: "cooldown", until: "2026-12-04T09:30:00Z" } }],
            conflicts: [],
          }
        : { accepted: [], suppressed: [{ proposal, why: { why: "no_change" } }], conflicts: [] },
      changes: pauses ? [{ campaign: BRAND, change_id: "ch-1", rule_id: "capacity-guard", action: "pause" }] : [],
    },
  };
}

/** `GET …/explain` for Brand NL as of `position`. */
export function explainAt(position: number): Explanation {
  if (position < 60) {
    return {
      campaign: BRAND,
      name: "Brand NL",
      at: timeOf(position),
      status: "enabled",
      cause: { kind: "observed", at: timeOf(5) },
      manual_hold_until: null,
      pending: position >= 58 ? [["ch-1", "pause", "[capacity-guard] team sales-nl is full"]] : [],
      latest: null,
    };
  }
  return {
    campaign: BRAND,
    name: "Brand NL",
    at: timeOf(position),
    status: "paused",
    cause: {
      kind: "engine",
      change_id: "ch-1",
      action: "pause",
      reason: "[capacity-guard] team sales-nl is full (12 of 10)",
      requested_at: timeOf(58),
      applied_at: timeOf(60),
      evaluation: {
        id: "ev-58",
        trigger: "capacity_changed",
        at: timeOf(58),
        rules: ["capacity-guard v2", "budget-pacer v1", "night-mode v4"],
        rhai_version: "1.23.4",
        campaign_facts: brandFacts,
        team_facts: teamFacts,
        proposals: [
          {
            rule: "capacity-guard",
            priority: 10,
            campaign: BRAND,
            decision: { action: { action: "pause" }, reason: "team sales-nl is full (12 of 10)" },
            outcome: "accepted",
          },
          {
            rule: "budget-pacer",
            priority: 1,
            campaign: BRAND,
            decision: { action: { action: "set_budget", daily_budget_micros: 40_000_000 }, reason: "pacing" },
            outcome: { suppressed: { why: "cooldown", until: "2026-12-04T09:30:00Z" } },
          },
        ],
        conflicts: [],
      },
    },
    manual_hold_until: null,
    pending: [],
    latest: null,
  };
}
