// The desktop front end: the theme first (so the first paint has the right colours), then
// the shell over the Tauri backend.
import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";
import { TauriBackend } from "./lib/backend";
import { Theme } from "./lib/theme.svelte";

const theme = new Theme();
const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app");
mount(App, { target, props: { backend: new TauriBackend(), theme } });
