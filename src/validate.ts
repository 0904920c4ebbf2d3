/**
 * Every check on user input, in one place. Each throws a ValidationError that
 * says what is wrong; callers validate before writing anything.
 */
import { ValidationError } from "./errors.js"
import { toJSONText } from "./json.js"
import { closestKey, refuseUnknownKeys } from "./known-keys.js"
import type { Logger } from "./logger.js"
import type { NewTask, StepKind } from "./storage/provider.js"
import type { StoredSleep } from "./steps/sleep.js"
import { validateChildStep } from "./steps/child-spec.js"
import { validateParallelStep } from "./steps/parallel-spec.js"
import { checkEventMembers, validateWaitForEventStep } from "./validate-events.js"
import type { RetryPolicy, TaskRunner } from "./task.js"

/** Longest accepted workflow ID, in characters. */
export const MAX_WORKFLOW_ID_LENGTH = 512

/**
 * Checks a workflow ID (or another ID-like option such as `runnerID`): a
 * non-empty string of at most {@link MAX_WORKFLOW_ID_LENGTH} characters that
 * passes {@link validateStoredName}.
 *
 * @param what - names the value in the error message
 * @throws ValidationError
 */
export function validateWorkflowID(id: unknown, what = "workflowID"): string {
  if (typeof id !== "string") {
    throw new ValidationError(`${what} must be a string, got ${describe(id)}`)
  }
  if (id.length === 0) throw new ValidationError(`${what} must not be empty`)
  if (id.length > MAX_WORKFLOW_ID_LENGTH) {
    throw new ValidationError(`${what} is ${id.length} characters long; the limit is ${MAX_WORKFLOW_ID_LENGTH}`)
  }
  return validateStoredName(id, what)
}

/**
 * Checks a string that storage keys or compares: a workflow ID, a task
 * label, a runner name, a `runnerID` (and event names and keys, once they
 * exist). It must be well-formed UTF-16 and free of U+0000, on every
 * provider, so the same input behaves the same everywhere:
 *
 * - A lone surrogate (half of a character such as an emoji, left by cutting a
 *   string in the wrong place) cannot be written as UTF-8: SQLite and Postgres
 *   would store U+FFFD instead, so two different IDs could become one, and the
 *   ID read back would no longer match the one given.
 * - Postgres `text` cannot hold U+0000 at all.
 *
 * Data and results need no such check: they are stored as JSON, which
 * escapes both (`\u0000`, `\ud800`).
 *
 * @param what - names the value in the error message
 * @throws ValidationError
 */
export function validateStoredName(value: string, what: string): string {
  const nul = value.indexOf("\u0000")
  if (nul >= 0) {
    throw new ValidationError(
      `${what} ${describe(value)} contains U+0000 (NUL) at index ${nul}: Postgres cannot store it, so no provider accepts it; remove it`,
    )
  }
  if (!isWellFormed(value)) {
    const at = loneSurrogateIndex(value)
    const unit = value.charCodeAt(at).toString(16).toUpperCase()
    throw new ValidationError(
      `${what} ${describe(value)} is not well-formed Unicode: a lone surrogate U+${unit} at index ${at} ` +
        `(half of a character such as an emoji; was the string cut inside one?). Storage would turn it into U+FFFD ` +
        `and confuse it with other strings; fix the string (String.prototype.toWellFormed() replaces lone surrogates)`,
    )
  }
  return value
}

/** `String.prototype.isWellFormed` (Node.js 20+), typed here because the compiler's lib is ES2022. */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed()
}

/** Index of the first lone surrogate of an ill-formed string. */
function loneSurrogateIndex(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i)
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) i++
      else return i
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return i
    }
  }
  return -1
}

/**
 * Checks a numeric option: a finite number > 0 (>= 0 with `allowZero`), an
 * integer with `integer`.
 *
 * @throws ValidationError
 */
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

