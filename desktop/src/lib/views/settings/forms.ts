// The Settings forms' checks, made before a request so a mistake is named at its field at
// once; the API checks the same again (engine/api/src/keys.rs `create` and `parse_allow`,
// engine/webhooks manage::add) and its problem's `field` lands on the same field.
import type { EventTypeName } from "../../../generated/EventTypeName";
import { ApiProblem } from "../../backend";

/** The scopes a key may have, as `NewKeyRequest.scopes` names them (`ScopeName` in keys.rs). */
export const SCOPES = [
  { name: "read", label: "Read", description: "campaigns, teams, events, decisions, rules, audits" },
  { name: "ingest", label: "Ingest", description: "send leads and their status changes" },
  { name: "capacity", label: "Capacity", description: "push capacity readings" },
  { name: "rules", label: "Rules", description: "change rules" },
  { name: "admin", label: "Admin", description: "everything, keys and webhooks included" },
] as const;

/**
 * The webhook event types (`EventTypeName` in webhooks.rs); `all` is offered on its own. A
 * record over the generated union, so a type added in Rust fails the type check here until it
 * is described.
 */
const EVENT_DESCRIPTIONS: Record<Exclude<EventTypeName, "all">, string> = {
  "change.applied": "a change was applied",
  "change.failed": "applying a change failed",
  "campaign.paused": "a campaign was paused",
  "campaign.resumed": "a campaign was resumed",
  "account.reconsent_needed": "a Google account needs consent again",
  "account.quota_exhausted": "Google's quota is used up until it resets",
  "capacity_source.failing": "a capacity source started failing",
  "capacity_source.recovered": "a capacity source answers again",
  "rule.failing": "a rule started failing",
  "rule.notify": "a rule's notify(…) message",
};

export const EVENT_TYPES: readonly { name: Exclude<EventTypeName, "all">; description: string }[] = (
  Object.keys(EVENT_DESCRIPTIONS) as Exclude<EventTypeName, "all">[]
).map((name) => ({ name, description: EVENT_DESCRIPTIONS[name] }));

/** What is wrong with a key's name, or `null` (1 to 64 printable characters). */
export function keyNameProblem(name: string): string | null {
  const n = name.trim();
  if (!n) return "Name the key, e.g. hubspot-prod.";
  if ([...n].length > 64) return "A key's name is at most 64 characters.";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(n)) return "A key's name has no control characters.";
  return null;
}

function isIpv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  // Rust's parser (which the API uses) refuses leading zeros: `010.0.0.1`.
  return !!m && m.slice(1).every((o) => Number(o) <= 255 && (o === "0" || !o.startsWith("0")));
}

function isIpv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (t: string) => (t === "" ? [] : t.split(":"));
  const all = [...groupsOf(halves[0]), ...(halves.length === 2 ? groupsOf(halves[1]) : [])];
  let groups = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    if (i === all.length - 1 && g.includes(".")) {
      if (!isIpv4(g)) return false;
      groups += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) {
      groups += 1;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? groups <= 7 : groups === 8;
}

/** Whether `entry` is an address or a network (`192.0.2.7`, `203.0.113.0/24`, `2001:db8::/32`). */
export function isAddressOrNetwork(entry: string): boolean {
  const [ip, prefix, extra] = entry.trim().split("/");
  if (extra !== undefined) return false;
  const v4 = isIpv4(ip);
  if (!v4 && !isIpv6(ip)) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (v4 ? 32 : 128);
}

/** The entries of an "allowed addresses" field (separated by commas, spaces or lines), and what is wrong with them. */
export function parseAllowIps(text: string): { entries: string[]; problem: string | null } {
  const entries = text.split(/[\s,]+/).filter(Boolean);
  const bad = entries.filter((e) => !isAddressOrNetwork(e));
  if (bad.length === 0) return { entries, problem: null };
  return {
    entries,
    problem: `${bad.map((b) => `"${b}"`).join(", ")} ${bad.length === 1 ? "is not an address or network" : "are not addresses or networks"}: give e.g. 203.0.113.0/24, 192.0.2.7 or 2001:db8::/32.`,
  };
}

/** Whether a webhook URL is worth sending: http(s) with a host (the engine checks the rest). */
export function webhookUrlProblem(url: string): string | null {
  const u = url.trim();
  if (!u) return "Give the address deliveries go to, e.g. https://hooks.example.com/leadorch.";
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    return `"${u}" is not a URL: give e.g. https://hooks.example.com/leadorch.`;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    return "A webhook URL starts with https:// (http:// only to a host the configuration allows).";
  }
  if (u.length > 2048) return "A webhook URL is at most 2,048 characters.";
  return null;
}

/**
 * The problem of a refused request by the form field it names: `allow_ips[1]` is the
 * `allow_ips` field; `errors` too, when the API lists several. Without a field, `""`.
 */
export function problemsByField(e: ApiProblem): Record<string, string> {
  const out: Record<string, string> = {};
  const base = (f: string) => f.replace(/\[\d+\]$/, "").split(".")[0];
  for (const issue of e.errors) out[base(issue.field)] ??= issue.problem;
  if (e.field !== undefined) out[base(e.field)] ??= e.detail || e.title;
  if (Object.keys(out).length === 0) out[""] = e.detail ? `${e.title}: ${e.detail}` : e.title;
  return out;
}
