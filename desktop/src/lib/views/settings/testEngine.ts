// A fake engine for the Settings tests (test code only): answers `/v1/keys`, `/v1/webhooks…`
// and `/v1/access-log` as engine/api/src/routes/{keys,webhooks,access_log}.rs do, keeping
// state so a created key is listed and a revoked one is not, and records every call with its
// body.
import type { AccessEntry } from "../../../generated/AccessEntry";
import type { CreatedKey } from "../../../generated/CreatedKey";
import type { CreatedWebhook } from "../../../generated/CreatedWebhook";
import type { DeliveryView } from "../../../generated/DeliveryView";
import type { EventView } from "../../../generated/EventView";
import type { KeyView } from "../../../generated/KeyView";
import type { NewKeyRequest } from "../../../generated/NewKeyRequest";
import type { NewWebhookRequest } from "../../../generated/NewWebhookRequest";
import type { WebhookView } from "../../../generated/WebhookView";
import { ApiProblem, type Backend, type HttpMethod, type RequestOptions } from "../../backend";
import { overview } from "../../../test/fixtures";

export interface Call {
  method: HttpMethod;
  path: string;
  query: URLSearchParams;
  body?: unknown;
}

export function key(over: Partial<KeyView> = {}): KeyView {
  return {
    key_id: "key_01",
    name: "hubspot-prod",
    prefix: "lo_acme_AbC",
    scopes: ["ingest"],
    allow_ips: [],
    created_at: "2026-12-01T09:00:00Z",
    created_by: "cli:alice",
    revoked_at: null,
    ...over,
  };
}

export function webhook(over: Partial<WebhookView> = {}): WebhookView {
  return {
    endpoint_id: "we_01",
    url: "https://hooks.example.com/leadorch",
    events: ["change.failed"],
    enabled: true,
    disabled_at: null,
    disabled_reason: null,
    created_at: "2026-12-01T09:00:00Z",
    created_by: "desktop:op",
    ...over,
  };
}

export function delivery(i: number, over: Partial<DeliveryView> = {}): DeliveryView {
  return {
    delivery_id: `msg_${i}`,
    event_type: "change.failed",
    state: "delivered",
    attempts: 1,
    next_attempt_at: null,
    finished_at: "2026-12-05T10:00:00Z",
    created_at: "2026-12-05T10:00:00Z",
    last_status: 200,
    last_error: null,
    ...over,
  };
}

export function access(id: number, over: Partial<AccessEntry> = {}): AccessEntry {
  return {
    id,
    key_id: id % 2 ? "key_01" : "key_02",
    method: "GET",
    route: "/v1/campaigns",
    status: 200,
    ip: "203.0.113.9",
    at: new Date(Date.parse("2026-12-06T10:00:00Z") - (1000 - id) * 60_000).toISOString(),
    millis: 12,
    ...over,
  };
}

const problem = (status: number, detail: string, extra: Record<string, unknown> = {}) =>
  new ApiProblem(status, { type: "x", title: status === 422 ? "Invalid field" : "Problem", status, detail, ...extra });

export class SettingsEngine implements Backend {
  calls: Call[] = [];
  keys: KeyView[] = [key()];
  hooks: WebhookView[] = [];
  deliveries = new Map<string, DeliveryView[]>();
  /** Newest last (ids ascending). */
  log: AccessEntry[] = [];
  /** Events `/v1/events` answers (the notification watcher's reads). */
  events: EventView[] = [];
  head = 100;
  #listeners = new Set<(head: number) => void>();
  #n = 0;
  /** Answers a request before the fake does, when it returns something. */
  override: (call: Call) => unknown = () => undefined;

