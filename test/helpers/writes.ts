/**
 * Provider-level tests describe fenced writes in a compact shape (a task's
 * change and, optionally, the workflow's new state, as a runner plans them);
 * `writes` turns them into the provider's write kinds, with the counters a
 * runner passes (zero: progress), and `retryRequest` asks to resume a failed
 * workflow from its failed task with the highest seq, as the client does.
 */
import { PROGRESS, resumePoint } from "../../src/engine.js"
import type { RetryRequest, StorageProvider, TaskStatus, WorkflowWrite } from "../../src/storage/provider.js"

/** A write in the compact shape. */
export interface CompactWrite {
  workflowID: string
  token: string
  now: number
  task?: { seq: number; status: TaskStatus; result?: string | null; error?: string | null; attempts: number }
  workflow?: { status: "completed" | "failed" } | { status: "pending"; availableAt: number }
}

/** The provider's write kinds for compact writes. */
export function writes(compact: readonly CompactWrite[]): WorkflowWrite[] {
  return compact.map(({ workflowID, token, now, task, workflow }) => {
    const base = { workflowID, token, now, counts: PROGRESS }
    const change = task && { seq: task.seq, status: task.status, result: task.result ?? null, error: task.error ?? null, attempts: task.attempts }
    if (workflow?.status === "pending") return { ...base, kind: "parkUntil", availableAt: workflow.availableAt, ...(change ? { task: change } : {}) }
    if (workflow) return { ...base, kind: "endWorkflow", status: workflow.status, ...(change ? { task: change } : {}) }
    if (!change) throw new Error("a compact write needs a task change or a workflow status")
    return { ...base, kind: "recordTask", task: change }
  })
}

/** Resumes `id` from its failed task with the highest seq, as WorkflowClient.retryWorkflow does. */
export async function retryRequest(p: StorageProvider, id: string, now: number): Promise<RetryRequest> {
  const stored = await p.getWorkflow(id)
  return { id, now, resumeSeq: (stored && resumePoint(stored.tasks)) ?? -1, counts: PROGRESS }
}
