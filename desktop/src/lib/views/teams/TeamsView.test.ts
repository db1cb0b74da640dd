import { fireEvent } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MemberRequest } from "../../../generated/MemberRequest";
import type { RecordedReading } from "../../../generated/RecordedReading";
import type { SourceHealth } from "../../../generated/SourceHealth";
import type { TeamRequest } from "../../../generated/TeamRequest";
import type { TeamResponse } from "../../../generated/TeamResponse";
import { ApiProblem } from "../../backend";
import { until } from "../../../test/fixtures";
import { FakeBackend, renderWith } from "../../../test/routeBackend";

beforeEach(() => {
  window.location.hash = "";
  localStorage.clear();
});
afterEach(() => {
  document.body.innerHTML = "";
});

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const tid = (id: string) => $(`[data-testid="${id}"]`);
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

function team(over: Partial<TeamResponse> = {}): TeamResponse {
  return {
    name: "sales-nl",
    time_zone: "Europe/Amsterdam",
    hours: ["mon-fri 09:00-17:00"],
    holidays: ["2026-12-25"],
    max_open_leads: 40,
    max_open_leads_from: "team",
    capacity_source: "pushed",
    members: [{ id: "owner-17", name: "Ada Lovelace", max_open_leads: 12, added_at: "2026-12-01T09:00:00Z" }],
    defined_at: "2026-12-01T09:00:00Z",
    updated_at: "2026-12-01T09:00:00Z",
    ...over,
  };
}

function reading(over: Partial<RecordedReading> = {}): RecordedReading {
  return { at: minutesAgo(4), agents_available: 3, open_leads: 30, max_open_leads: 50, utilisation: 0.6, source: "pushed-key", position: 10, ...over };
}

/**
 * An engine with teams sales-nl (pushed, limit 40) and sales-de (connector crm, stale), which
 * applies PUTs and DELETEs as the API does (null removes, absent keeps).
 */
function engine() {
  const teams = new Map<string, TeamResponse>([
    ["sales-nl", team()],
    ["sales-de", team({ name: "sales-de", time_zone: "Europe/Berlin", capacity_source: "connector:crm", max_open_leads: null, max_open_leads_from: null, members: [], holidays: [] })],
  ]);
  const readings = new Map<string, RecordedReading[]>([
    ["sales-nl", [reading({ at: minutesAgo(20), open_leads: 28, position: 8 }), reading()]],
    ["sales-de", [reading({ at: minutesAgo(125), open_leads: 5, max_open_leads: 20, source: "crm", position: 3 })]],
  ]);
  const sources: SourceHealth[] = [
    {
      name: "crm", kind: "hubspot", state: "failing", teams: 1, last_poll_at: minutesAgo(1), last_success_at: minutesAgo(125),
      last_error_at: minutesAgo(1), last_error: "HubSpot answered 401: the token was revoked", error_kind: "auth", consecutive_failures: 7,
      limit_info: null, next_poll_at: minutesAgo(-1),
    },
  ];
  let clock = 0;
  const touch = (t: TeamResponse) => ({ ...t, updated_at: new Date(Date.UTC(2026, 11, 6, 12, clock++)).toISOString() });
  const b = new FakeBackend()
    .on("GET /v1/teams", () => ({ items: [...teams.values()].sort((x, y) => x.name.localeCompare(y.name)) }))
    .on("GET /v1/capacity/sources", () => ({ sources }));
  const name = (path: string) => decodeURIComponent(path.split("?")[0].split("/")[3]);
  b.on("GET /v1/teams/sales-nl", (_b, p) => teams.get(name(p)));
  b.on("GET /v1/teams/sales-de", (_b, p) => teams.get(name(p)));
  for (const n of ["sales-nl", "sales-de", "sales-be"]) {
    b.on(`GET /v1/teams/${n}/capacity`, (_b, p) => {
      const all = readings.get(n) ?? [];
      const limit = Number(new URLSearchParams(p.split("?")[1]).get("limit") ?? 1000);
      return all.slice(-limit);
    });
    b.on(`PUT /v1/teams/${n}`, (body) => {
      const r = body as TeamRequest;
      const t = teams.get(n) ?? team({ name: n, time_zone: null, hours: [], holidays: [], max_open_leads: null, max_open_leads_from: null, members: [] });
      const next = { ...t };
      if (r.time_zone !== undefined) next.time_zone = r.time_zone;
      if (r.hours !== undefined) next.hours = r.hours ?? [];
      if (r.holidays !== undefined) next.holidays = r.holidays;
      if (r.capacity_source !== undefined) next.capacity_source = r.capacity_source;
      if (r.max_open_leads !== undefined) {
        next.max_open_leads = r.max_open_leads;
        next.max_open_leads_from = r.max_open_leads === null ? null : "team";
      }
      teams.set(n, touch(next));
      return teams.get(n);
    });
  }
  b.on("GET /v1/teams/sales-be", () => {
    if (!teams.has("sales-be")) throw new ApiProblem(404, { title: "Not Found", detail: "no team", field: "team" });
    return teams.get("sales-be");
  });
  const memberRoute = (method: "PUT" | "DELETE", id: string) =>
    b.on(`${method} /v1/teams/sales-nl/members/${id}`, (body) => {
      const t = teams.get("sales-nl")!;
      if (method === "DELETE") {
        teams.set("sales-nl", touch({ ...t, members: t.members.filter((m) => m.id !== id) }));
      } else {
        const r = (body ?? {}) as MemberRequest;
        const old = t.members.find((m) => m.id === id);
        const m = { id, name: r.name === undefined ? (old?.name ?? null) : r.name, max_open_leads: r.max_open_leads === undefined ? (old?.max_open_leads ?? null) : r.max_open_leads, added_at: old?.added_at ?? new Date().toISOString() };
        teams.set("sales-nl", touch({ ...t, members: old ? t.members.map((x) => (x.id === id ? m : x)) : [...t.members, m] }));
      }
      return teams.get("sales-nl");
    });
  for (const id of ["owner-17", "owner-9"]) {
    memberRoute("PUT", id);
    memberRoute("DELETE", id);
  }
  return { b, teams, readings };
}

