// A fake `fetch` for the HTTP backend's tests: answers by method and path (query included)
// from a handler, records every call (URL, method, headers, body, signal), rejects with an
// AbortError when the call's signal aborts (as the browser's does), and can hand out a
// server-sent event stream the test writes into.

export interface FetchCall {
  url: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  signal: AbortSignal | undefined;
}

/** What a handler answers: a Response, or a value sent as JSON with status 200. */
export type FetchHandler = (call: FetchCall) => Response | unknown | Promise<Response | unknown>;

export function json(status: number, body: unknown, contentType = "application/json"): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": contentType },
  });
}

export function problem(status: number, detail: string, extra: Record<string, unknown> = {}): Response {
  return json(status, { type: "https://leadorch.dev/problems/x", title: "Problem", status, detail, ...extra }, "application/problem+json");
}

function abortError(): Error {
  return new DOMException("The operation was aborted.", "AbortError");
}

export function fakeFetch(handler: FetchHandler, base = "http://daemon.test") {
  const calls: FetchCall[] = [];
  const fake = (async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = String(input);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const call: FetchCall = {
      url,
      method: init.method ?? "GET",
      path: url.startsWith(base) ? url.slice(base.length) : url,
      headers,
      body: typeof init.body === "string" ? init.body : undefined,
      signal: init.signal ?? undefined,
    };
    calls.push(call);
    const signal = init.signal;
    if (signal?.aborted) throw abortError();
    const answer = Promise.resolve(handler(call)).then((a) => (a instanceof Response ? a : json(200, a)));
    if (!signal) return answer;
    return new Promise<Response>((resolve, reject) => {
      signal.addEventListener("abort", () => reject(abortError()), { once: true });
      answer.then(resolve, reject);
    });
  }) as typeof fetch;
  return { fetch: fake, calls };
}

/** A `text/event-stream` answer the test writes into (`send`), ends (`end`) or breaks (`fail`). */
export function eventStream() {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      cancelled = true;
    },
  });
  return {
    response: new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
    send: (text: string) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    fail: () => controller.error(new TypeError("network error")),
    get cancelled() {
      return cancelled;
    },
  };
}
