import { describe, expect, it } from "vitest";
import { hashOf, Router } from "./router.svelte";

const known = (p: string) => ["/accounts", "/audit", "/replay"].includes(p);

function fresh(hash = ""): Router {
  window.history.replaceState(null, "", `/${hash}`);
  return new Router(known, "/accounts");
}

describe("Router", () => {
  it("reads the path and its params from the hash, and falls back on an unknown path", () => {
    let r = fresh("#/replay?campaign=1234%2F5678&at=2026-12-04T09%3A30%3A00Z");
    expect(r.path).toBe("/replay");
    expect(r.params).toEqual({ campaign: "1234/5678", at: "2026-12-04T09:30:00Z" });
    r = fresh("#/nowhere?x=1");
    expect(r.path).toBe("/accounts");
    expect(r.params).toEqual({});
  });

  it("keeps each view's params when the user goes elsewhere and comes back", () => {
    const r = fresh("#/audit");
    r.setParams({ type: "LeadReceived", actor: "", stream: undefined });
    expect(r.params).toEqual({ type: "LeadReceived" });
    expect(window.location.hash).toBe("#/audit?type=LeadReceived");
    r.navigate("/accounts");
    expect(r.params).toEqual({});
    r.navigate("/audit");
    expect(r.params).toEqual({ type: "LeadReceived" });
    // A link with params wins over what was remembered.
    r.navigate("/audit", { actor: "daemon" });
    expect(r.params).toEqual({ actor: "daemon" });
    expect(window.location.hash).toBe("#/audit?actor=daemon");
  });

  it("writes params in a stable order", () => {
    expect(hashOf("/replay", { b: "2", a: "1" })).toBe("/replay?a=1&b=2");
    expect(hashOf("/replay", {})).toBe("/replay");
  });
});
