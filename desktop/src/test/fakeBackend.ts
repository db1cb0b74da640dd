// A Backend for view tests: answers `request` by method and path (query included) from a
// handler, records every call (with its `onProgress`, for the test to report through),
// honours AbortSignal like the shell (rejects `cancelled`), and lets the test push new log
// heads to `watchHead` listeners.
import { ApiProblem, CommandError, type Backend, type HttpMethod, type RequestOptions } from "../lib/backend";
import type { Overview } from "../generated/Overview";
import { overview } from "./fixtures";

/** What a handler answers: a body, or `problem(status, body)` for a non-2xx answer. */
export type Answer = unknown;
export type Route = (path: string, query: URLSearchParams, method: HttpMethod) => Answer | Promise<Answer>;

export class Problem {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

export function problem(status: number, detail: string, extra: Record<string, unknown> = {}): Problem {
  return new Problem(status, { type: "x", title: "problem", status, detail, ...extra });
}

export interface Call {
  method: HttpMethod;
  path: string;
  query: URLSearchParams;
  url: string;
  signal?: AbortSignal;
  onProgress?: RequestOptions["onProgress"];
}

export class FakeBackend implements Backend {
  calls: Call[] = [];
  listeners = new Set<(head: number) => void>();
  stopped = 0;

  constructor(
    private route: Route,
    private view: Overview = overview([]),
  ) {}

  overview(): Promise<Overview> {
    return Promise.resolve(this.view);
  }

  startGoogleConsent(): Promise<never> {
    return Promise.reject(new CommandError("internal", "not in this test"));
  }

  finishGoogleConsent(): Promise<never> {
    return Promise.reject(new CommandError("internal", "not in this test"));
  }

  async request<T = unknown>(
    method: HttpMethod,
    url: string,
    _body?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    const { signal, onProgress } = options;
    this.calls.push({ method, path, query, url, signal, onProgress });
    if (signal?.aborted) throw new CommandError("cancelled", "cancelled");
    const answer = this.route(path, query, method);
    const settled = signal
      ? await Promise.race([
          Promise.resolve(answer),
          new Promise<never>((_, reject) =>
            signal.addEventListener("abort", () => reject(new CommandError("cancelled", "cancelled")), {
              once: true,
            }),
          ),
        ])
      : await answer;
    if (settled instanceof Problem) throw new ApiProblem(settled.status, settled.body);
    if (settled instanceof Error) throw settled;
    return settled as T;
  }

  /** Files saved through `saveFile`, oldest first; `saveAnswer` is what it resolves to. */
  saves: { name: string; contents: string }[] = [];
  saveAnswer: string | null = "/home/op/saved.json";

  saveFile(suggestedName: string, contents: string): Promise<string | null> {
    this.saves.push({ name: suggestedName, contents });
    return Promise.resolve(this.saveAnswer);
  }

  watchHead(listener: (head: number) => void): Promise<() => void> {
    this.listeners.add(listener);
    return Promise.resolve(() => {
      this.listeners.delete(listener);
      this.stopped++;
    });
  }

  /** The log grew to `head`. */
  push(head: number): void {
    for (const l of this.listeners) l(head);
  }

  /** The calls to `path`, oldest first. */
  to(path: string): Call[] {
    return this.calls.filter((c) => c.path === path);
  }
}
