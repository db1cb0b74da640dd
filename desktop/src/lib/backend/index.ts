export { ApiProblem, CommandError } from "./types";
export type { Backend, FieldIssue, HttpMethod, RequestOptions } from "./types";
export { TauriBackend } from "./tauri";
export { HttpBackend } from "./http";
export { getBackend, setBackend } from "./context";
