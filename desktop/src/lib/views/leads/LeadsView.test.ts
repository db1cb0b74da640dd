import { cleanup, fireEvent, render } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ErasureAnswer } from "../../../generated/ErasureAnswer";
import type { EventDetail } from "../../../generated/EventDetail";
import type { EventWindow } from "../../../generated/EventWindow";
import type { ExportAnswer } from "../../../generated/ExportAnswer";
import type { LeadView } from "../../../generated/LeadView";
import type { LookupRequest } from "../../../generated/LookupRequest";
import type { WithdrawAnswer } from "../../../generated/WithdrawAnswer";
import type { JsonValue } from "../../../generated/serde_json/JsonValue";
import { until } from "../../../test/fixtures";
import { FakeBackend, renderWith } from "../../../test/routeBackend";
import ViewHost from "../../../test/ViewHost.svelte";
import { ApiProblem } from "../../backend";
import { Router } from "../../router.svelte";
import LeadsView from "./LeadsView.svelte";

const $ = (css: string) => document.querySelector<HTMLElement>(css);
const $$ = (css: string) => [...document.querySelectorAll<HTMLElement>(css)];
const tid = (id: string) => $(`[data-testid="${id}"]`);
const text = (id: string) => tid(id)?.textContent?.replace(/\s+/g, " ").trim() ?? "";

beforeEach(() => {
  window.location.hash = "#/leads";
});
afterEach(() => {
  cleanup();
  document.body.innerHTML = "";
});

type Personal = Record<string, JsonValue>;

/**
 * The engine's side of one person: lead f-1029 (accepted, then contacted), its consent c-1
 * and subject s-1, as the API answers them; `erase()` turns their personal fields to erased.
 */
class Person {
  erased = false;
  withdrawn = false;
  exports = 0;

  lead(over: Partial<LeadView> = {}): LeadView {
    return {
      lead_id: "f-1029",
      form_id: "contact",
      team: "sales-nl",
      outcome: "accepted",
      reason: null,
      duplicate_of: null,
      blocked: null,
      status: "contacted",
      subject_id: "s-1",
      consent_id: "c-1",
      received_at: "2026-12-01T10:00:05Z",
      updated_at: "2026-12-02T08:00:00Z",
      ...over,
    };
  }

  event(position: number, stream: string, type: string, clear: Personal, personal: Personal, reveal: boolean): EventDetail {
    const state = this.erased ? "erased" : reveal ? "revealed" : "hidden";
    const fields = Object.fromEntries(Object.entries(personal).map(([k, v]) => [k, state === "revealed" ? v : null]));
    const pointer = (k: string) => `/${type}/${k}`;
    // Nested names (`attribution/gclid`) go in their object.
    const body: Record<string, JsonValue> = { ...clear };
    for (const [k, v] of Object.entries(fields)) {
      const [head, tail] = k.split("/");
      if (tail) body[head] = { ...((body[head] as Record<string, JsonValue>) ?? {}), [tail]: v };
      else body[k] = v;
    }
    return {
      position,
      stream,
      stream_version: 1,
      event_id: `e${position}`,
      type,
      schema_version: "1.1",
      recorded_at: clear.at as string,
      actor: "api-key:key_1",
      trace_id: null,
      data: { [type]: body },
      hash: "ab".repeat(32),
      revealed: reveal,
      erased: this.erased,
      personal: Object.keys(personal).map((k) => ({ field: pointer(k), subject_id: "s-1", purpose: "contact", state })),
    };
  }

