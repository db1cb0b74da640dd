export { ApiProblem, CommandError } from "./types";
export type { Backend, FieldIssue, HttpMethod } from "./types";
export { TauriBackend } from "./tauri";
export { getBackend, setBackend } from "./context";