/**
 * Checks a retry policy (`undefined` passes).
 *
 * @throws ValidationError
 */
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

/** The methods a `logger` option may have. */
const LOGGER_METHODS = ["debug", "info", "warn", "error"] as const

/**
 * Checks a `logger` option (`undefined` passes): an object whose `debug`,
 * `info`, `warn` and `error`, each optional, are functions when present
 * (`console` passes). Checked up front, because a bad one would otherwise
 * only fail when something is logged, far from the mistake.
 *
 * @param what - names the option in the error message
 * @throws ValidationError
 */
export function validateLogger(logger: unknown, what = "logger"): Logger | undefined {
  if (logger === undefined) return undefined
  if (typeof logger !== "object" || logger === null || Array.isArray(logger)) {
    throw new ValidationError(`${what} must be an object with optional debug, info, warn and error functions (console works), got ${describe(logger)}`)
  }
  for (const method of LOGGER_METHODS) {
    const fn = (logger as Record<string, unknown>)[method]
    if (fn !== undefined && typeof fn !== "function") {
      throw new ValidationError(`${what}.${method} must be a function (or absent), got ${describe(fn)}`)
    }
  }
  return logger as Logger
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
    validateStoredName(r.Name, `taskRunners[${i}].Name`)
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

/** Labels JavaScript puts first, in numeric order, in an object's own keys: canonical array indices. */
function isArrayIndexKey(label: string): boolean {
  const n = Number(label)
  return Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1 && String(n) === label
}

/**
 * The `[label, spec]` pairs of `tasks`, in the order the user wrote them,
 * from either form: `{ label: { task, data } }` or `[{ name, task, data }]`.
 */
function taskEntries(tasks: unknown): Array<[string, unknown]> {
  if (Array.isArray(tasks)) return arrayTaskEntries(tasks)
  if (typeof tasks !== "object" || tasks === null) {
    throw new ValidationError(
      `tasks must be an object of { label: { task, data } } or an array of { name, task, data }, got ${describe(tasks)}`,
    )
  }
  const entries = Object.entries(tasks)
  for (const [label] of entries) {
    validateStoredName(label, "task label")
    if (isArrayIndexKey(label)) {
      throw new ValidationError(
        `task label ${JSON.stringify(label)} looks like an integer: JavaScript orders such object keys numerically, ` +
          `ahead of all others, whatever order you wrote them in, so the tasks would not run in your order. ` +
          `Use the array form, which keeps its order: tasks: [{ name: ${JSON.stringify(label)}, task, data }, …]`,
      )
    }
  }
  return entries
}

function arrayTaskEntries(tasks: readonly unknown[]): Array<[string, unknown]> {
  const seen = new Map<string, number>()
  // A for loop rather than map: map skips the holes of a sparse array.
  const entries: Array<[string, unknown]> = []
  for (let i = 0; i < tasks.length; i++) {
    const spec = tasks[i]
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
      throw new ValidationError(`tasks[${i}] must be an object { name, task, data }, got ${describe(spec)}`)
    }
    const { name } = spec as { name?: unknown }
    if (typeof name !== "string") {
      throw new ValidationError(`tasks[${i}] needs a "name" (its label) that is a string, got ${describe(name)}`)
    }
    validateStoredName(name, `the name of tasks[${i}]`)
    const earlier = seen.get(name)
    if (earlier !== undefined) {
      throw new ValidationError(`tasks[${earlier}] and tasks[${i}] are both named ${JSON.stringify(name)}: task names (labels) must be unique`)
    }
    seen.set(name, i)
    entries.push([name, spec])
  }
  return entries
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
  refuseUnknownKeys(input, WORKFLOW_INPUT_KEYS, "addWorkflow")
  const { workflowID, tasks } = input as { workflowID?: unknown; tasks?: unknown }
  const id = workflowID === undefined ? undefined : validateWorkflowID(workflowID)
  return { id, tasks: validateSteps(tasks, isRegistered, maxPayloadBytes, registryName) }
}

