import { describe, expect, it } from "vitest";
import { BRAND, evaluationView, explainAt } from "../../../test/replayFixtures";
import { actionText, concerns, evaluationStep, explainPath, suppressedText, whyChain } from "./why";

describe("the why chain", () => {
  it("reads explain's answer as leadorch explain prints it: cause, deciding evaluation, each proposal's fate", () => {
    const chain = whyChain(explainAt(100));
    expect(chain.status).toBe("paused");
    expect(chain.name).toBe("Brand NL");
    expect(chain.cause.kind).toBe("engine");
    expect(chain.cause.text).toContain("The engine applied pause at 2026-12-04 09:00:00 UTC (requested 2026-12-04 08:58:00 UTC, change ch-1).");
    expect(chain.cause.reason).toBe("[capacity-guard] team sales-nl is full (12 of 10)");
    const e = chain.decidedBy!;
    expect(e.id).toBe("ev-58");
    expect(e.trigger).toBe("capacity_changed");
    expect(e.team).toBe("team sales-nl: 12 open of 10 max, 0 agents available");
    expect(e.facts).toContainEqual({ name: "leads_today", value: "14" });
    expect(e.facts).toContainEqual({ name: "daily_budget_micros", value: "50.00" });
    expect(e.facts.map((f) => f.name)).not.toContain("name");
    expect(e.decisions).toEqual([
      { rule: "capacity-guard", action: "pause", reason: "team sales-nl is full (12 of 10)", outcome: "accepted", tone: "accepted" },
      {
        rule: "budget-pacer",
        action: "set_budget 40.00",
        reason: "pacing",
        outcome: "held back: cooldown (until 2026-12-04 09:30:00 UTC)",
        tone: "held",
      },
    ]);
  });

  it("says when the status was there from the first observation, and lists pending changes", () => {
    const chain = whyChain(explainAt(58));
    expect(chain.status).toBe("enabled");
    expect(chain.cause.kind).toBe("observed");
    expect(chain.cause.text).toContain("It was enabled when first observed");
    expect(chain.decidedBy).toBeNull();
    expect(chain.pending).toEqual([{ id: "ch-1", action: "pause", reason: "[capacity-guard] team sales-nl is full" }]);
  });

  it("explains a change made outside the engine", () => {
    const chain = whyChain({
      campaign: BRAND,
      name: "x",
      status: "paused",
      at: "2026-12-04T10:00:00Z",
      cause: { kind: "outside", at: "2026-12-04T09:00:00Z", fields: ["status"], hold_until: "2026-12-05T09:00:00Z" },
      manual_hold_until: "2026-12-05T09:00:00Z",
      pending: [],
      latest: null,
    });
    expect(chain.cause.text).toContain("changed outside the engine (status)");
    expect(chain.cause.text).toContain("until 2026-12-05 09:00:00 UTC");
    expect(chain.manualHoldUntil).toBe("2026-12-05T09:00:00Z");
    expect(chain.pending).toEqual([]);
    expect(chain.latest).toBeNull();
  });

  it("turns a recorded evaluation into each rule's decision, the arbiter's verdict and what was applied", () => {
    const s = evaluationStep(evaluationView(58), BRAND);
    expect(s.position).toBe(58);
    expect(s.rules).toEqual(["capacity-guard v2", "budget-pacer v1", "night-mode v4"]);
    expect(s.decisions.map((d) => [d.rule, d.action, d.outcome])).toEqual([
      ["capacity-guard v2", "pause", "accepted"],
      ["budget-pacer v1", "set_budget 40.00", "held back: cooldown (until 2026-12-04 09:30:00 UTC)"],
      ["night-mode v4", "", "no proposal"],
    ]);
    expect(s.applied).toEqual([{ changeId: "ch-1", action: "pause", rule: "capacity-guard" }]);
    expect(s.team).toContain("12 open of 10 max");
    expect(concerns(s)).toBe(true);

    const later = evaluationStep(evaluationView(90), BRAND);
    expect(later.decisions[0].outcome).toBe("held back: no_change");
    expect(later.applied).toEqual([]);
    // Another campaign: the rules proposed nothing for it.
    const other = evaluationStep(evaluationView(90), "1/2");
    expect(other.facts).toEqual([]);
    expect(concerns(other)).toBe(false);
  });

  it("reports a rule that failed for the campaign or was aborted", () => {
    const v = evaluationView(90);
    const rec = v.evaluation as { rules: { run: Record<string, unknown> }[] };
    rec.rules[0].run = { proposals: [], failures: [{ campaign: BRAND, error: { kind: "runtime", message: "boom" } }] };
    rec.rules[1].run = { proposals: [], failures: [], aborted: { kind: "too_many_operations" } };
    const s = evaluationStep(v, BRAND);
    expect(s.decisions[0]).toMatchObject({ tone: "failed", outcome: "failed: kind runtime, message boom" });
    expect(s.decisions[1]).toMatchObject({ tone: "failed", outcome: "failed: kind too_many_operations" });
  });

  it("formats actions and reasons like the CLI, and builds the explain path", () => {
    expect(actionText({ action: "pause" })).toBe("pause");
    expect(actionText("resume")).toBe("resume");
    expect(suppressedText({ why: "lost_conflict", winner: "night-mode" })).toBe("held back: lost_conflict (winner night-mode)");
    expect(explainPath("1234567890/1001")).toBe("/v1/campaigns/1234567890/1001/explain");
    expect(explainPath("nope")).toBeNull();
  });
});
