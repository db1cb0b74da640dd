// Business hours per weekday, as the form edits them, and as the API's lines
// (`mon-fri 09:00-17:00`, `sat 10:00-12:00,13:00-15:00`). `toLines` writes the lines the
// engine itself writes back (engine/domain/src/team/hours.rs, `WeeklyHours::lines`): days with
// the same intervals on one line, runs of three or more days as ranges. So a form left as it
// was gives the team's own lines, and Save sends no `hours`.

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Day = (typeof DAYS)[number];

export const DAY_NAMES: Record<Day, string> = {
  mon: "Monday",
  tue: "Tuesday",
  wed: "Wednesday",
  thu: "Thursday",
  fri: "Friday",
  sat: "Saturday",
  sun: "Sunday",
};

/** Each day's opening times as typed: `09:00-17:00` or `09:00-12:00, 13:00-17:00`; empty = closed. */
export type Week = Record<Day, string>;

export function emptyWeek(): Week {
  return { mon: "", tue: "", wed: "", thu: "", fri: "", sat: "", sun: "" };
}

function dayOf(s: string): Day | undefined {
  const t = s.trim().toLowerCase();
  return DAYS.find((d) => t === d || t === DAY_NAMES[d].toLowerCase());
}

/** The days a line's first word names (`mon-fri,sun`); `null` when it names none it can read. */
function daysOf(spec: string): Day[] | null {
  const out: Day[] = [];
  for (const part of spec.split(",")) {
    const [a, b] = part.split("-");
    const first = dayOf(a ?? "");
    const last = b === undefined ? first : dayOf(b);
    if (!first || !last || DAYS.indexOf(last) < DAYS.indexOf(first)) return null;
    out.push(...DAYS.slice(DAYS.indexOf(first), DAYS.indexOf(last) + 1));
  }
  return out;
}

/**
 * The team's lines as a week to edit. A line the form cannot read (the engine wrote them, so
 * only by hand) is kept in `unread`, for the form to show rather than drop.
 */
export function weekOf(lines: readonly string[]): { week: Week; unread: string[] } {
  const week = emptyWeek();
  const unread: string[] = [];
  for (const line of lines) {
    const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(line);
    const days = m ? daysOf(m[1]) : null;
    if (!m || !days) {
      unread.push(line);
      continue;
    }
    const times = m[2].split(",").map((t) => t.trim()).filter(Boolean).join(", ");
    for (const d of days) week[d] = week[d] ? `${week[d]}, ${times}` : times;
  }
  return { week, unread };
}

/** Minutes since midnight of `H:MM` / `HH:MM` (`24:00` allowed), as the engine reads them. */
function minutes(s: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return null;
  return h * 60 + min;
}

const hhmm = (n: number) => `${String(Math.floor(n / 60)).padStart(2, "0")}:${String(n % 60).padStart(2, "0")}`;

/** A day's intervals, sorted, or what is wrong with them (in the engine's words, near enough). */
export function intervalsOf(text: string): { intervals: [number, number][] } | { error: string } {
  const intervals: [number, number][] = [];
  for (const raw of text.split(",").map((t) => t.trim()).filter(Boolean)) {
    const [a, b, ...rest] = raw.split("-");
    if (b === undefined || rest.length) return { error: `"${raw}" is not a time range (like 09:00-17:00)` };
    const start = minutes(a);
    const end = minutes(b);
    if (start === null || start >= 24 * 60) return { error: `"${a.trim()}" is not a time of day (HH:MM, 00:00 to 23:59)` };
    if (end === null) return { error: `"${b.trim()}" is not a time of day (HH:MM, 00:00 to 24:00)` };
    if (end <= start) return { error: `${raw} ends before it starts (split a shift past midnight over two days)` };
    const other = intervals.find(([s, e]) => s < end && start < e);
    if (other) return { error: `${hhmm(other[0])}-${hhmm(other[1])} and ${hhmm(start)}-${hhmm(end)} overlap` };
    intervals.push([start, end]);
  }
  intervals.sort((x, y) => x[0] - y[0]);
  return { intervals };
}

/** What is wrong with each day's times (days that are fine are left out). */
export function weekProblems(week: Week): Partial<Record<Day, string>> {
  const out: Partial<Record<Day, string>> = {};
  for (const d of DAYS) {
    const r = intervalsOf(week[d]);
    if ("error" in r) out[d] = r.error;
  }
  return out;
}

/** `mon-fri,sun`: runs of three or more days as ranges (the engine's `day_runs`). */
function dayRuns(days: Day[]): string {
  const runs: [number, number][] = [];
  for (const i of days.map((d) => DAYS.indexOf(d))) {
    const last = runs[runs.length - 1];
    if (last && last[1] + 1 === i) last[1] = i;
    else runs.push([i, i]);
  }
  return runs
    .flatMap(([a, b]) => (b - a === 0 ? [DAYS[a]] : b - a === 1 ? [DAYS[a], DAYS[b]] : [`${DAYS[a]}-${DAYS[b]}`]))
    .join(",");
}

/** The week as the API's lines (the engine's own spelling); call it on a week without problems. */
export function toLines(week: Week): string[] {
  const groups: { key: string; days: Day[] }[] = [];
  for (const d of DAYS) {
    const r = intervalsOf(week[d]);
    if ("error" in r || r.intervals.length === 0) continue;
    const key = r.intervals.map(([s, e]) => `${hhmm(s)}-${hhmm(e)}`).join(",");
    const g = groups.find((x) => x.key === key);
    if (g) g.days.push(d);
    else groups.push({ key, days: [d] });
  }
  return groups.map((g) => `${dayRuns(g.days)} ${g.key}`);
}
