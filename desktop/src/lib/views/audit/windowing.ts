// The audit log's windowing: which rows of a (filtered) log of millions of events to show for
// a scroll offset, and which requests fetch them. Plain TypeScript, no Svelte, so that it is
// tested on its own (windowing.test.ts) against a synthetic log of 1,000,000 events.
//
// ## Rows and positions
//
// Row `i` of a view is the matching event with exactly `i` matching events before it (after
// the view's floor, see below). Rows are numbered from the oldest, so appending events never
// renumbers a row: live updates only add rows at the end. The view's length is
// `GET /v1/events/count` with the same filters (ADR 0040).
//
// - **Contiguous** (no filter, and the count says every position after the floor is visible,
//   the default project's usual case): row `i` is position `floor + i + 1`. Any window is one
//   request, `after = floor + i` (near the end `before = head + 1`, as below). Such a view
//   opens from its first window at once (`openFast`: the head is its length when that window
//   has no gap) and is confirmed by the count afterwards; a count that disagrees (another
//   project's events interleaved) opens it again as sparse.
// - **Sparse** (a filter, or another project's events interleaved): positions are not
//   arithmetic. A row is known exactly when it was paged to by cursor from a row already
//   known, or from either end:
//   - near the start: `after = floor`, oldest first; near the end: `before = head + 1`,
//     newest first (the last rows in one request: "jump to end");
//   - near a loaded row (within `NEAR` rows): by cursor from it (`after`/`before` = its
//     position), following `next` when a window comes back short (a sparse filter without an
//     index walks at most 200,000 positions per request);
//   - a far jump (dragging the scrollbar to the middle): the API offers no "row k of a
//     filter" (an offset would be a scan), so the position is estimated by interpolating
//     between the nearest known rows (and the two ends), a window is read there, and its
//     first row's exact number is asked of `GET /v1/events/count?before=<its position>`.
//     The rows are then placed exactly; if the estimate landed more than `NEAR` rows away,
//     the interpolation repeats between the tighter anchors (a few rounds converge for any
//     filter spread over the log roughly evenly), then pages by cursor from the nearest one.
//   Rows are never placed by estimate, so a row shown is always the right one; what an
//   estimate costs is time (one count, about a second on a million events unindexed), shown
//   as "searching…" placeholders.
//
// ## The floor
//
// A count without an index (no `type` or `stream`) over more than 2,000,000 positions is a
// lower bound over the newest 2,000,000 (`exact: false`, `counted_after`). The view then
// shows the matches after `counted_after` (its floor) and says so; every request is bounded
// below by it, so row numbers stay exact.
//
// ## Height
//
// Rows are `ROW_HEIGHT` px. Browsers cap an element's height near 33.5M px (Firefox near
// 17.9M), so the scroller's spacer is at most `MAX_SCROLL_PX`; beyond it the scroll offset is
// scaled (`ScrollMap`): scrollTop 0..max maps linearly onto the whole content, and the rows
// are drawn at their place relative to the mapped offset.
import type { EventCount } from "../../../generated/EventCount";
import type { EventView } from "../../../generated/EventView";
import type { EventWindow } from "../../../generated/EventWindow";

export const ROW_HEIGHT = 24;
/** The tallest spacer drawn: well under every engine's element height cap. */
export const MAX_SCROLL_PX = 8_000_000;
/** Events one request asks for. */
export const PAGE = 200;
/** How far (in rows) a cursor from a known row is followed before estimating instead. */
export const NEAR = 2 * PAGE;
/** Most requests one `ensure` makes following `next` through a sparse stretch. */
const MAX_FOLLOW = 12;
/** Rows kept in memory; beyond it those far from what is shown are dropped. */
export const MAX_CACHED = 20_000;

// ---------------------------------------------------------------------------------------
// Scroll geometry

