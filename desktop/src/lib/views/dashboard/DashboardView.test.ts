import { fireEvent, render } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import App from "../../../App.svelte";
import { Theme } from "../../theme.svelte";
import { CommandError } from "../../backend";
import { FakeBackend } from "../../../test/fakeBackend";
import { until } from "../../../test/fixtures";
import { localTime } from "../../format";
import { localInput } from "./data";
import { BE, NL, World, campaignEvent } from "./testdata";

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const $$ = (css: string) => [...document.querySelectorAll<HTMLElement>(css)];
const tid = (id: string, root: ParentNode = document) => root.querySelector<HTMLElement>(`[data-testid="${id}"]`);
const text = (el: Element | null) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();

function open(world: World, hash = "") {
  window.location.hash = hash;
  const backend = new FakeBackend(world.route());
  const result = render(App, { props: { backend, theme: new Theme() } });
  return { backend, ...result };
}

const row = (id: string) => $(`[data-testid="dashboard-campaign-row"][data-campaign="${id}"]`);
const teamCard = (name: string) => $(`[data-testid="dashboard-team"][data-team="${name}"]`);
const warning = (kind: string) => $(`[data-testid="dashboard-warning"][data-kind="${kind}"]`);
const decision = (position: number) => $(`[data-testid="dashboard-decision"][data-position="${position}"]`);

beforeEach(() => {
  window.location.hash = "";
  localStorage.clear();
});
afterEach(() => {
  document.body.innerHTML = "";
});

