// The front end: a language Intl accepts (see locale.ts), the theme (so the first paint has
// the right colours), then the app. Inside the Tauri shell it talks to the shell's commands
// (TauriBackend; remote mode is the shell's business); in a browser (the page served by
// `leadorch daemon … --ui`) to the daemon's HTTP API after a sign-in (HttpBackend).
import { isTauri } from "@tauri-apps/api/core";
import { mount } from "svelte";
import BrowserRoot from "./BrowserRoot.svelte";
import DesktopRoot from "./DesktopRoot.svelte";
import "./app.css";
import { TauriBackend } from "./lib/backend";
import { TauriConnectionShell } from "./lib/backend/connection";
import { ensureUsableLanguage } from "./lib/locale";
import { Theme } from "./lib/theme.svelte";

ensureUsableLanguage();
const theme = new Theme();
const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app");
if (isTauri()) {
  mount(DesktopRoot, {
    target,
    props: { backend: new TauriBackend(), connection: new TauriConnectionShell(), theme },
  });
} else {
  mount(BrowserRoot, { target, props: { theme } });
}
