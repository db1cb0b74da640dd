// The browser build's sign-in: the daemon's address and the API key, kept in sessionStorage
// only (gone when the tab closes; never localStorage, which outlives it and every tab reads).

const KEY = "leadorch.signin";

export interface Credentials {
  /** The daemon's address (the page's origin unless the operator changed it). */
  baseUrl: string;
  /** The API key (`lo_…`). */
  apiKey: string;
}

export function loadCredentials(storage: Storage = sessionStorage): Credentials | null {
  try {
    const raw = storage.getItem(KEY);
    if (!raw) return null;
    const c = JSON.parse(raw) as Partial<Credentials>;
    return typeof c.baseUrl === "string" && typeof c.apiKey === "string" && c.apiKey
      ? { baseUrl: c.baseUrl, apiKey: c.apiKey }
      : null;
  } catch {
    return null;
  }
}

export function saveCredentials(c: Credentials, storage: Storage = sessionStorage): void {
  storage.setItem(KEY, JSON.stringify({ baseUrl: c.baseUrl, apiKey: c.apiKey }));
}

export function clearCredentials(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}
