import { fireEvent, render } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import BrowserRoot from "../../BrowserRoot.svelte";
import { fakeFetch, problem, type FetchCall } from "../../test/fakeFetch";
import { until } from "../../test/fixtures";
import { Theme } from "../theme.svelte";
import { loadCredentials, saveCredentials } from "./credentials";
import SignIn from "./SignIn.svelte";

const ORIGIN = window.location.origin;
const $ = (css: string) => document.querySelector<HTMLElement>(css);
const input = (css: string) => document.querySelector<HTMLInputElement>(css)!;

beforeEach(() => {
  window.location.hash = "";
  sessionStorage.clear();
  localStorage.clear();
});
afterEach(() => sessionStorage.clear());

/** A daemon at the page's origin taking the key `lo_good`. */
function daemon(extra: (c: FetchCall) => unknown = () => undefined) {
  return fakeFetch((c) => {
    if (c.headers.authorization !== "Bearer lo_good") return problem(401, "unknown API key");
    const answer = extra(c);
    if (answer !== undefined) return answer;
    if (c.path === "/readyz") return { status: "ready", database: "sqlite", schema_version: 31 };
    if (c.path === "/v1/google/accounts") return [];
    return problem(404, "no such route");
  }, ORIGIN);
}

async function signIn(key: string) {
  await fireEvent.input(input("#signin-key"), { target: { value: key } });
  await fireEvent.submit($("#signin-submit")!.closest("form")!);
}

describe("SignIn", () => {
  it("prefills the page's origin, checks the key with /readyz and keeps it in sessionStorage only", async () => {
    const { fetch, calls } = daemon();
    let signed: unknown = null;
    render(SignIn, { props: { fetch, onsignedin: (c) => (signed = c) } });
    expect(input("#signin-url").value).toBe(ORIGIN);
    expect(input("#signin-key").type).toBe("password");
    await signIn("lo_good");
    await until(() => signed !== null, "the sign-in");
    expect(signed).toEqual({ baseUrl: ORIGIN, apiKey: "lo_good" });
    expect(calls.map((c) => c.url)).toEqual([`${ORIGIN}/readyz`]);
    expect(loadCredentials()).toEqual({ baseUrl: ORIGIN, apiKey: "lo_good" });
    expect(JSON.stringify({ ...localStorage })).not.toContain("lo_good");
  });

  it("names the key field when the daemon refuses the key", async () => {
    const { fetch } = daemon();
    let signed = false;
    render(SignIn, { props: { fetch, onsignedin: () => (signed = true) } });
    await signIn("lo_bad");
    await until(() => input("#signin-key").getAttribute("aria-invalid") === "true", "the refusal");
    expect($("#signin-key-hint")!.textContent).toContain("refused this key: unknown API key");
    expect(document.activeElement?.id).toBe("signin-key");
    expect(signed).toBe(false);
    expect(loadCredentials()).toBeNull();
  });

  it("names the address field when nothing answers there, or it is no address", async () => {
    const { fetch } = fakeFetch(() => {
      throw new TypeError("Failed to fetch");
    }, ORIGIN);
    render(SignIn, { props: { fetch, onsignedin: () => {} } });
    await signIn("lo_good");
    await until(() => input("#signin-url").getAttribute("aria-invalid") === "true", "the failure");
    expect($("#signin-url-hint")!.textContent).toContain("Nothing answered");
    await fireEvent.input(input("#signin-url"), { target: { value: "daemon:8080" } });
    await signIn("lo_good");
    await tick();
    expect($("#signin-url-hint")!.textContent).toMatch(/http:\/\/ or https:\/\/|not an address/);
  });

  it("asks for a key before asking the daemon", async () => {
    const { fetch, calls } = daemon();
    render(SignIn, { props: { fetch, onsignedin: () => {} } });
    await signIn("  ");
    await tick();
    expect($("#signin-key-hint")!.textContent).toContain("Enter an API key");
    expect(calls).toEqual([]);
  });
});

describe("the browser build", () => {
  it("signs in, opens the app over HTTP, and signs out back to the sign-in", async () => {
    const { fetch } = daemon();
    render(BrowserRoot, { props: { theme: new Theme(), fetch } });
    expect($("#signin")).not.toBeNull();
    await signIn("lo_good");
    await until(() => !!$("#database"), "the app");
    expect($("#database")!.textContent).toContain(`${ORIGIN} (sqlite)`);
    expect($("#signin")).toBeNull();
    await fireEvent.click($("#sign-out")!);
    await until(() => !!$("#signin"), "the sign-in");
    expect(loadCredentials()).toBeNull();
  });

  it("opens the app at once with the key kept in this tab's session", async () => {
    saveCredentials({ baseUrl: ORIGIN, apiKey: "lo_good" });
    const { fetch } = daemon();
    render(BrowserRoot, { props: { theme: new Theme(), fetch } });
    await until(() => !!$("#database"), "the app");
    expect($("#signin")).toBeNull();
  });

  it("goes back to the sign-in, saying why, when the daemon stops taking the key", async () => {
    saveCredentials({ baseUrl: ORIGIN, apiKey: "lo_revoked" });
    const { fetch } = daemon();
    render(BrowserRoot, { props: { theme: new Theme(), fetch } });
    await until(() => !!$("#signin-reason"), "the sign-in");
    expect($("#signin-reason")!.textContent).toContain("no longer accepts this API key");
    expect(loadCredentials()).toBeNull();
  });

  it("offers Sign out in the command palette", async () => {
    saveCredentials({ baseUrl: ORIGIN, apiKey: "lo_good" });
    const { fetch } = daemon();
    render(BrowserRoot, { props: { theme: new Theme(), fetch } });
    await until(() => !!$("#database"), "the app");
    await fireEvent.keyDown(document.body, { key: "k", ctrlKey: true, bubbles: true });
    await until(() => !!$("#palette-item-sign-out"), "the palette");
    expect($("#palette-item-connection")).toBeNull();
    await fireEvent.click($("#palette-item-sign-out")!);
    await until(() => !!$("#signin"), "the sign-in");
    expect(loadCredentials()).toBeNull();
  });
});
