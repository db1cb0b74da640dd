// The desktop front end: a language Intl accepts (see locale.ts), the theme (so the first
// paint has the right colours), then the shell over the Tauri backend.
import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";
import { TauriBackend } from "./lib/backend";
import { ensureUsableLanguage } from "./lib/locale";
import { Theme } from "./lib/theme.svelte";

ensureUsableLanguage();
const theme = new Theme();
const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app");
mount(App, { target, props: { backend: new TauriBackend(), theme } });