/** The rows to draw for a scroll offset. */
export interface VisibleRange {
  /** First row drawn (with overscan). */
  start: number;
  /** One past the last row drawn. */
  end: number;
  /** First row at least partly in view, and one past the last (no overscan). */
  first: number;
  last: number;
  /** The content offset (px into all rows) at the top of the viewport. */
  virtualTop: number;
}

/** Maps scroll offsets onto `total` rows, scaling when the rows are taller than `maxPx`. */
export class ScrollMap {
  constructor(
    readonly total: number,
    readonly rowHeight = ROW_HEIGHT,
    readonly maxPx = MAX_SCROLL_PX,
  ) {}

  /** The height of all rows. */
  get contentPx(): number {
    return this.total * this.rowHeight;
  }

  /** The height the scroller's spacer gets. */
  get spacerPx(): number {
    return Math.min(this.contentPx, this.maxPx);
  }

  get scaled(): boolean {
    return this.contentPx > this.maxPx;
  }

  /** The content offset shown at the top of a `viewport`-high scroller at `scrollTop`. */
  virtualTop(scrollTop: number, viewport: number): number {
    const maxScroll = Math.max(0, this.spacerPx - viewport);
    const maxVirtual = Math.max(0, this.contentPx - viewport);
    const top = Math.min(Math.max(0, scrollTop), maxScroll);
    if (!this.scaled || maxScroll === 0) return Math.min(top, maxVirtual);
    return (top / maxScroll) * maxVirtual;
  }

  /** The scrollTop that shows content offset `virtualTop` at the top. */
  scrollTopFor(virtualTop: number, viewport: number): number {
    const maxScroll = Math.max(0, this.spacerPx - viewport);
    const maxVirtual = Math.max(0, this.contentPx - viewport);
    const v = Math.min(Math.max(0, virtualTop), maxVirtual);
    if (!this.scaled || maxVirtual === 0) return Math.min(v, maxScroll);
    return (v / maxVirtual) * maxScroll;
  }

  /** The rows in view at `scrollTop`, plus `overscan` rows each side. */
  range(scrollTop: number, viewport: number, overscan = 8): VisibleRange {
    const virtualTop = this.virtualTop(scrollTop, viewport);
    const first = Math.min(this.total, Math.floor(virtualTop / this.rowHeight));
    const last = Math.min(this.total, Math.ceil((virtualTop + viewport) / this.rowHeight));
    return {
      first,
      last,
      start: Math.max(0, first - overscan),
      end: Math.min(this.total, last + overscan),
      virtualTop,
    };
  }

  /** Where row `i` is drawn, relative to the spacer's top, for a scroller at `scrollTop`. */
  rowTop(i: number, scrollTop: number, viewport: number): number {
    const top = Math.min(Math.max(0, scrollTop), Math.max(0, this.spacerPx - viewport));
    return top + i * this.rowHeight - this.virtualTop(scrollTop, viewport);
  }

  /**
   * The scrollTop that brings row `i` into view from `scrollTop`, moving as little as
   * possible (unchanged when it is already in view).
   */
  scrollTopToShow(i: number, scrollTop: number, viewport: number): number {
    const v = this.virtualTop(scrollTop, viewport);
    const rowTop = i * this.rowHeight;
    if (rowTop < v) return this.scrollTopFor(rowTop, viewport);
    if (rowTop + this.rowHeight > v + viewport) {
      return this.scrollTopFor(rowTop + this.rowHeight - viewport, viewport);
    }
    return scrollTop;
  }
}

// ---------------------------------------------------------------------------------------
// Rows by index

/** What the view filters on (the query parameters of `/v1/events` and its count). */
export interface Filters {
  type?: string;
  stream?: string;
  actor?: string;
  /** Recorded time, RFC 3339, inclusive. */
  from?: string;
  /** Recorded time, RFC 3339, exclusive. */
  to?: string;
  /** Event time (the event's own `at`), RFC 3339, inclusive. */
  event_from?: string;
  /** Event time, RFC 3339, exclusive. */
  event_to?: string;
}

