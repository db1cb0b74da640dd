// "Why is this campaign paused?": the decision chain as `leadorch explain` prints it
// (engine/evaluate/src/explain.rs `render`), built from `GET /v1/campaigns/{c}/{id}/explain`,
// and each evaluation of `GET /v1/evaluations` as the steps that led to a change: the facts
// the rules saw, each rule's decision, the arbiter's verdict, what was applied.
//
// The explain answer is the generated `Explanation` (its cause a tagged union); the parts the
// engine keeps as JSON (a campaign's facts, a rule's decision, an evaluation's record) are
// `JsonValue`, and the readers of those take only what they show and tolerate anything missing.
import type { EvaluationExcerpt } from "../../../generated/EvaluationExcerpt";
import type { EvaluationView } from "../../../generated/EvaluationView";
import type { Explanation } from "../../../generated/Explanation";
import { money } from "./diff";
import { utcText } from "./moment";

type Json = Record<string, unknown>;

export interface Fact {
  name: string;
  value: string;
}

export interface RuleDecision {
  rule: string;
  /** `pause`, `set_budget 40.00`; empty when the rule proposed nothing. */
  action: string;
  reason: string;
  /** `accepted`, `held back: dwell (until …)`, `no proposal`, `failed: …`. */
  outcome: string;
  tone: "accepted" | "held" | "none" | "failed";
}

export interface AppliedChange {
  changeId: string;
  action: string;
  rule: string;
}

/** One evaluation as far as one campaign is concerned. */
export interface EvaluationStep {
  id: string;
  /** Its log position (known for `/v1/evaluations` items, not for explain's excerpts). */
  position: number | null;
  at: string;
  trigger: string;
  /** `rule v3` each. */
  rules: string[];
  facts: Fact[];
  /** `team sales-nl: 12 open of 10 max, 0 agents available`. */
  team: string | null;
  decisions: RuleDecision[];
  conflicts: string[];
  applied: AppliedChange[];
}

export interface Cause {
  kind: "engine" | "outside" | "observed" | "unknown";
  /** One sentence, as the CLI's `because:` line. */
  text: string;
  reason: string | null;
  at: string | null;
}

export interface WhyChain {
  campaign: string;
  name: string;
  status: string;
  at: string;
  cause: Cause;
  decidedBy: EvaluationStep | null;
  manualHoldUntil: string | null;
  pending: { id: string; action: string; reason: string }[];
  latest: EvaluationStep | null;
}

const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));

/** A rule's action (`{action: "set_budget", daily_budget_micros: …}` or `"pause"`) as text. */
export function actionText(a: unknown): string {
  if (typeof a === "string") return a;
  const o = obj(a);
  const name = str(o.action) || "?";
  const rest = Object.entries(o)
    .filter(([k]) => k !== "action")
    .map(([k, v]) => valueText(k, v));
  return [name, ...rest].join(" ");
}