/** The keys of `addWorkflow` input (`startAt` and `delayMS` are checked by validateStartTime). */
const WORKFLOW_INPUT_KEYS = ["workflowID", "tasks", "startAt", "delayMS"] as const

/** Checks the steps of a workflow (or of a child workflow, in `where`) and serializes each task's data. */
function validateSteps(
  tasks: unknown,
  isRegistered: (name: string) => boolean,
  maxPayloadBytes: number,
  registryName: string,
  where = "a workflow",
): NewTask[] {
  const entries = taskEntries(tasks)
  if (entries.length === 0) throw new ValidationError(`${where} needs at least one task; tasks is empty`)
  const nested = (inner: unknown, innerWhere: string) => validateSteps(inner, isRegistered, maxPayloadBytes, registryName, innerWhere)
  // In the array form an entry's label is its `name`; the members of a parallel step are labelled by their keys.
  const named = Array.isArray(tasks)
  const validateStep = (label: string, spec: unknown, member: boolean): NewTask => {
    if (typeof spec !== "object" || spec === null) {
      throw new ValidationError(`task "${label}" must be an object { task, data }, got ${describe(spec)}`)
    }
    const kind = stepKindOf(label, spec)
    // `data` on a step that is not a task is refused by its kind's check, with a message that says why.
    const tolerated = [...(named && !member ? ["name"] : []), ...(kind === "task" ? [] : ["data"])]
    refuseUnknownKeys(spec, STEP_KEYS[kind], `${kind === "task" ? "task" : "step"} "${label}"`, tolerated)
    if (kind === "sleep") return validateSleepStep(label, spec)
    if (kind === "workflow") return validateChildStep(label, spec, nested, validateWorkflowID)
    if (kind === "parallel") {
      if (member) throw new ValidationError(`member "${label}" of a parallel step is itself parallel: give its members to the outer parallel step`)
      throw new ValidationError(`step "${label}": internal error, a parallel step reached the single-step check`)
    }
    if (kind === "waitForEvent") return validateWaitForEventStep(label, spec)
    const { task, data } = spec as { task?: unknown; data?: unknown }
    if (typeof task !== "string" || task === "") {
      throw new ValidationError(`task "${label}" must name its runner in "task", got ${describe(task)}`)
    }
    validateStoredName(task, `the runner name of task "${label}"`)
    if (!isRegistered(task)) {
      throw new ValidationError(`task "${label}" names runner "${task}", which is not registered with ${registryName}`)
    }
    return { name: label, task, data: toJSONText(data, `data of task "${label}"`, maxPayloadBytes) }
  }
  // A parallel step is stored as its own row followed by one row per member (see steps/parallel-spec.ts).
  const steps = entries.flatMap(([label, spec]): NewTask[] =>
    typeof spec === "object" && spec !== null && stepKindOf(label, spec) === "parallel"
      ? checkEventMembers(
          label,
          validateParallelStep(label, spec, (memberLabel, memberSpec) => {
            validateStoredName(memberLabel, `the label of member "${memberLabel}" of parallel step "${label}"`)
            return validateStep(memberLabel, memberSpec, true)
          }),
        )
      : [validateStep(label, spec, false)],
  )
  const seen = new Set<string>()
  for (const step of steps) {
    if (seen.has(step.name)) {
      throw new ValidationError(`${where} has two steps labelled "${step.name}" (members of parallel steps included): labels must be unique`)
    }
    seen.add(step.name)
  }
  return steps
}

/** The keys that make a step of each kind other than a task. */
const SLEEP_KEYS = ["sleep", "sleepUntil"] as const

/** The keys a step of each kind takes (besides `name`, its label in the array form of `tasks`). */
const STEP_KEYS: Readonly<Record<StepKind, readonly string[]>> = {
  task: ["task", "data"],
  sleep: SLEEP_KEYS,
  workflow: ["workflow"],
  parallel: ["parallel"],
  waitForEvent: ["waitForEvent"],
}

