import { Text } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import type { EventWindow } from "../../../generated/EventWindow";
import type { JsonValue } from "../../../generated/serde_json/JsonValue";
import { ApiProblem } from "../../backend";
import { backtestAnswer } from "./testdata";
import { buildSeries, minutesText, presetWindow, windowProblem } from "./backtestSeries";
import { offsetOf, problemDiagnostic, toDiagnostic } from "./diagnostics";
import { EXAMPLE_FIXTURES, fixtureRuleIds } from "./fixtures";
import { describe as describeResult, lastResults } from "./lastResult";

describe("diagnostics", () => {
  const doc = Text.of(["let x = 1;", "let 😀y = ;", "z"]);

  it("lands at the API's 1-based line and character column", () => {
    expect(offsetOf(doc, 1, 1)).toBe(0);
    expect(offsetOf(doc, 2, 1)).toBe(11);
    // Column 6 is the y after the emoji (two UTF-16 units, one character).
    expect(doc.sliceString(offsetOf(doc, 2, 6), offsetOf(doc, 2, 6) + 1)).toBe("y");
    expect(offsetOf(doc, 9, 1)).toBe(doc.length);
    expect(offsetOf(doc, null, null)).toBe(0);
    const d = toDiagnostic(doc, { severity: "error", line: 2, column: 10, message: "Unexpected ';'" });
    expect(doc.sliceString(d.from, d.to)).toBe(";");
    expect(d.severity).toBe("error");
    expect(d.message).toBe("line 2, column 10: Unexpected ';'");
    const w = toDiagnostic(doc, { severity: "warning", line: 3, column: 1, message: "not a fact" });
    expect(w.severity).toBe("warning");
    expect(doc.sliceString(w.from, w.to)).toBe("z");
  });

  it("turns a save's compile refusal into a diagnostic at its line", () => {
    const p = new ApiProblem(422, {
      title: "Does not compile",
      detail: "the source does not compile: line 2, column 10: x",
      field: "source",
      line: 2,
      column: 10,
    });
    expect(problemDiagnostic(doc, p)!.from).toBe(offsetOf(doc, 2, 10));
    expect(problemDiagnostic(doc, new ApiProblem(404, { title: "Not found" }))).toBeNull();
  });
});

describe("backtest series", () => {
  it("steps the campaigns the rule would have paused, and its decisions by action", () => {
    const c = buildSeries(backtestAnswer());
    const s = (iso: string) => Date.parse(iso) / 1000;
    expect(c.xs).toEqual([s("2026-03-02T00:00:00Z"), s("2026-03-02T10:00:00Z"), s("2026-03-02T12:00:00Z"), s("2026-03-03T00:00:00Z")]);
    expect(c.series.map((x) => x.label)).toEqual([
      "campaigns the rule would have paused",
      "pause decisions so far",
      "resume decisions so far",
    ]);
    expect(c.series[0].values).toEqual([0, 2, 1, 1]);
    expect(c.series[1].values).toEqual([0, 2, 2, 2]);
    expect(c.series[2].values).toEqual([0, 0, 1, 1]);
    for (const x of c.series) expect(x.values).toHaveLength(c.xs.length);
  });

  it("draws a flat line when the rule would have done nothing", () => {
    const c = buildSeries(backtestAnswer({ decisions: [] }));
    expect(c.series).toHaveLength(1);
    expect(c.series[0].values).toEqual([0, 0]);
  });

  it("offers windows the API takes, and says why others are refused", () => {
    const w = presetWindow(7, new Date("2026-12-06T11:33:56.123Z"));
    expect(w).toEqual({ from: "2026-11-29T11:33:00Z", to: "2026-12-06T11:33:00Z" });
    expect(windowProblem(w.from, w.to)).toBeNull();
    expect(windowProblem("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z")!.field).toBe("to");
    expect(windowProblem("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")!.message).toContain("after");
    expect(windowProblem("soon", "2026-01-01T00:00:00Z")!.field).toBe("from");
    expect(minutesText(200)).toBe("3 h 20 min");
    expect(minutesText(45)).toBe("45 min");
  });
});

describe("fixtures", () => {
  it("finds the rules a fixture names", () => {
    expect(fixtureRuleIds('rule = "../capacity_gate.rhai"\ndescription = "x"')).toEqual(["capacity_gate"]);
    expect(fixtureRuleIds('rules = ["../business_hours.rhai",\n "../capacity_gate.rhai"]')).toEqual([
      "business_hours",
      "capacity_gate",
    ]);
    expect(fixtureRuleIds("description = 'none'")).toEqual([]);
  });

  it("bundles the repository's example fixtures", () => {
    const dwell = EXAMPLE_FIXTURES.find((f) => f.name === "capacity_gate_dwell.toml")!;
    expect(dwell.rules).toEqual(["capacity_gate"]);
    expect(EXAMPLE_FIXTURES.length).toBeGreaterThanOrEqual(9);
  });
});

describe("last results", () => {
  it("takes each rule's newest run from the newest-first evaluations", () => {
    const ev = (position: number, at: string, rules: JsonValue[], changes: JsonValue[] = []) => ({
      position, stream: `evaluation:e${position}`, stream_version: 1, event_id: `id${position}`,
      type: "EvaluationRecorded", schema_version: "1.1", recorded_at: at, actor: "daemon",
      trace_id: null, hash: "h",
      data: { EvaluationRecorded: { at, trigger: "schedule", rules, changes } },
    });
    const window: EventWindow = {
      head: 90, next: null, order: "newest_first",
      items: [
        ev(90, "2026-03-02T10:05:00Z",
          [{ rule_id: "capacity_gate", rule_version: 3, evaluated: 4, run: { proposals: [{}], failures: [], aborted: null } }],
          [{ rule_id: "capacity_gate", action: "pause", campaign: "1/1", change_id: "c" }]),
        ev(80, "2026-03-02T10:00:00Z", [
          { rule_id: "capacity_gate", rule_version: 2, evaluated: 4, run: null },
          { rule_id: "budget_pacing", rule_version: 1, evaluated: 1, run: null },
        ]),
      ],
    };
    const r = lastResults(window);
    expect(r.get("capacity_gate")).toMatchObject({ version: 3, evaluated: 4, changes: { pause: 1 }, proposals: 1, failures: 0, position: 90 });
    expect(describeResult(r.get("capacity_gate")!)).toBe("4 campaigns · pause ×1");
    expect(r.get("budget_pacing")).toMatchObject({ version: 1, proposals: null, failures: null });
    expect(describeResult(r.get("budget_pacing")!)).toBe("1 campaign · no change");
    expect(r.has("team_routing")).toBe(false);
  });
});
