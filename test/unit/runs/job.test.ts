import { describe, expect, it } from "vitest";
import { attemptsLeft, isLastAttempt } from "../../../src/runs/job.js";

describe("attempts left", () => {
  // BullMQ counts an attempt in attemptsMade once it has failed.
  it("inside an attempt, the attempt itself is not counted yet", () => {
    expect(attemptsLeft({ opts: { attempts: 3 }, attemptsMade: 0 }, "running")).toBe(2);
    expect(isLastAttempt({ opts: { attempts: 3 }, attemptsMade: 1 }, "running")).toBe(false);
    expect(isLastAttempt({ opts: { attempts: 3 }, attemptsMade: 2 }, "running")).toBe(true);
  });

  it("in the failed handler, it is", () => {
    expect(attemptsLeft({ opts: { attempts: 3 }, attemptsMade: 1 }, "failed")).toBe(2);
    expect(isLastAttempt({ opts: { attempts: 3 }, attemptsMade: 2 }, "failed")).toBe(false);
    expect(isLastAttempt({ opts: { attempts: 3 }, attemptsMade: 3 }, "failed")).toBe(true);
  });

  it("a job without attempts has one", () => {
    expect(isLastAttempt({ opts: {}, attemptsMade: 0 }, "running")).toBe(true);
    expect(isLastAttempt({ opts: {}, attemptsMade: 1 }, "failed")).toBe(true);
  });
});
