// The audit view's state in the router's params (linkable, kept across navigation):
// `type`, `stream`, `actor`, `from`, `to` (the filters), `basis` (which time `from`/`to` are:
// `recorded`, the default, or `event`, the events' own `at`), and `event` (the position
// whose detail is open).
import type { Params } from "../../router.svelte";
import type { Filters } from "./windowing";

export type TimeBasis = "recorded" | "event";

export interface AuditState {
  filters: Filters;
  basis: TimeBasis;
  event: number | null;
}

export function stateFrom(params: Params): AuditState {
  const f: Filters = {};
  for (const k of ["type", "stream", "actor", "from", "to"] as const) if (params[k]) f[k] = params[k];
  const event = Number(params.event);
  return {
    filters: f,
    basis: params.basis === "event" ? "event" : "recorded",
    event: Number.isInteger(event) && event > 0 ? event : null,
  };
}

export function paramsOf(s: AuditState): Record<string, string | undefined> {
  return {
    ...s.filters,
    basis: s.basis === "event" ? "event" : undefined,
    event: s.event === null ? undefined : String(s.event),
  };
}

/**
 * The filters the API is sent: the times as the basis says (event time: `event_from` and
 * `event_to`, ADR 0040's amendment: unindexed, so such a window walks a bounded range and a
 * count may be a lower bound).
 */
export function apiFilters(s: AuditState): Filters {
  if (s.basis === "recorded") return s.filters;
  const { from, to, ...rest } = s.filters;
  return { ...rest, ...(from ? { event_from: from } : {}), ...(to ? { event_to: to } : {}) };
}

export function sameFilters(a: Filters, b: Filters): boolean {
  const keys = ["type", "stream", "actor", "from", "to", "event_from", "event_to"] as const;
  return keys.every((k) => (a[k] ?? "") === (b[k] ?? ""));
}

/**
 * A time typed in a filter as RFC 3339 (what the API takes): RFC 3339 as is, a date or a
 * local `YYYY-MM-DD HH:MM[:SS]` read in the local zone; null when it is no time.
 */
export function toRfc3339(text: string): string | null {
  const t = text.trim();
  if (!t) return null;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(t)) {
    return Number.isNaN(Date.parse(t)) ? null : t.replace("t", "T").replace(/z$/, "Z");
  }
  const m = t.match(/^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/);
  if (!m) return null;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The domain's event types (engine/domain, `event_table!`), suggested by the type filter. */
export const EVENT_TYPES = [
  "CampaignObserved",
  "CapacityRecorded",
  "ChangeApplied",
  "ChangeFailed",
  "ChangeRequested",
  "ChangeSuperseded",
  "ChangedOutsideEngine",
  "ConsentGranted",
  "ConsentWithdrawn",
  "DataDeleted",
  "EvaluationRecorded",
  "ExportRequested",
  "LeadBlocked",
  "LeadDeduplicated",
  "LeadReceived",
  "LeadStatusChanged",
  "MaxOpenLeadsSet",
  "MemberAdded",
  "MemberRemoved",
  "MemberUpdated",
  "MetricsRecorded",
  "QuotaExhausted",
  "ReconsentNeeded",
  "RetentionExpired",
  "Revoked",
  "RuleCreated",
  "RuleDeleted",
  "RuleDisabled",
  "RuleEnabled",
  "RuleVersionAdded",
  "SourceFailing",
  "SourceRecovered",
  "SubjectErased",
  "TeamDefined",
  "TimeZoneSet",
  "BusinessHoursSet",
  "HolidaysSet",
  "CapacitySourceSet",
  "TokenRefreshed",
  "WorldSimulated",
];
