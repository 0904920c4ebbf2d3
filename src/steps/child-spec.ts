/**
 * Checking a child workflow step (`{ workflow: { tasks, workflowID?,
 * onFailure? } }`) and reading its stored definition back.
 *
 * @module
 */
import { ValidationError } from "../errors.js"
import { refuseUnknownKeys } from "../known-keys.js"
import type { NewTask, TaskRow } from "../storage/provider.js"

/** A child workflow step's definition as stored in its `data`: the child's checked steps, its ID if given, and what a failure does. */
export interface StoredChild {
  workflow: {
    /** The child's steps, checked and serialized as `addWorkflow` stores them. */
    tasks: NewTask[]
    workflowID?: string
    onFailure?: "continue"
  }
}

/**
 * Checks a child workflow step and builds its stored row.
 *
 * @param validateSteps - checks the child's `tasks` as `addWorkflow` does (typed runner names included)
 * @param validateID - checks a workflow ID
 */
export function validateChildStep(
  label: string,
  spec: object,
  validateSteps: (tasks: unknown, where: string) => NewTask[],
  validateID: (id: unknown) => string,
): NewTask {
  const { workflow, data } = spec as { workflow?: unknown; data?: unknown }
  if (data !== undefined) throw new ValidationError(`step "${label}" is a child workflow and takes no "data": give its steps in workflow.tasks`)
  if (typeof workflow !== "object" || workflow === null || Array.isArray(workflow)) {
    throw new ValidationError(`step "${label}" must be { workflow: { tasks, workflowID?, onFailure? } }`)
  }
  refuseUnknownKeys(workflow, ["tasks", "workflowID", "onFailure"], `the workflow of step "${label}"`)
  const { tasks, workflowID, onFailure } = workflow as { tasks?: unknown; workflowID?: unknown; onFailure?: unknown }
  if (onFailure !== undefined && onFailure !== "continue") {
    throw new ValidationError(`onFailure of step "${label}" must be "continue" or left out, got ${JSON.stringify(onFailure)}`)
  }
  const definition: StoredChild = { workflow: { tasks: validateSteps(tasks, `the child workflow of step "${label}"`) } }
  if (workflowID !== undefined) definition.workflow.workflowID = validateID(workflowID)
  if (onFailure === "continue") definition.workflow.onFailure = "continue"
  return { name: label, task: "", data: JSON.stringify(definition), kind: "workflow" }
}

/**
 * Reads a child workflow step's stored definition.
 *
 * @throws ValidationError when it is not one this library writes (a damaged or foreign row)
 */
export function readChild(step: Pick<TaskRow, "name" | "workflowID" | "data">): StoredChild["workflow"] {
  const parsed: unknown = JSON.parse(step.data)
  const w = (parsed as { workflow?: unknown } | null)?.workflow
  if (typeof w === "object" && w !== null && Array.isArray((w as { tasks?: unknown }).tasks)) return w as StoredChild["workflow"]
  throw new ValidationError(`step "${step.name}" of workflow "${step.workflowID}" is a child workflow with a stored definition this durabletasks cannot read`)
}

/** The ID of the child a child workflow step adds: its given `workflowID`, else `${parentID}/${label}`. */
export function childIDOf(step: Pick<TaskRow, "name" | "workflowID">, definition: StoredChild["workflow"]): string {
  return definition.workflowID ?? `${step.workflowID}/${step.name}`
}
