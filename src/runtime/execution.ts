/**
 * One workflow's task loop: runs its pending tasks in seq order, applies the
 * outcomes table, and writes each outcome with one fenced write.
 */
import { SerializationError } from "../errors.js"
import { fromJSONText, toJSONText } from "../json.js"
import { errorMessage, type Logger } from "../logger.js"
import type { TaskChange, TaskRow, WorkflowWithTasks, WorkflowWrite } from "../storage/provider.js"
import {
  ExpectedError,
  type RetryPolicy,
  type SpawnWorkflowInput,
  type SpawnedWorkflow,
  type TaskExecutionResult,
  type TaskRunner,
} from "../task.js"
import type { RunnerEventMap } from "../events.js"
import { PROGRESS, planWrite, type ExecutionEnd, type Outcome } from "../engine.js"
import { runSleepStep } from "../steps/sleep.js"
import { runChildStep, type ChildOperations } from "../steps/child.js"
import { parallelDue, runParallelAt } from "../steps/parallel.js"
import { runWaitForEventStep } from "../steps/wait-for-event.js"
import type { EventStore } from "../storage/event-store.js"
import type { SendEventInput, SentEvent } from "../steps/spec.js"
import { AttemptSignal, TaskContext } from "./task-context.js"
import { historyForNextAttempt, type InterruptedAttempt } from "../attempts.js"
import type { ExecutionAbort } from "./lazy-abort.js"

export { retryDelay, type ExecutionEnd } from "../engine.js"

/** What the runner lends a workflow execution. */
export interface ExecutionEnvironment {
  runners: ReadonlyMap<string, TaskRunner>
  /** This process life's lease token. */
  token: string
  /** This runner's `runnerID`, stored with each attempt it runs (`attempt-history`). */
  runnerID: string
  logger: Logger
  maxPayloadBytes: number
  retryDelayMS: number
  defaultRetry: RetryPolicy | undefined
  now(): number
  /** Writes one fenced write through group commit; `false` if fenced off. Retries storage errors itself. */
  commit(write: WorkflowWrite): Promise<boolean>
  /** Prepared data of this workflow in this process, by runner name. */
  preparedFor(workflowID: string): Map<string, unknown>
  addWorkflow(input: SpawnWorkflowInput): Promise<SpawnedWorkflow>
  emit<K extends keyof RunnerEventMap>(event: K, ...args: RunnerEventMap[K]): void
  /** Whether anyone listens to `event` (payloads are built only then). */
  listening(event: keyof RunnerEventMap): boolean
  /** Whether a next task may start: the runner is not stopping and the lease has not expired locally. */
  mayStartTask(): boolean
  /** Child workflows (the provider's `children` capability); absent without it. */
  children?: ChildOperations | undefined
  /** Called when a workflow with a parent has ended here: its parent may be claimable now. */
  childEnded?: (() => void) | undefined
  /** The provider's events (the `events` capability), for waitForEvent steps. */
  events: EventStore | undefined
  /** `sendEvent` for a task's context. */
  sendEvent(input: SendEventInput): Promise<SentEvent>
}

