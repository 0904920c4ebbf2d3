/**
 * The engine: pure decisions, no I/O. Given a task as stored and the outcome
 * of its attempt, it says what to write and how the execution goes on, by
 * the outcomes table of the README (completed, aborted, failed and retried,
 * given up). Unit-tested without storage (test/engine.test.ts).
 */
import type { TaskRow, TaskStatusUpdate } from "./storage/provider.js"
import type { RetryPolicy } from "./task.js"

/** How an execution ended, as far as this process is concerned. */
export type ExecutionEnd =
  | { kind: "ended"; status: "completed" | "failed" }
  | { kind: "retryAt"; at: number }
  /** Stopped before its next task (runner stopping, cancelled, lease lost); the lease may still be held. */
  | { kind: "interrupted" }
  /** A write was fenced off: another runner (or a cancel) owns the workflow now. */
  | { kind: "fenced" }

/** What an attempt of a task came to. */
export type Outcome =
  | { kind: "completed"; result: string }
  | { kind: "aborted"; scope: "task" | "workflow"; error: string }
  /** Threw; `retry: false` for errors no retry can mend (a result that cannot be stored). */
  | { kind: "failed"; error: string; retry: boolean }

/** What the engine needs besides the task and its outcome. */
export interface PlanContext {
  /** The executing process life's lease token (the fence). */
  token: string
  now: number
  /** Whether this is the workflow's last pending task. */
  isLast: boolean
  /** The runner's retry policy, or the runner-wide default. */
  retry: RetryPolicy | undefined
  /** Delay of a retry when the policy names none. */
  retryDelayMS: number
}

/** The fenced write that records `outcome` of `task`, and how the execution goes on after it. */
export function planWrite(task: TaskRow, outcome: Outcome, c: PlanContext): { update: TaskStatusUpdate; end: ExecutionEnd | undefined } {
  const { workflowID, seq } = task
  const { token, now, isLast } = c
  switch (outcome.kind) {
    case "completed":
      return {
        update: {
          workflowID,
          token,
          now,
          task: { seq, status: "completed", result: outcome.result, error: null, attempts: task.attempts },
          workflow: isLast ? COMPLETED : undefined,
        },
        end: isLast ? { kind: "ended", status: "completed" } : undefined,
      }
    case "aborted": {
      const endsWorkflow = outcome.scope === "workflow" || isLast
      const status = outcome.scope === "workflow" ? "failed" : "completed"
      return {
        update: {
          workflowID,
          token,
          now,
          task: { seq, status: "failed", error: outcome.error, attempts: task.attempts },
          workflow: endsWorkflow ? { status } : undefined,
        },
        end: endsWorkflow ? { kind: "ended", status } : undefined,
      }
    }
    case "failed": {
      const attempts = task.attempts + 1
      const exhausted = !outcome.retry || (c.retry?.maxAttempts !== undefined && attempts >= c.retry.maxAttempts)
      if (exhausted) {
        const error = outcome.retry ? `gave up after ${attempts} attempts: ${outcome.error}` : outcome.error
        return {
          update: { workflowID, token, now, task: { seq, status: "failed", error, attempts }, workflow: { status: "failed" } },
          end: { kind: "ended", status: "failed" },
        }
      }
      const at = now + retryDelay(c.retry, c.retryDelayMS, task.attempts)
      return {
        update: {
          workflowID,
          token,
          now,
          task: { seq, status: "pending", error: outcome.error, attempts },
          workflow: { status: "pending", availableAt: at },
        },
        end: { kind: "retryAt", at },
      }
    }
  }
}

const COMPLETED = { status: "completed" } as const

/** Delay before the next attempt, after `attempt` earlier failures. */
export function retryDelay(policy: RetryPolicy | undefined, retryDelayMS: number, attempt: number): number {
  const base = policy?.delayMS ?? retryDelayMS
  if (policy?.backoff !== "exponential") return base
  const cap = Math.min(policy.maxDelayMS ?? 300_000, base * 2 ** Math.min(attempt, 40))
  return cap / 2 + Math.random() * (cap / 2)
}
