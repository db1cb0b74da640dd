import { describe, expect, it } from "vitest";
import { emptyWeek, intervalsOf, toLines, weekOf, weekProblems } from "./hours";

describe("business hours", () => {
  it("reads the engine's lines into days and writes them back the same", () => {
    const lines = ["mon-fri 09:00-17:00", "sat 10:00-12:00,13:00-15:00"];
    const { week, unread } = weekOf(lines);
    expect(unread).toEqual([]);
    expect(week.wed).toBe("09:00-17:00");
    expect(week.sat).toBe("10:00-12:00, 13:00-15:00");
    expect(week.sun).toBe("");
    expect(toLines(week)).toEqual(lines);
  });

  it("groups days as the engine does: runs of three as ranges, two as a list", () => {
    const week = { ...emptyWeek(), mon: "9:00-17:00", tue: "09:00-17:00", thu: "09:00-17:00", fri: "09:00-17:00", sat: "09:00-17:00", sun: "10:00-11:00" };
    expect(toLines(week)).toEqual(["mon,tue,thu-sat 09:00-17:00", "sun 10:00-11:00"]);
  });

  it("reads long day names and lists, and keeps lines it cannot read", () => {
    const { week, unread } = weekOf(["Monday,wed 08:00-12:00", "someday 09:00-10:00"]);
    expect(week.mon).toBe("08:00-12:00");
    expect(week.wed).toBe("08:00-12:00");
    expect(unread).toEqual(["someday 09:00-10:00"]);
  });

  it("names what is wrong with a day's times", () => {
    expect(intervalsOf("17:00-09:00")).toEqual({ error: expect.stringContaining("ends before it starts") });
    expect(intervalsOf("25:00-26:00")).toEqual({ error: expect.stringContaining("not a time of day") });
    expect(intervalsOf("nine to five")).toEqual({ error: expect.stringContaining("not a time range") });
    expect(intervalsOf("09:00-12:00, 11:00-13:00")).toEqual({ error: expect.stringContaining("overlap") });
    expect(intervalsOf("13:00-24:00, 09:00-12:00")).toEqual({ intervals: [[540, 720], [780, 1440]] });
    expect(weekProblems({ ...emptyWeek(), tue: "9-5" })).toEqual({ tue: expect.any(String) });
  });
});
