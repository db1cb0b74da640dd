import { describe, expect, it } from "vitest";
import {
  apiAt,
  fromPicker,
  isApiTime,
  keyStep,
  marks,
  momentAt,
  momentParam,
  pageSize,
  parseMoment,
  scrubberValue,
  toPicker,
  utcText,
} from "./moment";

describe("the moment", () => {
  it("reads the router's at as the API does: digits a position, anything else a time, nothing now", () => {
    expect(parseMoment(undefined)).toEqual({ kind: "now" });
    expect(parseMoment("")).toEqual({ kind: "now" });
    expect(parseMoment("now")).toEqual({ kind: "now" });
    expect(parseMoment("2500")).toEqual({ kind: "position", position: 2500 });
    expect(parseMoment("0")).toEqual({ kind: "position", position: 1 });
    expect(parseMoment("2026-12-04T09:30:00Z")).toEqual({ kind: "time", time: "2026-12-04T09:30:00Z" });
    expect(momentParam({ kind: "now" })).toBeUndefined();
    expect(momentParam({ kind: "position", position: 7 })).toBe("7");
  });

  it("sends now as the head's position, and a past moment as it is", () => {
    expect(apiAt({ kind: "now" }, 1234)).toBe("1234");
    expect(apiAt({ kind: "position", position: 12 }, 1234)).toBe("12");
    expect(apiAt({ kind: "time", time: "2026-12-04" }, 1234)).toBe("2026-12-04");
  });

  it("maps the scrubber to moments: the head is now, anything before a position", () => {
    expect(momentAt(100, 100)).toEqual({ kind: "now" });
    expect(momentAt(99, 100)).toEqual({ kind: "position", position: 99 });
    expect(scrubberValue({ kind: "now" }, 100)).toBe(100);
    expect(scrubberValue({ kind: "position", position: 500 }, 100)).toBe(100);
    expect(scrubberValue({ kind: "position", position: 40 }, 100)).toBe(40);
    expect(scrubberValue({ kind: "time", time: "2026-12-04" }, 100, 33)).toBe(33);
    expect(scrubberValue({ kind: "time", time: "2026-12-04" }, 100, null)).toBe(100);
  });

  it("steps by keys: one event, a page, the ends, never past them", () => {
    expect(keyStep("ArrowLeft", 50, 100)).toBe(49);
    expect(keyStep("ArrowRight", 50, 100)).toBe(51);
    expect(keyStep("ArrowRight", 100, 100)).toBe(100);
    expect(keyStep("ArrowLeft", 1, 100)).toBe(1);
    expect(pageSize(100)).toBe(10);
    expect(pageSize(1_000_000)).toBe(50_000);
    expect(keyStep("PageDown", 50, 100)).toBe(40);
    expect(keyStep("PageUp", 95, 100)).toBe(100);
    expect(keyStep("Home", 50, 100)).toBe(1);
    expect(keyStep("End", 50, 100)).toBe(100);
    expect(keyStep("a", 50, 100)).toBeNull();
  });

  it("converts the date-time picker's value as UTC, or as local time, and back", () => {
    expect(fromPicker("2026-12-04T09:30", "utc")).toBe("2026-12-04T09:30:00Z");
    expect(fromPicker("2026-12-04T09:30:15", "utc")).toBe("2026-12-04T09:30:15Z");
    expect(fromPicker("nonsense", "utc")).toBeNull();
    const local = fromPicker("2026-12-04T09:30:15", "local")!;
    expect(new Date(local).getHours()).toBe(9);
    expect(toPicker(local, "local")).toBe("2026-12-04T09:30:15");
    expect(toPicker("2026-12-04T09:30:15.123456Z", "utc")).toBe("2026-12-04T09:30:15");
    expect(toPicker("2026-12-04", "utc")).toBe("2026-12-04T00:00:00");
    expect(utcText("2026-12-04T09:30:15.123456Z")).toBe("2026-12-04 09:30:15 UTC");
    expect(isApiTime("2026-12-04T09:30:15Z")).toBe(true);
    expect(isApiTime("2026-12-04")).toBe(true);
    expect(isApiTime("2026-12-04T09:30")).toBe(false);
  });
});

describe("the evaluation marks", () => {
  it("bins positions over the scrubber, at most one mark per bin", () => {
    expect(marks([1, 51, 100], 100, 10).map((m) => [m.at.toFixed(2), m.count, m.position])).toEqual([
      ["0.00", 1, 1],
      ["0.51", 1, 51],
      ["1.00", 1, 100],
    ]);
    const dense = marks(Array.from({ length: 5000 }, (_, i) => i + 1), 5000, 160);
    expect(dense.length).toBe(160);
    expect(dense.reduce((n, m) => n + m.count, 0)).toBe(5000);
    expect(marks([5, 200], 100)).toHaveLength(1);
    expect(marks([], 0)).toEqual([]);
  });
});
