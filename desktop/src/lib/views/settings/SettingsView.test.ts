import { fireEvent, render } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import App from "../../../App.svelte";
import { until } from "../../../test/fixtures";
import { ApiProblem } from "../../backend";
import { Theme } from "../../theme.svelte";
import { NOTIFICATIONS_STORAGE_KEY } from "./notifications.svelte";
import { access, delivery, key, SettingsEngine, webhook } from "./testEngine";

beforeEach(() => {
  window.location.hash = "";
  localStorage.clear();
  sessionStorage.clear();
});
afterEach(() => {
  document.body.innerHTML = "";
  vi.unstubAllGlobals();
});

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const $$ = (css: string) => [...document.querySelectorAll<HTMLElement>(css)];
const tid = (id: string) => $(`[data-testid="${id}"]`);

function open(engine = new SettingsEngine()) {
  window.location.hash = "#/settings";
  const theme = new Theme();
  const r = render(App, { props: { backend: engine, theme } });
  return { engine, theme, ...r };
}

async function type(id: string, text: string) {
  const input = $(`#${id}`) as HTMLInputElement;
  await fireEvent.input(input, { target: { value: text } });
}

/** Everything the page holds as text, and what it keeps in storage. */
function everywhere(): string {
  return [document.body.textContent, document.body.innerHTML, JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage }), window.location.href].join("\n");
}

describe("Settings view", () => {
  it("is a route with its heading, the connection placeholder and every section", async () => {
    open();
    await until(() => !!tid("connection-database"), "the connection placeholder");
    expect($("#view-title")!.textContent).toContain("Settings");
    const connection = $("#connection-settings")!;
    expect(connection.textContent).toContain("Local database");
    expect(tid("connection-database")!.textContent).toContain("leadorch.db");
    for (const id of ["keys-settings", "webhooks-settings", "access-settings", "notifications-settings", "theme-settings"]) {
      expect($(`#${id}`), id).not.toBeNull();
    }
    // The section list takes the focus to a section's heading.
    await fireEvent.click(tid("jump-webhooks-settings")!);
    expect(document.activeElement?.id).toBe("webhooks-settings-title");
  });

  it("is reached with G then O", async () => {
    window.location.hash = "#/accounts";
    render(App, { props: { backend: new SettingsEngine(), theme: new Theme() } });
    await until(() => !!$("#accounts, #no-accounts"), "the accounts view");
    await fireEvent.keyDown(window, { key: "g" });
    await fireEvent.keyDown(window, { key: "o" });
    await until(() => window.location.hash === "#/settings", "the settings route");
    await until(() => document.activeElement?.id === "view-title", "focus on the heading");
    expect($("#view-title")!.textContent).toContain("Settings");
  });
});

