// What the audit log shows of an event: its payload (the one key of `data`, named like the
// type), its event time, a one-line summary, the chip's tone, and where "Why?" leads.
import type { EventView } from "../../../generated/EventView";
import type { JsonValue } from "../../../generated/serde_json/JsonValue";

type Obj = { [key: string]: JsonValue | undefined };

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function objects(v: unknown): Obj[] {
  return Array.isArray(v) ? (v as unknown[]).filter(isObj) : [];
}

/** The event's own fields: `data` is `{"<Type>": {…}}` (or a tuple variant's value). */
export function payload(e: Pick<EventView, "data" | "type">): Obj {
  const d = e.data;
  if (!isObj(d)) return {};
  const inner = d[e.type] ?? Object.values(d)[0];
  return isObj(inner) ? inner : {};
}

/** The event time (`at` in the payload; ADR 0019), or null when it carries none. */
export function eventTime(e: Pick<EventView, "data" | "type">): string | null {
  const at = payload(e).at;
  return typeof at === "string" ? at : null;
}

/** Fields worth a summary, most telling first. */
const SUMMARY_KEYS = [
  "lead_id",
  "rule_id",
  "change_id",
  "subject_id",
  "consent_id",
  "team",
  "trigger",
  "action",
  "from",
  "to",
  "source",
  "customer_id",
  "campaign_id",
  "version",
  "reason",
  "error",
  "account",
];

function scalar(v: JsonValue | undefined): string | null {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

/** One line about the event: its telling fields, `key value`, summary first. */
export function summary(e: Pick<EventView, "data" | "type">): string {
  const p = payload(e);
  const parts: string[] = [];
  if (e.type === "EvaluationRecorded") {
    const changes = objects(p.changes);
    const trigger = scalar(p.trigger);
    if (trigger) parts.push(trigger);
    parts.push(
      changes.length === 0
        ? "no change"
        : changes.map((c) => `${scalar(c.action) ?? "change"} ${scalar(c.campaign) ?? ""}`.trim()).join(", "),
    );
    return parts.join(" · ");
  }
  if (isObj(p.change)) {
    const kind = Object.keys(p.change)[0];
    if (kind) parts.push(kind);
  }
  for (const k of SUMMARY_KEYS) {
    const v = scalar(p[k]);
    if (v !== null && v !== "") parts.push(`${k.replace(/_id$/, "")} ${v}`);
    if (parts.length >= 4) break;
  }
  return parts.join(" · ");
}

/** The chip's colour family, by what the event is about. */
export function tone(type: string): "ok" | "warn" | "danger" | "info" | "muted" {
  if (/Failed|Failing|Blocked|Erased|Expired|Revoked|Withdrawn|Deleted|ReconsentNeeded/.test(type)) return "danger";
  if (/Requested|ChangedOutsideEngine|Disabled|Deduplicated|QuotaExhausted/.test(type)) return "warn";
  if (/Applied|Granted|Recovered|Enabled|Received/.test(type)) return "ok";
  if (/Evaluation|Rule/.test(type)) return "info";
  return "muted";
}

/** Where "Why?" goes: the replay view, at the campaign and moment a decision was made. */
export interface WhyLink {
  campaign: string;
  at: string;
}

/**
 * "Why?" for an evaluation (each campaign it changed, as of the log position its facts were
 * built from) or a decision on a campaign's stream (as of the event's position); none for
 * other events.
 */
export function whyLinks(e: Pick<EventView, "data" | "type" | "stream" | "position">): WhyLink[] {
  const p = payload(e);
  if (e.type === "EvaluationRecorded") {
    const at = typeof p.log_position === "number" ? String(p.log_position) : String(e.position);
    const changes = objects(p.changes);
    const campaigns = [...new Set(changes.map((c) => scalar(c.campaign)).filter((c): c is string => !!c))];
    return campaigns.map((campaign) => ({ campaign, at }));
  }
  if (/^Change(Requested|Applied|Failed)$|^ChangedOutsideEngine$/.test(e.type) && e.stream.startsWith("campaign:")) {
    return [{ campaign: e.stream.slice("campaign:".length), at: String(e.position) }];
  }
  return [];
}

/** The value at JSON pointer `pointer` in `data`. */
export function pointerGet(data: JsonValue, pointer: string): JsonValue | undefined {
  if (pointer === "") return data;
  let v: JsonValue | undefined = data;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(v)) v = v[Number(key)];
    else if (isObj(v)) v = v[key];
    else return undefined;
  }
  return v;
}

/** A time as `YYYY-MM-DD HH:MM:SS.mmm` UTC (fixed width for the monospace columns). */
export function utc(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").replace("Z", "");
}
