/** Row helpers shared by the runner and the in-memory provider. */
import type { NewWorkflow, WorkflowWithTasks } from "./provider.js"

/** The rows a provider stores for a newly inserted workflow. */
export function newWorkflowRows(w: NewWorkflow): WorkflowWithTasks {
  return {
    workflow: {
      id: w.id,
      status: "pending",
      createdAt: w.now,
      updatedAt: w.now,
      availableAt: w.lease?.expiresAt ?? w.availableAt ?? w.now,
      leaseOwner: w.lease?.owner ?? null,
      leaseToken: w.lease?.token ?? null,
      taskCount: w.tasks.length,
      recoveries: 0,
      crashes: 0,
      parentID: w.parent?.id ?? null,
    },
    tasks: w.tasks.map((t, seq) => ({
      workflowID: w.id,
      seq,
      name: t.name,
      task: t.task,
      data: t.data,
      kind: t.kind ?? "task",
      wakeAt: null,
      status: "pending",
      result: null,
      error: null,
      attempts: 0,
      createdAt: w.now,
      updatedAt: w.now,
      startedAt: null,
      endedAt: null,
      runnerID: null,
      history: null,
    })),
  }
}
