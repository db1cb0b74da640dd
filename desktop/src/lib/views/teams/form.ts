// The team form: what it edits (a draft, from the team as the API gave it), what it checks
// before asking the API, and the body Save sends — only the fields that differ from the team.
import type { TeamRequest } from "../../../generated/TeamRequest";
import type { TeamResponse } from "../../../generated/TeamResponse";
import { toLines, weekOf, weekProblems, type Week } from "./hours";

export interface Draft {
  /** The team's own maximum of open leads as typed; empty = none (the sum of its members'). */
  max: string;
  timeZone: string;
  week: Week;
  /** Lines of the team's hours the form could not read into days: sent back unchanged. */
  unread: string[];
  /** `YYYY-MM-DD`, sorted. */
  holidays: string[];
  /** `pushed`, `leads` or `connector:<name>`. */
  source: string;
}

/** A team not defined yet, as the API would make it from an empty body. */
export function blankTeam(name: string): TeamResponse {
  return {
    name,
    time_zone: null,
    hours: [],
    holidays: [],
    max_open_leads: null,
    max_open_leads_from: null,
    capacity_source: "pushed",
    members: [],
    defined_at: "",
    updated_at: "",
  };
}

export function draftOf(team: TeamResponse): Draft {
  const { week, unread } = weekOf(team.hours);
  return {
    max: team.max_open_leads_from === "team" && team.max_open_leads !== null ? String(team.max_open_leads) : "",
    timeZone: team.time_zone ?? "",
    week,
    unread,
    holidays: [...team.holidays].sort(),
    source: team.capacity_source,
  };
}

/** The team's own maximum (not its members' sum), or `null`. */
export function ownMax(team: TeamResponse): number | null {
  return team.max_open_leads_from === "team" ? team.max_open_leads : null;
}

export function linesOf(d: Draft): string[] {
  return [...toLines(d.week), ...d.unread];
}

/** The body that makes `team` what `draft` says: only the fields that differ. */
export function changes(draft: Draft, team: TeamResponse): TeamRequest {
  const body: TeamRequest = {};
  const max = draft.max.trim() === "" ? null : Number(draft.max.trim());
  if (max !== ownMax(team)) body.max_open_leads = max;
  const tz = draft.timeZone.trim();
  if (tz !== "" && tz !== team.time_zone) body.time_zone = tz;
  const lines = linesOf(draft);
  const before = linesOf(draftOf(team));
  if (lines.join("\n") !== before.join("\n")) body.hours = lines.length ? lines : null;
  const holidays = [...draft.holidays].sort();
  if (holidays.join() !== [...team.holidays].sort().join()) body.holidays = holidays;
  const source = draft.source.trim();
  if (source !== team.capacity_source) body.capacity_source = source;
  return body;
}

/**
 * What the user changed in `draft` since it was made from `base`, as a body against `team`
 * (the team as it is now, which may have changed elsewhere meanwhile): a field the user left
 * alone is not sent, so another's change to it stays; one already as typed is not sent either.
 */
export function changesSince(draft: Draft, base: TeamResponse, team: TeamResponse): TeamRequest {
  const mine = changes(draft, base);
  const now = changes(draft, team) as Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const k of Object.keys(mine)) if (k in now) body[k] = now[k];
  return body as TeamRequest;
}

let zones: Set<string> | null = null;

/** The IANA time zones this runtime knows (for suggestions). */
export function timeZones(): string[] {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return [];
  }
}

/**
 * What is wrong with a time zone name, or `""`: it must be an IANA name (`Europe/Amsterdam`),
 * spelt as the database spells it (the engine's zone names are case-sensitive).
 */
export function timeZoneProblem(tz: string): string {
  const name = tz.trim();
  if (name === "") return "";
  zones ??= new Set(timeZones());
  if (zones.has(name) || name === "UTC") return "";
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return `${name} is not an IANA time zone (like Europe/Amsterdam or America/New_York)`;
  }
  if (/^[+-]/.test(name) || /^(GMT|UTC|Etc\/)?[+-]\d/.test(name)) {
    return `${name} is an offset, not an IANA time zone: use a place (like Europe/Amsterdam) so daylight saving time is followed`;
  }
  if (resolved.toLowerCase() === name.toLowerCase() && resolved !== name) return `Write it as ${resolved}`;
  // An alias the runtime knows (US/Eastern): the engine knows the same database.
  return "";
}

export const SOURCE = /^(pushed|leads|connector:[A-Za-z0-9._-]{1,128})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function dateProblem(s: string): string {
  if (!DATE.test(s)) return "Give a date as YYYY-MM-DD";
  const d = new Date(`${s}T00:00:00Z`);
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s ? `${s} is not a date` : "";
}

/**
 * The form's own checks, by the API's field names (`max_open_leads`, `time_zone`,
 * `capacity_source`) and `hours.<day>` for a day's times. Empty when it may be sent.
 */
export function problems(d: Draft): Record<string, string> {
  const out: Record<string, string> = {};
  const max = d.max.trim();
  if (max !== "" && !/^\d+$/.test(max)) out.max_open_leads = "A whole number, 0 or more (leave it empty to use the sum of the members' maximums)";
  else if (max !== "" && Number(max) > 4294967295) out.max_open_leads = "At most 4,294,967,295";
  const tz = timeZoneProblem(d.timeZone);
  if (tz) out.time_zone = tz;
  for (const [day, p] of Object.entries(weekProblems(d.week))) out[`hours.${day}`] = p;
  if (!out.time_zone && d.timeZone.trim() === "" && linesOf(d).length > 0) {
    out.time_zone = "Business hours need the team's time zone";
  }
  if (!SOURCE.test(d.source.trim())) {
    out.capacity_source = "pushed, leads or connector:<name> (letters, digits and . _ -)";
  }
  return out;
}
