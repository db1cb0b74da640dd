// Answers of the engine for the Rules view's tests.
import type { BacktestAnswer } from "../../../generated/BacktestAnswer";
import type { BacktestFigures } from "../../../generated/BacktestFigures";

function figures(over: Partial<BacktestFigures> = {}): BacktestFigures {
  return {
    campaign: null, name: "", flips_rule: 0, flips_actual: 0, minutes_paused_rule: 0,
    minutes_paused_actual: 0, spend_avoided_micros: 0, leads_lost: 0, spend_added_micros: 0,
    leads_actual: 0, spend_actual_micros: 0, ...over,
  };
}

export function backtestAnswer(over: Partial<BacktestAnswer> = {}): BacktestAnswer {
  const d = (at: string, campaign: string, action: string) => ({
    at, campaign, campaign_name: campaign === "1/1" ? "Brand NL" : "", action, reason: `${action} it`,
  });
  return {
    id: "capacity_gate", version: 2, source_digest: "ab", from: "2026-03-02T00:00:00Z",
    to: "2026-03-03T00:00:00Z", evaluations: 288, failures: 0, events: 1000,
    decisions: [
      d("2026-03-02T10:00:00Z", "1/1", "pause"),
      d("2026-03-02T10:00:00Z", "1/2", "pause"),
      d("2026-03-02T12:00:00Z", "1/1", "resume"),
    ],
    campaigns: [figures({ campaign: "1/1", name: "Brand NL", flips_rule: 2, flips_actual: 4 })],
    totals: figures({ flips_rule: 3, flips_actual: 4, minutes_paused_rule: 840, minutes_paused_actual: 200 }),
    ...over,
  };
}