  events(reveal: boolean): Record<string, EventDetail[]> {
    const consent = [
      this.event(
        9,
        "consent:c-1",
        "ConsentGranted",
        {
          consent_id: "c-1",
          subject_id: "s-1",
          lead_id: "f-1029",
          text: "I agree to be called about my request",
          source_url: "https://example.org/contact",
          at: "2026-12-01T10:00:00Z",
        },
        {
          ip: "203.0.113.7",
          user_agent: "Firefox",
          page_url: "https://example.org/contact?x=1",
          trustedform_cert_url: "https://cert.trustedform.com/abc123",
          jornaya_token: "LEADID-42",
        },
        reveal,
      ),
    ];
    if (this.withdrawn) {
      consent.push(
        this.event(20, "consent:c-1", "ConsentWithdrawn", { consent_id: "c-1", subject_id: "s-1", reason: "unsubscribed by email", at: "2026-12-03T09:00:00Z" }, {}, reveal),
      );
    }
    const subject = this.erased
      ? [this.event(21, "data_subject:s-1", "SubjectErased", { subject_id: "s-1", request_id: "r1", purposes: ["contact", "consent"], at: "2026-12-04T09:00:00Z" }, {}, false)]
      : [];
    return {
      "lead:f-1029": [
        this.event(
          10,
          "lead:f-1029",
          "LeadReceived",
          {
            lead_id: "f-1029",
            subject_id: "s-1",
            team: "sales-nl",
            campaign_id: "555",
            customer_id: "1234567890",
            source: "api",
            form_id: "contact",
            consent_id: "c-1",
            attribution: { utm_source: "google", utm_campaign: "winter" },
            at: "2026-12-01T10:00:05Z",
          },
          {
            fingerprint: null,
            name: "Ann Example",
            email: "ann@example.org",
            phone: "+31201234567",
            ip: "203.0.113.7",
            user_agent: "Firefox",
            message: null,
            metadata: null,
            "attribution/gclid": "Cj0KCQ-gclid",
            "attribution/gbraid": null,
            "attribution/wbraid": null,
          },
          reveal,
        ),
        this.event(14, "lead:f-1029", "LeadStatusChanged", { from: "new", to: "contacted", subject_id: "s-1", at: "2026-12-02T08:00:00Z" }, { owner: "agent-7" }, reveal),
      ],
      "consent:c-1": consent,
      "data_subject:s-1": subject,
    };
  }

  window(stream: string): EventWindow {
    const items = (this.events(false)[stream] ?? []).map(({ revealed: _r, erased: _e, personal: _p, ...view }) => view);
    return { items, next: null, head: 30, order: "oldest_first" };
  }

  detail(position: number, reveal: boolean): EventDetail {
    const all = Object.values(this.events(reveal)).flat();
    const found = all.find((e) => e.position === position);
    if (!found) throw new ApiProblem(404, { title: "Not Found", detail: `no event at position ${position} in this project` });
    return found;
  }

  exportAnswer(): ExportAnswer {
    return {
      format: "leadorch.subject-export.v1",
      subject_id: "s-1",
      exported_at: "2026-12-06T12:00:00Z",
      erased: this.erased,
      readable_purposes: this.erased ? [] : ["contact", "consent"],
      events: Object.values(this.events(true))
        .flat()
        .map((e) => ({ position: e.position, stream: e.stream, event_type: e.type, recorded_at: e.recorded_at, data: e.data })),
      trace_id: "t-export",
    };
  }

