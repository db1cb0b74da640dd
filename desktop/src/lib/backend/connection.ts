// Which engine the desktop app talks to: its own database in process ("local"), or a daemon
// over HTTP ("remote"). In the desktop the Rust shell keeps the remote's API key in the OS
// keyring and forwards `api_request` to the daemon itself, so the key never reaches
// JavaScript after it was typed, and the webview's CSP stays as it is. The window only asks
// and changes the connection through the shell commands below (src-tauri/src/lib.rs).
import { invoke } from "@tauri-apps/api/core";
import { getContext, setContext } from "svelte";
import { CommandError } from "./types";

/** The app uses its own database, in process. */
export interface LocalConnection {
  mode: "local";
  /** The database the app opened, without any password (as `Overview.database`). */
  database: string;
}

/** The app forwards every request to a daemon. */
export interface RemoteConnection {
  mode: "remote";
  /** The daemon's address (`https://leadorch.example:8080`). */
  url: string;
  /** The name of the API key kept in the OS keyring for it (`null`: none is kept). */
  key_name: string | null;
  /** Whether the daemon answered with the key when last checked. */
  reachable: boolean;
  /** Why it did not, in one line (`null` when it did). */
  error: string | null;
}

/** What `connection_get`, `connection_set` and `connection_test` answer. */
export type ConnectionState = LocalConnection | RemoteConnection;

/**
 * The connection asked for by `connection_set` / `connection_test`: local, or a daemon's URL
 * with a new API key (`api_key` left out: keep the key already in the keyring for it).
 */
export type ConnectionRequest = { mode: "local" } | { mode: "remote"; url: string; api_key?: string };

/** The shell's connection commands; tests give a fake. */
export interface ConnectionShell {
  /** `connection_get`: the connection in use. */
  get(): Promise<ConnectionState>;
  /**
   * `connection_test`: checks `connection` (the daemon answers `GET /readyz` with the key) without
   * switching to it; what the connection would be. Refuses as `connection_set` does.
   */
  test(connection: ConnectionRequest): Promise<ConnectionState>;
  /**
   * `connection_set`: checks the daemon with the key, keeps the key in the OS keyring and
   * switches every later request to it; the connection now in use. Refuses with a
   * CommandError `input` naming what was wrong (the URL, the daemon unreachable, the key
   * refused), the connection then unchanged.
   */
  set(connection: ConnectionRequest): Promise<ConnectionState>;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw CommandError.from(e);
  }
}

/** {@link ConnectionShell} over the Tauri shell's commands. */
export class TauriConnectionShell implements ConnectionShell {
  get(): Promise<ConnectionState> {
    return call<ConnectionState>("connection_get");
  }

  test(connection: ConnectionRequest): Promise<ConnectionState> {
    return call<ConnectionState>("connection_test", { connection });
  }

  set(connection: ConnectionRequest): Promise<ConnectionState> {
    return call<ConnectionState>("connection_set", { connection });
  }
}

/** Why `url` is no daemon address, or `null` when it is one (http or https, a host). */
export function urlProblem(url: string): string | null {
  const text = url.trim();
  if (text === "") return "Enter the daemon's address, e.g. https://leadorch.example:8080";
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return `"${text}" is not an address: write it as https://host:port`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `The address must start with http:// or https://, not ${parsed.protocol}//`;
  }
  if (parsed.username || parsed.password) return "Put the API key in its own field, not in the address";
  return null;
}

/** What a view mounting the {@link ConnectionShell}'s panel needs (the Settings view). */
export interface ConnectionContext {
  shell: ConnectionShell;
  /** Tells the app the engine changed: it re-mounts, and every view reads again. */
  onswitched: (state: ConnectionState) => void;
}

const KEY = Symbol("connection");

/** Set by App in the desktop, where the shell has connection commands. */
export function setConnection(context: ConnectionContext): ConnectionContext {
  return setContext(KEY, context);
}

/**
 * The desktop's connection commands, for `<ConnectionPanel shell={c.shell}
 * onswitched={c.onswitched} />`; `undefined` in the browser build (which signs in instead).
 */
export function getConnection(): ConnectionContext | undefined {
  return getContext<ConnectionContext | undefined>(KEY);
}
