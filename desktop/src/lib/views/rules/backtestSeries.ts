// What a backtest's answer becomes on the chart: over the window, how many campaigns the rule
// would have had paused (a step line: a campaign counts from the rule's pause until its
// resume) and its decisions so far by action. The answer has no timeline of what actually
// happened, only its totals (flips and paused minutes), shown beside the chart.
import type { BacktestAnswer } from "../../../generated/BacktestAnswer";
import type { ChartData } from "../../components/chart";

export type { ChartData, Series } from "../../components/chart";

const COLOURS = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5"];

export function buildSeries(a: BacktestAnswer): ChartData {
  const secs = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);
  const decisions = [...a.decisions].sort((x, y) => secs(x.at) - secs(y.at));
  const actions = [...new Set(decisions.map((d) => d.action))].sort();
  const xs: number[] = [secs(a.from)];
  const paused: number[] = [0];
  const counts: Record<string, number[]> = Object.fromEntries(actions.map((k) => [k, [0]]));
  const state = new Map<string, boolean>();
  const running: Record<string, number> = Object.fromEntries(actions.map((k) => [k, 0]));
  for (const d of decisions) {
    const x = secs(d.at);
    if (d.action === "pause") state.set(d.campaign, true);
    else if (d.action === "resume") state.set(d.campaign, false);
    running[d.action]++;
    const nPaused = [...state.values()].filter(Boolean).length;
    if (xs[xs.length - 1] === x) {
      // Several decisions at one time: one point holding them all.
      paused[paused.length - 1] = nPaused;
      for (const k of actions) counts[k][counts[k].length - 1] = running[k];
    } else {
      xs.push(x);
      paused.push(nPaused);
      for (const k of actions) counts[k].push(running[k]);
    }
  }
  const end = secs(a.to);
  if (xs[xs.length - 1] < end) {
    xs.push(end);
    paused.push(paused[paused.length - 1]);
    for (const k of actions) counts[k].push(counts[k][counts[k].length - 1]);
  }
  return {
    xs,
    series: [
      { label: "campaigns the rule would have paused", colour: COLOURS[0], stepped: true, values: paused },
      ...actions.map((k, i) => ({
        label: `${k} decisions so far`,
        colour: COLOURS[(i + 1) % COLOURS.length],
        stepped: true,
        values: counts[k],
      })),
    ],
  };
}

/** `minutes` as "3 h 20 min". */
export function minutesText(minutes: number): string {
  const m = Math.round(minutes);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** Micros as an amount in the account's currency (unnamed: the answer does not give it). */
export function microsText(micros: number): string {
  return (micros / 1_000_000).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** The window `preset` days back from `now`, as RFC 3339 (whole minutes). */
export function presetWindow(days: number, now: Date = new Date()): { from: string; to: string } {
  const to = new Date(Math.floor(now.getTime() / 60000) * 60000);
  const from = new Date(to.getTime() - days * 86400000);
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
  return { from: iso(from), to: iso(to) };
}

export const MAX_BACKTEST_DAYS = 31;

/** Why a window cannot be backtested over HTTP, or null when it can. */
export function windowProblem(from: string, to: string): { field: "from" | "to"; message: string } | null {
  const f = new Date(from).getTime();
  const t = new Date(to).getTime();
  if (Number.isNaN(f)) return { field: "from", message: "From is not a date and time." };
  if (Number.isNaN(t)) return { field: "to", message: "To is not a date and time." };
  if (t <= f) return { field: "to", message: "To must be after From." };
  if (t - f > MAX_BACKTEST_DAYS * 86400000) {
    return { field: "to", message: `At most ${MAX_BACKTEST_DAYS} days: use \`leadorch rules backtest\` for longer.` };
  }
  return null;
}
