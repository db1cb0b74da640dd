// The engine's teams and capacity routes as the Teams view calls them
// (engine/api/src/routes/teams.rs, capacity.rs, sources.rs), typed by the generated Rust types.
import type { MemberRequest } from "../../../generated/MemberRequest";
import type { RecordedReading } from "../../../generated/RecordedReading";
import type { SourcesAnswer } from "../../../generated/SourcesAnswer";
import type { TeamList } from "../../../generated/TeamList";
import type { TeamRequest } from "../../../generated/TeamRequest";
import type { TeamResponse } from "../../../generated/TeamResponse";
import { ApiProblem, CommandError, type Backend } from "../../backend";

/** A team or member id the API takes (`check_client_id`): 1 to 128 of A-Z a-z 0-9 . _ - */
export const CLIENT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Readings read for the selected team's history (the newest). */
export const HISTORY_LIMIT = 48;

export function teamsApi(b: Backend) {
  const team = (name: string) => `/v1/teams/${encodeURIComponent(name)}`;
  const member = (name: string, id: string) => `${team(name)}/members/${encodeURIComponent(id)}`;
  return {
    list: () => b.request<TeamList>("GET", "/v1/teams"),
    show: (name: string) => b.request<TeamResponse>("GET", team(name)),
    /** Defines the team, or changes what `body` gives of it (201 or 200: the team now). */
    save: (name: string, body: TeamRequest) => b.request<TeamResponse>("PUT", team(name), body),
    putMember: (name: string, id: string, body: MemberRequest) =>
      b.request<TeamResponse>("PUT", member(name, id), body),
    removeMember: (name: string, id: string) => b.request<TeamResponse>("DELETE", member(name, id)),
    /** The newest `limit` readings, oldest first. */
    readings: (name: string, limit: number) =>
      b.request<RecordedReading[]>("GET", `${team(name)}/capacity?limit=${limit}`),
    sources: () => b.request<SourcesAnswer>("GET", "/v1/capacity/sources"),
  };
}

export type TeamsApi = ReturnType<typeof teamsApi>;

/** A refusal as the form shows it: a banner text and the message of each field at fault. */
export interface Refusal {
  title: string;
  detail: string;
  /** By the API's field name (`time_zone`, `hours[1]`, `max_open_leads`, `member`). */
  fields: Record<string, string>;
}

export function refusal(e: unknown): Refusal {
  if (e instanceof ApiProblem) {
    const fields: Record<string, string> = {};
    for (const i of e.errors) fields[i.field] = i.problem;
    if (e.field && !(e.field in fields)) fields[e.field] = e.detail;
    return {
      title: e.field ? `${e.title} (field ${e.field})` : e.title,
      detail: e.detail,
      fields,
    };
  }
  const c = CommandError.from(e);
  return { title: "The request could not be made", detail: c.message, fields: {} };
}
