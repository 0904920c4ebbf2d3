/**
 * What the core parts of the conformance suite share: the times and lease
 * holders they use, and builders of the rows and writes they store.
 *
 * @module
 */
import { randomUUID } from "node:crypto"
import type { NewWorkflow, RecordTask, StorageProvider, TaskRow, WorkflowRow, WorkflowWithTasks, WorkflowWrite } from "../storage/provider.js"

/** What each core part is given by `runProviderConformance`. */
export interface CorePartContext {
  /** Opens an initialized provider of the store under test (closed after the suite). */
  open: () => Promise<StorageProvider>
  /** Whether two providers opened share one store (as two processes on one database would). */
  shared: boolean
  /** Each test's time limit, in ms. */
  timeout: number
}

/** The time the core parts write at. */
export const T0 = 1_700_000_000_000
/** A runner holding leases. */
export const A = { owner: "runner-a", token: "token-a" }
/** Another runner, which may not write under A's leases. */
export const B = { owner: "runner-b", token: "token-b" }

/** A unique workflow ID. */
export function uid(): string {
  return `conformance-${randomUUID()}`
}

/** A workflow of `taskCount` tasks `t0`, `t1`, … of the runner "Runner". */
export function newWorkflow(id: string, taskCount: number, now = T0): NewWorkflow {
  return {
    id,
    now,
    tasks: Array.from({ length: taskCount }, (_, i) => ({ name: `t${i}`, task: "Runner", data: JSON.stringify({ i }) })),
  }
}

/** A claim of `who`, at `now`, of at most `limit` workflows, leased for 1 s. */
export function claim(who: { owner: string; token: string }, now: number, limit: number) {
  return { lease: { ...who, expiresAt: now + 1000 }, now, limit, reclaimOwn: false }
}

/** The counters of a write after progress. */
export const NO_CRASHES = { recoveries: 0, crashes: 0 }

/** Completes task `seq` of `workflowID` with the result `"r<seq>"`, under `token`. */
export function completeTask(workflowID: string, token: string, seq: number, now = T0 + 7): RecordTask {
  return {
    kind: "recordTask",
    workflowID,
    token,
    now,
    counts: NO_CRASHES,
    task: { seq, status: "completed", result: JSON.stringify(`r${seq}`), error: null, attempts: 0 },
  }
}

/** `write`'s task change, ending the workflow with it. */
export function ending(write: RecordTask, status: "completed" | "failed" = "completed"): WorkflowWrite {
  return { ...write, kind: "endWorkflow", status }
}

/** A task of {@link newWorkflow} as it should be stored, with `changes` applied. */
export function taskAsStored(workflowID: string, seq: number, changes: Partial<TaskRow>): TaskRow {
  return {
    workflowID,
    seq,
    name: `t${seq}`,
    task: "Runner",
    data: JSON.stringify({ i: seq }),
    status: "pending",
    result: null,
    error: null,
    attempts: 0,
    createdAt: T0,
    updatedAt: T0,
    ...changes,
  }
}

/** The contract's fields of a task row (a provider may return more). */
export function taskFields(t: TaskRow): TaskRow {
  const { workflowID, seq, name, task, data, status, result, error, attempts, createdAt, updatedAt } = t
  return { workflowID, seq, name, task, data, status, result, error, attempts, createdAt, updatedAt }
}

/** The contract's fields of a workflow row (a provider may return more): the counters only where the provider keeps them. */
export function workflowFields(w: WorkflowRow): WorkflowRow {
  const { id, status, createdAt, updatedAt, availableAt, leaseOwner, leaseToken, taskCount, recoveries, crashes } = w
  const counters = recoveries === undefined && crashes === undefined ? {} : { recoveries, crashes }
  return { id, status, createdAt, updatedAt, availableAt, leaseOwner, leaseToken, taskCount, ...counters }
}

/** The IDs of claimed workflows, in order. */
export function ids(claimed: WorkflowWithTasks[]): string[] {
  return claimed.map((c) => c.workflow.id)
}

/** Inserts a workflow of `taskCount` tasks already leased to A (for a long time); returns its ID. */
export async function claimedWorkflow(p: StorageProvider, taskCount: number): Promise<string> {
  const id = uid()
  await p.insertWorkflowsAndTasks([{ ...newWorkflow(id, taskCount), lease: { ...A, expiresAt: T0 + 1e13 } }])
  return id
}