  backend(): FakeBackend {
    const b = new FakeBackend();
    b.on("GET /v1/leads/f-1029", () => this.lead());
    b.on("GET /v1/leads/nope", () => {
      throw new ApiProblem(404, { title: "Not Found", detail: "no lead nope in this project" });
    });
    b.on("POST /v1/subjects/lookup", (body) => {
      const { email, phone } = body as LookupRequest;
      if (email === "ann@example.org") return { subjects: [{ subject_id: "s-1", lead_id: "f-1029", matched: ["email"] }] };
      if (phone === "+31 20 123 4567") return { subjects: [{ subject_id: "s-1", lead_id: "f-1029", matched: ["phone"] }] };
      if (email === "not-an-email@") {
        throw new ApiProblem(422, {
          title: "Invalid field",
          detail: "email: is not an email address",
          field: "email",
          errors: [{ field: "email", problem: "is not an email address" }],
        });
      }
      throw new ApiProblem(404, {
        title: "Not Found",
        detail: "no lead of this project received in the last 90 days (the dedup window, which is how long fingerprints are kept) has this email",
      });
    });
    b.on("GET /v1/events", (_body, path) => {
      const stream = new URLSearchParams(path.split("?")[1]).get("stream") ?? "";
      return this.window(stream);
    });
    for (const p of [9, 10, 14, 20, 21]) {
      b.on(`GET /v1/events/${p}`, (_body, path) => this.detail(p, path.includes("reveal=true")));
    }
    b.on("GET /v1/subjects/s-1/export", () => {
      this.exports++;
      return this.exportAnswer();
    });
    b.on("DELETE /v1/subjects/s-1", (): ErasureAnswer => {
      const before = this.erased;
      this.erased = true;
      return {
        subject_id: "s-1",
        keys_destroyed: before ? [] : ["consent", "contact"],
        events_affected: before ? 0 : 3,
        already_erased: before,
        fingerprints_deleted: before ? 0 : 2,
        trace_id: "t-erase",
      };
    });
    b.on("POST /v1/subjects/s-1/consent/withdraw", (body): WithdrawAnswer => {
      const reason = (body as { reason?: string } | undefined)?.reason;
      if (reason && reason.length > 500) {
        throw new ApiProblem(422, { title: "Invalid field", detail: "reason is at most 500 characters", field: "reason" });
      }
      const was = this.withdrawn;
      this.withdrawn = true;
      return { subject_id: "s-1", withdrawn: was ? [] : ["c-1"], already_withdrawn: was ? ["c-1"] : [], trace_id: "t-withdraw" };
    });
    return b;
  }
}

function mount(backend: FakeBackend, hash = "#/leads") {
  window.location.hash = hash;
  const router = new Router((p) => p === "/leads" || p === "/audit", "/leads");
  const result = render(ViewHost, { props: { backend, router, view: LeadsView, props: { debounceMs: 10 } } });
  return { ...result, router };
}

async function find(value: string, as?: "auto" | "lead" | "email" | "phone") {
  const input = tid("lead-search") as HTMLInputElement;
  await fireEvent.input(input, { target: { value } });
  if (as) await fireEvent.click(tid(`search-as-${as}`)!);
  await fireEvent.submit(input.form!);
}

const detailShown = () => until(() => !!tid("lead-detail") && $$('[data-testid="contact-field"]').length > 0, "the lead's detail");
const field = (group: string, name: string) => $(`[data-testid="${group}"][data-field="${name}"]`);

