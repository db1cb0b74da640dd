// What the Leads view's search box was given: a lead id, an email address or a phone number,
// guessed from the text (the operator can choose explicitly), and the request each means.
// An email or phone travels in a POST body (`/v1/subjects/lookup`), never in a URL or the
// route, so it reaches no access log and no history.
import type { LookupRequest } from "../../../generated/LookupRequest";

export type SearchKind = "lead" | "email" | "phone";

export const KIND_LABELS: Record<SearchKind, string> = {
  lead: "Lead id",
  email: "Email",
  phone: "Phone",
};

/** A lead id as the API takes it (`check_client_id` in engine/api/src/ids.rs). */
const LEAD_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * What `text` most likely is: an email when it holds `@`; a phone when it starts with `+`, or
 * is only digits and the marks phone numbers are written with (spaces, `-`, `.`, `(`, `)`, `/`)
 * with at least seven digits and a mark or a leading 0; else a lead id.
 */
export function guessKind(text: string): SearchKind {
  const t = text.trim();
  if (t.includes("@")) return "email";
  if (/^\+[\d\s().\-/]*\d[\d\s().\-/]*$/.test(t)) return "phone";
  if (/^[\d\s().\-/]+$/.test(t)) {
    const digits = t.replace(/\D/g, "").length;
    if (digits >= 7 && (/[\s().\-/]/.test(t) || t.startsWith("0"))) return "phone";
  }
  return "lead";
}

/** Why `text` cannot be searched as `kind`, naming the field; null when it can. */
export function searchProblem(kind: SearchKind, text: string): string | null {
  const t = text.trim();
  if (!t) return "Type a lead id, an email address or a phone number.";
  if (kind === "lead" && !LEAD_ID.test(t)) {
    return "Lead id: 1 to 128 of A–Z, a–z, 0–9, '.', '_' and '-' (choose Email or Phone if it is one).";
  }
  return null;
}

/** The lookup's body for an email or phone search. */
export function lookupBody(kind: "email" | "phone", text: string): LookupRequest {
  return kind === "email" ? { email: text.trim() } : { phone: text.trim() };
}

/** The file a subject's export is saved as, as the API's `Content-Disposition` names it. */
export function exportFileName(subjectId: string): string {
  return `subject-${subjectId.replace(/[^A-Za-z0-9._-]/g, "_")}.json`;
}
