// A Backend for view tests that answers the engine's HTTP API by method and path, without
// the Tauri shell: handlers return a body or throw (an ApiProblem for a non-2xx answer), and
// may report progress as the engine would while they run.
import { render } from "@testing-library/svelte";
import App from "../App.svelte";
import { ApiProblem, CommandError, type Backend, type HttpMethod, type RequestOptions } from "../lib/backend";
import { Theme } from "../lib/theme.svelte";
import { overview } from "./fixtures";

export type Route = (
  body: unknown,
  path: string,
  signal?: AbortSignal,
  onProgress?: RequestOptions["onProgress"],
) => unknown;

export class FakeBackend implements Backend {
  calls: { method: HttpMethod; path: string; body?: unknown }[] = [];
  routes = new Map<string, Route>();
  #heads: ((head: number) => void)[] = [];

  /** `"GET /v1/rules"`; a path without its query matches any query. */
  on(key: string, route: Route): this {
    this.routes.set(key, route);
    return this;
  }

  overview() {
    return Promise.resolve(overview([]));
  }
  startGoogleConsent(): never {
    throw new CommandError("internal", "not in this test");
  }
  finishGoogleConsent(): never {
    throw new CommandError("internal", "not in this test");
  }

  async request<T>(method: HttpMethod, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    this.calls.push({ method, path, body });
    const route = this.routes.get(`${method} ${path}`) ?? this.routes.get(`${method} ${path.split("?")[0]}`);
    if (!route) throw new ApiProblem(404, { title: "Not Found", detail: `no fake for ${method} ${path}` });
    const { signal, onProgress } = options;
    const answer = await route(body, path, signal, onProgress);
    if (signal?.aborted) throw new CommandError("cancelled", "cancelled before the engine answered");
    return answer as T;
  }

  /** Files saved through `saveFile`, oldest first; `saveAnswer` decides what it gives. */
  saves: { name: string; contents: string }[] = [];
  saveAnswer: (name: string) => string | null | Promise<string | null> = (name) => `/home/op/${name}`;

  async saveFile(suggestedName: string, contents: string): Promise<string | null> {
    this.saves.push({ name: suggestedName, contents });
    return this.saveAnswer(suggestedName);
  }

  async watchHead(listener: (head: number) => void): Promise<() => void> {
    this.#heads.push(listener);
    return () => {
      this.#heads = this.#heads.filter((l) => l !== listener);
    };
  }

  /** As if events were appended (by a daemon). */
  appended(head: number) {
    for (const l of this.#heads) l(head);
  }

  get watching(): number {
    return this.#heads.length;
  }

  /** The calls to `method path` (path without query matches any). */
  made(method: HttpMethod, path: string) {
    return this.calls.filter((c) => c.method === method && (c.path === path || c.path.split("?")[0] === path));
  }
}

/** The whole app over `backend`, opened at `hash`. */
export function renderWith(backend: FakeBackend, hash: string) {
  window.location.hash = hash;
  return render(App, { props: { backend, theme: new Theme() } });
}

/** A pending answer the test resolves, and whether its request was aborted. */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