/** Every key that makes a step of some kind, for the hint of a step of none. */
const ALL_STEP_KEYS = [...new Set(Object.values(STEP_KEYS).flat())]

/**
 * Which kind of step `spec` is, by its keys: `task` makes a task, `sleep` or
 * `sleepUntil` a sleep. A step with the keys of two kinds, or of none, is
 * refused.
 */
function stepKindOf(label: string, spec: object): StepKind {
  const keys = Object.keys(spec)
  if (keys.includes("parallel")) {
    const other = keys.find((k) => k !== "parallel" && k !== "name")
    if (other) throw new ValidationError(`step "${label}" has both "parallel" and "${other}": a parallel step is { parallel: { label: step, … } } alone`)
    return "parallel"
  }
  if (keys.includes("workflow")) {
    const other = keys.find((k) => k === "task" || k === "waitForEvent" || (SLEEP_KEYS as readonly string[]).includes(k))
    if (other) throw new ValidationError(`step "${label}" has both "workflow" and "${other}": a child workflow step is { workflow: { tasks } }; make them two steps`)
    return "workflow"
  }
  const sleepKeys = SLEEP_KEYS.filter((k) => keys.includes(k))
  const isTask = keys.includes("task")
  if (keys.includes("waitForEvent")) {
    const other = isTask ? "task" : sleepKeys[0]
    if (other) throw new ValidationError(`step "${label}" has both "waitForEvent" and "${other}": a step has one kind; make them two steps`)
    return "waitForEvent"
  }
  if (isTask && sleepKeys.length > 0) {
    throw new ValidationError(
      `step "${label}" has both "task" and "${sleepKeys[0]}": a step is either a task { task, data } or a sleep { sleep } / { sleepUntil }; make them two steps`,
    )
  }
  if (sleepKeys.length > 1) {
    throw new ValidationError(`step "${label}" has both "sleep" and "sleepUntil": give one (a duration, or a point in time)`)
  }
  if (sleepKeys.length === 1) return "sleep"
  // A step with `data` but no `task` is a task that forgot its runner: say so (below, in validateWorkflowInput).
  if (isTask || keys.includes("data")) return "task"
  const typo = keys.map((k) => [k, closestKey(k, ALL_STEP_KEYS)] as const).find(([, close]) => close !== undefined)
  const hint = typo ? `did you mean ${JSON.stringify(typo[1])} for ${JSON.stringify(typo[0])}? ` : ""
  throw new ValidationError(
    `step "${label}" is neither a task nor a step of a known kind: ${hint}give { task, data } to run a task, ` +
      `{ sleep: ms | "90s" | "1h" | "2d" } or { sleepUntil: Date | ISO string | epoch ms } to sleep, { waitForEvent: { name, key?, timeoutMS?, onTimeout? } } to wait for an event, ` +
      `{ workflow: { tasks } } to run a child workflow, { parallel: { label: step } } to run steps at once (its keys: ${keys.length === 0 ? "none" : keys.join(", ")})`,
  )
}

/** Checks a sleep step and builds its stored definition (see `StoredSleep` in steps/sleep.ts). */
function validateSleepStep(label: string, spec: object): NewTask {
  const { sleep, sleepUntil, data } = spec as { sleep?: unknown; sleepUntil?: unknown; data?: unknown }
  if (data !== undefined) throw new ValidationError(`step "${label}" is a sleep and takes no "data"`)
  const definition: StoredSleep =
    sleepUntil !== undefined
      ? { sleepUntil: new Date(validateWakeTime(sleepUntil, `sleepUntil of step "${label}"`)).toISOString() }
      : { sleep: validateDuration(sleep, `sleep of step "${label}"`) }
  return { name: label, task: "", data: JSON.stringify(definition), kind: "sleep" }
}