describe("API keys", () => {
  it("lists the working keys, and the revoked ones when asked", async () => {
    const engine = new SettingsEngine();
    engine.keys = [
      key({ key_id: "key_01", name: "hubspot-prod", scopes: ["capacity", "ingest"], allow_ips: ["203.0.113.0/24"] }),
      key({ key_id: "key_02", name: "old-crm", revoked_at: "2026-12-02T09:00:00Z" }),
    ];
    open(engine);
    await until(() => !!$('#keys tr[data-key="key_01"]'), "the keys");
    const row = $('#keys tr[data-key="key_01"]')!;
    expect(row.querySelector(".name")!.textContent).toBe("hubspot-prod");
    expect(row.querySelector(".prefix")!.textContent).toBe("lo_acme_AbC…");
    expect(row.querySelector(".scopes")!.textContent).toBe("capacity, ingest");
    expect(row.querySelector(".allow")!.textContent).toBe("203.0.113.0/24");
    expect(row.querySelector("[data-status]")!.getAttribute("data-status")).toBe("working");
    expect($('#keys tr[data-key="key_02"]')).toBeNull();
    // No "last used" column: the API does not give it.
    expect($("#keys")!.textContent).not.toContain("Last used");

    await fireEvent.click($("#keys-show-revoked")!);
    await until(() => !!$('#keys tr[data-key="key_02"]'), "the revoked key");
    expect(engine.made("GET", "/v1/keys").at(-1)!.query.get("include_revoked")).toBe("true");
    expect($('#keys tr[data-key="key_02"] [data-status]')!.getAttribute("data-status")).toBe("revoked");
    expect($('#keys tr[data-key="key_02"] [data-testid="key-revoke"]')).toBeNull();
  });

  it("makes a key and shows its text once, with a copy button; closing forgets it", async () => {
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    const { engine } = open();
    await until(() => !!$("#keys"), "the keys");
    await fireEvent.click($("#key-new")!);
    await until(() => document.activeElement?.id === "key-name", "focus on the name");
    await type("key-name", "  zapier ");
    await fireEvent.click($("#key-scope-read")!); // off (it starts on)
    await fireEvent.click($("#key-scope-ingest")!);
    await fireEvent.click($("#key-scope-capacity")!);
    await type("key-allow-ips", "203.0.113.0/24, 2001:db8::/32 192.0.2.7");
    await fireEvent.submit($("#key-form")!);

    await until(() => !!tid("secret-dialog"), "the secret dialog");
    expect(engine.made("POST", "/v1/keys")[0].body).toEqual({
      name: "zapier",
      scopes: ["ingest", "capacity"],
      allow_ips: ["203.0.113.0/24", "2001:db8::/32", "192.0.2.7"],
    });
    const secret = "lo_acme_N1_SuperSecretKeyText1";
    expect(tid("secret-value")!.textContent).toBe(secret);
    expect(tid("secret-dialog")!.textContent).toContain("shown this once");
    expect(tid("secret-dialog")!.getAttribute("aria-modal")).toBe("true");
    await until(() => document.activeElement === tid("secret-copy"), "focus on Copy");
    await fireEvent.click(tid("secret-copy")!);
    await until(() => tid("secret-copied")!.textContent!.includes("Copied"), "copied");
    expect(writeText).toHaveBeenCalledWith(secret);
    // The new key is listed (without its text), the form closed.
    await until(() => !!$('#keys tr[data-key="key_new1"]'), "the new key listed");
    expect($("#key-form")).toBeNull();
    expect(localStorage.length + sessionStorage.length).toBe(0);

    // The app's shortcuts do not run while it is open (G A would leave, and lose it).
    await fireEvent.keyDown(tid("secret-copy")!, { key: "g" });
    await fireEvent.keyDown(tid("secret-copy")!, { key: "a" });
    expect(window.location.hash).toBe("#/settings");
    // Tab stays inside.
    tid("secret-done")!.focus();
    await fireEvent.keyDown(tid("secret-done")!, { key: "Tab" });
    expect(document.activeElement).toBe(tid("secret-copy"));

    await fireEvent.keyDown(tid("secret-dialog")!, { key: "Escape" });
    await until(() => !tid("secret-dialog"), "the dialog closed");
    expect(everywhere()).not.toContain(secret);
    expect(everywhere()).not.toContain("SuperSecretKeyText");
    // The form is gone: focus goes back to New key.
    expect(document.activeElement?.id).toBe("key-new");
  });

  it("selects the text when the clipboard is not available", async () => {
    vi.stubGlobal("navigator", { ...navigator, clipboard: undefined });
    open();
    await until(() => !!$("#keys"), "the keys");
    await fireEvent.click($("#key-new")!);
    await type("key-name", "ci");
    await fireEvent.submit($("#key-form")!);
    await until(() => !!tid("secret-dialog"), "the secret dialog");
    await fireEvent.click(tid("secret-copy")!);
    await until(() => tid("secret-copied")!.textContent!.includes("Ctrl+C"), "the fallback");
    expect(window.getSelection()!.toString()).toBe("lo_acme_N1_SuperSecretKeyText1");
    await fireEvent.click(tid("secret-done")!);
    expect(tid("secret-dialog")).toBeNull();
    expect(everywhere()).not.toContain("SuperSecretKeyText");
  });

  it("names the field at fault before asking the engine: name, scopes, allowed addresses", async () => {
    const { engine } = open();
    await until(() => !!$("#keys"), "the keys");
    await fireEvent.click($("#key-new")!);
    await fireEvent.click($("#key-scope-read")!); // no scope left
    await type("key-allow-ips", "10.0.0.0/33, 192.0.2.7, bogus");
    await fireEvent.submit($("#key-form")!);
    expect(tid("key-name-problem")!.textContent).toContain("Name the key");
    expect(tid("key-scopes-problem")!.textContent).toContain("at least one scope");
    const ips = tid("key-allow-ips-problem")!.textContent!;
    expect(ips).toContain('"10.0.0.0/33", "bogus" are not addresses or networks');
    expect(ips).not.toContain("192.0.2.7\"");
    expect($("#key-name")!.getAttribute("aria-invalid")).toBe("true");
    expect($("#key-allow-ips")!.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement?.id).toBe("key-name");
    expect(engine.made("POST", "/v1/keys")).toHaveLength(0);

    await type("key-name", "x".repeat(65));
    await fireEvent.submit($("#key-form")!);
    expect(tid("key-name-problem")!.textContent).toContain("at most 64");
    expect(engine.made("POST", "/v1/keys")).toHaveLength(0);
  });

  it("shows the engine's refusal at its field", async () => {
    const engine = new SettingsEngine();
    engine.override = (c) =>
      c.method === "POST" && c.path === "/v1/keys"
        ? new ApiProblem(422, {
            title: "Invalid field",
            status: 422,
            field: "allow_ips[1]",
            detail: '"10.1" is not an address or network: give e.g. 203.0.113.0/24',
          })
        : undefined;
    open(engine);
    await until(() => !!$("#keys"), "the keys");
    await fireEvent.click($("#key-new")!);
    await type("key-name", "ci");
    await fireEvent.submit($("#key-form")!);
    await until(() => tid("key-allow-ips-problem")!.textContent!.includes('"10.1"'), "the field's problem");
    expect(document.activeElement?.id).toBe("key-allow-ips");
    expect(tid("secret-dialog")).toBeNull();

    // A name in use (409, field name) lands at the name.
    engine.override = () => undefined;
    await type("key-name", "hubspot-prod");
    await fireEvent.submit($("#key-form")!);
    await until(() => tid("key-name-problem")!.textContent!.includes("a working key is named"), "the conflict");
  });

  it("revokes a key after a confirmation, and the new key's text is gone", async () => {
    const { engine } = open();
    await until(() => !!$('#keys tr[data-key="key_01"]'), "the keys");
    await fireEvent.click($("#key-new")!);
    await type("key-name", "temp");
    await fireEvent.submit($("#key-form")!);
    await until(() => !!tid("secret-dialog"), "the dialog");
    await fireEvent.click(tid("secret-done")!);
    await until(() => !!$('#keys tr[data-key="key_new1"]'), "the new key");

    await fireEvent.click($('#keys tr[data-key="key_new1"] [data-testid="key-revoke"]')!);
    expect(tid("key-revoke-confirm")!.textContent).toContain("Revoke temp");
    // Cancel does nothing.
    await fireEvent.click(tid("key-revoke-no")!);
    expect(tid("key-revoke-confirm")).toBeNull();
    expect(engine.made("DELETE", "/v1/keys/key_new1")).toHaveLength(0);

    await fireEvent.click($('#keys tr[data-key="key_new1"] [data-testid="key-revoke"]')!);
    await until(() => document.activeElement === tid("key-revoke-yes"), "focus on the confirmation");
    await fireEvent.click(tid("key-revoke-yes")!);
    await until(() => !$('#keys tr[data-key="key_new1"]'), "the key gone from the working list");
    expect(engine.made("DELETE", "/v1/keys/key_new1")).toHaveLength(1);
    expect(tid("keys-notice")!.textContent).toContain("Revoked temp");
    expect(everywhere()).not.toContain("SuperSecretKeyText");
  });

  it("shows when a key was last used, when the API gives it", async () => {
    const engine = new SettingsEngine();
    engine.keys = [
      { ...key({ key_id: "key_01" }), last_used_at: "2026-12-06T09:00:00Z" } as never,
      { ...key({ key_id: "key_02", name: "idle" }), last_used_at: null } as never,
    ];
    open(engine);
    await until(() => !!$('#keys tr[data-key="key_02"]'), "the keys");
    expect($("#keys thead")!.textContent).toContain("Last used");
    expect($('#keys tr[data-key="key_02"] .last-used')!.textContent!.trim()).toBe("never");
  });
});

