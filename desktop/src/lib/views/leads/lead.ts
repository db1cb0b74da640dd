// What the Leads view shows of a lead, read from its events (`GET /v1/events?stream=lead:<id>`,
// each opened with `GET /v1/events/{position}?reveal=true`), its consent's and its subject's:
// the arrival's personal fields, the status history, the attribution and the consent
// evidence. A personal field is `revealed` (its value shown), `erased` (its key destroyed:
// gone for good), `hidden` (not opened) or `clear` (not personal: stored in clear).
import type { EventDetail } from "../../../generated/EventDetail";
import type { JsonValue } from "../../../generated/serde_json/JsonValue";
import { payload, pointerGet } from "../audit/events";

export type FieldState = "revealed" | "erased" | "hidden" | "clear";

export interface Shown {
  /** The field's name (`email`, `attribution/gclid`). */
  name: string;
  state: FieldState;
  /** The value, when revealed or clear (`null`: none was given). */
  value: JsonValue | null;
}

/** The arrival's event types: what the lead was when it came. */
export const ARRIVALS = ["LeadReceived", "LeadDeduplicated", "LeadBlocked"] as const;

/** The event that recorded the lead's arrival, if it is among `events`. */
export function arrivalOf(events: readonly EventDetail[]): EventDetail | undefined {
  return events.find((e) => (ARRIVALS as readonly string[]).includes(e.type));
}

/**
 * The field `name` (a path under the payload, `attribution/gclid`) of `event`: its personal
 * state when it is a personal field, else its value in clear.
 */
export function fieldOf(event: EventDetail, name: string): Shown {
  const pointer = `/${event.type}/${name}`;
  const personal = event.personal.find((f) => f.field === pointer);
  const value = pointerGet(event.data, pointer) ?? null;
  if (!personal) return { name, state: "clear", value };
  const state: FieldState =
    personal.state === "revealed" ? "revealed" : personal.state === "erased" ? "erased" : "hidden";
  return { name, state, value: state === "revealed" ? value : null };
}

/** The person's fields the arrival holds, in the order an operator reads them. */
export const CONTACT_FIELDS = ["name", "email", "phone", "message", "ip", "user_agent", "metadata"] as const;

export const FIELD_LABELS: Record<string, string> = {
  name: "Name",
  email: "Email",
  phone: "Phone",
  message: "Message",
  ip: "IP address",
  user_agent: "User agent",
  metadata: "Client data",
  "attribution/gclid": "gclid",
  "attribution/gbraid": "gbraid",
  "attribution/wbraid": "wbraid",
  "attribution/utm_source": "utm_source",
  "attribution/utm_medium": "utm_medium",
  "attribution/utm_campaign": "utm_campaign",
  "attribution/utm_term": "utm_term",
  "attribution/utm_content": "utm_content",
  campaign_id: "Campaign",
  customer_id: "Customer",
  source: "Source",
  form_id: "Form",
  text: "Text shown",
  at: "Agreed at",
  source_url: "Page",
  page_url: "Full address",
  trustedform_cert_url: "TrustedForm",
  jornaya_token: "Jornaya LeadiD",
  certificate_ref: "Certificate",
};

export function contactFields(arrival: EventDetail): Shown[] {
  return CONTACT_FIELDS.map((n) => fieldOf(arrival, n));
}

const CLICK_IDS = ["gclid", "gbraid", "wbraid"];
const UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

/**
 * Where the lead came from: the click ids (personal), the UTM parameters, the campaign and
 * customer, the source and form. Absent clear fields are left out; personal ones always show
 * (erased or hidden says something).
 */
export function attributionOf(arrival: EventDetail): Shown[] {
  const out: Shown[] = [];
  for (const n of CLICK_IDS) {
    const f = fieldOf(arrival, `attribution/${n}`);
    if (f.state !== "clear" || f.value !== null) out.push(f);
  }
  for (const n of [...UTM.map((u) => `attribution/${u}`), "campaign_id", "customer_id", "source", "form_id"]) {
    const f = fieldOf(arrival, n);
    if (f.value !== null && f.value !== "") out.push(f);
  }
  return out;
}

export interface StatusStep {
  status: string;
  /** When it changed (the event's own time). */
  at: string | null;
  position: number;
  /** The agent who owns the lead from then on (personal), when named. */
  owner: Shown | null;
}

/** The lead's funnel statuses, oldest first: `new` when received, then each change. */
export function statusHistory(events: readonly EventDetail[]): StatusStep[] {
  const steps: StatusStep[] = [];
  for (const e of events) {
    const p = payload(e);
    const at = typeof p.at === "string" ? p.at : null;
    if (e.type === "LeadReceived") steps.push({ status: "new", at, position: e.position, owner: null });
    if (e.type === "LeadStatusChanged") {
      const owner = fieldOf(e, "owner");
      steps.push({
        status: typeof p.to === "string" ? p.to : "?",
        at,
        position: e.position,
        owner: owner.state === "clear" && owner.value === null ? null : owner,
      });
    }
  }
  return steps;
}

export interface ConsentEvidence {
  consentId: string;
  /** Text shown, time, page: in clear. */
  text: string | null;
  at: string | null;
  sourceUrl: string | null;
  /** The personal evidence (full address, TrustedForm, Jornaya, IP, user agent). */
  evidence: Shown[];
  position: number;
  /** When and why it was withdrawn, if it was. */
  withdrawn: { at: string | null; reason: string | null } | null;
}

const EVIDENCE = ["page_url", "trustedform_cert_url", "jornaya_token", "certificate_ref", "ip", "user_agent"];

/** The consent a consent stream's events record (null when it has no grant). */
export function consentOf(events: readonly EventDetail[]): ConsentEvidence | null {
  const granted = events.find((e) => e.type === "ConsentGranted");
  if (!granted) return null;
  const p = payload(granted);
  const str = (v: JsonValue | undefined) => (typeof v === "string" ? v : null);
  const withdrawal = events.find((e) => e.type === "ConsentWithdrawn");
  const w = withdrawal ? payload(withdrawal) : null;
  return {
    consentId: str(p.consent_id) ?? "",
    text: str(p.text),
    at: str(p.at),
    sourceUrl: str(p.source_url),
    // The 1.0 certificate reference only when the event has one.
    evidence: EVIDENCE.map((n) => fieldOf(granted, n)).filter(
      (f) => f.name !== "certificate_ref" || f.state !== "clear",
    ),
    position: granted.position,
    withdrawn: w ? { at: str(w.at), reason: str(w.reason) } : null,
  };
}

/** Whether any personal field of these events was erased (its key destroyed). */
export function anyErased(events: readonly EventDetail[]): boolean {
  return events.some((e) => e.erased || e.personal.some((f) => f.state === "erased"));
}

/** A field's value as text. */
export function valueText(v: JsonValue | null): string {
  if (v === null) return "—";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** `disposable_email` → `disposable email`. */
export function words(code: string): string {
  return code.replace(/_/g, " ");
}