/** Longest sleep accepted, in ms (100 years): longer is surely a mistake, and must stay a valid date. */
export const MAX_SLEEP_MS = 100 * 365 * 24 * 3_600_000

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Checks a duration, given as milliseconds or as a string of a number and a
 * unit (`"500ms"`, `"90s"`, `"15m"`, `"1h"`, `"2d"`), and returns it in
 * milliseconds (at least 0, at most 100 years).
 *
 * @throws ValidationError
 */
export function validateDuration(value: unknown, what: string): number {
  let ms: number
  if (typeof value === "number") ms = value
  else if (typeof value === "string") {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value)
    if (!match) {
      throw new ValidationError(
        `${what} ${describe(value)} is not a duration: use milliseconds (a number) or a number with a unit: "500ms", "90s", "15m", "1h", "2d"`,
      )
    }
    ms = Number(match[1]) * (DURATION_UNITS[match[2] as string] as number)
  } else {
    throw new ValidationError(`${what} must be milliseconds (a number) or a string such as "90s", "1h" or "2d", got ${describe(value)}`)
  }
  if (!Number.isFinite(ms) || ms < 0) throw new ValidationError(`${what} must be a finite number of milliseconds >= 0, got ${ms}`)
  if (ms > MAX_SLEEP_MS) throw new ValidationError(`${what} is ${ms} ms, longer than 100 years: is the unit right?`)
  return Math.ceil(ms)
}

/** Latest time a Date can hold, in ms since the epoch. */
const MAX_DATE_MS = 8.64e15

/**
 * Checks the wake time of a `sleepUntil` (a `Date`, an ISO 8601 string or
 * epoch milliseconds) and returns it in epoch milliseconds. A time in the
 * past wakes at once.
 *
 * @throws ValidationError
 */
export function validateWakeTime(value: unknown, what: string): number {
  const ms = validateInstant(value, what)
  if (Math.abs(ms) > MAX_DATE_MS) throw new ValidationError(`${what} is out of the range of a Date: ${describe(value)}`)
  return ms
}

/**
 * Names a bad value in an error message: `undefined`, `null`, `"a string"`
 * (cut at 40 characters), `number 5`, `an array`, `an object`, `a function`.
 */
function describe(value: unknown): string {
  if (value === undefined) return "undefined"
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)
  if (typeof value === "function") return "a function"
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`
}

/**
 * Checks the delayed start of `addWorkflow` (`startAt` or `delayMS`, not
 * both) and returns when the workflow may first run, in ms since the epoch,
 * or `undefined` when it may run at once.
 *
 * @param now - the runner's or client's clock, for `delayMS`
 * @throws ValidationError
 */
export function validateStartTime(input: { startAt?: unknown; delayMS?: unknown }, now: number): number | undefined {
  const { startAt, delayMS } = input
  if (startAt !== undefined && delayMS !== undefined) {
    throw new ValidationError("give startAt or delayMS, not both: startAt is a point in time, delayMS a delay from now")
  }
  if (delayMS !== undefined) return now + validatePositiveNumber(delayMS, "delayMS", { allowZero: true })
  if (startAt === undefined) return undefined
  return validateInstant(startAt, "startAt")
}

/**
 * Checks a point in time given as a `Date`, an ISO 8601 string or epoch
 * milliseconds, and returns it in epoch milliseconds.
 *
 * @throws ValidationError
 */
export function validateInstant(value: unknown, what: string): number {
  let ms: number
  if (value instanceof Date) ms = value.getTime()
  else if (typeof value === "string") ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN
  else if (typeof value === "number") ms = value
  else throw new ValidationError(`${what} must be a Date, an ISO 8601 string or epoch milliseconds, got ${describe(value)}`)
  if (!Number.isFinite(ms)) {
    throw new ValidationError(`${what} is not a valid point in time: ${describe(value)} (use a Date, an ISO 8601 string such as "2030-01-01T09:00:00Z", or epoch milliseconds)`)
  }
  return ms
}
