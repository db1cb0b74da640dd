import { describe, expect, it } from "vitest";
import type { RecordedReading } from "../../../generated/RecordedReading";
import type { SourceHealth } from "../../../generated/SourceHealth";
import { blankTeam } from "./form";
import { effectiveMax, teamHealth } from "./health";

const now = new Date("2026-12-06T12:00:00Z");
const reading = (over: Partial<RecordedReading> = {}): RecordedReading => ({
  at: "2026-12-06T11:56:00Z", agents_available: 3, open_leads: 10, max_open_leads: 40, utilisation: 0.25, source: "crm", position: 7, ...over,
});

describe("team health", () => {
  it("takes the team's maximum over the reading's", () => {
    expect(effectiveMax({ ...blankTeam("a"), max_open_leads: 20 }, reading())).toBe(20);
    expect(effectiveMax(blankTeam("a"), reading())).toBe(40);
    expect(effectiveMax(blankTeam("a"), null)).toBeNull();
  });

  it("says stale, full, busy, failing or ok", () => {
    const t = blankTeam("a");
    expect(teamHealth(t, reading(), null, now).label).toBe("OK");
    expect(teamHealth(t, reading({ at: "2026-12-06T11:00:00Z" }), null, now).label).toBe("Stale");
    expect(teamHealth(t, reading({ open_leads: 40 }), null, now).label).toBe("Full");
    expect(teamHealth(t, reading({ open_leads: 35 }), null, now).label).toBe("Busy");
    expect(teamHealth(t, null, null, now).label).toBe("No reading");
    const c = { ...t, capacity_source: "connector:crm" };
    expect(teamHealth(c, reading(), null, now).label).toBe("No source");
    // Sources not known (not read yet, or refused): judged by the reading alone.
    expect(teamHealth(c, reading(), undefined, now).label).toBe("OK");
    const failing = { name: "crm", state: "failing", last_error: "401 from the CRM" } as SourceHealth;
    expect(teamHealth(c, reading(), failing, now)).toMatchObject({ tone: "danger", why: "401 from the CRM" });
  });
});