/** Reads one API path (a GET), cut short by `signal`. */
export type Get = <T>(path: string, signal?: AbortSignal) => Promise<T>;

/** `path?k=v…` of the filters and `extra` (empty values left out). */
export function query(path: string, filters: Filters, extra: Record<string, number | string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filters, ...extra })) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export function hasFilter(f: Filters): boolean {
  return !!(f.type || f.stream || f.actor || f.from || f.to || f.event_from || f.event_to);
}

/** Thrown by `ensure` when its signal was aborted (a newer scroll took over). */
export class Stale extends Error {
  constructor() {
    super("stale");
    this.name = "Stale";
  }
}

function check(signal?: AbortSignal): void {
  if (signal?.aborted) throw new Stale();
}

/**
 * The rows of one filtered view: its length, the rows loaded so far (by row number), and the
 * requests that load more. One per filter; a new filter makes a new one.
 */
export class EventRows {
  /** Matching rows (after `floor`, up to `head`). */
  total = 0;
  /** The log's head the rows were counted up to. */
  head = 0;
  /** Rows are the matches after this position (see "The floor"). */
  floor = 0;
  /** Whether the count covered the whole log (`false`: only positions after `floor`). */
  exact = true;
  /** Whether row `i` is position `floor + i + 1`. */
  contiguous = false;
  /** Requests made (for tests and the status line). */
  requests = 0;

  readonly #rows = new Map<number, EventView>();

  constructor(
    private readonly get: Get,
    readonly filters: Filters,
    private readonly page = PAGE,
  ) {}

  /** Counts the view. */
  async open(signal?: AbortSignal): Promise<void> {
    const c = await this.#count({}, signal);
    this.total = c.count;
    this.head = c.head;
    this.floor = c.counted_after;
    this.exact = c.exact;
    this.contiguous = !hasFilter(this.filters) && c.count === c.head - c.counted_after;
    this.provisional = false;
  }

  /** Whether the length is the head's, not yet confirmed by a count (`openFast`). */
  provisional = false;

