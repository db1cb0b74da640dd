// What a rule can read and call, for completion and the editor's reference panel: the facts
// (engine/rules/src/view.rs `fact_names`), the decision functions (engine/rules/src/natives.rs),
// the header keys (engine/rules/src/meta.rs `KEYS`) and the rules library (rules/lib).
// A static table: reference.test.ts checks it covers what the example rules in rules/ use.
import type { Completion, CompletionContext, CompletionResult } from "@codemirror/autocomplete";

export interface Entry {
  name: string;
  /** One line: what it is, with an example. */
  info: string;
}

/** `//! key: value` header keys, in the order the docs list them. */
export const HEADER_KEYS = ["priority", "scope", "every", "cron", "on", "dwell", "cooldown"] as const;

export const HEADER: Entry[] = [
  { name: "priority", info: "Higher wins conflicts; default 0. priority: 100" },
  { name: "scope", info: "Campaigns it runs for (any match): scope: labels=capacity-gated,team:*; names=Brand*; ids=111-222-3333/1001; teams=sales-nl" },
  { name: "every", info: "Timer aligned to the clock: every: 5m (30s, 2h, 1d, 1h30m)" },
  { name: "cron", info: "Timer, 5 fields in the facts' time zone: cron: */10 8-18 * * mon-fri" },
  { name: "on", info: "Events that also run it: on: capacity_changed, lead_received, metrics_refreshed" },
  { name: "dwell", info: "This rule's minimum time between status changes: dwell: 20m" },
  { name: "cooldown", info: "This rule's minimum time between changes of one field: cooldown: 30m" },
];

export const TRIGGERS = ["capacity_changed", "lead_received", "metrics_refreshed"];

/** The read-only constants a rule sees. */
export const ROOTS: Entry[] = [
  { name: "campaign", info: "The campaign being evaluated" },
  { name: "team", info: "The campaign's team, or () without one" },
  { name: "teams", info: 'Every team by name: teams["sales-de"].free_slots (test with "x" in teams)' },
  { name: "now", info: "The tick's time in the configured time zone" },
];

/** Properties by the path they hang off (`teams[…]` is a `team`). */
export const FACTS: Record<string, Entry[]> = {
  campaign: [
    { name: "id", info: '"111-222-3333/1001": customer/campaign' },
    { name: "customer_id", info: '"111-222-3333"' },
    { name: "campaign_id", info: '"1001"' },
    { name: "name", info: '"Brand NL"' },
    { name: "labels", info: '["capacity-gated", "team:sales-nl"]' },
    { name: "team", info: '"sales-nl" or ()' },
    { name: "status", info: '"enabled", "paused" or "removed"' },
    { name: "paused", info: 'status == "paused"' },
    { name: "budget", info: "Daily budget in units: 50.0" },
    { name: "budget_micros", info: "Daily budget in micros: 50000000" },
    { name: "bidding", info: "#{strategy, target_cpa, target_roas}" },
    { name: "ad_schedule", info: '[#{day: "monday", start: "09:00", end: "17:30", bid_modifier: 1.2}]; [] = all day' },
    { name: "manual_override", info: "Changed by hand and the hold is still on" },
    { name: "manual_override_until", info: '"2026-03-02T11:00:00Z" or ()' },
    { name: "minutes_since_change", info: "Minutes since the engine changed .status, .daily_budget_micros, .bidding, .ad_schedule, or ()" },
    { name: "pending", info: '["daily_budget_micros"]: fields with a change not yet applied' },
    { name: "today", info: "#{impressions, clicks, cost, cost_micros, conversions} since local midnight" },
    { name: "recent", info: "#{impressions, clicks, cost, cost_micros, conversions, minutes}: the last minutes" },
    { name: "leads_today", info: "7" },
    { name: "leads_recent", info: "Leads in the recent window: 2" },
  ],
  "campaign.today": ["impressions", "clicks", "cost", "cost_micros", "conversions"].map((name) => ({
    name,
    info: "since local midnight",
  })),
  "campaign.recent": ["impressions", "clicks", "cost", "cost_micros", "conversions", "minutes"].map(
    (name) => ({ name, info: "in the recent window" }),
  ),
  "campaign.bidding": [
    { name: "strategy", info: '"manual_cpc", "maximize_conversions", "target_cpa", "target_roas", …' },
    { name: "target_cpa", info: "25.0 or ()" },
    { name: "target_roas", info: "3.5 or ()" },
  ],
  "campaign.minutes_since_change": ["status", "daily_budget_micros", "bidding", "ad_schedule"].map(
    (name) => ({ name, info: "whole minutes, or ()" }),
  ),
  team: [
    { name: "name", info: '"sales-nl"' },
    { name: "agents_available", info: "4" },
    { name: "open_leads", info: "45" },
    { name: "max_open_leads", info: "50" },
    { name: "utilisation", info: "open_leads / max_open_leads, may exceed 1: 0.9" },
    { name: "free_slots", info: "max_open_leads - open_leads, never negative" },
    { name: "leads_recent", info: "Leads in the recent window: 12" },
    { name: "age_minutes", info: "Age of the capacity snapshot, or ()" },
    { name: "minutes_since_update", info: "The same as age_minutes (older name)" },
    { name: "stale", info: "The reading is older than its source's max_age" },
  ],
  now: [
    { name: "iso", info: '"2026-03-02T11:30:00+01:00"' },
    { name: "utc", info: '"2026-03-02T10:30:00Z"' },
    { name: "date", info: '"2026-03-02"' },
    { name: "year", info: "2026" },
    { name: "month", info: "3" },
    { name: "day", info: "2" },
    { name: "hour", info: "11" },
    { name: "minute", info: "30" },
    { name: "weekday", info: '"mon" … "sun"' },
    { name: "minute_of_day", info: "hour * 60 + minute: 690" },
    { name: "timezone", info: '"Europe/Amsterdam"' },
    { name: "business_hours", info: "The calendar named default is open" },
    { name: "open", info: '#{"default": true, "sales-support": false}: every calendar' },
  ],
};

