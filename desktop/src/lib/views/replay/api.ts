// The requests the Replay view makes, over the Backend: the log's head, the event at or
// before a position (its time), the position of a time, the evaluation before or after a
// position, the evaluations around a moment for one campaign, the state at a moment.
import type { Backend, RequestOptions } from "../../backend";
import type { EvaluationView } from "../../../generated/EvaluationView";
import type { EventCount } from "../../../generated/EventCount";
import type { EventView } from "../../../generated/EventView";
import type { EventWindow } from "../../../generated/EventWindow";
import type { Page } from "../../../generated/Page";
import type { Replay } from "../../../generated/Replay";

const EVALUATION = "EvaluationRecorded";

function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** The log's head and how many evaluations it holds (an indexed count: cheap on any log). */
export async function headInfo(
  backend: Backend,
  options?: RequestOptions,
): Promise<{ head: number; evaluations: number }> {
  const c = await backend.request<EventCount>(
    "GET",
    `/v1/events/count${query({ type: EVALUATION })}`,
    undefined,
    options,
  );
  return { head: c.head, evaluations: c.count };
}

/** The newest event of the project at or before `position` (`null`: none). */
export async function eventAtOrBefore(
  backend: Backend,
  position: number,
  options?: RequestOptions,
): Promise<EventView | null> {
  if (position < 1) return null;
  const w = await backend.request<EventWindow>(
    "GET",
    `/v1/events${query({ before: position + 1, limit: 1 })}`,
    undefined,
    options,
  );
  return w.items[0] ?? null;
}

/** The position of the evaluation just before (`-1`) or after (`+1`) `position`. */
export async function nearEvaluation(
  backend: Backend,
  position: number,
  direction: -1 | 1,
  options?: RequestOptions,
): Promise<number | null> {
  const params =
    direction < 0
      ? { type: EVALUATION, before: Math.max(1, position), limit: 1 }
      : { type: EVALUATION, after: position, limit: 1 };
  if (direction < 0 && position <= 1) return null;
  const w = await backend.request<EventWindow>("GET", `/v1/events${query(params)}`, undefined, options);
  return w.items[0]?.position ?? null;
}

/** How many of the newest evaluations are marked under the scrubber. */
export const MARKED_EVALUATIONS = 1000;

/** The positions of the newest {@link MARKED_EVALUATIONS} evaluations (one indexed window). */
export async function recentEvaluations(
  backend: Backend,
  head: number,
  options?: RequestOptions,
): Promise<number[]> {
  const w = await backend.request<EventWindow>(
    "GET",
    `/v1/events${query({ type: EVALUATION, before: head + 1, limit: MARKED_EVALUATIONS })}`,
    undefined,
    options,
  );
  return w.items.map((e) => e.position);
}

/** How many evaluations before the moment the "why" panel lists from. */
export const EVALUATIONS_BEFORE = 200;

/**
 * The evaluations naming `campaign` around `position`: the oldest after the
 * {@link EVALUATIONS_BEFORE}th evaluation before it (found with the indexed event window),
 * up to `limit` of them, so those just before and just after the moment are both there.
 */
export async function evaluationsAround(
  backend: Backend,
  campaign: string,
  position: number,
  limit = 30,
  options?: RequestOptions,
): Promise<Page<EvaluationView>> {
  const w = await backend.request<EventWindow>(
    "GET",
    `/v1/events${query({ type: EVALUATION, before: position + 1, limit: EVALUATIONS_BEFORE })}`,
    undefined,
    options,
  );
  const oldest = w.items[w.items.length - 1]?.position;
  const after = oldest ? oldest - 1 : 0;
  return backend.request<Page<EvaluationView>>(
    "GET",
    `/v1/evaluations${query({ campaign, after, limit })}`,
    undefined,
    options,
  );
}

/** An evaluation's log position from its id (its stream `evaluation:<id>`); `null`: none. */
export async function evaluationPosition(
  backend: Backend,
  id: string,
  options?: RequestOptions,
): Promise<number | null> {
  const w = await backend.request<EventWindow>(
    "GET",
    `/v1/events${query({ stream: `evaluation:${id}`, limit: 1 })}`,
    undefined,
    options,
  );
  return w.items[0]?.position ?? null;
}

/**
 * The state at `at` (a position or an event time), with `known_at` when given. A long request
 * on a big log: `options` cancels it and follows its progress.
 */
export function replayAt(
  backend: Backend,
  at: string,
  knownAt: string | undefined,
  options?: RequestOptions,
): Promise<Replay> {
  return backend.request<Replay>("GET", `/v1/replay${query({ at, known_at: knownAt })}`, undefined, options);
}

/** Whether an error is the caller's own cancel (shown as nothing, or "cancelled"). */
export function isCancel(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "cancelled";
}