/** Runs the pending steps of a claimed workflow until it ends, waits (for a retry or a wake time), or is interrupted. */
export async function executeWorkflow(
  env: ExecutionEnvironment,
  claimed: WorkflowWithTasks,
  abort: ExecutionAbort,
): Promise<ExecutionEnd> {
  const workflowID = claimed.workflow.id
  const tasks = claimed.tasks
  let lastPending = -1
  for (let i = 0; i < tasks.length; i++) if (tasks[i]!.status === "pending") lastPending = i
  // Taken over from a lease nobody released: the step the earlier runner was on may have been interrupted; it is
  // recorded (lazily, with that step's next attempt) as an interrupted attempt.
  let interrupted: InterruptedAttempt | undefined = (claimed.workflow.recoveries ?? 0) > 0 ? { foundAt: env.now() } : undefined
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i]!
    if (task.kind === "parallel" && parallelDue(tasks, i)) {
      const { end, members } = await runParallelAt(env, tasks, i, abort.signal)
      if (end) return ended(env, claimed, end)
      i += members
      continue
    }
    if (task.status !== "pending") continue
    if (abort.aborted || !env.mayStartTask()) return { kind: "interrupted" }
    const isLast = i === lastPending
    // Each step kind other than a task runs in its own module (src/steps/), which commits the engine's plan for it.
    if (task.kind === "sleep" || task.kind === "workflow" || task.kind === "waitForEvent") {
      // Not an attempt of a task: an interruption found at the takeover is not charged to a later task.
      interrupted = undefined
      const end =
        task.kind === "sleep"
          ? await runSleepStep(env, task, isLast)
          : task.kind === "workflow"
            ? await runChildStep(env, task, isLast)
            : await runWaitForEventStep(env, task, isLast)
      if (end) return ended(env, claimed, end)
      continue
    }
    const runner = env.runners.get(task.task)
    if (!runner) return deferUnknownRunner(env, workflowID, task)

    const startedAt = env.now()
    const attempted = attemptTask(env, runner, task, tasks, abort)
    // An attempt that ended without a promise (a synchronous Execute) is not awaited: one promise less per task.
    const outcome = attempted instanceof Promise ? await attempted : attempted
    // A task that failed because we interrupted it (stop, cancel, lost lease) did not fail on its own: no attempt is counted.
    if (outcome.kind === "failed" && abort.aborted) return { kind: "interrupted" }
    const { write, end } = planWrite(task, outcome, {
      token: env.token,
      now: env.now(),
      isLast,
      retry: runner.retry ?? env.defaultRetry,
      retryDelayMS: env.retryDelayMS,
    })
    if (write.kind !== "markCrash" && write.task) {
      stampAttempt(write.task, task, startedAt, env.runnerID, interrupted)
      interrupted = undefined
    }
    if (!(await env.commit(write))) return { kind: "fenced" }
    if (write.kind !== "markCrash" && write.task) {
      Object.assign(task, write.task)
      task.endedAt = write.now
    }
    reportOutcome(env, workflowID, task, outcome, end)
    if (end) return ended(env, claimed, end)
  }
  // Every task had ended before this claim (an earlier life wrote the last task
  // but not the workflow; cannot happen with an atomic provider, but is cheap to heal).
  const healed = await env.commit({ kind: "endWorkflow", workflowID, token: env.token, now: env.now(), counts: PROGRESS, status: "completed" })
  return healed ? { kind: "ended", status: "completed" } : { kind: "fenced" }
}

/** Tells the runner that a child has ended here, so its parent, woken by the same write, is claimed without waiting for a poll. */
function ended(env: ExecutionEnvironment, claimed: WorkflowWithTasks, end: ExecutionEnd): ExecutionEnd {
  if (end.kind === "ended" && claimed.workflow.parentID) env.childEnded?.()
  return end
}

/**
 * Adds the attempt to a task change (`attempt-history`): its start and runner
 * always (stored in the task row by the same write), and the history only when
 * an earlier attempt ended or one was interrupted (rare, so most writes carry
 * no JSON). Providers without the capability ignore the fields.
 *
 * @internal
 */
export function stampAttempt(change: TaskChange, task: TaskRow, startedAt: number, runnerID: string, interrupted: InterruptedAttempt | undefined): void {
  change.startedAt = startedAt
  change.runnerID = runnerID
  const history = historyForNextAttempt(task, interrupted)
  if (history !== undefined) change.history = history
}

/**
 * Leaves the workflow pending, unleased, claimable again after the runner's
 * retry delay (a step that cannot go on now: a runner missing here, storage
 * failing under a child or an event wait).
 */