describe("Dashboard view", () => {
  it("is the default view and reached with G then D", async () => {
    const world = new World(Date.now());
    open(world, "#/rules");
    await fireEvent.keyDown(document.body, { key: "g" });
    await fireEvent.keyDown(document.body, { key: "d" });
    await until(() => !!row(NL), "the campaigns");
    expect(window.location.hash).toBe("#/dashboard");
    expect(document.activeElement?.id).toBe("view-title");
    document.body.innerHTML = "";
    open(world, "");
    await until(() => !!row(NL), "the dashboard by default");
    expect($("#view-title")!.textContent).toBe("Dashboard");
  });

  it("lists every campaign with its state, team, last change and pending changes; failed changes first and marked", async () => {
    const world = new World(Date.now());
    open(world);
    await until(() => !!row(NL) && !!row(BE), "the campaigns");
    const rows = $$('[data-testid="dashboard-campaign-row"]');
    expect(rows.map((r) => r.dataset.campaign)).toEqual([BE, NL]); // the failed one first
    expect(text(tid("dashboard-campaign-count"))).toBe("2");
    expect(text(tid("dashboard-failed-count"))).toBe("1 failed");

    const nl = row(NL)!;
    expect(text(tid("dashboard-campaign-id", nl))).toBe(NL);
    expect(text(tid("dashboard-campaign-status", nl))).toBe("paused");
    expect(text(tid("dashboard-campaign-team", nl))).toBe("sales-nl");
    expect(text(tid("dashboard-change-by", nl))).toBe("rule capacity_gate");
    expect(text(tid("dashboard-change-why", nl))).toBe("sales-nl is at 120 % of its capacity");
    expect(text(tid("dashboard-change-state", nl))).toBe("applied");
    expect(text(tid("dashboard-last-change", nl))).toContain("pause");
    expect(text(tid("dashboard-last-change", nl))).toContain("2 hours ago");
    expect(text(tid("dashboard-pending", nl))).toBe("0");
    expect(tid("dashboard-change-error", nl)).toBeNull();

    const be = row(BE)!;
    expect(be.dataset.changeState).toBe("failed");
    expect(be.classList.contains("failed")).toBe(true);
    expect(text(tid("dashboard-change-by", be))).toBe("by hand");
    expect(text(tid("dashboard-last-change", be))).toContain("set_budget");
    expect(text(tid("dashboard-change-state", be))).toBe("failed");
    expect(text(tid("dashboard-change-error", be))).toBe("CAMPAIGN_BUDGET_TOO_LOW: the budget is under the minimum");
    expect(text(tid("dashboard-pending", be))).toBe("1");
  });

  it("moves through the campaigns with the arrows and opens why one is in its state with Enter", async () => {
    const world = new World(Date.now());
    open(world);
    await until(() => !!row(BE), "the campaigns");
    const first = row(BE)!;
    expect(first.tabIndex).toBe(0);
    expect(row(NL)!.tabIndex).toBe(-1);
    first.focus();
    await fireEvent.keyDown(first, { key: "ArrowDown" });
    expect(document.activeElement).toBe(row(NL));
    expect(row(NL)!.getAttribute("aria-selected")).toBe("true");
    await fireEvent.keyDown(row(NL)!, { key: "Enter" });
    await until(() => window.location.hash.startsWith("#/replay"), "replay");
    expect(window.location.hash).toBe(`#/replay?campaign=${encodeURIComponent(NL)}`);
  });

  it("shows each team's capacity as a gauge with its source, health and the reading's age", async () => {
    const world = new World(Date.now());
    open(world);
    await until(() => !!teamCard("sales-nl") && !!tid("dashboard-open-leads", teamCard("sales-nl")!), "the gauges");
    const nl = teamCard("sales-nl")!;
    expect(text(tid("dashboard-open-leads", nl))).toBe("12 / 10");
    expect(text(tid("dashboard-agents", nl))).toBe("3");
    expect(text(tid("dashboard-utilisation", nl))).toBe("120 %");
    expect(nl.querySelector('[role="meter"]')!.getAttribute("aria-valuenow")).toBe("12");
    expect(text(tid("dashboard-source", nl))).toBe("pushed");
    expect(text(tid("dashboard-reading-age", nl))).toBe("read 1 h ago");
    expect(nl.dataset.stale).toBe("false"); // pushed readings never go stale

    const be = teamCard("sales-be")!;
    expect(text(tid("dashboard-open-leads", be))).toBe("4 / 10");
    expect(text(tid("dashboard-agents", be))).toBe("2");
    expect(text(tid("dashboard-utilisation", be))).toBe("40 %");
    expect(text(tid("dashboard-source", be))).toBe("connector crm");
    expect(text(tid("dashboard-source-state", be))).toBe("failing");
    expect(be.dataset.stale).toBe("true"); // 20 min old; the source polls every minute
    expect(text(tid("dashboard-reading-age", be))).toBe("stale: read 20 min ago");
  });

  it("shows the capacity of a team the campaigns name though no one defined it", async () => {
    const world = new World(Date.now());
    world.campaigns[0] = { ...world.campaigns[0], team: "sales-de" };
    world.readings["sales-de"] = [
      { at: new Date(Date.now() - 60_000).toISOString(), agents_available: 1, open_leads: 9, max_open_leads: 10, utilisation: 0.9, source: "sim", position: 7 },
    ];
    open(world);
    await until(() => !!teamCard("sales-de") && !!tid("dashboard-open-leads", teamCard("sales-de")!), "the undefined team's gauge");
    expect(text(tid("dashboard-open-leads", teamCard("sales-de")!))).toBe("9 / 10");
    expect(text(tid("dashboard-utilisation", teamCard("sales-de")!))).toBe("90 %");
    // The defined teams are still there, each once.
    expect($$('[data-testid="dashboard-team"]').map((e) => e.dataset.team).sort()).toEqual(["sales-be", "sales-de", "sales-nl"]);
  });

  it("warns of an account needing consent again, a failing source, stale capacity and a failed change", async () => {
    const world = new World(Date.now());
    open(world);
    await until(() => $$('[data-testid="dashboard-warning"]').length === 4, "four warnings");
    expect(warning("reconsent")!.dataset.subject).toBe("agency-old");
    expect(text(warning("reconsent"))).toContain("Google refused the grant (invalid_grant)");
    expect(warning("source")!.dataset.subject).toBe("crm");
    expect(text(warning("source"))).toContain("failing (4 failed polls in a row, unavailable): HTTP 503 from the CRM");
    expect(warning("stale")!.dataset.subject).toBe("sales-be");
    expect(text(warning("stale"))).toContain("20 min old (at most 3 min from connector:crm)");
    expect(warning("failed-change")!.dataset.subject).toBe(BE);
    expect(text(warning("failed-change"))).toContain("CAMPAIGN_BUDGET_TOO_LOW");

    // Each leads to what it is about.
    await fireEvent.click(tid("dashboard-warning-action", warning("failed-change")!)!);
    expect(document.activeElement).toBe(row(BE));
    await fireEvent.click(tid("dashboard-warning-action", warning("stale")!)!);
    expect(document.activeElement).toBe(teamCard("sales-be"));
    await fireEvent.click(tid("dashboard-warning-action", warning("reconsent")!)!);
    await until(() => window.location.hash === "#/accounts", "the accounts view");
  });

  it("has no warnings when all is well", async () => {
    const world = new World(Date.now());
    world.accounts = world.accounts.filter((a) => a.status === "connected");
    world.sources = [];
    world.teams = world.teams.filter((t) => t.name === "sales-nl");
    world.campaigns = world.campaigns.filter((c) => c.id === NL);
    open(world);
    await until(() => !!row(NL), "the campaigns");
    expect(tid("dashboard-warnings")).toBeNull();
  });

  it("lists the decisions in the range, each linking to its why in Replay", async () => {
    const world = new World(Date.now());
    const { backend } = open(world);
    await until(() => !!decision(40), "the decisions");
    expect($$('[data-testid="dashboard-decision"]').map((d) => d.dataset.position)).toEqual(["45", "40"]); // newest first
    const d = decision(40) as HTMLAnchorElement;
    expect(d.dataset.campaign).toBe(NL);
    expect(text(d)).toContain("pause");
    expect(text(d)).toContain("evaluation ev-1");
    expect(d.getAttribute("href")).toBe(`#/replay?at=40&campaign=${encodeURIComponent(NL)}&evaluation=ev-1`);
    expect(text(decision(45))).toContain("by hand");
    expect(decision(45)!.getAttribute("href")).toBe(`#/replay?at=45&campaign=${encodeURIComponent(BE)}`);
    // The decisions and the on/off series come from the campaigns' events, by type.
    const types = backend.to("/v1/events").map((c) => c.query.get("type"));
    expect(types).toContain("ChangeRequested");
    expect(types).toContain("ChangeApplied");
    // Following the link opens Replay on that decision.
    window.location.hash = d.getAttribute("href")!;
    await until(() => $("#view-title")?.textContent === "Replay", "replay");
  });

  it("reads again when the log moves: a new decision shows without a reload, the selection kept", async () => {
    const world = new World(Date.now());
    const { backend } = open(world);
    await until(() => !!decision(40), "the decisions");
    row(NL)!.focus();
    await tick();
    expect(row(NL)!.getAttribute("aria-selected")).toBe("true");
    const reads = backend.to("/v1/campaigns").length;
    world.decide(60, BE, "resume", "ev-9", 60_000);
    backend.push(60);
    backend.push(61); // two moves in a row: read once
    await until(() => !!decision(60), "the new decision");
    expect(text(decision(60))).toContain("evaluation ev-9");
    expect($$('[data-testid="dashboard-decision"]')[0].dataset.position).toBe("60");
    expect(backend.to("/v1/campaigns").length).toBe(reads + 1);
    expect(row(NL)!.getAttribute("aria-selected")).toBe("true");
  });

  it("keeps the range in the route: presets and a custom range, which names the field at fault", async () => {
    const world = new World(Date.now());
    const { backend } = open(world);
    await until(() => !!row(NL), "the campaigns");
    const firstFrom = backend.to("/v1/teams/sales-nl/capacity")[0].query.get("from")!;
    expect(Date.now() - Date.parse(firstFrom)).toBeGreaterThan(23.9 * 3_600_000);
    expect(Date.now() - Date.parse(firstFrom)).toBeLessThan(24.1 * 3_600_000);

    await fireEvent.click(tid("dashboard-range-7d")!);
    expect(window.location.hash).toBe("#/dashboard?range=7d");
    await until(() => backend.to("/v1/teams/sales-nl/capacity").some((c) => {
      const from = c.query.get("from");
      return !!from && Date.now() - Date.parse(from) > 6.9 * 86_400_000;
    }), "the readings of 7 days");

    await fireEvent.click(tid("dashboard-range-custom")!);
    await until(() => document.activeElement?.id === "dashboard-from", "focus in From");
    const from = $("#dashboard-from") as HTMLInputElement;
    const to = $("#dashboard-to") as HTMLInputElement;
    await fireEvent.input(from, { target: { value: "2026-12-02T10:00" } });
    await fireEvent.input(to, { target: { value: "2026-12-01T10:00" } });
    await fireEvent.submit(tid("dashboard-custom-form")!);
    expect(tid("dashboard-range-problem")!.dataset.field).toBe("to");
    expect(text(tid("dashboard-range-problem"))).toBe("To must be after From.");
    expect(document.activeElement).toBe(to);
    expect(to.getAttribute("aria-invalid")).toBe("true");

    await fireEvent.input(to, { target: { value: "2026-12-03T10:00" } });
    await fireEvent.submit(tid("dashboard-custom-form")!);
    expect(tid("dashboard-range-problem")).toBeNull();
    const wantFrom = new Date("2026-12-02T10:00").toISOString().replace(".000Z", "Z");
    const wantTo = new Date("2026-12-03T10:00").toISOString().replace(".000Z", "Z");
    expect(window.location.hash).toBe(
      `#/dashboard?from=${encodeURIComponent(wantFrom)}&to=${encodeURIComponent(wantTo)}`,
    );
    await until(() => backend.to("/v1/events").some((c) => c.query.get("type") === "ChangeRequested" && c.query.get("event_to") === wantTo), "the decisions of the custom range, by their own time");
    // A range in the past: the gauges read each team's last reading on its own.
    await until(() => backend.to("/v1/teams/sales-nl/capacity").some((c) => c.query.get("limit") === "1"), "the last reading");
  });

  it("places decisions by their own time: a simulated past recorded today shows in its range, not in the last 24 h", async () => {
    const world = new World(Date.now());
    const past = campaignEvent(80, NL, "ChangeRequested", {
      change_id: "c-80",
      change: "pause",
      reason: null,
      decision_ref: "ev-80",
      at: "2026-03-02T09:30:00Z",
    });
    world.events.push({ ...past, recorded_at: new Date().toISOString() });
    const { backend } = open(world, "#/dashboard?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z");
    await until(() => !!decision(80), "the decision of March");
    expect(decision(40)).toBeNull();
    const asked = backend.to("/v1/events").find((c) => c.query.get("type") === "ChangeRequested")!;
    expect(asked.query.get("event_from")).toBe("2026-03-02T00:00:00Z");
    expect(asked.query.get("from")).toBeNull();

    document.body.innerHTML = "";
    open(world, "#/dashboard");
    await until(() => !!decision(40), "today's decisions");
    expect(decision(80)).toBeNull();
  });

  it("says when the range holds nothing but there was activity before it, and shows the same span up to it in one click", async () => {
    // Everything happened 90 days ago (a demo database opened months later).
    const past = Date.now() - 90 * 86_400_000;
    const world = new World(past);
    const { backend } = open(world);
    await until(() => !!tid("dashboard-range-empty"), "the note");
    expect(tid("dashboard-chart")).toBeNull();
    expect(tid("dashboard-chart-empty")).toBeNull();
    // The newest activity is sales-be's reading, 20 minutes before that moment.
    const newest = new Date(past - 20 * 60_000).toISOString();
    expect(text(tid("dashboard-range-empty"))).toContain(
      `Nothing in the last 24 hours. The newest reading is from ${localTime(newest)}.`,
    );
    expect(tid("dashboard-range-empty")!.querySelector("time")!.getAttribute("datetime")).toBe(newest);
    const button = tid("dashboard-range-to-newest")!;
    expect(text(button)).toBe("Show the 24 hours up to it");

    await fireEvent.click(button);
    const end = Math.floor(Date.parse(newest) / 60_000) * 60_000 + 60_000;
    const wantTo = new Date(end).toISOString().replace(".000Z", "Z");
    const wantFrom = new Date(end - 86_400_000).toISOString().replace(".000Z", "Z");
    expect(window.location.hash).toBe(`#/dashboard?from=${encodeURIComponent(wantFrom)}&to=${encodeURIComponent(wantTo)}`);
    // The new range is read and drawn; the custom range's form shows it, and holds the focus.
    await until(() => !!decision(45) && !!decision(40), "the decisions up to the newest activity");
    await until(() => !!tid("dashboard-chart"), "the chart");
    expect(tid("dashboard-range-empty")).toBeNull();
    expect(backend.to("/v1/teams/sales-nl/capacity").some((c) => c.query.get("to") === wantTo)).toBe(true);
    expect(($("#dashboard-to") as HTMLInputElement).value).toBe(localInput(wantTo));
    expect(document.activeElement?.id).toBe("dashboard-range-custom");
  });

  it("keeps to the chart when the range holds readings", async () => {
    const world = new World(Date.now());
    open(world);
    await until(() => !!tid("dashboard-chart") && !!decision(40), "the chart");
    expect(tid("dashboard-range-empty")).toBeNull();
    expect(tid("dashboard-range-to-newest")).toBeNull();
  });

  it("tells a new user what to do when there are no campaigns and no teams", async () => {
    const world = new World(Date.now());
    world.campaigns = [];
    world.teams = [];
    world.accounts = [];
    world.sources = [];
    world.events = [];
    open(world);
    await until(() => !!$("#dashboard-no-campaigns"), "the empty state");
    expect(text($("#dashboard-no-campaigns"))).toContain("Connect a Google account");
    expect(text($("#dashboard-no-teams"))).toContain("leadorch teams set");
    expect(tid("dashboard-no-decisions")).not.toBeNull();
    expect(tid("dashboard-chart")).toBeNull();
    expect(tid("dashboard-chart-empty")).not.toBeNull();
    await fireEvent.click(tid("dashboard-connect")!);
    await until(() => window.location.hash === "#/accounts", "the accounts view");
  });

  it("shows what it could read when a part fails, and says which part", async () => {
    const world = new World(Date.now());
    world.failing.set("/v1/capacity/sources", 500);
    open(world);
    await until(() => !!row(NL), "the campaigns");
    expect(text(tid("dashboard-part-error"))).toContain("capacity sources");
    expect(text(tid("dashboard-part-error"))).toContain("/v1/capacity/sources is broken in this test");
    expect(teamCard("sales-nl")).not.toBeNull();
  });

  it("says why when the campaigns cannot be read", async () => {
    const world = new World(Date.now());
    world.failing.set("/v1/campaigns", 503);
    open(world);
    await until(() => !!$("#dashboard-error"), "the error");
    expect(text($("#dashboard-error"))).toContain("/v1/campaigns is broken in this test");
  });

  it("shows no re-consent warning when the key may not list accounts", async () => {
    const world = new World(Date.now());
    world.failing.set("/v1/google/accounts", 403);
    open(world);
    await until(() => !!warning("failed-change"), "the warnings");
    expect(warning("reconsent")).toBeNull();
    expect(tid("dashboard-part-error")).toBeNull();
  });

  it("lets a read under way finish when the log keeps moving, then reads once more", async () => {
    const world = new World(Date.now());
    let release: (() => void) | null = null;
    let slow = false;
    const route = world.route();
    const backend = new FakeBackend((path, q, m) => {
      if (path === "/v1/campaigns" && release === null && slow) {
        return new Promise((resolve) => (release = () => resolve(route(path, q, m))));
      }
      return route(path, q, m);
    });
    window.location.hash = "";
    render(App, { props: { backend, theme: new Theme() } });
    await until(() => !!row(NL), "the campaigns");
    slow = true;
    world.decide(70, NL, "resume", "ev-7", 1000);
    backend.push(70);
    await until(() => release !== null, "a read under way");
    const reads = backend.to("/v1/campaigns").length;
    backend.push(71);
    await new Promise((r) => setTimeout(r, 400));
    expect(backend.to("/v1/campaigns").length).toBe(reads); // not restarted
    slow = false;
    release!();
    await until(() => !!decision(70), "the decision of the read that finished");
    await until(() => backend.to("/v1/campaigns").length === reads + 1, "one more read for the later move");
  });

  it("says so when the app could not open its database", async () => {
    const backend = new FakeBackend(() => new CommandError("not_open", "The OS keyring is not available"));
    backend.overview = () => Promise.reject(new CommandError("not_open", "The OS keyring is not available"));
    window.location.hash = "";
    render(App, { props: { backend, theme: new Theme() } });
    await until(() => !!$("#dashboard-not-open"), "the error");
    expect(text($("#dashboard-not-open"))).toContain("The OS keyring is not available");
    expect($("#dashboard-error")).toBeNull();
  });
});