describe("Webhooks", () => {
  it("registers an endpoint and shows its signing secret once", async () => {
    const { engine } = open();
    await until(() => !!$("#no-webhooks"), "no endpoints yet");
    await fireEvent.click($("#webhook-new")!);
    await until(() => document.activeElement?.id === "webhook-url", "focus on the URL");
    await type("webhook-url", "https://hooks.example.com/x");
    await fireEvent.click($("#webhook-event-campaign-paused")!);
    await fireEvent.submit($("#webhook-form")!);
    await until(() => !!tid("secret-dialog"), "the secret");
    expect(engine.made("POST", "/v1/webhooks")[0].body).toEqual({
      url: "https://hooks.example.com/x",
      events: ["change.failed", "campaign.paused"],
    });
    expect(tid("secret-value")!.textContent).toBe("whsec_NewSecret1");
    await fireEvent.click(tid("secret-done")!);
    await until(() => !!$('#webhooks [data-endpoint="we_new1"]'), "the endpoint listed");
    expect(everywhere()).not.toContain("whsec_NewSecret1");
  });

  it("sends all alone when All is picked, and checks the URL and the types first", async () => {
    const { engine } = open();
    await until(() => !!$("#no-webhooks"), "no endpoints yet");
    await fireEvent.click($("#webhook-new")!);
    await type("webhook-url", "hooks.example.com");
    await fireEvent.click($("#webhook-event-change-failed")!); // none left
    await fireEvent.submit($("#webhook-form")!);
    expect(tid("webhook-url-problem")!.textContent).toContain("is not a URL");
    expect(tid("webhook-events-problem")!.textContent).toContain("at least one event type");
    await type("webhook-url", "ftp://hooks.example.com/x");
    await fireEvent.submit($("#webhook-form")!);
    expect(tid("webhook-url-problem")!.textContent).toContain("https://");
    expect(engine.made("POST", "/v1/webhooks")).toHaveLength(0);

    // The engine's own refusal of the URL (an internal address) lands at the URL.
    engine.override = (c) =>
      c.method === "POST" && c.path === "/v1/webhooks"
        ? new ApiProblem(422, { title: "Invalid field", status: 422, field: "url", detail: "10.0.0.5 is a private address" })
        : undefined;
    await type("webhook-url", "https://10.0.0.5/hook");
    await fireEvent.click($("#webhook-event-all")!);
    expect(($("#webhook-event-change-failed") as HTMLInputElement).disabled).toBe(true);
    await fireEvent.submit($("#webhook-form")!);
    await until(() => tid("webhook-url-problem")!.textContent!.includes("private address"), "the engine's problem");
    expect(engine.made("POST", "/v1/webhooks")[0].body).toEqual({ url: "https://10.0.0.5/hook", events: ["all"] });
  });

  it("rotates the secret, enables a disabled endpoint and removes one after a confirmation", async () => {
    const engine = new SettingsEngine();
    engine.hooks = [
      webhook({ endpoint_id: "we_a", url: "https://a.example.com/h" }),
      webhook({
        endpoint_id: "we_b",
        url: "https://b.example.com/h",
        enabled: false,
        disabled_at: "2026-12-05T10:00:00Z",
        disabled_reason: "410 Gone",
      }),
    ];
    open(engine);
    await until(() => !!$('#webhooks [data-endpoint="we_b"]'), "the endpoints");
    const b = () => $('#webhooks [data-endpoint="we_b"]')!;
    expect(b().querySelector('[data-testid="webhook-status"]')!.textContent).toBe("Disabled");
    expect(b().querySelector('[data-testid="webhook-disabled"]')!.textContent).toContain("410 Gone");
    expect($('#webhooks [data-endpoint="we_a"] [data-testid="webhook-enable"]')).toBeNull();

    // Rotate: the new secret once.
    await fireEvent.click($('#webhooks [data-endpoint="we_a"] [data-testid="webhook-rotate"]')!);
    await until(() => !!tid("secret-dialog"), "the rotated secret");
    expect(engine.made("POST", "/v1/webhooks/we_a/rotate-secret")).toHaveLength(1);
    expect(tid("secret-value")!.textContent).toBe("whsec_rotated1");
    await fireEvent.click(tid("secret-done")!);
    expect(everywhere()).not.toContain("whsec_rotated1");

    // Enable again.
    await fireEvent.click(b().querySelector<HTMLElement>('[data-testid="webhook-enable"]')!);
    await until(() => b().querySelector('[data-testid="webhook-status"]')!.textContent === "Enabled", "enabled");
    expect(engine.made("POST", "/v1/webhooks/we_b/enable")).toHaveLength(1);
    expect(b().querySelector('[data-testid="webhook-enable"]')).toBeNull();
    expect(tid("webhooks-notice")!.textContent).toContain("Enabled https://b.example.com/h");

    // Remove, confirmed.
    await fireEvent.click(b().querySelector<HTMLElement>('[data-testid="webhook-remove"]')!);
    await until(() => document.activeElement === tid("webhook-remove-yes"), "focus on the confirmation");
    await fireEvent.click(tid("webhook-remove-no")!);
    expect(engine.made("DELETE", "/v1/webhooks/we_b")).toHaveLength(0);
    expect(document.activeElement).toBe(b().querySelector('[data-testid="webhook-remove"]'));
    await fireEvent.click(b().querySelector<HTMLElement>('[data-testid="webhook-remove"]')!);
    await fireEvent.click(tid("webhook-remove-yes")!);
    await until(() => !$('#webhooks [data-endpoint="we_b"]'), "removed");
    expect(engine.made("DELETE", "/v1/webhooks/we_b")).toHaveLength(1);
    expect($('#webhooks [data-endpoint="we_a"]')).not.toBeNull();
  });

  it("shows an action's failure on its endpoint", async () => {
    const engine = new SettingsEngine();
    engine.hooks = [webhook({ endpoint_id: "we_a" })];
    engine.override = (c) => (c.path.endsWith("/rotate-secret") ? new ApiProblem(404, { title: "Not Found", status: 404, detail: 'no webhook endpoint "we_a" in this project' }) : undefined);
    open(engine);
    await until(() => !!$('#webhooks [data-endpoint="we_a"]'), "the endpoint");
    await fireEvent.click($('[data-endpoint="we_a"] [data-testid="webhook-rotate"]')!);
    await until(() => !!tid("webhook-action-error"), "the failure");
    expect(tid("webhook-action-error")!.textContent).toContain("The secret was not rotated");
    expect(tid("webhook-action-error")!.textContent).toContain("no webhook endpoint");
    expect(tid("secret-dialog")).toBeNull();
  });

  it("lists an endpoint's deliveries, newest first, and shows more on demand", async () => {
    const engine = new SettingsEngine();
    engine.hooks = [webhook({ endpoint_id: "we_a" })];
    engine.deliveries.set("we_a", [
      delivery(0, {
        state: "pending",
        attempts: 3,
        last_status: 503,
        last_error: "Service Unavailable",
        next_attempt_at: "2026-12-06T11:00:00Z",
        finished_at: null,
      }),
      delivery(1, { state: "given_up", attempts: 8, last_status: null, last_error: "connection refused" }),
      ...Array.from({ length: 70 }, (_, i) => delivery(i + 2)),
    ]);
    open(engine);
    await until(() => !!$('#webhooks [data-endpoint="we_a"]'), "the endpoint");
    const toggle = $('[data-endpoint="we_a"] [data-testid="webhook-deliveries"]')!;
    await fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    await until(() => $$('[data-testid="deliveries"] tbody tr').length === 50, "the first 50");
    expect(engine.made("GET", "/v1/webhooks/we_a/deliveries")[0].query.get("limit")).toBe("50");
    const pending = $('[data-delivery="msg_0"]')!;
    expect(pending.querySelector("[data-state]")!.textContent).toBe("Pending");
    expect(pending.textContent).toContain("HTTP 503");
    expect(pending.textContent).toContain("Service Unavailable");
    expect(pending.querySelector(".next")!.textContent!.trim()).not.toBe("—");
    const gaveUp = $('[data-delivery="msg_1"]')!;
    expect(gaveUp.querySelector("[data-state]")!.textContent).toBe("Given up");
    expect(gaveUp.textContent).toContain("connection refused");
    expect(gaveUp.textContent).toContain("8");

    await fireEvent.click(tid("deliveries-more")!);
    await until(() => $$('[data-testid="deliveries"] tbody tr').length === 72, "all 72");
    expect(engine.made("GET", "/v1/webhooks/we_a/deliveries").at(-1)!.query.get("limit")).toBe("100");
    expect(tid("deliveries-more")).toBeNull();
    expect(tid("deliveries-count")!.textContent).toContain("72 shown");

    await fireEvent.click(toggle);
    expect(tid("deliveries")).toBeNull();
  });
});