export async function retryAfterDelay(env: ExecutionEnvironment, workflowID: string): Promise<ExecutionEnd> {
  const at = env.now() + env.retryDelayMS
  const applied = await env.commit({ kind: "parkUntil", workflowID, token: env.token, now: env.now(), counts: PROGRESS, availableAt: at })
  return applied ? { kind: "retryAt", at } : { kind: "fenced" }
}

async function deferUnknownRunner(env: ExecutionEnvironment, workflowID: string, task: TaskRow): Promise<ExecutionEnd> {
  env.logger.error?.(`task "${task.name}" names runner "${task.task}", which this process does not have; leaving it pending for a runner that has it`, {
    workflowID,
    seq: task.seq,
    task: task.task,
  })
  return retryAfterDelay(env, workflowID)
}

/**
 * Runs one attempt of `task` (Prepare, Execute, its timeout) and says what it came to; writes nothing.
 * Not async: when Execute returns without a promise (and there is no Prepare or timeout), the outcome
 * is returned as it is, without an async function's frame and promises for each attempt.
 */
export function attemptTask(
  env: ExecutionEnvironment,
  runner: TaskRunner,
  task: TaskRow,
  tasks: readonly TaskRow[],
  abort: { readonly signal: AbortSignal },
): Outcome | Promise<Outcome> {
  const timeout = runner.timeoutMS === undefined ? undefined : new AbortController()
  const context = new TaskContext(env, task, tasks, fromJSONText(task.data), new AttemptSignal(abort, timeout), undefined)
  if (env.listening("taskStarted")) {
    env.emit("taskStarted", { workflowID: task.workflowID, seq: task.seq, name: task.name, task: task.task, attempt: task.attempts })
  }
  if (timeout) return outcomeWhenSettled(env, task, withTimeout(runner.timeoutMS, timeout, () => run(env, runner, task, context)))
  try {
    const returned = run(env, runner, task, context)
    // A thenable is awaited, as `await` would; anything else is the result itself.
    if (typeof (returned as { then?: unknown } | null | undefined)?.then === "function") return outcomeWhenSettled(env, task, returned)
    return toOutcome(env, task, returned as TaskExecutionResult | undefined)
  } catch (error) {
    return thrownOutcome(error)
  }
}

/** The outcome of an attempt whose Execute (or Prepare, or timeout) returned a promise. */
async function outcomeWhenSettled(env: ExecutionEnvironment, task: TaskRow, returned: ReturnType<TaskRunner["Execute"]>): Promise<Outcome> {
  try {
    return toOutcome(env, task, await returned)
  } catch (error) {
    return thrownOutcome(error)
  }
}

/** The outcome of an attempt that threw `error`. */
function thrownOutcome(error: unknown): Outcome {
  if (error instanceof ExpectedError && (error.abort === "task" || error.abort === "workflow")) {
    return { kind: "aborted", scope: error.abort, error: error.message }
  }
  return { kind: "failed", error: errorMessage(error), retry: true }
}

/**
 * Runs the task's Prepare (the first time in this workflow here) and its Execute. Not async
 * without Prepare: what Execute returns (or throws) reaches attemptTask as it is.
 */
function run(env: ExecutionEnvironment, runner: TaskRunner, task: TaskRow, context: TaskContext): ReturnType<TaskRunner["Execute"]> {
  return runner.Prepare ? prepareAndExecute(env, runner, task, context) : runner.Execute(context)
}

/** Prepare (once per workflow and runner in this process), then Execute with what it prepared. */
async function prepareAndExecute(env: ExecutionEnvironment, runner: TaskRunner, task: TaskRow, context: TaskContext): Promise<TaskExecutionResult> {
  const prepared = env.preparedFor(task.workflowID)
  if (!prepared.has(runner.Name)) prepared.set(runner.Name, await runner.Prepare?.(context as TaskContext<unknown, undefined>))
  return runner.Execute(context.withPreparedData(prepared.get(runner.Name)))
}

