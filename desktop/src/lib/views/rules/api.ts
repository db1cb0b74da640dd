// The engine's `/v1/rules` routes as the Rules view calls them (engine/api/src/routes/rules.rs),
// typed by the generated Rust types.
import type { BacktestAnswer } from "../../../generated/BacktestAnswer";
import type { BacktestRequest } from "../../../generated/BacktestRequest";
import type { CheckAnswer } from "../../../generated/CheckAnswer";
import type { DiffAnswer } from "../../../generated/DiffAnswer";
import type { DryRunAnswer } from "../../../generated/DryRunAnswer";
import type { DryRunRequest } from "../../../generated/DryRunRequest";
import type { EnabledAnswer } from "../../../generated/EnabledAnswer";
import type { EventWindow } from "../../../generated/EventWindow";
import type { FixtureAnswer } from "../../../generated/FixtureAnswer";
import type { FixtureRequest } from "../../../generated/FixtureRequest";
import type { HistoryList } from "../../../generated/HistoryList";
import type { RollbackAnswer } from "../../../generated/RollbackAnswer";
import type { RuleDetail } from "../../../generated/RuleDetail";
import type { RuleList } from "../../../generated/RuleList";
import type { SaveAnswer } from "../../../generated/SaveAnswer";
import type { SaveRequest } from "../../../generated/SaveRequest";
import { ApiProblem, CommandError, type Backend, type RequestOptions } from "../../backend";

/** Newest evaluations read for the list's last results (one window, newest first). */
export const LAST_RESULTS_WINDOW = 200;

export function rulesApi(b: Backend) {
  const rule = (id: string) => `/v1/rules/${encodeURIComponent(id)}`;
  return {
    list: () => b.request<RuleList>("GET", "/v1/rules"),
    /** The newest evaluations, newest first: each rule's last result. */
    lastEvaluations: () =>
      b.request<EventWindow>(
        "GET",
        `/v1/events?type=EvaluationRecorded&before=${Number.MAX_SAFE_INTEGER}&limit=${LAST_RESULTS_WINDOW}`,
      ),
    show: (id: string, version?: number) =>
      b.request<RuleDetail>("GET", version === undefined ? rule(id) : `${rule(id)}?version=${version}`),
    save: (id: string, body: SaveRequest) => b.request<SaveAnswer>("PUT", rule(id), body),
    setEnabled: (id: string, enabled: boolean) =>
      b.request<EnabledAnswer>("POST", `${rule(id)}/${enabled ? "enable" : "disable"}`),
    history: (id: string) => b.request<HistoryList>("GET", `${rule(id)}/history`),
    diff: (id: string, from: number, to: number) =>
      b.request<DiffAnswer>("GET", `${rule(id)}/diff?from=${from}&to=${to}`),
    rollback: (id: string, version: number) =>
      b.request<RollbackAnswer>("POST", `${rule(id)}/rollback`, { version }),
    dryRun: (id: string, body: DryRunRequest, signal?: AbortSignal) =>
      b.request<DryRunAnswer>("POST", `${rule(id)}/dry-run`, body, { signal }),
    /** A long run: `options` cancels it and follows its progress. */
    backtest: (id: string, body: BacktestRequest, options?: RequestOptions) =>
      b.request<BacktestAnswer>("POST", `${rule(id)}/backtest`, body, options),
    check: (source: string) => b.request<CheckAnswer>("POST", "/v1/rules/check", { source }),
    test: (body: FixtureRequest, signal?: AbortSignal) =>
      b.request<FixtureAnswer>("POST", "/v1/rules/test", body, { signal }),
  };
}

export type RulesApi = ReturnType<typeof rulesApi>;

/** What went wrong, for a banner: the problem's title and detail, where it points. */
export function problemText(e: unknown): { title: string; detail: string; cancelled: boolean } {
  if (e instanceof ApiProblem) {
    const where = [e.field ? `field ${e.field}` : "", e.line !== undefined ? `line ${e.line}${e.column !== undefined ? `, column ${e.column}` : ""}` : ""]
      .filter(Boolean)
      .join(", ");
    const issues = e.errors.map((i) => `${i.field}: ${i.problem}`).join("; ");
    return {
      title: `${e.title}${where ? ` (${where})` : ""}`,
      detail: [e.detail, issues].filter(Boolean).join(" — "),
      cancelled: false,
    };
  }
  const c = CommandError.from(e);
  return { title: c.code === "cancelled" ? "Cancelled" : "The request could not be made", detail: c.message, cancelled: c.code === "cancelled" };
}

/** A rule id the API takes (`check_client_id`): 1 to 128 of A-Z a-z 0-9 . _ - */
export const RULE_ID = /^[A-Za-z0-9._-]{1,128}$/;

export const NEW_RULE_SOURCE = `//! Describe what this rule does, for whoever reads it next.
//! priority: 100
//! scope: labels=capacity-gated
//! every: 5m

if team == () || campaign.status == "removed" {
    return; // no team: nothing to decide on
}

if team.utilisation > 0.9 && !campaign.paused {
    pause(\`team \${team.name} is full\`)
}
`;