describe("Leads view: finding", () => {
  it("finds a lead by id with GET /v1/leads/{id} and keeps the id in the route", async () => {
    const person = new Person();
    const b = person.backend();
    const { router } = mount(b);
    expect($("#leads-empty")).not.toBeNull();
    await find("f-1029");
    await detailShown();
    expect(b.made("GET", "/v1/leads/f-1029")).toHaveLength(1);
    expect(b.made("POST", "/v1/subjects/lookup")).toHaveLength(0);
    expect(router.params.lead).toBe("f-1029");
    expect(tid("lead-detail")!.dataset.lead).toBe("f-1029");
  });

  it("finds a person by email through POST /v1/subjects/lookup, the email in the body only", async () => {
    const person = new Person();
    const b = person.backend();
    const { router } = mount(b);
    await fireEvent.input(tid("lead-search")!, { target: { value: "ann@example.org" } });
    expect(tid("search-kind")!.dataset.kind).toBe("email");
    expect(text("search-kind")).toContain("email address");
    await find("ann@example.org");
    await until(() => $$('[data-testid="search-result"]').length === 1, "the match");
    const lookups = b.made("POST", "/v1/subjects/lookup");
    expect(lookups).toHaveLength(1);
    expect(lookups[0].body).toEqual({ email: "ann@example.org" });
    expect(b.calls.every((c) => !c.path.includes("ann@example.org"))).toBe(true);
    expect(text("search-result")).toContain("s-1");
    expect(text("search-result")).toContain("f-1029");
    // One lead matched: it opens; the route names the lead, never the email.
    await detailShown();
    expect(router.params).toEqual({ lead: "f-1029" });
    expect(window.location.hash).not.toContain("example.org");
  });

  it("finds a person by phone, guessed from the text or chosen explicitly", async () => {
    const b = new Person().backend();
    mount(b);
    await find("+31 20 123 4567");
    await until(() => b.made("POST", "/v1/subjects/lookup").length === 1, "the lookup");
    expect(b.made("POST", "/v1/subjects/lookup")[0].body).toEqual({ phone: "+31 20 123 4567" });
    await until(() => $$('[data-testid="search-result"]').length === 1, "the match");
    expect(text("search-result")).toContain("phone");

    // A digits-only text is a lead id unless the operator says it is a phone.
    await fireEvent.input(tid("lead-search")!, { target: { value: "0201234567" } });
    expect(tid("search-kind")!.dataset.kind).toBe("phone");
    await find("12345", "phone");
    expect(b.made("POST", "/v1/subjects/lookup")[1].body).toEqual({ phone: "12345" });
  });

  it("lists every subject a lookup finds (the email one person's, the phone another's) and opens the one chosen", async () => {
    const person = new Person();
    const b = person.backend();
    b.on("POST /v1/subjects/lookup", () => ({
      subjects: [
        { subject_id: "s-1", lead_id: "f-1029", matched: ["email"] },
        { subject_id: "s-9", lead_id: "f-3000", matched: ["phone"] },
      ],
    }));
    const { router } = mount(b);
    await find("ann@example.org");
    await until(() => $$('[data-testid="search-result"]').length === 2, "both matches");
    expect(tid("lead-detail")).toBeNull();
    expect(router.params.lead).toBeUndefined();
    const first = $('[data-testid="search-result"][data-lead="f-1029"] button')!;
    await fireEvent.click(first);
    await detailShown();
    expect(router.params.lead).toBe("f-1029");
    expect(first.getAttribute("aria-current")).toBe("true");
  });

  it("says clearly when a lookup finds no lead (404), with the engine's reason", async () => {
    const b = new Person().backend();
    mount(b);
    await find("nobody@example.org");
    await until(() => !!tid("search-none"), "the no-lead message");
    expect(text("search-none")).toMatch(/^No lead found with this email\./);
    expect(text("search-none")).toContain("dedup window");
    expect(tid("lead-detail")).toBeNull();
    expect($("#search-error")).toBeNull();
  });

  it("says clearly when no lead has the id (404)", async () => {
    const b = new Person().backend();
    mount(b);
    await find("nope");
    await until(() => !!tid("search-none"), "the no-lead message");
    expect(text("search-none")).toBe("No lead nope in this project.");
  });

  it("names the field at fault: an invalid email (422) and a lead id that cannot be one", async () => {
    const b = new Person().backend();
    mount(b);
    await find("not-an-email@");
    await until(() => !!$("#search-error"), "the field problem");
    expect($("#search-error")!.textContent).toContain("Email: is not an email address");

    await find("no spaces here", "lead");
    expect($("#search-error")!.textContent).toContain("Lead id:");
    expect(b.calls.filter((c) => c.path.startsWith("/v1/leads/"))).toHaveLength(0);
  });
});

