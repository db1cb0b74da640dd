// The last result of each rule, from the newest `EvaluationRecorded` events
// (`GET /v1/events?type=EvaluationRecorded&before=…`): the list of rules carries none
// (RuleList: "no read model holds it").
import type { EventWindow } from "../../../generated/EventWindow";

export interface LastResult {
  /** The evaluation's time (the rules' clock). */
  at: string;
  /** The version that ran. */
  version: number;
  /** Campaigns in scope. */
  evaluated: number;
  /** Changes requested because of this rule's accepted decisions, by action. */
  changes: Record<string, number>;
  /** Proposals and failures, when the run is readable (not sealed). */
  proposals: number | null;
  failures: number | null;
  /** Set when a limit stopped the whole run. */
  aborted: boolean;
  /** The evaluation's log position. */
  position: number;
}

/** The newest events first (as `before=` answers them): each rule's most recent run. */
export function lastResults(window: EventWindow): Map<string, LastResult> {
  const out = new Map<string, LastResult>();
  for (const e of window.items) {
    const data = e.data as Record<string, unknown> | null;
    const rec = ((data && (data.EvaluationRecorded as Record<string, unknown>)) ?? data) as
      | Record<string, unknown>
      | null;
    if (!rec || !Array.isArray(rec.rules)) continue;
    const changes = Array.isArray(rec.changes) ? (rec.changes as Record<string, unknown>[]) : [];
    for (const r of rec.rules as Record<string, unknown>[]) {
      const id = typeof r.rule_id === "string" ? r.rule_id : null;
      if (!id || out.has(id)) continue;
      const run = typeof r.run === "object" && r.run !== null ? (r.run as Record<string, unknown>) : null;
      const counted: Record<string, number> = {};
      for (const c of changes) {
        if (c.rule_id === id && typeof c.action === "string") counted[c.action] = (counted[c.action] ?? 0) + 1;
      }
      out.set(id, {
        at: typeof rec.at === "string" ? rec.at : e.recorded_at,
        version: typeof r.rule_version === "number" ? r.rule_version : 0,
        evaluated: typeof r.evaluated === "number" ? r.evaluated : 0,
        changes: counted,
        proposals: run && Array.isArray(run.proposals) ? run.proposals.length : null,
        failures: run && Array.isArray(run.failures) ? run.failures.length : null,
        aborted: !!(run && run.aborted),
        position: e.position,
      });
    }
  }
  return out;
}

/** One line for the list: "3 campaigns · pause ×1 · 0 failures". */
export function describe(r: LastResult): string {
  const parts = [`${r.evaluated} campaign${r.evaluated === 1 ? "" : "s"}`];
  const changes = Object.entries(r.changes).map(([a, n]) => `${a} ×${n}`);
  parts.push(changes.length ? changes.join(", ") : "no change");
  if (r.aborted) parts.push("aborted");
  else if (r.failures) parts.push(`${r.failures} failure${r.failures === 1 ? "" : "s"}`);
  return parts.join(" · ");
}