describe("Access log", () => {
  it("pages back and forth by the API's cursor, and filters by key", async () => {
    const engine = new SettingsEngine();
    engine.keys = [key({ key_id: "key_01", name: "hubspot-prod" }), key({ key_id: "key_02", name: "dash", prefix: "lo_acme_Dd" })];
    engine.log = Array.from({ length: 120 }, (_, i) => access(i + 1, i === 119 ? { status: 503, route: "/v1/leads" } : {}));
    open(engine);
    await until(() => $$("#access-log tbody tr").length === 50, "the first page");
    const first = engine.made("GET", "/v1/access-log")[0];
    expect(first.query.get("limit")).toBe("50");
    expect(first.query.has("before")).toBe(false);
    const newest = $$("#access-log tbody tr")[0];
    expect(newest.dataset.access).toBe("120");
    expect(newest.textContent).toContain("GET /v1/leads");
    expect(newest.querySelector(".pill")!.classList.contains("danger")).toBe(true);
    expect(newest.querySelector(".key")!.textContent).toBe("dash");
    // The client's address only when asked for.
    expect(newest.textContent).not.toContain("203.0.113.9");
    await fireEvent.click($("#access-show-ips")!);
    expect($$("#access-log tbody tr")[0].querySelector(".ip")!.textContent).toBe("203.0.113.9");
    await fireEvent.click($("#access-show-ips")!);
    expect($("#access-page")!.textContent).toBe("Page 1");
    expect(($("#access-newer") as HTMLButtonElement).disabled).toBe(true);

    await fireEvent.click($("#access-older")!);
    await until(() => $$("#access-log tbody tr")[0]?.dataset.access === "70", "the second page");
    expect(engine.made("GET", "/v1/access-log").at(-1)!.query.get("before")).toBe("71");
    expect($("#access-page")!.textContent).toBe("Page 2");
    await fireEvent.click($("#access-older")!);
    await until(() => $$("#access-log tbody tr").length === 20, "the last page");
    expect(($("#access-older") as HTMLButtonElement).disabled).toBe(true);

    await fireEvent.click($("#access-newer")!);
    await until(() => $$("#access-log tbody tr")[0]?.dataset.access === "70", "back to page 2");
    await fireEvent.click($("#access-newest")!);
    await until(() => $$("#access-log tbody tr")[0]?.dataset.access === "120", "back to the newest");
    expect($("#access-page")!.textContent).toBe("Page 1");

    // Filter by key: from the newest page, only that key's requests.
    await fireEvent.click($("#access-older")!);
    await until(() => $("#access-page")?.textContent === "Page 2", "page 2");
    await until(() => $$("#access-key option").length === 3, "the keys in the filter");
    const select = $("#access-key") as HTMLSelectElement;
    select.value = "key_02";
    await fireEvent.change(select);
    await until(() => engine.made("GET", "/v1/access-log").at(-1)!.query.get("key_id") === "key_02", "the filtered read");
    const filtered = engine.made("GET", "/v1/access-log").at(-1)!;
    expect(filtered.query.has("before")).toBe(false);
    await until(() => $$("#access-log tbody tr")[0]?.dataset.access === "120", "the key's newest");
    expect($$("#access-log tbody tr").every((r) => r.querySelector(".key")!.textContent === "dash")).toBe(true);
    expect($("#access-page")!.textContent).toBe("Page 1");
  });

  it("says when there is nothing yet", async () => {
    open();
    await until(() => !!$("#no-access"), "the empty log");
    expect($("#access-older")).toBeNull();
  });
});

