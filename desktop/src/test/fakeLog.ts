// A synthetic event log answered as the engine's audit endpoints answer it (ADR 0040), made up
// on demand by position so a million events cost nothing: `GET /v1/events` (after/before,
// filters, the 200,000-position walk of an unindexed filter), `/v1/events/count`,
// `/v1/events/{position}` (with `reveal`), `DELETE /v1/subjects/{id}` and `/v1/audit/verify`.
import type { EventCount } from "../generated/EventCount";
import type { EventDetail } from "../generated/EventDetail";
import type { EventView } from "../generated/EventView";
import type { EventWindow } from "../generated/EventWindow";
import type { VerifyStatus } from "../generated/VerifyStatus";
import { ApiProblem, CommandError, type Backend, type HttpMethod, type RequestOptions } from "../lib/backend/types";
import { overview } from "./fixtures";

export const TYPES = [
  "LeadReceived",
  "LeadStatusChanged",
  "EvaluationRecorded",
  "ChangeRequested",
  "CapacityRecorded",
  "ChangeApplied",
  "MetricsRecorded",
] as const;

const BASE = Date.parse("2026-12-01T00:00:00Z");
const SPAN = 200_000;
const COUNT_SPAN = 2_000_000;

/** The synthetic event at `p`: its type cycles through TYPES, every third is the daemon's. */
export function eventAt(p: number): EventView {
  const type = TYPES[p % TYPES.length];
  const at = new Date(BASE + p * 1000).toISOString();
  let stream = `lead:f-${p % 1000}`;
  let data: Record<string, unknown>;
  switch (type) {
    case "LeadReceived":
      data = {
        LeadReceived: {
          lead_id: `f-${p % 1000}`,
          subject_id: `subj-${p % 1000}`,
          team: "sales-nl",
          source: "lp-1001",
          email: null,
          name: null,
          at,
        },
      };
      break;
    case "EvaluationRecorded":
      stream = `evaluation:ev-${p}`;
      data = {
        EvaluationRecorded: {
          trigger: "schedule",
          log_position: p - 1,
          changes: [{ campaign: "1234567890/111", change_id: `c-${p}`, rule_id: "capacity_gate", action: "pause" }],
          at,
        },
      };
      break;
    case "ChangeRequested":
    case "ChangeApplied":
    case "MetricsRecorded":
      stream = "campaign:1234567890/111";
      data = { [type]: { change_id: `c-${p}`, at } };
      break;
    case "CapacityRecorded":
      stream = "capacity:sales-nl";
      data = { CapacityRecorded: { team: "sales-nl", open_leads: p % 40, at } };
      break;
    default:
      data = { [type]: { lead_id: `f-${p % 1000}`, from: "New", to: "Contacted", at } };
  }
  return {
    position: p,
    stream,
    stream_version: 1,
    event_id: `00000000-0000-7000-8000-${String(p).padStart(12, "0")}`,
    type,
    schema_version: "1.0",
    recorded_at: new Date(BASE + p * 1000).toISOString(),
    actor: p % 3 === 0 ? "daemon" : "desktop:op",
    trace_id: null,
    data: data as EventView["data"],
    hash: p.toString(16).padStart(64, "0"),
  };
}

function streamAt(p: number): string {
  switch (TYPES[p % TYPES.length]) {
    case "EvaluationRecorded":
      return `evaluation:ev-${p}`;
    case "ChangeRequested":
    case "ChangeApplied":
    case "MetricsRecorded":
      return "campaign:1234567890/111";
    case "CapacityRecorded":
      return "capacity:sales-nl";
    default:
      return `lead:f-${p % 1000}`;
  }
}

export interface Call {
  method: HttpMethod;
  path: string;
  aborted?: boolean;
}

/** The fake engine: `head` events, filters, erasure and verification. */
export class FakeLog implements Backend {
  head: number;
  calls: Call[] = [];
  erased = new Set<string>();
  verify: VerifyStatus = {
    state: "idle",
    run: 0,
    checked: 0,
    head: 0,
    first_bad_position: null,
    head_hash: null,
    cancel_requested: false,
    detail: "no verification has run since the server started: POST /v1/audit/verify starts one",
    started_at: null,
    finished_at: null,
  };
  /** Called with each request before it is answered (to hold one, or fail it). */
  gate: (call: Call) => Promise<void> | void = () => {};
  #listeners: ((head: number) => void)[] = [];

  constructor(head: number) {
    this.head = head;
  }

  overview() {
    return Promise.resolve(overview());
  }
  startGoogleConsent(): never {
    throw new Error("not in this test");
  }
  finishGoogleConsent(): never {
    throw new Error("not in this test");
  }

  saveFile(): Promise<string | null> {
    return Promise.reject(new Error("not in this test"));
  }