  /**
   * Opens an unfiltered view at once from its first window, taking the head as its length
   * (contiguous), when that window's positions say so; `confirm` then checks it with the count
   * (about a second over a million events without an index). Filtered views, or a first
   * window with gaps (another project's events), are counted first (`open`). Returns whether
   * the view is provisional.
   */
  async openFast(signal?: AbortSignal): Promise<boolean> {
    if (hasFilter(this.filters)) {
      await this.open(signal);
      return false;
    }
    const w = await this.#window({ after: 0, limit: this.page }, signal);
    const gapless = w.items.every((e, i) => e.position === i + 1);
    if (!gapless || (w.next === null && w.items.length !== w.head)) {
      await this.open(signal);
      return false;
    }
    this.head = w.head;
    this.total = w.head;
    this.floor = 0;
    this.exact = true;
    this.contiguous = true;
    this.provisional = true;
    w.items.forEach((e, i) => this.#rows.set(i, e));
    return true;
  }

  /**
   * Whether the count agrees with a provisional length (every position up to the head it
   * was opened at is visible). `false`: the view must be opened again with `open`.
   */
  async confirm(signal?: AbortSignal): Promise<boolean> {
    if (!this.provisional) return true;
    const c = await this.#count({ before: this.head + 1 }, signal);
    const ok = c.exact && c.counted_after === 0 && c.count === this.head;
    if (ok) this.provisional = false;
    return ok;
  }

  /**
   * Events were appended (the head is now at least `head`): counts the new matches and adds
   * them as rows at the end. Returns how many were added.
   */
  async grow(signal?: AbortSignal): Promise<number> {
    const c = await this.#count({ after: this.head }, signal);
    if (c.head <= this.head) return 0;
    if (this.contiguous && c.count !== c.head - this.head) this.contiguous = false;
    this.total += c.count;
    this.head = c.head;
    return c.count;
  }

  row(i: number): EventView | undefined {
    return this.#rows.get(i);
  }

  get cached(): number {
    return this.#rows.size;
  }

  /** The first row in `[start, end)` not loaded, or -1. */
  missing(start: number, end: number): number {
    for (let i = Math.max(0, start); i < Math.min(end, this.total); i++) {
      if (!this.#rows.has(i)) return i;
    }
    return -1;
  }

  /** Loads rows `[start, end)`; rejects with `Stale` when `signal` is aborted. */
  async ensure(start: number, end: number, signal?: AbortSignal): Promise<void> {
    start = Math.max(0, start);
    end = Math.min(end, this.total);
    for (let round = 0; round < 40; round++) {
      check(signal);
      const i = this.missing(start, end);
      if (i < 0) break;
      const before = this.#rows.size;
      const lastMissing = this.#lastMissing(start, end);
      const below = this.#knownBelow(i);
      const above = this.#knownAbove(lastMissing);
      if (i === 0) await this.#forward(0, this.floor, end - i, signal);
      else if (lastMissing >= this.total - NEAR) {
        await this.#backward(this.total - 1, this.head + 1, this.total - start, signal);
      } else if (this.contiguous) {
        await this.#forward(i, this.floor + i, end - i, signal);
      } else if (below >= 0 && i - below <= NEAR) {
        await this.#forward(below + 1, this.row(below)!.position, end - below - 1, signal);
      } else if (above >= 0 && above - lastMissing <= NEAR) {
        await this.#backward(above - 1, this.row(above)!.position, above - start, signal);
      } else if (i < NEAR) await this.#forward(0, this.floor, end, signal);
      else await this.#estimate(i, signal);
      // The log answered nothing new (the count and the windows disagree): stop asking.
      if (this.#rows.size === before) break;
    }
    this.#evict(start, end);
  }

  /** The last rows, in one request: what "jump to end" shows. */
  async end(rows: number, signal?: AbortSignal): Promise<void> {
    await this.ensure(this.total - rows, this.total, signal);
  }

  #lastMissing(start: number, end: number): number {
    for (let i = Math.min(end, this.total) - 1; i >= start; i--) {
      if (!this.#rows.has(i)) return i;
    }
    return -1;
  }

  #knownBelow(i: number): number {
    for (let j = i - 1; j >= Math.max(0, i - NEAR); j--) if (this.#rows.has(j)) return j;
    return -1;
  }

  #knownAbove(i: number): number {
    for (let j = i + 1; j <= Math.min(this.total - 1, i + NEAR); j++) if (this.#rows.has(j)) return j;
    return -1;
  }

  /** Rows from `index` on, oldest first after position `after`, at least `want` of them. */
  async #forward(index: number, after: number, want: number, signal?: AbortSignal): Promise<void> {
    let cursor: number | null = after;
    let got = 0;
    for (let n = 0; n < MAX_FOLLOW && cursor !== null && got < want && index < this.total; n++) {
      const w: EventWindow = await this.#window({ after: cursor, limit: this.#limit(want - got) }, signal);
      for (const e of w.items) {
        if (e.position > this.head || index >= this.total) break;
        this.#rows.set(index++, e);
        got++;
      }
      cursor = w.next === null ? null : Number(w.next);
      if (cursor !== null && cursor >= this.head) cursor = null;
    }
  }

  /** Rows from `index` down, newest first before position `before`, at least `want`. */
  async #backward(index: number, before: number, want: number, signal?: AbortSignal): Promise<void> {
    let cursor: number | null = Math.min(before, this.head + 1);
    let got = 0;
    for (let n = 0; n < MAX_FOLLOW && cursor !== null && got < want && index >= 0; n++) {
      const w: EventWindow = await this.#window(
        { before: cursor, after: this.floor || undefined, limit: this.#limit(want - got) },
        signal,
      );
      for (const e of w.items) {
        if (index < 0) break;
        this.#rows.set(index--, e);
        got++;
      }
      cursor = w.next === null ? null : Number(w.next);
    }
  }

  /**
   * Row `i` is far from every known row: reads a window at the position interpolated between
   * the nearest anchors, and asks the count for its first row's number.
   */
  async #estimate(i: number, signal?: AbortSignal): Promise<void> {
    let lo = { index: -1, position: this.floor };
    let hi = { index: this.total, position: this.head + 1 };
    for (const [j, e] of this.#rows) {
      if (j < i && j > lo.index) lo = { index: j, position: e.position };
      if (j > i && j < hi.index) hi = { index: j, position: e.position };
    }
    const share = (i - lo.index) / (hi.index - lo.index);
    const after = Math.max(
      lo.position,
      Math.min(hi.position - 1, Math.floor(lo.position + share * (hi.position - lo.position)) - 1),
    );
    let cursor: number | null = after;
    let items: EventView[] = [];
    for (let n = 0; n < MAX_FOLLOW && cursor !== null && items.length === 0; n++) {
      const w = await this.#window({ after: cursor, limit: this.page }, signal);
      items = w.items.filter((e) => e.position < hi.position && e.position <= this.head);
      cursor = w.next === null ? null : Number(w.next);
      if (cursor !== null && cursor >= hi.position - 1) cursor = null;
    }
    if (items.length === 0) {
      // Nothing between the anchors after the estimate: page back from the upper one.
      if (hi.index >= this.total) await this.#backward(this.total - 1, this.head + 1, this.page, signal);
      else await this.#backward(hi.index - 1, hi.position, this.page, signal);
      return;
    }
    await this.#place(items, signal);
  }