/** Decision functions (what a rule returns). */
export const DECISIONS: (Entry & { args: string })[] = [
  { name: "pause", args: "reason", info: "Pause the campaign" },
  { name: "resume", args: "reason", info: "Enable the campaign" },
  { name: "set_budget", args: "amount, reason", info: "Daily budget in units: set_budget(42.5, \"…\")" },
  { name: "set_budget_micros", args: "micros, reason", info: "Daily budget in micros" },
  { name: "set_target_cpa", args: "amount, reason", info: "Target CPA bidding with this target (units)" },
  { name: "set_target_roas", args: "ratio, reason", info: "Target ROAS bidding (3.5 = 350 %)" },
  { name: "maximize_conversions", args: "reason", info: "Maximize Conversions bidding" },
  { name: "manual_cpc", args: "reason", info: "Manual CPC bidding" },
  { name: "set_ad_schedule", args: "slots, reason", info: 'Replace the ad schedule: [#{day: "mon", start: "09:00", end: "17:30"}]' },
  { name: "notify", args: "message", info: "Tell the operators; changes nothing" },
];

/** The rules library's modules (`import "pacing" as p;`) and their functions. */
export const LIBRARY: Record<string, (Entry & { args: string })[]> = {
  hysteresis: [
    { name: "gate", args: "value, high, low, paused", info: '"pause" / "resume" / ""' },
    { name: "decide", args: "value, high, low, paused, why_high, why_low", info: "A decision or ()" },
    { name: "percent", args: "ratio", info: "A ratio as a percentage" },
  ],
  pacing: [
    { name: "base_budget", args: "labels, fallback", info: "From a budget:<amount> label" },
    { name: "scaled_budget", args: "base, utilisation, low, high, floor", info: "Scaled down with the backlog" },
    { name: "target_budget", args: "base, utilisation, low, high, floor, min, max", info: "Scaled, clamped, in cents" },
    { name: "clamp", args: "value, lo, hi", info: "" },
    { name: "cents", args: "value", info: "Rounded to cents" },
    { name: "worth_changing", args: "current, target, threshold", info: "More than threshold off" },
  ],
  calendar: [
    { name: "is_open", args: "now, name", info: "The named calendar, else the default" },
    { name: "is_weekend", args: "now", info: "" },
    { name: "minutes", args: "hhmm", info: 'Minutes of "HH:MM"' },
    { name: "between", args: "now, start, end", info: 'Local time between "HH:MM" and "HH:MM"' },
    { name: "clock", args: "now", info: '"HH:MM"' },
  ],
};

/** Which fact table a dotted path before the cursor reads (`teams["x"]` reads a team). */
export function factTableFor(path: string): string | null {
  const p = path.replace(/^teams\[[^\]]*\]/, "team");
  return p in FACTS ? p : null;
}

function completions(entries: Entry[], type: string): Completion[] {
  return entries.map((e) => ({ label: e.name, type, info: e.info || undefined }));
}

/**
 * Completion for the editor: header keys after `//! `, properties after `campaign.`,
 * `team.`, `now.`, `teams[…].`, functions after `alias::` of an imported module, else the
 * constants, decision functions and keywords.
 */
export function rhaiCompletion(context: CompletionContext): CompletionResult | null {
  const line = context.state.doc.lineAt(context.pos);
  const before = line.text.slice(0, context.pos - line.from);
  const header = /^\/\/!\s*([a-z_]*)$/.exec(before);
  if (header) {
    return {
      from: context.pos - header[1].length,
      options: HEADER.map((h) => ({ label: `${h.name}: `, displayLabel: h.name, type: "keyword", info: h.info })),
    };
  }
  if (/^\/\/!\s*on:/.test(before)) {
    const word = /[a-z_]*$/.exec(before)![0];
    return { from: context.pos - word.length, options: TRIGGERS.map((t) => ({ label: t, type: "enum" })) };
  }
  const dotted = /((?:teams\[[^\]]*\]|[A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.([A-Za-z_0-9]*)$/.exec(before);
  if (dotted) {
    const table = factTableFor(dotted[1]);
    if (!table) return null;
    return { from: context.pos - dotted[2].length, options: completions(FACTS[table], "property") };
  }
  const module = /([A-Za-z_][A-Za-z0-9_]*)::([A-Za-z_0-9]*)$/.exec(before);
  if (module) {
    const imported = new RegExp(`import\\s+"([a-z_]+)"\\s+as\\s+${module[1]}\\b`).exec(context.state.doc.toString());
    const fns = imported ? LIBRARY[imported[1]] : undefined;
    if (!fns) return null;
    return {
      from: context.pos - module[2].length,
      options: fns.map((f) => ({ label: f.name, detail: `(${f.args})`, type: "function", info: f.info || undefined })),
    };
  }
  const word = context.matchBefore(/[A-Za-z_][A-Za-z0-9_]*/);
  if (!word || (word.from === word.to && !context.explicit)) return null;
  return {
    from: word.from,
    options: [
      ...completions(ROOTS, "constant"),
      ...DECISIONS.map((d) => ({ label: d.name, detail: `(${d.args})`, type: "function", info: d.info })),
      ...["let", "const", "if", "else", "return", "import", "fn", "for", "in", "while", "switch"].map(
        (k) => ({ label: k, type: "keyword" }),
      ),
    ],
    validFor: /^[A-Za-z_0-9]*$/,
  };
}
