/**
 * The sleep step: `{ sleep: ms | "90s" | "1h" | "2d" }` or `{ sleepUntil }`.
 *
 * Its definition is stored as the step's data; its wake time is computed the
 * first time the step is reached, stored with the step, and read back on
 * every later claim, so a recovery never restarts the timer. While it
 * sleeps, the workflow is parked (no lease, no slot) until the wake time, and
 * the claim index finds it again then. The decisions are the engine's
 * (`planSleep`); this module reads the definition and runs the plan.
 *
 * Other waiting steps (events, child workflows) follow the same shape: a
 * module here that computes what the step waits for and commits the
 * engine's plan.
 */
import { ValidationError } from "../errors.js"
import { planSleep, planWrite, type ExecutionEnd } from "../engine.js"
import { fromJSONText } from "../json.js"
import { errorMessage } from "../logger.js"
import type { TaskRow } from "../storage/provider.js"
import type { ExecutionEnvironment } from "../runtime/execution.js"

/** A sleep step's definition as stored in its `data`: a duration in ms, or a wake time as an ISO 8601 string. */
export type StoredSleep = { sleep: number } | { sleepUntil: string }

/**
 * When the sleep step `task` wakes: its stored wake time once it has been
 * reached, else computed from its definition at `now` (a duration counts
 * from the moment the step is reached, not from when the workflow was added).
 *
 * @throws Error when the stored definition is not one this library writes (a damaged or foreign row)
 */
export function wakeTimeOf(task: TaskRow, now: number): number {
  if (typeof task.wakeAt === "number") return task.wakeAt
  const definition: unknown = JSON.parse(task.data)
  if (typeof definition === "object" && definition !== null) {
    const { sleep, sleepUntil } = definition as { sleep?: unknown; sleepUntil?: unknown }
    if (typeof sleep === "number" && Number.isFinite(sleep) && sleep >= 0) return now + sleep
    if (typeof sleepUntil === "string") {
      const at = Date.parse(sleepUntil)
      if (Number.isFinite(at)) return at
    }
  }
  throw new ValidationError(
    `step "${task.name}" of workflow "${task.workflowID}" is a sleep with a stored definition this durabletasks cannot read: ${task.data}`,
  )
}

/**
 * Runs a reached sleep step: parks the workflow until the wake time (storing
 * it the first time), or, once it has passed, records `{ sleptUntil }` as the
 * step's result. Returns how the execution ends, or `undefined` to go on to
 * the next step.
 */
export async function runSleepStep(env: ExecutionEnvironment, task: TaskRow, isLast: boolean): Promise<ExecutionEnd | undefined> {
  const now = env.now()
  let wakeAt: number
  try {
    wakeAt = wakeTimeOf(task, now)
  } catch (error) {
    // A definition no code can read fails its workflow now, rather than crashing every runner that claims it.
    return failUnreadable(env, task, isLast, errorMessage(error))
  }
  const { write, end } = planSleep(task, wakeAt, { token: env.token, now, isLast })
  if (!(await env.commit(write))) return { kind: "fenced" }
  if (write.task) Object.assign(task, write.task)
  if (task.status === "completed") {
    if (env.listening("taskCompleted")) {
      env.emit("taskCompleted", { workflowID: task.workflowID, seq: task.seq, name: task.name, task: task.task, result: fromJSONText(task.result) })
    }
  } else {
    env.logger.debug?.(`step "${task.name}" sleeps until ${new Date(task.wakeAt ?? 0).toISOString()}`, { workflowID: task.workflowID, seq: task.seq })
  }
  return end
}

async function failUnreadable(env: ExecutionEnvironment, task: TaskRow, isLast: boolean, error: string): Promise<ExecutionEnd> {
  env.logger.error?.(error, { workflowID: task.workflowID, seq: task.seq })
  const { write, end } = planWrite(task, { kind: "failed", error, retry: false }, {
    token: env.token,
    now: env.now(),
    isLast,
    retry: undefined,
    retryDelayMS: 0,
  })
  if (!(await env.commit(write))) return { kind: "fenced" }
  return end ?? { kind: "interrupted" }
}