  async watchHead(listener: (head: number) => void): Promise<() => void> {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  get watchers(): number {
    return this.#listeners.length;
  }

  /** Appends `n` events and tells the watchers. */
  append(n: number): void {
    this.head += n;
    for (const l of this.#listeners) l(this.head);
  }

  async request<T>(method: HttpMethod, path: string, _body?: unknown, options: RequestOptions = {}): Promise<T> {
    const call: Call = { method, path };
    this.calls.push(call);
    options.signal?.addEventListener("abort", () => (call.aborted = true), { once: true });
    await this.gate(call);
    await Promise.resolve();
    if (options.signal?.aborted) throw new CommandError("cancelled", "cancelled before the engine answered");
    return this.answer(method, path) as T;
  }

  answer(method: HttpMethod, path: string): unknown {
    const url = new URL(path, "http://x");
    const q = url.searchParams;
    const num = (k: string) => (q.has(k) ? Number(q.get(k)) : undefined);
    if (method === "GET" && url.pathname === "/v1/events") return this.window(q, num);
    if (method === "GET" && url.pathname === "/v1/events/count") return this.count(q, num);
    const one = url.pathname.match(/^\/v1\/events\/(\d+)$/);
    if (method === "GET" && one) return this.detail(Number(one[1]), q.get("reveal") === "true");
    const subject = url.pathname.match(/^\/v1\/subjects\/(.+)$/);
    if (method === "DELETE" && subject) {
      const id = decodeURIComponent(subject[1]);
      const already = this.erased.has(id);
      this.erased.add(id);
      return {
        subject_id: id,
        keys_destroyed: already ? [] : ["contact"],
        events_affected: already ? 0 : 2,
        already_erased: already,
        fingerprints_deleted: 0,
        trace_id: "t-1",
      };
    }
    if (url.pathname === "/v1/audit/verify") {
      if (method === "POST") {
        this.verify = {
          ...this.verify,
          state: "running",
          run: this.verify.run + 1,
          checked: 0,
          head: this.head,
          cancel_requested: false,
          detail: `checked 0 of ${this.head} events`,
          started_at: "2026-12-06T09:12:00.000Z",
          finished_at: null,
        };
      } else if (method === "DELETE" && this.verify.state === "running") {
        this.verify = { ...this.verify, cancel_requested: true };
      }
      return { ...this.verify };
    }
    throw new ApiProblem(404, { title: "Not Found", status: 404, detail: `no route ${method} ${path}` });
  }

  matches(p: number, q: URLSearchParams): boolean {
    // Without building the event: this runs for every position a filter walks.
    const type = q.get("type");
    if (type && TYPES[p % TYPES.length] !== type) return false;
    if (q.get("stream") && streamAt(p) !== q.get("stream")) return false;
    const actor = q.get("actor");
    if (actor && (p % 3 === 0 ? "daemon" : "desktop:op") !== actor) return false;
    const t = BASE + p * 1000;
    if (q.get("from") && t < Date.parse(q.get("from")!)) return false;
    if (q.get("to") && t >= Date.parse(q.get("to")!)) return false;
    return true;
  }

  window(q: URLSearchParams, num: (k: string) => number | undefined): EventWindow {
    if (q.get("type") && !TYPES.includes(q.get("type") as (typeof TYPES)[number])) {
      throw new ApiProblem(422, { title: "Unprocessable", status: 422, field: "type", detail: `"${q.get("type")}" is not an event type` });
    }
    const limit = num("limit") ?? 100;
    const after = num("after") ?? 0;
    const before = num("before");
    const indexed = !!(q.get("type") || q.get("stream"));
    const items: EventView[] = [];
    if (before === undefined) {
      const high = indexed ? this.head : Math.min(this.head, after + SPAN);
      let p = after + 1;
      for (; p <= high && items.length < limit; p++) if (this.matches(p, q)) items.push(eventAt(p));
      const full = items.length === limit;
      const next = full ? items[items.length - 1].position : high < this.head ? high : null;
      return { items, next: next === null ? null : String(next), head: this.head, order: "oldest_first" };
    }
    const top = Math.min(before - 1, this.head);
    const low = indexed ? after : Math.max(after, top - SPAN);
    let p = top;
    for (; p > low && items.length < limit; p--) if (this.matches(p, q)) items.push(eventAt(p));
    const full = items.length === limit;
    const next = full ? items[items.length - 1].position : low > after ? low + 1 : null;
    return { items, next: next === null ? null : String(next), head: this.head, order: "newest_first" };
  }

  count(q: URLSearchParams, num: (k: string) => number | undefined): EventCount {
    const after = num("after") ?? 0;
    const until = Math.min(this.head, (num("before") ?? Infinity) - 1);
    const indexed = !!(q.get("type") || q.get("stream"));
    const from = indexed ? after : Math.max(after, until - COUNT_SPAN);
    let count = 0;
    if (!q.get("stream") && !q.get("actor") && !q.get("from") && !q.get("to")) {
      // Arithmetic for the common cases, so a million-event count is instant.
      const t = TYPES.indexOf(q.get("type") as never);
      const L = TYPES.length;
      const upTo = (k: number) =>
        k <= 0 ? 0 : q.get("type") ? Math.floor((k - t) / L) - Math.floor(-t / L) : k;
      count = upTo(until) - upTo(from);
    } else {
      for (let p = from + 1; p <= until; p++) if (this.matches(p, q)) count++;
    }
    return { count, exact: from === after, head: this.head, counted_after: from };
  }

  detail(p: number, reveal: boolean): EventDetail {
    if (p < 1 || p > this.head) {
      throw new ApiProblem(404, { title: "Not Found", status: 404, detail: `no event at position ${p} in this project` });
    }
    const e = eventAt(p);
    const personal: EventDetail["personal"] = [];
    if (e.type === "LeadReceived") {
      const subject = `subj-${p % 1000}`;
      const state = !reveal ? "hidden" : this.erased.has(subject) ? "erased" : "revealed";
      const inner = (e.data as Record<string, Record<string, unknown>>).LeadReceived;
      for (const field of ["email", "name"]) {
        personal.push({ field: `/LeadReceived/${field}`, subject_id: subject, purpose: "contact", state });
        if (state === "revealed") inner[field] = field === "email" ? `person${p}@example.org` : `Person ${p}`;
      }
    }
    return {
      ...e,
      revealed: reveal,
      erased: personal.some((f) => f.state === "erased"),
      personal,
    };
  }
}
