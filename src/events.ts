/**
 * Events a WorkflowRunner emits for observers (`runner.on("taskCompleted", …)`).
 * They report what this process did; storage stays the source of truth.
 */
import type { WorkflowStatus } from "./storage/provider.js"

/** Identifies a task in events. */
export interface TaskEventBase {
  workflowID: string
  seq: number
  /** The task's label. */
  name: string
  /** The TaskRunner's name. */
  task: string
}

/** Payloads of each event, as listener argument lists. */
export interface RunnerEventMap {
  /** An attempt of a task is starting in this process. */
  taskStarted: [TaskEventBase & { attempt: number }]
  /** A task's result was stored. */
  taskCompleted: [TaskEventBase & { result: unknown }]
  /** A task failed: aborted, or threw (then `retrying` says whether it will run again). */
  taskFailed: [TaskEventBase & { error: string; retrying: boolean }]
  /** A workflow this process ran (or cancelled) has ended. */
  workflowEnded: [{ workflowID: string; status: Exclude<WorkflowStatus, "pending"> }]
  /** This process lost a workflow's lease (another runner or a cancel took it). */
  leaseLost: [{ workflowID: string; reason: string }]
  /** A storage call failed; the runner backs off and tries again. */
  storageError: [{ operation: string; error: unknown }]
  /**
   * This process fired a schedule's tick: its step consumed the tick (no
   * other runner's did) and added the tick's workflow (`created` is `false`
   * only if a workflow with that ID existed).
   */
  scheduleFired: [{ scheduleID: string; tickAt: Date; workflowID: string; created: boolean }]
  /** This process skipped `count` ticks of a schedule, up to `lastTickAt` (overlap, or missed beyond the catch-up window). */
  scheduleSkipped: [{ scheduleID: string; count: number; lastTickAt: Date; reason: string }]
  /** This process held a tick back behind the pending workflow of the previous one (`buffer-one`). */
  scheduleBuffered: [{ scheduleID: string; tickAt: Date }]
}
