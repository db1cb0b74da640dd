// The Backend over the Tauri shell's commands (src-tauri/src/lib.rs): each method is one
// `invoke` (a request followed for progress adds its polls); a rejection (`{code, message}`)
// becomes a CommandError.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { AccountSummary } from "../../generated/AccountSummary";
import type { ApiRequest } from "../../generated/ApiRequest";
import type { ApiResponse } from "../../generated/ApiResponse";
import type { ConsentStarted } from "../../generated/ConsentStarted";
import type { Overview } from "../../generated/Overview";
import type { Progress } from "../../generated/Progress";
import { followProgress, progressToken } from "./progress";
import {
  ApiProblem,
  CommandError,
  type Backend,
  type HttpMethod,
  type RequestOptions,
} from "./types";

/** The shell's event carrying the log's new head position (src-tauri/src/lib.rs). */
export const HEAD_EVENT = "log-head";

export { PROGRESS_POLL_MS } from "./progress";

let nextRequest = 0;

function cancelled(): CommandError {
  return new CommandError("cancelled", "cancelled before the engine answered");
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw CommandError.from(e);
  }
}

export class TauriBackend implements Backend {
  overview(): Promise<Overview> {
    return call<Overview>("overview");
  }

  startGoogleConsent(account: string): Promise<ConsentStarted> {
    return call<ConsentStarted>("start_google_consent", { account });
  }

  finishGoogleConsent(): Promise<AccountSummary> {
    return call<AccountSummary>("finish_google_consent");
  }

  async request<T = unknown>(
    method: HttpMethod,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    if (!path.startsWith("/")) {
      throw new CommandError("input", `an API path starts with "/": ${JSON.stringify(path)}`);
    }
    const { signal, onProgress } = options;
    if (signal?.aborted) throw cancelled();
    // `body` is any JSON value; the generated type may name it (`JsonValue`) rather than
    // `unknown`, hence the casts here and below.
    const request: ApiRequest =
      body === undefined ? { method, path } : { method, path, body: body as ApiRequest["body"] };
    let stopProgress = () => {};
    if (onProgress) {
      request.progress_token = progressToken();
      stopProgress = this.#followProgress(request.progress_token, onProgress);
    }
    let response: ApiResponse;
    try {
      if (signal) {
        // The shell keeps the request under this id until it answers; `cancel_request` drops
        // its work in the engine.
        const requestId = `r${++nextRequest}`;
        const onAbort = () => {
          stopProgress();
          void invoke("cancel_request", { requestId }).catch(() => {});
        };
        signal.addEventListener("abort", onAbort, { once: true });
        try {
          response = await call<ApiResponse>("api_request", { request, requestId });
        } finally {
          signal.removeEventListener("abort", onAbort);
        }
        if (signal.aborted) throw cancelled();
      } else {
        response = await call<ApiResponse>("api_request", { request });
      }
    } finally {
      stopProgress();
    }
    if (response.status < 200 || response.status > 299) {
      throw new ApiProblem(response.status, response.body);
    }
    return response.body as unknown as T;
  }

  /** Follows the request sent with `token` (see {@link followProgress}). */
  #followProgress(token: string, onProgress: (progress: Progress) => void): () => void {
    return followProgress(() => this.request<Progress>("GET", `/v1/progress/${token}`), onProgress);
  }

  /** The shell's save dialog, then the file written (`save_file`); `null`: cancelled. */
  saveFile(suggestedName: string, contents: string): Promise<string | null> {
    return call<string | null>("save_file", { name: suggestedName, contents });
  }

  async watchHead(listener: (head: number) => void): Promise<() => void> {
    const stop = await listen<number>(HEAD_EVENT, (e) => listener(e.payload));
    await call("watch_head");
    return stop;
  }
}
