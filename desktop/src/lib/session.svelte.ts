// What the app opened: the overview every view and the top bar read, loaded once at start
// and refreshed after anything that changes it.
import type { Overview } from "../generated/Overview";
import { CommandError, type Backend } from "./backend";

export type SessionState = "opening" | "open" | "not_open";

export class Session {
  overview = $state<Overview | null>(null);
  /** Why the last load failed (`not_open`: the app could not open its database or key). */
  error = $state<CommandError | null>(null);
  loading = $state(false);
  state: SessionState = $derived(
    this.overview ? "open" : this.error ? "not_open" : "opening",
  );

  #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.overview = await this.#backend.overview();
      this.error = null;
    } catch (e) {
      this.error = CommandError.from(e);
      // A database that cannot be opened shows nothing stale.
      if (this.error.code === "not_open") this.overview = null;
    } finally {
      this.loading = false;
    }
  }
}

import { getContext, setContext } from "svelte";

const KEY = Symbol("session");

export function setSession(session: Session): Session {
  return setContext(KEY, session);
}

export function getSession(): Session {
  const session = getContext<Session | undefined>(KEY);
  if (!session) throw new Error("no Session in context");
  return session;
}
