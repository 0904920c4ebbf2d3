/**
 * Every check on user input, in one place. Each throws a ValidationError that
 * says what is wrong; callers validate before writing anything.
 */
import { ValidationError } from "./errors.js"
import { toJSONText } from "./json.js"
import type { NewTask } from "./storage/provider.js"
import type { RetryPolicy, TaskRunner } from "./task.js"

/** Longest accepted workflow ID, in characters. */
export const MAX_WORKFLOW_ID_LENGTH = 512

export function validateWorkflowID(id: unknown, what = "workflowID"): string {
  if (typeof id !== "string") {
    throw new ValidationError(`${what} must be a string, got ${describe(id)}`)
  }
  if (id.length === 0) throw new ValidationError(`${what} must not be empty`)
  if (id.length > MAX_WORKFLOW_ID_LENGTH) {
    throw new ValidationError(`${what} is ${id.length} characters long; the limit is ${MAX_WORKFLOW_ID_LENGTH}`)
  }
  return id
}

export function validatePositiveNumber(value: unknown, what: string, { allowZero = false, integer = false } = {}): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new ValidationError(`${what} must be a number, got ${describe(value)}`)
  }
  if (value < 0 || (!allowZero && value === 0) || !Number.isFinite(value)) {
    throw new ValidationError(`${what} must be a finite number ${allowZero ? ">= 0" : "> 0"}, got ${value}`)
  }
  if (integer && !Number.isInteger(value)) throw new ValidationError(`${what} must be an integer, got ${value}`)
  return value
}

export function validateRetryPolicy(policy: unknown, what: string): RetryPolicy | undefined {
  if (policy === undefined) return undefined
  if (typeof policy !== "object" || policy === null) throw new ValidationError(`${what} must be an object`)
  const p = policy as RetryPolicy
  if (p.backoff !== undefined && p.backoff !== "fixed" && p.backoff !== "exponential") {
    throw new ValidationError(`${what}.backoff must be "fixed" or "exponential", got ${describe(p.backoff)}`)
  }
  if (p.delayMS !== undefined) validatePositiveNumber(p.delayMS, `${what}.delayMS`, { allowZero: true })
  if (p.maxDelayMS !== undefined) validatePositiveNumber(p.maxDelayMS, `${what}.maxDelayMS`, { allowZero: true })
  if (p.maxAttempts !== undefined) validatePositiveNumber(p.maxAttempts, `${what}.maxAttempts`, { integer: true })
  return p
}

/** Checks the runners given to a WorkflowRunner and indexes them by name. */
export function validateTaskRunners(runners: unknown): Map<string, TaskRunner> {
  if (!Array.isArray(runners)) throw new ValidationError(`taskRunners must be an array of { Name, Execute }`)
  const byName = new Map<string, TaskRunner>()
  runners.forEach((runner: unknown, i) => {
    if (typeof runner !== "object" || runner === null) throw new ValidationError(`taskRunners[${i}] must be an object`)
    const r = runner as TaskRunner
    if (typeof r.Name !== "string" || r.Name === "") {
      throw new ValidationError(`taskRunners[${i}].Name must be a non-empty string`)
    }
    if (typeof r.Execute !== "function") throw new ValidationError(`task runner "${r.Name}" has no Execute function`)
    if (r.Prepare !== undefined && typeof r.Prepare !== "function") {
      throw new ValidationError(`task runner "${r.Name}": Prepare must be a function`)
    }
    if (r.timeoutMS !== undefined) validatePositiveNumber(r.timeoutMS, `task runner "${r.Name}": timeoutMS`)
    validateRetryPolicy(r.retry, `task runner "${r.Name}": retry`)
    if (byName.has(r.Name)) throw new ValidationError(`two task runners are named "${r.Name}": names must be unique`)
    byName.set(r.Name, r)
  })
  return byName
}

/** The parts of `addWorkflow` input the runner needs, checked and serialized. */
export interface ValidatedWorkflowInput {
  id: string | undefined
  tasks: NewTask[]
}

/**
 * Checks `addWorkflow` input and serializes each task's data.
 *
 * @param isRegistered - whether a runner name is known to the caller
 * @param registryName - who does not know an unregistered name, for its error message
 */
export function validateWorkflowInput(
  input: unknown,
  isRegistered: (name: string) => boolean,
  maxPayloadBytes: number,
  registryName = "this WorkflowRunner",
): ValidatedWorkflowInput {
  if (typeof input !== "object" || input === null) {
    throw new ValidationError(`addWorkflow takes { workflowID?, tasks }, got ${describe(input)}`)
  }
  const { workflowID, tasks } = input as { workflowID?: unknown; tasks?: unknown }
  const id = workflowID === undefined ? undefined : validateWorkflowID(workflowID)
  if (typeof tasks !== "object" || tasks === null || Array.isArray(tasks)) {
    throw new ValidationError(`tasks must be an object of { label: { task, data } }, got ${describe(tasks)}`)
  }
  const entries = Object.entries(tasks)
  if (entries.length === 0) throw new ValidationError(`a workflow needs at least one task; tasks is empty`)
  const newTasks = entries.map(([label, spec]): NewTask => {
    if (typeof spec !== "object" || spec === null) {
      throw new ValidationError(`task "${label}" must be an object { task, data }, got ${describe(spec)}`)
    }
    const { task, data } = spec as { task?: unknown; data?: unknown }
    if (typeof task !== "string" || task === "") {
      throw new ValidationError(`task "${label}" must name its runner in "task", got ${describe(task)}`)
    }
    if (!isRegistered(task)) {
      throw new ValidationError(`task "${label}" names runner "${task}", which is not registered with ${registryName}`)
    }
    return { name: label, task, data: toJSONText(data, `data of task "${label}"`, maxPayloadBytes) }
  })
  return { id, tasks: newTasks }
}

function describe(value: unknown): string {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`
}
