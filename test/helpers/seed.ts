/**
 * How the CLI and dashboard tests seed a store with workflows in every state
 * without running them: rows inserted at chosen creation times, some leased
 * to a "seeder" that then ends them, as a runner would, with a stored attempt
 * history on the failed ones.
 */
import type { NewTask, WorkflowWrite } from "../../src/storage/provider.js"

/** The lease seeded workflows that are then ended are inserted with. */
export const SEED_LEASE = { owner: "seeder", token: "seed-token", expiresAt: 1e13 }

const COUNTS = { recoveries: 0, crashes: 0 }

/** A task of runner `task`, labelled with its name in lower case, with `data` stored as JSON. */
export function seedTask(task: string, data: unknown = null): NewTask {
  return { name: task.toLowerCase(), task, data: JSON.stringify(data) }
}

/**
 * The write that ends `workflowID` (inserted with {@link SEED_LEASE}) at
 * `at` through its first task: completed with `{ shipped: true }`, or
 * failed with `error` after 3 attempts, the earlier ones in its history.
 */
export function endedWrite(workflowID: string, at: number, status: "completed" | "failed", error: string | null): WorkflowWrite {
  return {
    kind: "endWorkflow",
    workflowID,
    token: SEED_LEASE.token,
    now: at,
    counts: COUNTS,
    status,
    task: {
      seq: 0,
      status,
      result: status === "completed" ? JSON.stringify({ shipped: true }) : null,
      error,
      attempts: status === "failed" ? 3 : 0,
      startedAt: at - 1_500,
      runnerID: "worker-1",
      ...(status === "failed" ? { history: earlierAttempts(at) } : {}),
    },
  }
}

/** The attempts before a failed workflow's last one: a failure whose error holds markup, then one its runner died in. */
function earlierAttempts(at: number): string {
  return JSON.stringify([
    { startedAt: at - 9_000, endedAt: at - 8_000, outcome: "failed", error: "card <i>expired</i>", runnerID: "worker-0" },
    { startedAt: null, endedAt: at - 5_000, outcome: "interrupted", error: null, runnerID: null },
  ])
}
