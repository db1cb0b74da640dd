// Hash routes (`#/accounts`, `#/replay?campaign=1234/5678&at=2026-12-04T09:30:00Z`): the
// embedded front end is one page, so navigation never asks the shell for a file. A view is a
// route in routes.ts; an unknown path shows the default. The query part is the view's state
// that should survive navigation and be linkable (filters, the moment replayed, the campaign
// asked about): views read `router.params` and write it back with `router.setParams`.
import { getContext, setContext } from "svelte";

export type Params = Record<string, string>;

export class Router {
  path = $state("");
  params: Params = $state({});

  #win: Window;
  #known: (path: string) => boolean;
  #fallback: string;
  /** The last params each path had, so going back to a view finds its state again. */
  #remembered = new Map<string, Params>();

  constructor(known: (path: string) => boolean, fallback: string, win: Window = window) {
    this.#win = win;
    this.#known = known;
    this.#fallback = fallback;
    this.#fromHash();
    win.addEventListener("hashchange", () => this.#fromHash());
  }

  /**
   * Shows `path`; with `params`, the view opens on them, else on the state it had when it
   * was last left.
   */
  navigate(path: string, params?: Params): void {
    const target = this.#known(path) ? path : this.#fallback;
    const next = params ?? this.#remembered.get(target) ?? {};
    this.#set(target, next);
    const hash = `#${hashOf(target, next)}`;
    if (this.#win.location.hash !== hash) this.#win.location.hash = hash;
  }

  /**
   * Replaces the current view's params (a filter changed) without a new history entry;
   * keys whose value is `undefined` or `""` are dropped.
   */
  setParams(params: Record<string, string | undefined>): void {
    const clean: Params = {};
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") clean[k] = v;
    this.#set(this.path, clean);
    const url = `${this.#win.location.pathname}${this.#win.location.search}#${hashOf(this.path, clean)}`;
    this.#win.history.replaceState(this.#win.history.state, "", url);
  }

  #set(path: string, params: Params): void {
    this.path = path;
    this.params = params;
    this.#remembered.set(path, params);
  }

  #fromHash(): void {
    const raw = this.#win.location.hash.replace(/^#/, "");
    const q = raw.indexOf("?");
    const path = q < 0 ? raw : raw.slice(0, q);
    if (!this.#known(path)) {
      this.#set(this.#fallback, this.#remembered.get(this.#fallback) ?? {});
      return;
    }
    const params: Params = {};
    if (q >= 0) for (const [k, v] of new URLSearchParams(raw.slice(q + 1))) params[k] = v;
    this.#set(path, params);
  }
}

/** `path?k=v…` with keys in a stable order. */
export function hashOf(path: string, params: Params): string {
  const keys = Object.keys(params).sort();
  if (keys.length === 0) return path;
  const q = new URLSearchParams();
  for (const k of keys) q.set(k, params[k]);
  return `${path}?${q.toString()}`;
}

const KEY = Symbol("router");

export function setRouter(router: Router): Router {
  return setContext(KEY, router);
}

/** The app's router, for views that link to each other or keep state in the URL. */
export function getRouter(): Router {
  const router = getContext<Router | undefined>(KEY);
  if (!router) throw new Error("no Router in context: mount views inside <App> or a test host");
  return router;
}