describe("Leads view: the lead", () => {
  it("shows outcome, team, status history, attribution, personal fields and consent evidence", async () => {
    const b = new Person().backend();
    mount(b, "#/leads?lead=f-1029");
    await detailShown();
    await until(() => !!tid("consent-text"), "the consent");
    expect(text("lead-outcome")).toBe("accepted");
    expect(text("lead-team")).toBe("sales-nl");
    // The streams asked for, then each lead and consent event opened.
    const streams = b.made("GET", "/v1/events").map((c) => new URLSearchParams(c.path.split("?")[1]).get("stream"));
    expect(streams.sort()).toEqual(["consent:c-1", "data_subject:s-1", "lead:f-1029"]);
    expect(b.calls.filter((c) => /^\/v1\/events\/\d+\?reveal=true$/.test(c.path)).map((c) => c.path).sort()).toEqual([
      "/v1/events/10?reveal=true",
      "/v1/events/14?reveal=true",
      "/v1/events/9?reveal=true",
    ]);
    // Personal fields: shown, because the operator asked for this lead.
    expect(field("contact-field", "email")!.textContent).toContain("ann@example.org");
    expect(field("contact-field", "email")!.dataset.state).toBe("revealed");
    expect(field("contact-field", "name")!.textContent).toContain("Ann Example");
    // Status history.
    expect($$('[data-testid="status-step"]').map((s) => s.dataset.status)).toEqual(["new", "contacted"]);
    expect(text("status-history")).toContain("agent-7");
    // Attribution: the click id (personal), the UTM parameters and campaign (clear).
    expect(field("attribution-field", "attribution/gclid")!.textContent).toContain("Cj0KCQ-gclid");
    expect(field("attribution-field", "attribution/utm_source")!.textContent).toContain("google");
    expect(field("attribution-field", "campaign_id")!.textContent).toContain("555");
    // Consent evidence: text shown, time, page, TrustedForm, Jornaya.
    expect(text("consent-text")).toBe("I agree to be called about my request");
    expect(text("consent-at")).toContain("2026-12-01 10:00:00");
    expect(text("consent-page")).toBe("https://example.org/contact");
    expect(field("consent-field", "trustedform_cert_url")!.textContent).toContain("https://cert.trustedform.com/abc123");
    expect(field("consent-field", "jornaya_token")!.textContent).toContain("LEADID-42");
    // The history: every event of the lead and its consent, in log order.
    expect($$('[data-testid="history-row"]').map((r) => r.dataset.type)).toEqual([
      "ConsentGranted",
      "LeadReceived",
      "LeadStatusChanged",
    ]);
    expect(text("lead-subject")).toBe("s-1");
  });

  it("reads the consent of another project's lead by its own id, and opens an event in the audit log", async () => {
    const person = new Person();
    const b = person.backend();
    // Outside the default project the lead names its consent as stored: `<project>/<id>`.
    b.on("GET /v1/leads/f-1029", () => person.lead({ consent_id: "acme/c-1" }));
    const { router } = mount(b, "#/leads?lead=f-1029");
    await detailShown();
    await until(() => !!tid("consent-text"), "the consent");
    const streams = b.made("GET", "/v1/events").map((c) => new URLSearchParams(c.path.split("?")[1]).get("stream"));
    expect(streams).toContain("consent:c-1");
    const row = $('[data-testid="history-row"][data-type="LeadStatusChanged"]')!;
    await fireEvent.click(row.querySelector("button")!);
    expect(router.path).toBe("/audit");
    expect(router.params).toEqual({ stream: "lead:f-1029", event: "14" });
  });

  it("shows a duplicate's or a blocked lead's why", async () => {
    const person = new Person();
    const b = person.backend();
    b.on("GET /v1/leads/f-2000", () =>
      person.lead({
        lead_id: "f-2000",
        outcome: "blocked",
        blocked: "disposable_email",
        reason: "mailinator.com is on the disposable-domain list",
        status: null,
        consent_id: null,
      }),
    );
    mount(b, "#/leads?lead=f-2000");
    await until(() => !!tid("lead-outcome"), "the lead");
    expect(text("lead-outcome")).toBe("blocked");
    expect(text("lead-reason")).toBe("Blocked: disposable email. mailinator.com is on the disposable-domain list");
    expect(text("consent-none")).toContain("No consent");
  });

  it("shows an erased subject's personal data as gone, not as an error", async () => {
    const person = new Person();
    person.erased = true;
    mount(person.backend(), "#/leads?lead=f-1029");
    await detailShown();
    await until(() => !!tid("lead-erased"), "the erased note");
    expect(text("lead-erased")).toContain("personal data is gone for good");
    expect(field("contact-field", "email")!.dataset.state).toBe("erased");
    expect(field("contact-field", "email")!.textContent).not.toContain("ann@example.org");
    expect(field("consent-field", "trustedform_cert_url")!.dataset.state).toBe("erased");
    expect($("#lead-detail-error")).toBeNull();
    expect($$('[data-testid="history-row"]').map((r) => r.dataset.type)).toContain("SubjectErased");
  });

  it("reads the lead again when the log moves", async () => {
    const person = new Person();
    const b = person.backend();
    mount(b, "#/leads?lead=f-1029");
    await detailShown();
    person.withdrawn = true;
    b.appended(31);
    await until(() => !!tid("consent-withdrawn"), "the withdrawal");
    expect(text("consent-withdrawn")).toContain("unsubscribed by email");
    // Events already opened are not opened again.
    expect(b.calls.filter((c) => c.path === "/v1/events/10?reveal=true")).toHaveLength(1);
  });
});

