// Mounts the whole app over the Tauri backend with the shell mocked (mockIPC).
import { render } from "@testing-library/svelte";
import { mockIPC } from "@tauri-apps/api/mocks";
import App from "../App.svelte";
import { TauriBackend } from "../lib/backend";
import { Theme } from "../lib/theme.svelte";
import type { ConnectionShell } from "../lib/backend/connection";

export type Handler = (cmd: string, args: Record<string, unknown>) => unknown;

/** `connection`: the desktop shell's connection commands, as App receives them in the desktop. */
export function renderApp(handler: Handler, connection?: ConnectionShell) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    return handler(cmd, a);
  });
  const theme = new Theme();
  const result = render(App, { props: { backend: new TauriBackend(), theme, connection } });
  return { ...result, calls, theme };
}