/**
 * Runs `fn`, failing (and firing the task's signal) after `timeoutMS`. The task itself is not killed.
 *
 * Once the time is up the attempt has failed, whatever `fn` does next: a task whose signal listener settles
 * its promise (firing the signal runs listeners at once) still fails with the timeout, and its result is
 * discarded; one that rejects on the signal fails with the timeout, not its own error. A result that
 * arrived before the time was up wins: the timer cannot fire between the race settling and its check.
 */
async function withTimeout<T>(timeoutMS: number | undefined, controller: AbortController | undefined, fn: () => T | Promise<T>): Promise<T> {
  if (timeoutMS === undefined || !controller) return fn()
  let timer: NodeJS.Timeout | undefined
  let timedOut: Error | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`timed out after ${timeoutMS} ms`)
      error.name = "TimeoutError"
      timedOut = error
      reject(error)
      controller.abort(error)
    }, timeoutMS)
  })
  let value: T
  try {
    value = await Promise.race([fn(), expired])
  } catch (error) {
    // A task that rejects on its signal (an AbortError) failed by the timeout too.
    throw timedOut ?? error
  } finally {
    clearTimeout(timer)
  }
  if (timedOut) throw timedOut
  return value
}

function toOutcome(env: ExecutionEnvironment, task: TaskRow, returned: TaskExecutionResult | undefined): Outcome {
  if (returned === undefined || returned === null) return { kind: "completed", result: "null" }
  if (typeof returned !== "object") {
    return { kind: "failed", error: `Execute must return { data?, abort? } or nothing, got ${typeof returned}`, retry: true }
  }
  if (returned.abort !== undefined) {
    if (returned.abort === "task" || returned.abort === "workflow") {
      return { kind: "aborted", scope: returned.abort, error: `aborted (${returned.abort}) by the task's result` }
    }
    return { kind: "failed", error: `unknown abort value ${JSON.stringify(returned.abort)}: use "task" or "workflow"`, retry: true }
  }
  try {
    return { kind: "completed", result: toJSONText(returned.data, `result of task "${task.name}"`, env.maxPayloadBytes) }
  } catch (error) {
    if (error instanceof SerializationError) return { kind: "failed", error: errorMessage(error), retry: false }
    throw error
  }
}

/** Logs and emits the events of a task's recorded outcome. */
export function reportOutcome(env: ExecutionEnvironment, workflowID: string, task: TaskRow, outcome: Outcome, end: ExecutionEnd | undefined): void {
  // The log fields are made only for the outcomes that log (a completed task, the common one, does not).
  switch (outcome.kind) {
    case "completed":
      if (env.listening("taskCompleted")) {
        env.emit("taskCompleted", { workflowID, seq: task.seq, name: task.name, task: task.task, result: fromJSONText(outcome.result) })
      }
      break
    case "aborted":
      env.logger.info?.(`task "${task.name}" aborted the ${outcome.scope}: ${outcome.error}`, logFields(workflowID, task))
      env.emit("taskFailed", { workflowID, seq: task.seq, name: task.name, task: task.task, error: outcome.error, retrying: false })
      break
    case "failed": {
      const fields = logFields(workflowID, task)
      env.logger.error?.(`task "${task.name}" failed: ${outcome.error}`, fields)
      if (end?.kind === "retryAt") {
        const delayMS = Math.max(0, end.at - env.now())
        env.logger.warn?.(`retrying task "${task.name}" in ${Math.round(delayMS)} ms (attempt ${task.attempts})`, fields)
      }
      env.emit("taskFailed", {
        workflowID,
        seq: task.seq,
        name: task.name,
        task: task.task,
        error: task.error ?? outcome.error,
        retrying: end?.kind === "retryAt",
      })
      break
    }
  }
}

/** The fields of a task's log lines. */
function logFields(workflowID: string, task: TaskRow): Record<string, unknown> {
  return { workflowID, seq: task.seq, name: task.name, task: task.task, attempts: task.attempts }
}