  async saveFile(): Promise<string | null> {
    throw new Error("the Settings view saves no file");
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
  async watchHead(listener: (head: number) => void) {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }
  /** The log grew to `head`. */
  push(head: number) {
    this.head = head;
    for (const l of this.#listeners) l(head);
  }
  get watchers() {
    return this.#listeners.size;
  }

  made(method: HttpMethod, path: string): Call[] {
    return this.calls.filter((c) => c.method === method && c.path === path);
  }

  async request<T>(method: HttpMethod, url: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const q = url.indexOf("?");
    const call: Call = {
      method,
      path: q < 0 ? url : url.slice(0, q),
      query: new URLSearchParams(q < 0 ? "" : url.slice(q + 1)),
      body,
    };
    this.calls.push(call);
    await Promise.resolve();
    if (options.signal?.aborted) throw new ApiProblem(503, { title: "cancelled" });
    const over = this.override(call);
    if (over instanceof Error) throw over;
    if (over !== undefined) return over as T;
    return this.answer(call) as T;
  }

  answer({ method, path, query, body }: Call): unknown {
    const seg = path.split("/").slice(1).map(decodeURIComponent); // ["v1", "keys", id?]
    if (path === "/v1/keys" && method === "GET") {
      const all = query.get("include_revoked") === "true";
      return { items: this.keys.filter((k) => all || !k.revoked_at) };
    }
    if (path === "/v1/keys" && method === "POST") return this.createKey(body as NewKeyRequest);
    if (seg[1] === "keys" && seg.length === 3 && method === "DELETE") {
      const k = this.keys.find((x) => (x.key_id === seg[2] || x.name === seg[2]) && !x.revoked_at);
      if (!k) throw problem(404, `no working key "${seg[2]}" in this project`);
      k.revoked_at = "2026-12-06T10:00:00Z";
      return { ...k };
    }
    if (path === "/v1/webhooks" && method === "GET") return { items: this.hooks };
    if (path === "/v1/webhooks" && method === "POST") return this.createHook(body as NewWebhookRequest);
    if (seg[1] === "webhooks" && seg.length >= 3) {
      const h = this.hooks.find((x) => x.endpoint_id === seg[2]);
      if (!h) throw problem(404, `no webhook endpoint "${seg[2]}" in this project`);
      const what = seg[3];
      if (!what && method === "GET") return h;
      if (!what && method === "DELETE") {
        this.hooks = this.hooks.filter((x) => x !== h);
        return null;
      }
      if (what === "rotate-secret" && method === "POST") {
        return { endpoint_id: h.endpoint_id, secret: `whsec_rotated${++this.#n}` };
      }
      if (what === "enable" && method === "POST") {
        Object.assign(h, { enabled: true, disabled_at: null, disabled_reason: null });
        return { ...h };
      }
      if (what === "deliveries" && method === "GET") {
        const limit = Number(query.get("limit") ?? 50);
        if (!(limit >= 1 && limit <= 1000)) throw problem(422, "limit is 1 to 1000", { field: "limit" });
        return { items: (this.deliveries.get(h.endpoint_id) ?? []).slice(0, limit) };
      }
    }
    if (path === "/v1/access-log" && method === "GET") {
      const limit = Number(query.get("limit") ?? 100);
      const before = query.has("before") ? Number(query.get("before")) : Infinity;
      const rows = this.log
        .filter((r) => r.id < before && (!query.get("key_id") || r.key_id === query.get("key_id")))
        .reverse();
      const items = rows.slice(0, limit);
      return { items, next: rows.length > limit ? String(items[items.length - 1].id) : null };
    }
    if (path === "/v1/events" && method === "GET") {
      const after = Number(query.get("after") ?? 0);
      const before = query.has("before") ? Number(query.get("before")) : Infinity;
      const type = query.get("type");
      const limit = Number(query.get("limit") ?? 100);
      if (!query.has("after") && query.has("before")) {
        return { items: [], next: null, head: this.head, order: "newest_first" };
      }
      // As the API: with `before`, the newest matching events, newest first.
      const matching = this.events.filter((e) => e.position > after && e.position < before && (!type || e.type === type));
      if (query.has("before")) {
        return { items: matching.reverse().slice(0, limit), next: null, head: this.head, order: "newest_first" };
      }
      return { items: matching.slice(0, limit), next: null, head: this.head, order: "oldest_first" };
    }
    throw problem(404, `no route ${method} ${path}`);
  }

  createKey(req: NewKeyRequest): CreatedKey {
    if (this.keys.some((k) => !k.revoked_at && k.name === req.name)) {
      throw new ApiProblem(409, { title: "Conflict", status: 409, detail: `a working key is named "${req.name}"`, field: "name" });
    }
    const n = ++this.#n;
    const view = key({
      key_id: `key_new${n}`,
      name: req.name,
      prefix: `lo_acme_N${n}`,
      scopes: [...req.scopes].sort(),
      allow_ips: req.allow_ips ?? [],
      created_at: "2026-12-06T10:00:00Z",
      created_by: "desktop:op",
    });
    this.keys.push(view);
    return { key: `lo_acme_N${n}_SuperSecretKeyText${n}`, ...view };
  }

  createHook(req: NewWebhookRequest): CreatedWebhook {
    const n = ++this.#n;
    const view = webhook({ endpoint_id: `we_new${n}`, url: req.url, events: req.events });
    this.hooks.push(view);
    return { secret: `whsec_NewSecret${n}`, ...view };
  }
}