/** A value as the facts show it: micros as money, objects as `k v` pairs. */
export function valueText(key: string, v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return key.endsWith("_micros") ? money(v) : String(v);
  if (typeof v === "string" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.length ? v.map((x) => valueText("", x)).join(", ") : "—";
  const entries = Object.entries(v as Json);
  if (entries.length === 0) return "—";
  return entries.map(([k, x]) => `${k} ${valueText(k, x)}`).join(", ");
}

/** Why a proposal was held back (`{why: "dwell", until: …}`) as the CLI says it. */
export function suppressedText(why: unknown): string {
  const o = obj(why);
  const name = str(o.why) || "?";
  const details = Object.entries(o)
    .filter(([k]) => k !== "why")
    .map(([k, v]) => `${k} ${timeOrText(v)}`);
  return details.length ? `held back: ${name} (${details.join(", ")})` : `held back: ${name}`;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** A time as the view shows times (UTC, seconds); anything else as it is. */
function timeOrText(v: unknown): string {
  const s = str(v);
  return RFC3339.test(s) ? utcText(s) : s;
}

const HIDDEN_FACTS = new Set(["id", "customer_id", "campaign_id", "name"]);

/** The facts of one campaign the rules saw, one line each. */
export function factsOf(campaignFacts: unknown): Fact[] {
  return Object.entries(obj(campaignFacts))
    .filter(([k]) => !HIDDEN_FACTS.has(k))
    .map(([k, v]) => ({ name: k, value: valueText(k, v) }));
}

export function teamLine(teamFacts: unknown): string | null {
  const t = obj(teamFacts);
  if (Object.keys(t).length === 0) return null;
  return `team ${str(t.team) || "?"}: ${str(t.open_leads)} open of ${str(t.max_open_leads)} max, ${str(t.agents_available)} agents available`;
}

function conflictText(c: unknown): string {
  const o = obj(c);
  const losers = arr(o.losers)
    .map((l) => (Array.isArray(l) ? `${str(l[0])} (${str(l[1])})` : str(l)))
    .join(", ");
  if (!o.winner) return JSON.stringify(c);
  return `${str(o.field)}: ${str(o.winner)} (${str(o.winner_action)}) won over ${losers || "—"}`;
}

/** An explain excerpt as a step. */
export function excerptStep(x: EvaluationExcerpt | null): EvaluationStep | null {
  if (!x) return null;
  return {
    id: x.id,
    position: null,
    at: x.at,
    trigger: x.trigger,
    rules: x.rules,
    facts: factsOf(x.campaign_facts),
    team: teamLine(x.team_facts),
    decisions: x.proposals.map((p) => {
      const o = obj(p);
      const d = obj(o.decision);
      const outcome = o.outcome;
      const accepted = outcome === "accepted";
      return {
        rule: str(o.rule),
        action: actionText(d.action),
        reason: str(d.reason),
        outcome:
          typeof outcome === "string"
            ? outcome
            : obj(outcome).suppressed !== undefined
              ? suppressedText(obj(outcome).suppressed)
              : JSON.stringify(outcome ?? null),
        tone: accepted ? "accepted" : "held",
      };
    }),
    conflicts: x.conflicts.map(conflictText),
    applied: [],
  };
}

/** The explain answer as the chain the view shows. */
export function whyChain(x: Explanation): WhyChain {
  const c = x.cause;
  let cause: Cause;
  let decidedBy: EvaluationStep | null = null;
  switch (c.kind) {
    case "engine":
      cause = {
        kind: "engine",
        text: `The engine applied ${c.action} at ${utcText(c.applied_at)} (requested ${utcText(c.requested_at)}, change ${c.change_id}).`,
        reason: c.reason || null,
        at: c.applied_at,
      };
      decidedBy = excerptStep(c.evaluation);
      break;
    case "outside":
      cause = {
        kind: "outside",
        text: `It was changed outside the engine (${c.fields.join(", ")}), noticed at ${utcText(c.at)}; the engine respects that until ${utcText(c.hold_until)}.`,
        reason: null,
        at: c.at,
      };
      break;
    case "observed":
      cause = {
        kind: "observed",
        text: `It was ${x.status} when first observed at ${utcText(c.at)}; the engine has not changed its status.`,
        reason: null,
        at: c.at,
      };
      break;
    default:
      cause = { kind: "unknown", text: "The answer gives no cause.", reason: null, at: null };
  }
  return {
    campaign: x.campaign,
    name: x.name,
    status: x.status,
    at: x.at,
    cause,
    decidedBy,
    manualHoldUntil: x.manual_hold_until,
    pending: x.pending.map(([id, action, reason]) => ({ id, action, reason })),
    latest: excerptStep(x.latest),
  };
}

function sameProposal(p: Json, rule: string, campaign: string, action: unknown): boolean {
  return (
    p.rule === rule &&
    p.campaign === campaign &&
    JSON.stringify(obj(p.decision).action) === JSON.stringify(action)
  );
}

/**
 * One recorded evaluation (`/v1/evaluations` item) as the steps for `campaign`: the facts
 * its rules saw, each rule's decision (or none), the arbiter's verdict on each, the
 * conflicts, and the changes it asked for.
 */
export function evaluationStep(view: EvaluationView, campaign: string): EvaluationStep {
  const r = obj(view.evaluation);
  const facts = obj(r.facts);
  const campaignFacts = arr(facts.campaigns).find((c) => obj(c).id === campaign);
  const teamName = str(obj(campaignFacts).team);
  const teamFacts = teamName ? obj(facts.teams)[teamName] : undefined;
  const resolution = obj(r.resolution);
  const accepted = arr(resolution.accepted).map(obj);
  const suppressed = arr(resolution.suppressed).map(obj);
  const decisions: RuleDecision[] = [];
  for (const runRecord of arr(r.rules).map(obj)) {
    const rule = str(runRecord.rule_id);
    const run = obj(runRecord.run);
    const label = `${rule} v${str(runRecord.rule_version)}`;
    const aborted = run.aborted;
    if (aborted !== undefined && aborted !== null) {
      decisions.push({ rule: label, action: "", reason: "", outcome: `failed: ${valueText("", aborted)}`, tone: "failed" });
      continue;
    }
    const failure = arr(run.failures).map(obj).find((f) => f.campaign === campaign);
    if (failure) {
      decisions.push({ rule: label, action: "", reason: "", outcome: `failed: ${valueText("", failure.error)}`, tone: "failed" });
    }
    const proposals = arr(run.proposals).map(obj).filter((p) => p.campaign === campaign);
    for (const p of proposals) {
      const d = obj(p.decision);
      const won = accepted.some((a) => sameProposal(a, str(p.rule) || rule, campaign, d.action));
      const held = suppressed.find((s) => sameProposal(obj(s.proposal), str(p.rule) || rule, campaign, d.action));
      decisions.push({
        rule: label,
        action: actionText(d.action),
        reason: str(d.reason),
        outcome: won ? "accepted" : held ? suppressedText(held.why) : "not resolved",
        tone: won ? "accepted" : "held",
      });
    }
    if (!failure && proposals.length === 0) {
      decisions.push({ rule: label, action: "", reason: "", outcome: "no proposal", tone: "none" });
    }
  }
  return {
    id: view.id,
    position: view.position,
    at: str(r.at) || view.recorded_at,
    trigger: str(r.trigger),
    rules: arr(r.rules).map((x) => `${str(obj(x).rule_id)} v${str(obj(x).rule_version)}`),
    facts: factsOf(campaignFacts),
    team: teamLine(teamFacts),
    decisions,
    conflicts: arr(resolution.conflicts)
      .filter((c) => obj(c).campaign === campaign)
      .map(conflictText),
    applied: arr(r.changes)
      .map(obj)
      .filter((c) => c.campaign === campaign)
      .map((c) => ({ changeId: str(c.change_id), action: str(c.action), rule: str(c.rule_id) })),
  };
}

/** Whether an evaluation did anything for the campaign (a proposal, a change, a failure). */
export function concerns(step: EvaluationStep): boolean {
  return step.applied.length > 0 || step.decisions.some((d) => d.tone !== "none");
}

/** `1234/5678` → the explain path, or `null` for something that is not `customer/campaign`. */
export function explainPath(campaign: string): string | null {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(campaign.trim());
  if (!m) return null;
  return `/v1/campaigns/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}/explain`;
}
