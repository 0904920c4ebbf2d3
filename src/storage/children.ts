/**
 * The storage contract of child workflows (the `children` capability) beyond
 * the fields it adds to rows and inserts (`WorkflowRow.parentID`,
 * `NewWorkflow.parent`): parking a parent until one of its children ends.
 *
 * @module
 */
import type { TaskChange, WriteBase } from "./workflow-writes.js"

/**
 * Input of {@link StorageProvider.awaitChildren}: parks a workflow until one
 * of its children ends (or until `availableAt`, the earliest wake time of its
 * other waits), in one fenced transaction.
 */
export interface AwaitChildren extends WriteBase {
  /** The children waited for; each was inserted with this workflow as parent. */
  childIDs: string[]
  /** When to wake if no child ends before; a very large value (see `NEVER`) for no other wait. */
  availableAt: number
  /** Changes of the workflow's steps written with the park (e.g. a waiting step's state). */
  tasks: TaskChange[]
}

/** The `availableAt` of a workflow that waits only for its children: never claimable by time (a child's end wakes it). */
export const NEVER = 8_640_000_000_000_000
