// How a team's capacity stands, from its newest reading and its source's health: what the
// list's Health column and the Sources table say.
import type { RecordedReading } from "../../../generated/RecordedReading";
import type { SourceHealth } from "../../../generated/SourceHealth";
import type { TeamResponse } from "../../../generated/TeamResponse";

/**
 * A reading older than this is stale: a pushed team records an unchanged reading every 15
 * minutes (`HEARTBEAT`, engine/api/src/routes/capacity.rs), so two missed heartbeats mean
 * the pushes stopped; a polled source is polled more often than that.
 */
export const STALE_AFTER_MS = 30 * 60 * 1000;

export type Tone = "ok" | "warn" | "danger" | "muted";

export interface Health {
  tone: Tone;
  label: string;
  /** Why, for a tooltip. */
  why: string;
}

/** The connector a team names (`connector:crm` → `crm`), or `null`. */
export function connectorOf(source: string): string | null {
  return source.startsWith("connector:") ? source.slice("connector:".length) : null;
}

/** The maximum the engine's rules see: the team's own (or its members' sum) over the reading's. */
export function effectiveMax(team: TeamResponse, reading: RecordedReading | null): number | null {
  return team.max_open_leads ?? reading?.max_open_leads ?? null;
}

export function isStale(at: string | null | undefined, now: Date): boolean {
  if (!at) return false;
  const t = new Date(at).getTime();
  return Number.isFinite(t) && now.getTime() - t > STALE_AFTER_MS;
}

export function teamHealth(
  team: TeamResponse,
  reading: RecordedReading | null,
  /** The connector's health: `null` when none reported it, `undefined` when not known. */
  source: SourceHealth | null | undefined,
  now: Date,
): Health {
  const connector = connectorOf(team.capacity_source);
  if (connector && source === null) {
    return { tone: "warn", label: "No source", why: `no daemon reported polling connector ${connector}` };
  }
  if (source?.state === "failing") {
    return { tone: "danger", label: "Failing", why: source.last_error ?? `connector ${source.name} failed its last poll` };
  }
  if (!reading) return { tone: "muted", label: "No reading", why: "no capacity reading recorded yet" };
  if (isStale(reading.at, now)) return { tone: "warn", label: "Stale", why: `the newest reading is older than ${STALE_AFTER_MS / 60000} minutes` };
  if (source?.state === "degraded") {
    return { tone: "warn", label: "Degraded", why: source.last_error ?? "some teams did not answer the last poll" };
  }
  const max = effectiveMax(team, reading);
  if (max !== null && reading.open_leads >= max) return { tone: "danger", label: "Full", why: "open leads at or over the maximum" };
  if (max !== null && max > 0 && reading.open_leads / max >= 0.8) return { tone: "warn", label: "Busy", why: "80 % or more of the maximum is in use" };
  return { tone: "ok", label: "OK", why: "a recent reading, room left" };
}
