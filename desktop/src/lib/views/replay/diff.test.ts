import { describe, expect, it } from "vitest";
import type { CampaignView } from "../../../generated/CampaignView";
import type { Replay } from "../../../generated/Replay";
import { biddingText, changeOf, diffReplay, statusTone } from "./diff";

export function campaign(over: Partial<CampaignView> = {}): CampaignView {
  return {
    id: "1234567890/1001",
    name: "Brand NL",
    status: "enabled",
    daily_budget_micros: 50_000_000,
    bidding: "maximize_conversions",
    labels: ["team:sales-nl"],
    team: "sales-nl",
    last_observed_at: "2026-12-04T08:00:00Z",
    manual_hold_until: null,
    pending_changes: 0,
    last_change: null,
    ...over,
  };
}

function replay(over: Partial<Replay> = {}): Replay {
  return { view: "now", position: 100, campaigns: [], teams: [], rules: [], ...over };
}

describe("what differs from now", () => {
  it("marks a campaign whose status and budget changed since, with both values", () => {
    const then = replay({ campaigns: [campaign(), campaign({ id: "1234567890/1002", name: "Generic" })] });
    const now = replay({
      campaigns: [
        campaign({ status: "paused", daily_budget_micros: 40_000_000 }),
        campaign({ id: "1234567890/1002", name: "Generic" }),
        campaign({ id: "1234567890/1003", name: "New" }),
      ],
    });
    const d = diffReplay(then, now);
    const brand = d.campaigns.get("1234567890/1001")!;
    expect(brand.kind).toBe("changed");
    expect(changeOf(brand, "status")).toEqual({ field: "status", then: "enabled", now: "paused" });
    expect(changeOf(brand, "budget")).toEqual({ field: "budget", then: "50.00", now: "40.00" });
    expect(d.campaigns.get("1234567890/1002")!.kind).toBe("same");
    expect(d.newCampaigns).toEqual(["1234567890/1003"]);
    expect(d.total).toBe(2);
  });

  it("compares teams' capacity and rules' versions, and finds what is gone", () => {
    const then = replay({
      teams: [{ team: "sales-nl", agents_available: 3, open_leads: 4, max_open_leads: 10, at: null }],
      rules: [
        { id: "capacity-guard", version: 1, enabled: true },
        { id: "old", version: 1, enabled: true },
      ],
    });
    const now = replay({
      teams: [{ team: "sales-nl", agents_available: 0, open_leads: 12, max_open_leads: 10, at: null }],
      rules: [{ id: "capacity-guard", version: 2, enabled: false }],
    });
    const d = diffReplay(then, now);
    expect(d.teams.get("sales-nl")!.fields.map((f) => f.field)).toEqual(["agents", "open"]);
    expect(changeOf(d.rules.get("capacity-guard"), "version")).toEqual({ field: "version", then: "v1", now: "v2" });
    expect(changeOf(d.rules.get("capacity-guard"), "enabled")?.now).toBe("disabled");
    expect(d.rules.get("old")!.kind).toBe("gone");
    expect(diffReplay(now, now).total).toBe(0);
  });

  it("shows bidding as recorded", () => {
    expect(biddingText("maximize_conversions")).toBe("maximize_conversions");
    expect(biddingText({ target_cpa: { target_cpa_micros: 25_000_000 } })).toBe("target_cpa 25.00");
    expect(biddingText(null)).toBe("—");
  });
});

describe("a campaign's status pill", () => {
  it("is ok when enabled, warn when paused, danger when removed, muted otherwise", () => {
    expect(["enabled", "paused", "removed", "unknown"].map(statusTone)).toEqual(["ok", "warn", "danger", "muted"]);
  });
});
