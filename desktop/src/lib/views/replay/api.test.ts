import { describe, expect, it } from "vitest";
import { FakeBackend } from "../../../test/fakeBackend";
import { evaluationsAround, nearEvaluation, EVALUATIONS_BEFORE } from "./api";

describe("the Replay view's requests", () => {
  it("lists a campaign's evaluations from the 200th evaluation before the moment, with the indexed window", async () => {
    const b = new FakeBackend((path) =>
      path === "/v1/events"
        ? { items: [{ position: 900 }, { position: 450 }], next: null, head: 1000, order: "newest_first" }
        : { items: [], next: null },
    );
    await evaluationsAround(b, "1/2", 950);
    expect(b.calls.map((c) => c.url)).toEqual([
      `/v1/events?type=EvaluationRecorded&before=951&limit=${EVALUATIONS_BEFORE}`,
      "/v1/evaluations?campaign=1%2F2&after=449&limit=30",
    ]);
  });

  it("finds the evaluation before or after a position, and none before the first", async () => {
    const b = new FakeBackend(() => ({ items: [{ position: 7 }], next: null, head: 10, order: "x" }));
    expect(await nearEvaluation(b, 9, -1)).toBe(7);
    expect(await nearEvaluation(b, 3, 1)).toBe(7);
    expect(await nearEvaluation(b, 1, -1)).toBeNull();
    expect(b.calls.map((c) => c.url)).toEqual([
      "/v1/events?type=EvaluationRecorded&before=9&limit=1",
      "/v1/events?type=EvaluationRecorded&after=3&limit=1",
    ]);
  });
});
