// The moment the Replay view shows, as the router keeps it (`at`), as `/v1/replay` and
// `/explain` take it, and as the scrubber (a range over log positions 1..head) moves it.
//
// `at` is what the API's `at` accepts (engine/core/src/time_travel.rs `Point::parse`): digits
// are a log position; anything else an event time (RFC 3339, or a date: midnight UTC). No
// `at` is "now": the head of the log, following it as events are appended.

export type Moment =
  | { kind: "now" }
  | { kind: "position"; position: number }
  | { kind: "time"; time: string };

const DIGITS = /^\s*\d+\s*$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Reads the router's `at` param (`undefined`, `""` or `now`: the head). */
export function parseMoment(at: string | undefined): Moment {
  const s = (at ?? "").trim();
  if (s === "" || s.toLowerCase() === "now") return { kind: "now" };
  if (DIGITS.test(s)) return { kind: "position", position: Math.max(1, Number(s)) };
  return { kind: "time", time: s };
}

/** Whether `s` is a time the API takes (RFC 3339 with an offset, or a date). */
export function isApiTime(s: string): boolean {
  const t = s.trim();
  if (DATE.test(t)) return !Number.isNaN(Date.parse(`${t}T00:00:00Z`));
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(t) &&
    !Number.isNaN(Date.parse(t));
}

/** The router's `at` for a moment (`undefined` for now: the key is dropped). */
export function momentParam(m: Moment): string | undefined {
  switch (m.kind) {
    case "now":
      return undefined;
    case "position":
      return String(m.position);
    case "time":
      return m.time;
  }
}

/** The `at` the API gets: a position for now is the head as last seen. */
export function apiAt(m: Moment, head: number): string {
  return m.kind === "now" ? String(Math.max(0, head)) : (momentParam(m) as string);
}

/** Where the scrubber sits for a moment: now is the head; a time sits at `timePosition`. */
export function scrubberValue(m: Moment, head: number, timePosition?: number | null): number {
  const top = Math.max(1, head);
  if (m.kind === "now") return top;
  if (m.kind === "position") return clamp(m.position, 1, top);
  return clamp(timePosition ?? top, 1, top);
}

/** The moment a scrubber position means: the head is "now" (it follows new events). */
export function momentAt(position: number, head: number): Moment {
  if (head > 0 && position >= head) return { kind: "now" };
  return { kind: "position", position: Math.max(1, Math.round(position)) };
}

/** How far PageUp / PageDown move: a twentieth of the log, at least ten events. */
export function pageSize(head: number): number {
  return Math.max(10, Math.round(head / 20));
}

/**
 * The position a key moves the scrubber to (`null`: not a scrubber key): arrows one event,
 * PageUp / PageDown a page, Home the first event, End the head.
 */
export function keyStep(key: string, position: number, head: number): number | null {
  const top = Math.max(1, head);
  switch (key) {
    case "ArrowLeft":
    case "ArrowDown":
      return clamp(position - 1, 1, top);
    case "ArrowRight":
    case "ArrowUp":
      return clamp(position + 1, 1, top);
    case "PageDown":
      return clamp(position - pageSize(head), 1, top);
    case "PageUp":
      return clamp(position + pageSize(head), 1, top);
    case "Home":
      return 1;
    case "End":
      return top;
    default:
      return null;
  }
}

export function clamp(n: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, n));
}

/**
 * A `<input type="datetime-local">` value (`2026-12-04T09:30` or with seconds) as an RFC 3339
 * UTC time, reading it as UTC or as the machine's local time. `null`: not a time.
 */
export function fromPicker(value: string, zone: "utc" | "local"): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const ms =
    zone === "utc"
      ? Date.UTC(y, mo - 1, d, h, mi, s)
      : new Date(y, mo - 1, d, h, mi, s).getTime();
  if (Number.isNaN(ms)) return null;
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}

/** An RFC 3339 time as a `datetime-local` value (seconds shown), in UTC or local time. */
export function toPicker(iso: string, zone: "utc" | "local"): string {
  const d = new Date(DATE.test(iso.trim()) ? `${iso.trim()}T00:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  if (zone === "utc") return d.toISOString().slice(0, 19);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `2026-12-04 09:30:12 UTC` (seconds; the API's µs dropped). */
export function utcText(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** The same time in the machine's zone, for hovers. */
export function localText(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "short",
  });
}

/** One bin of the marks under the scrubber: where it sits (0..1) and what it holds. */
export interface Mark {
  /** Left edge, as a fraction of the scrubber's width. */
  at: number;
  count: number;
  /** The first position in it (where a click goes). */
  position: number;
}

/**
 * Positions (evaluations) as at most `bins` marks over 1..head, so a log with thousands of
 * evaluations draws a few hundred elements at most (WebKitGTK slows with thousands).
 */
export function marks(positions: readonly number[], head: number, bins = 160): Mark[] {
  if (head < 1) return [];
  const span = Math.max(1, head - 1);
  const by = new Map<number, Mark>();
  for (const p of positions) {
    if (p < 1 || p > head) continue;
    const bin = Math.min(bins - 1, Math.floor(((p - 1) / span) * bins));
    const m = by.get(bin);
    if (m) {
      m.count++;
      m.position = Math.min(m.position, p);
    } else {
      by.set(bin, { at: head === 1 ? 0 : (p - 1) / span, count: 1, position: p });
    }
  }
  return [...by.values()].sort((a, b) => a.position - b.position);
}