  /** Puts `items` (consecutive matches, oldest first) at their exact rows; the first's row. */
  async #place(items: EventView[], signal?: AbortSignal): Promise<number> {
    const first = this.contiguous
      ? items[0].position - this.floor - 1
      : (await this.#count({ before: items[0].position }, signal)).count;
    let index = first;
    for (const e of items) {
      if (index >= this.total) break;
      this.#rows.set(index++, e);
    }
    return first;
  }

  /**
   * The row of the event at `position`, or of the first match after it when it does not
   * match (-1: none after it); its rows are loaded. One window and, for a sparse view, one
   * count.
   */
  async locate(position: number, signal?: AbortSignal): Promise<number> {
    if (position <= this.floor || position > this.head) return -1;
    if (this.contiguous) {
      const i = position - this.floor - 1;
      await this.ensure(i, i + 1, signal);
      return i;
    }
    const w = await this.#window({ after: position - 1, limit: this.page }, signal);
    const items = w.items.filter((e) => e.position <= this.head);
    if (items.length === 0) return -1;
    return this.#place(items, signal);
  }

  #limit(want: number): number {
    return Math.max(1, Math.min(1000, Math.max(want, this.page)));
  }

  async #window(extra: Record<string, number | undefined>, signal?: AbortSignal): Promise<EventWindow> {
    check(signal);
    this.requests++;
    try {
      return await this.get<EventWindow>(query("/v1/events", this.filters, extra), signal);
    } catch (e) {
      if (signal?.aborted) throw new Stale();
      throw e;
    }
  }

  async #count(extra: Record<string, number | undefined>, signal?: AbortSignal): Promise<EventCount> {
    check(signal);
    this.requests++;
    const after = extra.after ?? (this.floor || undefined);
    try {
      return await this.get<EventCount>(query("/v1/events/count", this.filters, { ...extra, after }), signal);
    } catch (e) {
      if (signal?.aborted) throw new Stale();
      throw e;
    }
  }

  /** Drops rows far from `[start, end)` when too many are held. */
  #evict(start: number, end: number): void {
    if (this.#rows.size <= MAX_CACHED) return;
    const keep = MAX_CACHED / 4;
    for (const j of this.#rows.keys()) {
      if (j < start - keep || j >= end + keep) this.#rows.delete(j);
    }
  }
}
