/**
 * Checking a parallel step (`{ parallel: { label: step, … } }`) and reading
 * its stored definition back.
 *
 * A parallel step is stored as a row of kind `parallel`, whose data lists
 * its members' labels in order, followed at once by one row per member (a
 * task, a sleep or a child workflow, each with its own attempts, state and
 * result). So a recovery finds which members have ended, and runs only the
 * others again.
 *
 * @module
 */
import { ValidationError } from "../errors.js"
import type { NewTask, TaskRow } from "../storage/provider.js"

/** A parallel step's definition as stored in its `data`: its members' labels, in order (their rows follow it). */
export interface StoredParallel {
  parallel: string[]
}

/**
 * Checks a parallel step and builds its rows: the step's own, then one per
 * member (checked by `validateMember`).
 */
export function validateParallelStep(label: string, spec: object, validateMember: (label: string, spec: unknown) => NewTask): NewTask[] {
  const { parallel } = spec as { parallel?: unknown }
  if (typeof parallel !== "object" || parallel === null || Array.isArray(parallel)) {
    throw new ValidationError(`step "${label}" must be { parallel: { label: step, … } }, with its members by label`)
  }
  const entries = Object.entries(parallel)
  if (entries.length === 0) throw new ValidationError(`parallel step "${label}" has no members`)
  const members = entries.map(([memberLabel, memberSpec]) => validateMember(memberLabel, memberSpec))
  const definition: StoredParallel = { parallel: members.map((m) => m.name) }
  return [{ name: label, task: "", data: JSON.stringify(definition), kind: "parallel" }, ...members]
}

/**
 * How many member rows follow a parallel step's row.
 *
 * @throws ValidationError when the stored definition is not one this library writes
 */
export function memberCount(step: Pick<TaskRow, "name" | "workflowID" | "data">): number {
  const parsed: unknown = JSON.parse(step.data)
  const members = (parsed as { parallel?: unknown } | null)?.parallel
  if (Array.isArray(members) && members.length > 0) return members.length
  throw new ValidationError(`step "${step.name}" of workflow "${step.workflowID}" is a parallel step with a stored definition this durabletasks cannot read`)
}
