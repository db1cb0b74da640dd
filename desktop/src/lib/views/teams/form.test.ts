import { describe, expect, it } from "vitest";
import type { TeamResponse } from "../../../generated/TeamResponse";
import { blankTeam, changes, draftOf, problems, timeZoneProblem } from "./form";

function team(over: Partial<TeamResponse> = {}): TeamResponse {
  return {
    name: "sales-nl",
    time_zone: "Europe/Amsterdam",
    hours: ["mon-fri 09:00-17:00"],
    holidays: ["2026-12-25"],
    max_open_leads: 40,
    max_open_leads_from: "team",
    capacity_source: "pushed",
    members: [],
    defined_at: "2026-12-01T09:00:00Z",
    updated_at: "2026-12-01T09:00:00Z",
    ...over,
  };
}

describe("the team form", () => {
  it("sends nothing for an untouched form, and only the fields that changed", () => {
    const t = team();
    const d = draftOf(t);
    expect(changes(d, t)).toEqual({});
    d.max = "55";
    expect(changes(d, t)).toEqual({ max_open_leads: 55 });
    d.week.sat = "10:00-12:00";
    d.holidays = [...d.holidays, "2026-12-26"];
    expect(changes(d, t)).toEqual({ max_open_leads: 55, hours: ["mon-fri 09:00-17:00", "sat 10:00-12:00"], holidays: ["2026-12-25", "2026-12-26"] });
  });

  it("clears the own maximum with null, and all hours with null", () => {
    const t = team();
    const d = draftOf(t);
    d.max = "";
    for (const k of Object.keys(d.week) as (keyof typeof d.week)[]) d.week[k] = "";
    expect(changes(d, t)).toEqual({ max_open_leads: null, hours: null });
  });

  it("does not take a maximum that is the members' sum as the team's own", () => {
    const t = team({ max_open_leads: 12, max_open_leads_from: "members" });
    const d = draftOf(t);
    expect(d.max).toBe("");
    expect(changes(d, t)).toEqual({});
  });

  it("a new team sends what was given", () => {
    const t = blankTeam("sales-de");
    const d = draftOf(t);
    d.timeZone = "Europe/Berlin";
    d.max = "10";
    expect(changes(d, t)).toEqual({ time_zone: "Europe/Berlin", max_open_leads: 10 });
  });

  it("checks time zones as IANA names", () => {
    expect(timeZoneProblem("Europe/Amsterdam")).toBe("");
    expect(timeZoneProblem("UTC")).toBe("");
    expect(timeZoneProblem("Mars/Olympus")).toContain("not an IANA time zone");
    expect(timeZoneProblem("europe/amsterdam")).toBe("Write it as Europe/Amsterdam");
  });

  it("names each field at fault", () => {
    const d = draftOf(team({ time_zone: null, hours: [] }));
    d.max = "-3";
    d.week.mon = "09:00-17:00";
    d.week.tue = "17:00-09:00";
    d.source = "crm";
    const p = problems(d);
    expect(Object.keys(p).sort()).toEqual(["capacity_source", "hours.tue", "max_open_leads", "time_zone"]);
    expect(p.time_zone).toContain("need the team's time zone");
  });
});

describe("a save after the team changed elsewhere", () => {
  it("sends only what the user changed, keeping the other change", async () => {
    const { changesSince } = await import("./form");
    const base = team();
    const d = draftOf(base);
    d.max = "45";
    const now = team({ holidays: ["2026-12-25", "2027-01-01"], updated_at: "2026-12-06T13:00:00Z" });
    expect(changesSince(d, base, now)).toEqual({ max_open_leads: 45 });
    // A change the other made too is not sent again.
    expect(changesSince(d, base, team({ max_open_leads: 45 }))).toEqual({});
  });
});