describe("Leads view: the data subject", () => {
  it("exports the subject's data and saves it as JSON through saveFile", async () => {
    const b = new Person().backend();
    mount(b, "#/leads?lead=f-1029");
    await detailShown();
    await fireEvent.click(tid("subject-export")!);
    await until(() => !!tid("export-result"), "the saved note");
    expect(b.made("GET", "/v1/subjects/s-1/export")).toHaveLength(1);
    expect(b.saves).toHaveLength(1);
    expect(b.saves[0].name).toBe("subject-s-1.json");
    const saved = JSON.parse(b.saves[0].contents) as ExportAnswer;
    expect(saved.format).toBe("leadorch.subject-export.v1");
    expect(saved.subject_id).toBe("s-1");
    expect(saved.events.map((e) => e.position)).toEqual([10, 14, 9]);
    expect(text("export-result")).toContain("/home/op/subject-s-1.json");
  });

  it("says so when the save dialog was cancelled", async () => {
    const b = new Person().backend();
    b.saveAnswer = () => null;
    mount(b, "#/leads?lead=f-1029");
    await detailShown();
    await fireEvent.click(tid("subject-export")!);
    await until(() => !!tid("export-result"), "the note");
    expect(text("export-result")).toContain("Not saved");
  });

  it("erases only after the subject or lead id is typed, then sends DELETE and shows the answer", async () => {
    const person = new Person();
    const b = person.backend();
    mount(b, "#/leads?lead=f-1029");
    await detailShown();
    const opener = tid("subject-erase")!;
    opener.focus();
    await fireEvent.click(opener);
    await until(() => !!tid("erase-dialog"), "the dialog");
    const dialog = tid("erase-dialog")!;
    expect(dialog.getAttribute("role")).toBe("dialog");
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(dialog.textContent).toContain("cannot be undone");
    expect(dialog.textContent).toContain("keeps the sealed events");
    expect(dialog.textContent).toMatch(/keys .*destroyed/);
    await until(() => document.activeElement === tid("erase-input"), "focus in the field");

    const submit = tid("erase-submit") as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    await fireEvent.input(tid("erase-input")!, { target: { value: "s-2" } });
    expect(submit.disabled).toBe(true);
    await fireEvent.submit(submit.form!);
    expect(b.made("DELETE", "/v1/subjects/s-1")).toHaveLength(0);

    await fireEvent.input(tid("erase-input")!, { target: { value: "f-1029" } });
    expect(submit.disabled).toBe(false);
    await fireEvent.submit(submit.form!);
    await until(() => !!tid("erase-result"), "the erasure's answer");
    expect(b.made("DELETE", "/v1/subjects/s-1")).toHaveLength(1);
    expect(tid("erase-dialog")).toBeNull();
    expect(text("erase-result")).toContain("keys destroyed (consent, contact)");
    expect(text("erase-result")).toContain("3 event(s) made unreadable");
    // The lead read again: its fields now erased.
    await until(() => field("contact-field", "email")?.dataset.state === "erased", "the erased fields");
    expect(tid("lead-erased")).not.toBeNull();
  });

  it("keeps focus in a dialog (Tab wraps) and closes it on Escape, focus back on its button", async () => {
    const b = new Person().backend();
    mount(b, "#/leads?lead=f-1029");
    await detailShown();
    // A click that does not focus the button (WebKit's way): focus still comes back to it.
    (document.activeElement as HTMLElement | null)?.blur();
    await fireEvent.click(tid("subject-erase")!);
    await until(() => document.activeElement === tid("erase-input"), "focus in the field");
    await fireEvent.input(tid("erase-input")!, { target: { value: "s-1" } });
    // The last control is Cancel: Tab from it goes back to the field.
    tid("erase-cancel")!.focus();
    await fireEvent.keyDown(tid("erase-cancel")!, { key: "Tab" });
    expect(document.activeElement).toBe(tid("erase-input"));
    await fireEvent.keyDown(tid("erase-input")!, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(tid("erase-cancel"));
    await fireEvent.keyDown(tid("erase-cancel")!, { key: "Escape" });
    await until(() => !tid("erase-dialog"), "the dialog closed");
    expect(document.activeElement).toBe(tid("subject-erase"));
    expect(b.made("DELETE", "/v1/subjects/s-1")).toHaveLength(0);
  });

  it("withdraws consent after a confirmation, with the reason, and shows the answer", async () => {
    const b = new Person().backend();
    mount(b, "#/leads?lead=f-1029");
    await detailShown();
    await fireEvent.click(tid("subject-withdraw")!);
    await until(() => !!tid("withdraw-dialog"), "the dialog");
    expect(b.made("POST", "/v1/subjects/s-1/consent/withdraw")).toHaveLength(0);
    await fireEvent.input(tid("withdraw-reason")!, { target: { value: "unsubscribed by email" } });
    await fireEvent.submit((tid("withdraw-submit") as HTMLButtonElement).form!);
    await until(() => !!tid("withdraw-result"), "the answer");
    const calls = b.made("POST", "/v1/subjects/s-1/consent/withdraw");
    expect(calls).toHaveLength(1);
    expect(calls[0].body).toEqual({ reason: "unsubscribed by email" });
    expect(text("withdraw-result")).toContain("Withdrew 1 consent(s): c-1");
    await until(() => !!tid("consent-withdrawn"), "the consent marked withdrawn");

    // Again, without a reason: no body, nothing more withdrawn.
    await fireEvent.click(tid("subject-withdraw")!);
    await until(() => !!tid("withdraw-dialog"), "the dialog");
    await fireEvent.submit((tid("withdraw-submit") as HTMLButtonElement).form!);
    await until(() => text("withdraw-result").includes("Nothing to withdraw"), "the second answer");
    expect(b.made("POST", "/v1/subjects/s-1/consent/withdraw")[1].body).toBeUndefined();
    expect(text("withdraw-result")).toContain("Withdrawn before: c-1");
  });

  it("names the field when a withdrawal is refused", async () => {
    const b = new Person().backend();
    mount(b, "#/leads?lead=f-1029");
    await detailShown();
    await fireEvent.click(tid("subject-withdraw")!);
    await until(() => !!tid("withdraw-dialog"), "the dialog");
    await fireEvent.input(tid("withdraw-reason")!, { target: { value: "x".repeat(501) } });
    await fireEvent.submit((tid("withdraw-submit") as HTMLButtonElement).form!);
    await until(() => !!tid("withdraw-error"), "the problem");
    expect(text("withdraw-error")).toBe("Reason: reason is at most 500 characters");
    expect(tid("withdraw-dialog")).not.toBeNull();
  });
});

describe("Leads view in the app", () => {
  it("opens with G S, focuses the search with /, and finds by email, exports and erases", async () => {
    const person = new Person();
    const b = person.backend();
    renderWith(b, "#/accounts");
    await fireEvent.keyDown(window, { key: "g" });
    await fireEvent.keyDown(window, { key: "s" });
    await until(() => !!tid("lead-search"), "the Leads view");
    expect(window.location.hash).toBe("#/leads");
    expect(document.activeElement?.id).toBe("view-title");
    await fireEvent.keyDown(document.activeElement!, { key: "/" });
    await until(() => document.activeElement === tid("lead-search"), "focus in the search box");

    await find("ann@example.org");
    await detailShown();
    await fireEvent.click(tid("subject-export")!);
    await until(() => b.saves.length === 1, "the export saved");
    await fireEvent.click(tid("subject-erase")!);
    await until(() => !!tid("erase-input"), "the dialog");
    await fireEvent.input(tid("erase-input")!, { target: { value: "s-1" } });
    await fireEvent.submit((tid("erase-submit") as HTMLButtonElement).form!);
    await until(() => !!tid("erase-result"), "the erasure");
    expect(person.erased).toBe(true);
    await until(() => field("contact-field", "email")?.dataset.state === "erased", "the erased fields");
  });
});