describe("Notifications and theme", () => {
  it("keeps the notifications toggle, asking the system's permission when turned on", async () => {
    const requestPermission = vi.fn(async () => {
      FakeNotification.permission = "granted";
      return "granted" as const;
    });
    class FakeNotification {
      static permission: NotificationPermission = "default";
      static requestPermission = requestPermission;
    }
    vi.stubGlobal("Notification", FakeNotification);
    const first = open();
    await until(() => !!$("#notifications-toggle"), "the toggle");
    const toggle = () => $("#notifications-toggle") as HTMLInputElement;
    expect(toggle().checked).toBe(false);
    expect($("#notifications-permission")!.dataset.permission).toBe("default");
    await fireEvent.click(toggle());
    await until(() => $("#notifications-permission")!.dataset.permission === "granted", "permission granted");
    expect(requestPermission).toHaveBeenCalledTimes(1);
    expect(localStorage.getItem(NOTIFICATIONS_STORAGE_KEY)).toBe("on");
    // On, the app follows the log.
    await until(() => first.engine.watchers >= 2, "the notification watcher");
    first.unmount();

    open();
    await until(() => !!$("#notifications-toggle"), "the toggle again");
    expect(toggle().checked).toBe(true);
    await fireEvent.click(toggle());
    expect(toggle().checked).toBe(false);
    expect(localStorage.getItem(NOTIFICATIONS_STORAGE_KEY)).toBeNull();
    expect(requestPermission).toHaveBeenCalledTimes(1);
  });

  it("offers the theme with its own switch", async () => {
    const { theme } = open();
    await until(() => !!$("#settings-theme-dark"), "the theme switch");
    await fireEvent.click($("#settings-theme-dark")!);
    expect(theme.preference).toBe("dark");
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect($("#settings-theme-dark")!.getAttribute("aria-checked")).toBe("true");
    // The top bar's switch agrees.
    expect($("#theme-dark")!.getAttribute("aria-checked")).toBe("true");
    await fireEvent.keyDown($("#settings-theme-dark")!, { key: "ArrowRight" });
    expect(theme.preference).toBe("system");
    expect(document.activeElement?.id).toBe("settings-theme-system");
    expect(tid("theme-now")!.textContent).toContain("Following the system");
  });
});
