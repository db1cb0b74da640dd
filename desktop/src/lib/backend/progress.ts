// Following a long request's progress (ADR 0043), shared by both backends: the request is
// sent with a `Progress-Token` of the window's choosing, and while it runs
// `GET /v1/progress/{token}` is asked every PROGRESS_POLL_MS, one poll at a time.
import type { Progress } from "../../generated/Progress";

/** How often a request's progress is asked for while it runs. */
export const PROGRESS_POLL_MS = 250;

let nextToken = 0;

/**
 * A progress token (the API takes 1 to 64 of A-Z a-z 0-9 _ -): the counter keeps it unique in
 * this window, the random part apart from another window's on the same engine.
 */
export function progressToken(): string {
  return `p${++nextToken}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Calls `poll` every {@link PROGRESS_POLL_MS}, one poll at a time (the next waits a full
 * interval after the last answered), and hands each answer to `onProgress` until the returned
 * function is called. A failed poll (a 404: the route has not started reporting, or has
 * finished) is skipped: progress only informs, the request itself answers for how it ends.
 */
export function followProgress(
  poll: () => Promise<Progress>,
  onProgress: (progress: Progress) => void,
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      const progress = await poll();
      if (!stopped) onProgress(progress);
    } catch {
      // Not reporting (yet, or any more), or the poll failed: the next one may answer.
    }
    if (!stopped) timer = setTimeout(tick, PROGRESS_POLL_MS);
  };
  timer = setTimeout(tick, PROGRESS_POLL_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
