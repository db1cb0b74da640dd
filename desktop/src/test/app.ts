// Mounts the whole app over the Tauri backend with the shell mocked (mockIPC).
import { render } from "@testing-library/svelte";
import { mockIPC } from "@tauri-apps/api/mocks";
import App from "../App.svelte";
import { TauriBackend } from "../lib/backend";
import { Theme } from "../lib/theme.svelte";

export type Handler = (cmd: string, args: Record<string, unknown>) => unknown;

export function renderApp(handler: Handler) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    return handler(cmd, a);
  });
  const theme = new Theme();
  const result = render(App, { props: { backend: new TauriBackend(), theme } });
  return { ...result, calls, theme };
}
