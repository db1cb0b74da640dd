import { EditorView } from "@codemirror/view";
import { fireEvent } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CheckAnswer } from "../../../generated/CheckAnswer";
import type { DryRunAnswer } from "../../../generated/DryRunAnswer";
import type { EventWindow } from "../../../generated/EventWindow";
import type { FixtureAnswer } from "../../../generated/FixtureAnswer";
import type { RuleDetail } from "../../../generated/RuleDetail";
import type { RuleItem } from "../../../generated/RuleItem";
import { ApiProblem, type RequestOptions } from "../../backend";
import { deferred, FakeBackend, renderWith } from "../../../test/routeBackend";
import { until } from "../../../test/fixtures";
import { backtestAnswer } from "./testdata";

// jsdom lays nothing out: CodeMirror's measuring gets empty rectangles.
Range.prototype.getClientRects = function () {
  return Object.assign([], { item: () => null }) as unknown as DOMRectList;
};
Range.prototype.getBoundingClientRect = () => new DOMRect();
// Nor has it execCommand, which CodeMirror calls when it takes the focus.
document.execCommand ??= () => false;

beforeEach(() => {
  window.location.hash = "";
  localStorage.clear();
});
afterEach(() => {
  document.body.innerHTML = "";
});

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const tid = (id: string) => $(`[data-testid="${id}"]`);

const V1 = "//! priority: 100\nif team.utilisation > 0.9 { pause(\"full\") }\n";
const V2 = "//! priority: 100\nif team.utilisation > 0.8 { pause(\"full\") }\n";

function item(over: Partial<RuleItem> = {}): RuleItem {
  return {
    id: "capacity_gate",
    version: 2,
    enabled: true,
    priority: 100,
    scope: { ids: [], labels: ["capacity-gated"], names: [], teams: [] },
    schedule: { every: "5m", cron: null },
    triggers: ["capacity_changed"],
    header_error: null,
    ...over,
  };
}

function detail(version: number, source: string, current = 2): RuleDetail {
  return {
    id: "capacity_gate",
    version,
    current_version: current,
    enabled: true,
    deleted_at: null,
    at: "2026-12-06T10:00:00Z",
    source,
    source_digest: `d${version}`,
    header: {
      description: "Pause when full.",
      priority: 100,
      scope: { ids: [], labels: ["capacity-gated"], names: [], teams: [] },
      schedule: { every: "5m", cron: null },
      triggers: ["capacity_changed"],
      dwell: null,
      cooldown: null,
    },
    header_error: null,
    versions: Array.from({ length: current }, (_, i) => ({ version: i + 1, at: "2026-12-06T10:00:00Z", source_digest: `d${i + 1}` })),
  };
}

const noEvaluations: EventWindow = { items: [], next: null, head: 10, order: "newest_first" };
const compiles: CheckAnswer = { ok: true, rules: [{ id: "rule", ok: true, priority: 100, triggers: [], diagnostics: [] }] };

/** A backend with rule capacity_gate at version 2. */
function backend() {
  return new FakeBackend()
    .on("GET /v1/rules", () => ({ items: [item()] }))
    .on("GET /v1/events", () => ({
      ...noEvaluations,
      items: [
        {
          position: 9, stream: "evaluation:e9", stream_version: 1, event_id: "e9", type: "EvaluationRecorded",
          schema_version: "1.1", recorded_at: "2026-12-06T10:05:00Z", actor: "daemon", trace_id: null, hash: "h",
          data: { EvaluationRecorded: { at: "2026-12-06T10:05:00Z", rules: [{ rule_id: "capacity_gate", rule_version: 2, evaluated: 3, run: null }], changes: [{ rule_id: "capacity_gate", action: "pause", campaign: "1/1", change_id: "c" }] } },
        },
      ],
    }))
    .on("GET /v1/rules/capacity_gate", (_b, path) => {
      const v = /version=(\d+)/.exec(path);
      return v && v[1] === "1" ? detail(1, V1) : detail(2, V2);
    })
    .on("POST /v1/rules/check", () => compiles);
}

function editorView(): EditorView {
  const host = tid("rule-editor")!;
  const dom = host.shadowRoot!.querySelector<HTMLElement>(".cm-editor")!;
  return EditorView.findFromDOM(dom)!;
}