async function openTeam(b: FakeBackend, name = "sales-nl") {
  renderWith(b, `#/teams?team=${name}`);
  await until(() => !!tid("team-form") && !!tid(`team-row-${name}`) && tid("capacity-gauge")?.dataset.open !== "", "the team");
}

async function type(id: string, value: string) {
  await fireEvent.input(tid(id)!, { target: { value } });
}

describe("Teams view", () => {
  it("lists the teams with source, open/max, agents and health, and opens one in the route", async () => {
    const { b } = engine();
    renderWith(b, "#/teams");
    await until(() => !!tid("team-row-sales-de") && tid("team-health-sales-nl")?.textContent === "OK", "the list");
    const nl = tid("team-row-sales-nl")!;
    expect(nl.textContent).toContain("pushed");
    // The newest reading's open leads against the team's own limit (which replaces the reading's 50).
    expect(tid("team-open-sales-nl")!.textContent).toBe("30 / 40");
    expect(nl.textContent).toContain("3");
    // sales-de's connector is failing.
    expect(tid("team-health-sales-de")!.textContent).toBe("Failing");
    expect($("#no-team-selected")).not.toBeNull();
    // Keyboard: the first row is the tab stop; ↓ then Enter opens the second.
    const de = tid("team-row-sales-de")!;
    expect(de.tabIndex).toBe(0);
    de.focus();
    await fireEvent.keyDown(de, { key: "ArrowDown" });
    expect(document.activeElement).toBe(nl);
    await fireEvent.keyDown(nl, { key: "Enter" });
    await until(() => window.location.hash.includes("team=sales-nl"), "the team in the route");
    await until(() => tid("team-title")?.textContent === "sales-nl" && !!tid("readings"), "the detail");
    expect(tid("gauge-text")!.textContent).toBe("30 / 40 open leads");
    expect(tid("gauge-agents")!.textContent).toBe("3 agents available");
    expect((tid("team-max") as HTMLInputElement).value).toBe("40");
    expect((tid("team-tz") as HTMLInputElement).value).toBe("Europe/Amsterdam");
    expect((tid("team-hours-wed") as HTMLInputElement).value).toBe("09:00-17:00");
    expect((tid("team-hours-sat") as HTMLInputElement).value).toBe("");
    expect(tid("team-holidays")!.textContent).toContain("2026-12-25");
    expect(tid("readings")!.querySelectorAll("tbody tr")).toHaveLength(2);
    expect(tid("readings-sparkline")).not.toBeNull();
    expect(b.made("GET", "/v1/teams/sales-nl")).not.toHaveLength(0);
    expect(b.made("GET", "/v1/teams/sales-nl/capacity").some((c) => c.path.includes("limit=48"))).toBe(true);
  });

  it("saves a new limit with exactly that change, and the gauge shows the new maximum", async () => {
    const { b } = engine();
    await openTeam(b);
    expect(tid("capacity-gauge")!.dataset.max).toBe("40");
    expect((tid("team-save") as HTMLButtonElement).disabled).toBe(true);
    await type("team-max", "60");
    await fireEvent.click(tid("team-save")!);
    await until(() => tid("capacity-gauge")!.dataset.max === "60", "the gauge moved");
    const puts = b.made("PUT", "/v1/teams/sales-nl");
    expect(puts).toHaveLength(1);
    expect(puts[0].body).toEqual({ max_open_leads: 60 });
    expect(tid("gauge-text")!.textContent).toBe("30 / 60 open leads");
    expect($('[role="meter"]')!.getAttribute("aria-valuemax")).toBe("60");
    expect(tid("team-saved")!.textContent).toContain("max open leads");
    await until(() => tid("team-open-sales-nl")!.textContent === "30 / 60", "the list too");
    // Emptying it gives the maximum back to the reading (null, not 0).
    await type("team-max", "");
    await fireEvent.click(tid("team-save")!);
    await until(() => tid("capacity-gauge")!.dataset.max === "50", "the reading's maximum");
    expect(b.made("PUT", "/v1/teams/sales-nl")[1].body).toEqual({ max_open_leads: null });
  });

  it("sends the hours and holidays as lines and dates when they change, and saves with Ctrl+S", async () => {
    const { b } = engine();
    await openTeam(b);
    await type("team-hours-sat", "10:00-12:00, 13:00-15:00");
    await type("team-holiday-new", "2026-12-26");
    await fireEvent.click(tid("team-holiday-add")!);
    await fireEvent.click(tid("holiday-remove-2026-12-25")!);
    await fireEvent.keyDown(window, { key: "s", ctrlKey: true });
    await until(() => b.made("PUT", "/v1/teams/sales-nl").length === 1, "saved");
    expect(b.made("PUT", "/v1/teams/sales-nl")[0].body).toEqual({
      hours: ["mon-fri 09:00-17:00", "sat 10:00-12:00,13:00-15:00"],
      holidays: ["2026-12-26"],
    });
  });

  it("checks the time zone before sending, naming the field", async () => {
    const { b } = engine();
    await openTeam(b);
    await type("team-tz", "Mars/Olympus");
    // Leaving the field checks it.
    await fireEvent.blur(tid("team-tz")!);
    expect(tid("team-tz-error")!.textContent).toContain("Mars/Olympus is not an IANA time zone");
    await type("team-tz", "Europe/Paris");
    await fireEvent.blur(tid("team-tz")!);
    expect(tid("team-tz")!.getAttribute("aria-invalid")).toBeNull();
    await type("team-tz", "Mars/Olympus");
    await fireEvent.click(tid("team-save")!);
    await until(() => !!tid("team-tz-error")?.textContent?.includes("not an IANA time zone"), "the zone refused");
    expect(b.made("PUT", "/v1/teams/sales-nl")).toHaveLength(0);
    expect(tid("team-tz")!.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(tid("team-tz"));
    // A day's times are checked too.
    await type("team-tz", "Europe/Amsterdam");
    await type("team-hours-sun", "18:00-09:00");
    await fireEvent.click(tid("team-save")!);
    await until(() => tid("team-hours-sun")!.getAttribute("aria-invalid") === "true", "the day refused");
    expect(b.made("PUT", "/v1/teams/sales-nl")).toHaveLength(0);
  });

  it("shows the API's field error on a refused save and keeps what was typed", async () => {
    const { b } = engine();
    b.on("PUT /v1/teams/sales-nl", () => {
      throw new ApiProblem(422, { title: "Invalid field", status: 422, detail: "unknown time zone Asia/Kolkata", field: "time_zone" });
    });
    await openTeam(b);
    await type("team-max", "55");
    await type("team-tz", "Asia/Kolkata");
    await fireEvent.click(tid("team-save")!);
    await until(() => !!$("#team-save-error"), "the refusal");
    expect($("#team-save-error")!.textContent).toContain("field time_zone");
    expect(tid("team-tz-error")!.textContent).toBe("unknown time zone Asia/Kolkata");
    expect(tid("team-tz")!.getAttribute("aria-invalid")).toBe("true");
    expect((tid("team-tz") as HTMLInputElement).value).toBe("Asia/Kolkata");
    expect((tid("team-max") as HTMLInputElement).value).toBe("55");
    expect(b.made("PUT", "/v1/teams/sales-nl")[0].body).toEqual({ max_open_leads: 55, time_zone: "Asia/Kolkata" });
    // The gauge still shows the saved limit.
    expect(tid("capacity-gauge")!.dataset.max).toBe("40");
  });

  it("adds a member, changes a member's maximum and removes one after a confirmation", async () => {
    const { b } = engine();
    await openTeam(b);
    // Names are personal data: hidden until asked for.
    expect(tid("member-name-owner-17")!.textContent).toContain("hidden");
    await fireEvent.click(tid("members-show-names")!);
    expect(tid("member-name-owner-17")!.textContent).toContain("Ada Lovelace");

    await type("member-new-id", "owner 9");
    await fireEvent.submit(tid("member-add-form")!);
    expect(tid("member-add-error")!.textContent).toContain("member:");
    expect(b.made("PUT", "/v1/teams/sales-nl/members/owner 9")).toHaveLength(0);
    await type("member-new-id", "owner-9");
    await type("member-new-name", "Grace Hopper");
    await type("member-new-max", "8");
    await fireEvent.submit(tid("member-add-form")!);
    await until(() => !!$('[data-member="owner-9"]'), "the new member");
    expect(b.made("PUT", "/v1/teams/sales-nl/members/owner-9")[0].body).toEqual({ name: "Grace Hopper", max_open_leads: 8 });
    expect((tid("member-new-id") as HTMLInputElement).value).toBe("");

    await type("member-max-owner-17", "15");
    await fireEvent.click(tid("member-max-save-owner-17")!);
    await until(() => b.made("PUT", "/v1/teams/sales-nl/members/owner-17").length === 1, "the maximum saved");
    expect(b.made("PUT", "/v1/teams/sales-nl/members/owner-17")[0].body).toEqual({ max_open_leads: 15 });

    await fireEvent.click(tid("member-remove-owner-9")!);
    expect(document.activeElement).toBe(tid("member-remove-confirm-owner-9"));
    await fireEvent.click(tid("member-remove-cancel-owner-9")!);
    expect(b.made("DELETE", "/v1/teams/sales-nl/members/owner-9")).toHaveLength(0);
    await fireEvent.click(tid("member-remove-owner-9")!);
    await fireEvent.click(tid("member-remove-confirm-owner-9")!);
    await until(() => !$('[data-member="owner-9"]'), "removed");
    expect(b.made("DELETE", "/v1/teams/sales-nl/members/owner-9")).toHaveLength(1);
  });

  it("warns of a stale source and shows its age and its last error", async () => {
    const { b } = engine();
    renderWith(b, "#/teams");
    await until(() => !!tid("source-row-sales-de") && !!tid("connector-row-crm"), "the sources");
    expect(tid("source-age-sales-nl")!.textContent).toContain("4 minutes ago");
    expect(tid("source-stale-sales-nl")).toBeNull();
    expect(tid("source-row-sales-de")!.dataset.stale).toBe("true");
    expect(tid("source-stale-sales-de")).not.toBeNull();
    expect(tid("source-age-sales-de")!.textContent).toContain("2 hours ago");
    expect(tid("source-error-sales-de")!.textContent).toContain("auth: HubSpot answered 401");
    expect(tid("connector-row-crm")!.textContent).toContain("7 failed polls in a row");
    expect(tid("connector-stale-crm")).not.toBeNull();
  });

  it("refetches when the log moves, without clobbering a form being edited", async () => {
    const { b, teams, readings } = engine();
    await openTeam(b);
    await until(() => b.watching === 1, "the watch");
    await type("team-max", "45");
    // A reading and a change elsewhere arrive.
    readings.get("sales-nl")!.push(reading({ open_leads: 33, position: 12, at: minutesAgo(0) }));
    teams.set("sales-nl", { ...teams.get("sales-nl")!, holidays: ["2026-12-25", "2027-01-01"], updated_at: "2026-12-06T13:00:00Z" });
    const before = b.made("GET", "/v1/teams").length;
    b.appended(42);
    await until(() => tid("capacity-gauge")!.dataset.open === "33", "the new reading", 3000);
    expect(b.made("GET", "/v1/teams").length).toBeGreaterThan(before);
    expect((tid("team-max") as HTMLInputElement).value).toBe("45");
    expect(tid("team-changed-elsewhere")).not.toBeNull();
    // Save sends only this form's change, against the team as it is now.
    await fireEvent.click(tid("team-save")!);
    await until(() => b.made("PUT", "/v1/teams/sales-nl").length === 1, "saved");
    expect(b.made("PUT", "/v1/teams/sales-nl")[0].body).toEqual({ max_open_leads: 45 });
    // With the form untouched, a change elsewhere shows at once.
    teams.set("sales-nl", { ...teams.get("sales-nl")!, time_zone: "Europe/Brussels", updated_at: "2026-12-06T14:00:00Z" });
    b.appended(43);
    await until(() => (tid("team-tz") as HTMLInputElement).value === "Europe/Brussels", "the form follows", 3000);
    window.location.hash = "#/accounts";
    await until(() => b.watching === 0, "the watch stopped");
  });

  it("creates a new team", async () => {
    const { b } = engine();
    renderWith(b, "#/teams");
    await until(() => !!tid("team-row-sales-nl"), "the list");
    await fireEvent.click(tid("new-team")!);
    expect(document.activeElement).toBe(tid("new-team-name"));
    await type("new-team-name", "sales-nl");
    await fireEvent.submit(tid("new-team-form")!);
    expect($("#new-team-hint")!.textContent).toContain("already");
    await type("new-team-name", "sales-be");
    await fireEvent.submit(tid("new-team-form")!);
    await until(() => tid("team-title")?.textContent === "sales-be", "the blank team");
    expect(tid("team-save")!.textContent).toContain("Create team");
    expect((tid("member-new-id") as HTMLInputElement).disabled).toBe(true);
    await type("team-tz", "Europe/Brussels");
    await type("team-max", "25");
    await type("team-hours-mon", "08:30-16:30");
    await fireEvent.click(tid("team-save")!);
    await until(() => !!tid("team-row-sales-be"), "listed");
    expect(b.made("PUT", "/v1/teams/sales-be")[0].body).toEqual({ time_zone: "Europe/Brussels", max_open_leads: 25, hours: ["mon 08:30-16:30"] });
    await until(() => !tid("team-save")!.textContent!.includes("Create"), "now a saved team");
    expect((tid("member-new-id") as HTMLInputElement).disabled).toBe(false);
  });

  it("is reached with G then M", async () => {
    const { b } = engine();
    renderWith(b, "#/accounts");
    await fireEvent.keyDown(document.body, { key: "g" });
    await fireEvent.keyDown(document.body, { key: "m" });
    await until(() => window.location.hash.startsWith("#/teams"), "the view");
    await until(() => document.activeElement?.id === "view-title", "focus on the title");
  });
});
