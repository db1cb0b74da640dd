// Views find the Backend in Svelte's context, so tests (and a later remote mode) hand them
// another one.
import { getContext, setContext } from "svelte";
import type { Backend } from "./types";

const KEY = Symbol("backend");

export function setBackend(backend: Backend): Backend {
  return setContext(KEY, backend);
}

export function getBackend(): Backend {
  const backend = getContext<Backend | undefined>(KEY);
  if (!backend) throw new Error("no Backend in context: mount views inside <App> or a test host");
  return backend;
}