function type(text: string) {
  const view = editorView();
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

describe("Rules view", () => {
  it("lists rules with status, priority, scope and last result, and enables and disables them", async () => {
    let enabled = true;
    const b = backend()
      .on("GET /v1/rules", () => ({ items: [item({ enabled }), item({ id: "budget_pacing", enabled: false, priority: 50, version: 1, scope: { ids: [], labels: [], names: [], teams: [] } })] }))
      .on("POST /v1/rules/capacity_gate/disable", () => ((enabled = false), { id: "capacity_gate", enabled: false, changed: true, trace_id: "t" }));
    renderWith(b, "#/rules");
    await until(() => !!tid("rule-row-budget_pacing"), "the list");
    const row = tid("rule-row-capacity_gate")!;
    expect(row.textContent).toContain("P100");
    expect(row.textContent).toContain("labels capacity-gated");
    expect(tid("rule-last-capacity_gate")!.textContent).toContain("3 campaigns · pause ×1");
    expect(tid("rule-last-budget_pacing")!.textContent).toContain("No evaluation recorded yet");
    expect(tid("rule-row-budget_pacing")!.textContent).toContain("all campaigns");
    expect(b.made("GET", "/v1/events")[0].path).toContain("type=EvaluationRecorded");
    const sw = tid("rule-enabled-capacity_gate")!;
    expect(sw.getAttribute("aria-checked")).toBe("true");
    await fireEvent.click(sw);
    await until(() => tid("rule-enabled-capacity_gate")!.getAttribute("aria-checked") === "false", "disabled");
    expect(b.made("POST", "/v1/rules/capacity_gate/disable")).toHaveLength(1);
    // Picking a rule puts it in the address, with its tab.
    await fireEvent.click(row);
    await until(() => window.location.hash.includes("rule=capacity_gate"), "the rule in the route");
    expect(window.location.hash).toContain("tab=editor");
  });

  it("says it is reading the rules until the list answers", async () => {
    const pending = deferred<unknown>();
    const b = backend().on("GET /v1/rules", () => pending.promise);
    renderWith(b, "#/rules");
    await until(() => !!tid("rules-loading"), "the loading line");
    expect(tid("rule-list")!.getAttribute("aria-busy")).toBe("true");
    expect(tid("no-rules")).toBeNull();
    pending.resolve({ items: [item()] });
    await until(() => !!tid("rule-row-capacity_gate"), "the list");
    expect(tid("rules-loading")).toBeNull();
    expect(tid("rule-list")!.getAttribute("aria-busy")).toBe("false");
  });

  it("refreshes the list when events are appended, and stops watching when left", async () => {
    const b = backend();
    renderWith(b, "#/rules");
    await until(() => !!tid("rule-row-capacity_gate") && b.watching === 1, "the list and the watch");
    const before = b.made("GET", "/v1/rules").length;
    b.appended(11);
    await until(() => b.made("GET", "/v1/rules").length > before, "a reload");
    // Refresh (R) reloads it too.
    const reloads = b.made("GET", "/v1/rules").length;
    await fireEvent.keyDown(document.body, { key: "r" });
    await until(() => b.made("GET", "/v1/rules").length > reloads, "a refresh");
    window.location.hash = "#/accounts";
    await until(() => b.watching === 0, "the watch stopped");
  });

  it("tells a new user what to do, and creates a rule from the editor", async () => {
    let items: RuleItem[] = [];
    const b = backend()
      .on("GET /v1/rules", () => ({ items }))
      .on("GET /v1/events", () => noEvaluations)
      .on("PUT /v1/rules/weekend_pause", (body) => {
        items = [item({ id: "weekend_pause", version: 1, enabled: true })];
        expect(body).toMatchObject({ enable: true });
        return { id: "weekend_pause", outcome: "created", version: 1, enabled: true, changed: true, trace_id: "t" };
      })
      .on("GET /v1/rules/weekend_pause", () => ({ ...detail(1, "x", 1), id: "weekend_pause" }));
    renderWith(b, "#/rules");
    await until(() => !!$("#no-rules"), "the empty state");
    expect($("#no-rules")!.textContent).toContain("Write your first rule");
    await fireEvent.click(tid("new-rule-empty")!);
    const input = tid("new-rule-id") as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    await fireEvent.input(input, { target: { value: "bad id" } });
    await fireEvent.submit(tid("new-rule-form")!);
    expect($("#new-rule-hint")!.textContent).toContain("letters, digits");
    await fireEvent.input(input, { target: { value: "weekend_pause" } });
    await fireEvent.submit(tid("new-rule-form")!);
    await until(() => !!tid("rule-editor")?.shadowRoot?.querySelector(".cm-editor"), "the editor");
    expect(editorView().state.doc.toString()).toContain("//! priority: 100");
    expect(tid("rule-dirty")!.textContent).toContain("Not saved yet");
    await fireEvent.click(tid("rule-enable-on-save")!);
    await fireEvent.click(tid("rule-save")!);
    await until(() => !!tid("rule-saved") || !!$("#rule-save-error"), "saved");
    expect($("#rule-save-error")?.textContent ?? "").toBe("");
    expect(tid("rule-saved")!.textContent).toContain("Rule created: version 1 saved and enabled");
    expect((b.made("PUT", "/v1/rules/weekend_pause")[0].body as { source: string }).source).toContain("team.utilisation");
    await until(() => !!tid("rule-row-weekend_pause")?.textContent?.includes("v1"), "listed");
  });

  it("shows the engine's diagnostics at their line as you type, and a save refused at its line", async () => {
    const broken = "//! priority: 100\nlet x = ;\n";
    const b = backend()
      .on("POST /v1/rules/check", (body) =>
        (body as { source: string }).source === broken
          ? { ok: false, rules: [{ id: "rule", ok: false, priority: null, triggers: [], diagnostics: [{ severity: "error", line: 2, column: 9, message: "Expecting an expression" }] }] }
          : compiles,
      )
      .on("PUT /v1/rules/capacity_gate", (body) => {
        if ((body as { source: string }).source.includes("oops")) {
          throw new ApiProblem(422, { title: "Does not compile", detail: "the source does not compile: line 3, column 1: unknown", field: "source", line: 3, column: 1 });
        }
        return { id: "capacity_gate", outcome: "new_version", version: 3, enabled: true, changed: true, trace_id: "t" };
      });
    renderWith(b, "#/rules?rule=capacity_gate&tab=editor");
    await until(() => !!tid("rule-editor")?.shadowRoot?.querySelector(".cm-editor"), "the editor");
    await until(() => editorView().state.doc.toString() === V2, "the saved source");
    expect(tid("rule-dirty")!.dataset.dirty).toBe("false");

    type(broken);
    await until(() => !!tid("rule-diagnostics"), "the diagnostic", 3000);
    expect(tid("rule-diagnostic-count")!.textContent).toContain("1 error");
    expect(tid("rule-diagnostic")!.textContent).toContain("line 2, column 9: Expecting an expression");
    expect(b.made("POST", "/v1/rules/check").at(-1)!.body).toEqual({ source: broken });
    // The underline sits at line 2, column 9 in the editor.
    const view = editorView();
    const marked = view.contentDOM.querySelector(".cm-lintRange-error");
    expect(marked?.textContent).toBe(";");
    expect(tid("rule-dirty")!.dataset.dirty).toBe("true");

    type("//! priority: 100\nlet x = 1;\noops\n");
    await fireEvent.keyDown(view.contentDOM, { key: "s", ctrlKey: true });
    await until(() => !!$("#rule-save-error"), "the refusal");
    expect($("#rule-save-error")!.textContent).toContain("Does not compile (field source, line 3, column 1)");
    expect(tid("rule-diagnostic")!.textContent).toContain("line 3, column 1");

    // The reference inserts what it lists at the cursor.
    await fireEvent.click(tid("rule-reference-toggle")!);
    type("");
    const free = [...tid("rule-reference")!.querySelectorAll("button")].find((x) => x.textContent === "free_slots")!;
    await fireEvent.click(free);
    expect(editorView().state.doc.toString()).toBe("team.free_slots");

    type(V2 + "// better\n");
    await fireEvent.click(tid("rule-save")!);
    await until(() => !!tid("rule-saved"), "saved");
    expect(tid("rule-saved")!.textContent).toContain("Version 3 saved");
  });

  it("compares two versions side by side and rolls back after a confirmation", async () => {
    const b = backend()
      .on("GET /v1/rules/capacity_gate/history", () => ({
        items: [
          { position: 3, version: 1, what: "created", rolled_back_to: null, at: "2026-12-06T09:00:00Z", recorded_at: "2026-12-06T09:00:00Z", actor: "cli:ann", source_digest: "d1" },
          { position: 5, version: 2, what: "new_version", rolled_back_to: null, at: "2026-12-06T10:00:00Z", recorded_at: "2026-12-06T10:00:00Z", actor: "desktop:ann", source_digest: "d2" },
        ],
      }))
      .on("GET /v1/rules/capacity_gate/diff", (_b, path) => {
        expect(path).toContain("from=1&to=2");
        return { id: "capacity_gate", from: 1, to: 2, diff: "--- capacity_gate v1\n+++ capacity_gate v2\n@@ -1,2 +1,2 @@\n-if team.utilisation > 0.9\n+if team.utilisation > 0.8\n" };
      })
      .on("POST /v1/rules/capacity_gate/rollback", (body) => {
        expect(body).toEqual({ version: 1 });
        return { id: "capacity_gate", rolled_back_to: 1, version: 3, enabled: true, trace_id: "t" };
      });
    renderWith(b, "#/rules?rule=capacity_gate&tab=history");
    await until(() => !!tid("rule-history")?.querySelector("tr[data-position='5']"), "the history");
    expect(tid("rule-history")!.textContent).toContain("desktop:ann");
    await until(() => !!tid("rule-diff-side")!.shadowRoot?.querySelector(".cm-mergeView"), "the side-by-side diff");
    const sides = tid("rule-diff-side")!.shadowRoot!.querySelectorAll(".cm-content");
    expect(sides[0].textContent).toContain("0.9");
    expect(sides[1].textContent).toContain("0.8");
    expect(b.made("GET", "/v1/rules/capacity_gate").map((c) => c.path)).toContain("/v1/rules/capacity_gate?version=1");
    await fireEvent.click(tid("diff-unified")!);
    expect(tid("rule-diff-unified")!.querySelector(".add")!.textContent).toContain("+if team.utilisation > 0.8");

    await fireEvent.click(tid("rule-rollback")!);
    expect(tid("rollback-confirm")!.textContent).toContain("version 1");
    expect(b.made("POST", "/v1/rules/capacity_gate/rollback")).toHaveLength(0);
    await fireEvent.click(tid("rollback-confirm-yes")!);
    await until(() => !!tid("rule-rolled-back"), "rolled back");
    expect(tid("rule-rolled-back")!.textContent).toContain("version 3 recorded with the source of version 1");
  });

  it("dry-runs with Ctrl+Enter and says nothing was recorded or applied", async () => {
    const answer: DryRunAnswer = {
      id: "capacity_gate", version: 2, at: "2026-12-06T10:00:00Z", known_at: null, until_position: null,
      facts_digest: "abcdef1234567890", campaigns_in_scope: 3,
      decisions: [
        { campaign: "1/1", action: "pause", detail: { action: "pause" }, reason: "team sales-nl is full", outcome: "would_apply", held: null },
        { campaign: "1/2", action: "pause", detail: { action: "pause" }, reason: "team sales-nl is full", outcome: "held", held: { why: "no_change" } },
      ],
      failures: [{ campaign: "1/3", error: "Property not found: stale (line 4, column 9)" }],
      aborted: null,
      logs: [{ campaign: "1/1", line: "u = 0.95" }],
    };
    const b = backend().on("POST /v1/rules/capacity_gate/dry-run", () => answer);
    renderWith(b, "#/rules?rule=capacity_gate&tab=editor");
    await until(() => !!tid("tab-dry-run") && !!tid("rule-meta"), "the rule");
    await fireEvent.keyDown(document.body, { key: "Enter", ctrlKey: true });
    await until(() => !!tid("dry-run-decisions"), "the decisions");
    expect(window.location.hash).toContain("tab=dry-run");
    expect(tid("dry-run-nothing-recorded")!.textContent).toContain("Nothing was recorded or applied");
    expect(tid("dry-run-nothing-recorded")!.textContent).toContain("3 campaigns in scope");
    const rows = tid("dry-run-decisions")!.querySelectorAll("tbody tr");
    expect(rows[0].textContent).toContain("would apply");
    expect(rows[1].textContent).toContain("held: no change");
    expect(tid("dry-run-failures")!.textContent).toContain("Property not found");
    expect(tid("dry-run-logs")!.textContent).toContain("1/1: u = 0.95");
    expect(b.made("POST", "/v1/rules/capacity_gate/dry-run")[0].body).toEqual({});
    // Its results stay while another tab is looked at.
    await fireEvent.click(tid("tab-history")!);
    expect(tid("dry-run-decisions")!.closest("[role=tabpanel]")!.hasAttribute("hidden")).toBe(true);
    await fireEvent.click(tid("tab-dry-run")!);
    expect(tid("dry-run-decisions")!.closest("[role=tabpanel]")!.hasAttribute("hidden")).toBe(false);
    expect(b.made("POST", "/v1/rules/capacity_gate/dry-run")).toHaveLength(1);
  });

  it("backtests a window, shows its figures, and cancels a long run", async () => {
    const pending = deferred<unknown>();
    let aborted = false;
    let calls = 0;
    const b = backend().on("POST /v1/rules/capacity_gate/backtest", (_body, _p, signal) => {
      calls++;
      if (calls === 1) {
        signal?.addEventListener("abort", () => {
          aborted = true;
          pending.resolve(null);
        });
        return pending.promise;
      }
      return backtestAnswer();
    });
    renderWith(b, "#/rules?rule=capacity_gate&tab=backtest");
    await until(() => !!tid("backtest-start"), "the backtest tab");
    expect($("#backtest-empty")).not.toBeNull();
    await fireEvent.click(tid("backtest-preset-7")!);
    await fireEvent.click(tid("backtest-start")!);
    await until(() => !!tid("backtest-cancel"), "busy");
    expect(tid("backtest-busy")).not.toBeNull();
    await fireEvent.click(tid("backtest-cancel")!);
    await until(() => !tid("backtest-cancel"), "cancelled");
    expect(aborted).toBe(true);
    expect($("#backtest-error")).toBeNull();
    const sent = b.made("POST", "/v1/rules/capacity_gate/backtest")[0].body as { from: string; to: string };
    expect(Date.parse(sent.to) - Date.parse(sent.from)).toBe(7 * 86400000);
    expect(window.location.hash).toContain("bt_from=");

    await fireEvent.click(tid("backtest-start")!);
    await until(() => !!tid("backtest-figures"), "the figures");
    expect(tid("backtest-summary")!.textContent).toContain("3 decisions in 288 evaluations");
    const total = tid("backtest-figures")!.querySelector("tr[data-campaign='total']")!;
    expect(total.textContent).toContain("3 / 4");
    expect(total.textContent).toContain("14 h / 3 h 20 min");
    expect(tid("backtest-chart")).not.toBeNull();
  });

  it("shows the backtest's progress while it runs", async () => {
    const pending = deferred<unknown>();
    let report: RequestOptions["onProgress"];
    const b = backend().on("POST /v1/rules/capacity_gate/backtest", (_body, _p, _signal, onProgress) => {
      report = onProgress;
      return pending.promise;
    });
    renderWith(b, "#/rules?rule=capacity_gate&tab=backtest");
    await until(() => !!tid("backtest-start"), "the backtest tab");
    await fireEvent.click(tid("backtest-start")!);
    await until(() => !!tid("backtest-progress"), "the progress bar");
    // Before the first report the bar is indeterminate, with no numbers.
    expect(tid("backtest-progress")!.getAttribute("role")).toBe("progressbar");
    expect(tid("backtest-progress")!.hasAttribute("aria-valuenow")).toBe(false);
    expect(tid("backtest-progress-text")).toBeNull();
    expect(tid("backtest-busy")).not.toBeNull();
    expect(tid("backtest-cancel")).not.toBeNull();

    report!({ token: "t", unit: "events", done: 5000, total: null });
    await until(() => tid("backtest-progress-text")?.textContent === "5,000 events", "a report without a total");
    expect(tid("backtest-progress")!.hasAttribute("aria-valuenow")).toBe(false);
    report!({ token: "t", unit: "events", done: 420000, total: 1000000 });
    await until(() => tid("backtest-progress-text")?.textContent === "420,000 / 1,000,000 events", "the progress");
    const bar = tid("backtest-progress")!;
    expect(bar.getAttribute("aria-valuenow")).toBe("420000");
    expect(bar.getAttribute("aria-valuemin")).toBe("0");
    expect(bar.getAttribute("aria-valuemax")).toBe("1000000");

    pending.resolve(backtestAnswer());
    await until(() => !!tid("backtest-figures"), "the figures");
    expect(tid("backtest-progress")).toBeNull();
    expect(tid("backtest-progress-text")).toBeNull();
  });

  it("runs a fixture with the unsaved source and highlights the steps that differ", async () => {
    const answer: FixtureAnswer = {
      description: "a resume waits for the dwell time",
      passed: false,
      rules: [{ id: "capacity_gate", from: "sources", version: null }],
      steps: [
        { number: 1, at: "2026-03-02T10:00:00Z", note: null, expected: ["pause 111-222-3333/2001"], actual: ["pause 111-222-3333/2001 by capacity_gate"], suppressed: [], failures: [], matched: true, problems: [] },
        { number: 2, at: "2026-03-02T10:05:00Z", note: "dwell", expected: [], actual: ["resume 111-222-3333/2001 by capacity_gate"], suppressed: [], failures: [], matched: false, problems: ["expected nothing, got resume 111-222-3333/2001"] },
      ],
    };
    const b = backend().on("POST /v1/rules/test", () => answer);
    renderWith(b, "#/rules?rule=capacity_gate&tab=editor");
    await until(() => !!tid("rule-editor")?.shadowRoot?.querySelector(".cm-editor") && editorView().state.doc.toString() === V2, "the source");
    type(V2 + "// draft\n");
    await fireEvent.click(tid("tab-fixtures")!);
    await until(() => !!tid("fixture-toml"), "the fixtures tab");
    // An example fixture that runs this rule is there to start from.
    expect((tid("fixture-toml") as HTMLTextAreaElement).value).toContain('"../capacity_gate');
    expect(tid("fixture-rules")!.textContent).toContain("from the editor's unsaved source");
    await fireEvent.click(tid("fixture-run")!);
    await until(() => !!tid("fixture-steps"), "the steps");
    const sent = b.made("POST", "/v1/rules/test")[0].body as { fixture: string; sources: Record<string, string> };
    expect(sent.sources.capacity_gate).toContain("// draft");
    expect(tid("fixture-verdict")!.dataset.passed).toBe("false");
    expect(tid("fixture-verdict")!.textContent).toContain("1 of 2 steps differ");
    expect(tid("fixture-step-1")!.classList.contains("differs")).toBe(false);
    expect(tid("fixture-step-2")!.classList.contains("differs")).toBe(true);
    expect(tid("fixture-step-2")!.textContent).toContain("expected nothing, got resume");
  });

  it("keeps unsaved edits when leaving the view, and opens the new-rule form from the palette's shortcut", async () => {
    const b = backend();
    renderWith(b, "#/rules?rule=capacity_gate&tab=editor");
    await until(() => !!tid("rule-editor")?.shadowRoot?.querySelector(".cm-editor") && editorView().state.doc.toString() === V2, "the source");
    type(V2 + "// keep me\n");
    await until(() => tid("rule-dirty")!.dataset.dirty === "true", "dirty");
    window.location.hash = "#/accounts";
    await until(() => !tid("rule-editor"), "left");
    window.location.hash = "#/rules?rule=capacity_gate&tab=editor";
    await until(() => !!tid("rule-editor")?.shadowRoot?.querySelector(".cm-editor"), "back");
    await until(() => editorView().state.doc.toString().includes("// keep me"), "the draft again");
    expect(tid("tab-editor")!.textContent).toContain("•");
    expect(tid("rule-edited-capacity_gate")).not.toBeNull();
    // Typing in the editor is not a shortcut (its events come from a shadow root).
    await fireEvent.keyDown(editorView().contentDOM, { key: "n" });
    expect(tid("new-rule-form")).toBeNull();
    await fireEvent.keyDown(document.body, { key: "n" });
    await until(() => !!tid("new-rule-form"), "the new-rule form");
    await until(() => document.activeElement === tid("new-rule-id"), "focus in the id");
  });

  it("forgets an edit that comes back to the saved text", async () => {
    const b = backend();
    renderWith(b, "#/rules?rule=capacity_gate&tab=editor");
    await until(() => !!tid("rule-editor")?.shadowRoot?.querySelector(".cm-editor") && editorView().state.doc.toString() === V2, "the source");
    type(V2 + "// for a moment\n");
    await until(() => !!tid("rule-edited-capacity_gate"), "edited");
    type(V2);
    await until(() => !tid("rule-edited-capacity_gate"), "no longer edited");
    expect(tid("rule-dirty")!.dataset.dirty).toBe("false");
  });
});
