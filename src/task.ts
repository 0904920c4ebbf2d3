/**
 * What a user writes: task runners, the context they receive, and the results
 * and errors they return.
 *
 * @module
 */
import type { SendEventInput, SentEvent, SleepStep, WaitForEventStep } from "./steps/spec.js"

/** How a task ends its workflow early: `"task"` skips just this task, `"workflow"` fails the workflow. */
export type AbortScope = "task" | "workflow"

/** What `Execute` returns. `data` is stored as the task's result. */
export interface TaskExecutionResult<Out = unknown> {
  /** The task's result: stored as JSON and readable by later tasks. */
  data?: Out
  /** Abort just this task (the workflow goes on) or the whole workflow. No retry either way. */
  abort?: AbortScope
}

/**
 * A failure the task expected: it is not retried and is never logged at `error`.
 * With `abort = "task"` (the default) the workflow goes on with its next task;
 * with `"workflow"` the workflow fails. Any other `abort` value is treated as an
 * unexpected error and retried.
 */
export class ExpectedError extends Error {
  override name = "ExpectedError"
  /** What the error aborts. */
  readonly abort: AbortScope

  constructor(message: string, abort: AbortScope = "task") {
    super(message)
    this.abort = abort
  }
}

/** How to retry a task that threw an unexpected error. */
export interface RetryPolicy {
  /**
   * `"fixed"` (default): wait `delayMS` between attempts, as the original
   * durabletasks did. `"exponential"`: `delayMS * 2^attempt`, capped at
   * `maxDelayMS`, with full jitter.
   */
  backoff?: "fixed" | "exponential"
  /** Base delay; defaults to the runner's `retryDelayMS`. */
  delayMS?: number
  /** Cap for exponential backoff. Default 5 minutes. */
  maxDelayMS?: number
  /**
   * After this many failed attempts the task fails and so does its workflow.
   * Default: unlimited (retried until it succeeds).
   */
  maxAttempts?: number
}

/** Input of a spawned workflow, as `addWorkflow` takes it (untyped). */
export interface SpawnWorkflowInput {
  workflowID?: string
  /** `{ label: { task, data } }`, or `[{ name, task, data }]`, with sleeps among them if needed (see `WorkflowInput.tasks`). */
  tasks:
    | Record<string, { task: string; data?: unknown } | SleepStep | WaitForEventStep>
    | ReadonlyArray<({ task: string; data?: unknown } | SleepStep | WaitForEventStep) & { name: string }>
  /** Delayed start (see `WorkflowInput.startAt`). */
  startAt?: Date | string | number
  /** Delayed start (see `WorkflowInput.delayMS`). */
  delayMS?: number
}

/** What a spawn returns: the ID, and whether this call created it. */
export interface SpawnedWorkflow {
  id: string
  created: boolean
}

/** What a task's `Prepare` and `Execute` receive. */
export interface TaskExecutionContext<In = unknown, Prepared = unknown> {
  /** ID of the workflow this task belongs to. */
  readonly workflowID: string
  /** Position of the task in its workflow, from 0. */
  readonly seq: number
  /** The task's label: its key in `addWorkflow({ tasks })`, or its `name` in the array form. */
  readonly name: string
  /** The task's input, as stored (JSON). */
  readonly data: In
  /** Failed attempts before this one: 0 on the first try. Survives restarts. */
  readonly attempt: number
  /** What this runner's `Prepare` returned for this workflow in this process (undefined in `Prepare`). */
  readonly preparedData: Prepared | undefined
  /** `${workflowID}:${seq}`: stable across retries and restarts; pass it to side effects that dedupe. */
  readonly idempotencyKey: string
  /** Fired when the task should stop: workflow cancelled, timeout, lease lost, or runner stopping. */
  readonly signal: AbortSignal
  /**
   * The stored result of an earlier task of this workflow, by seq or label.
   * Returns `undefined` if that task has no result (aborted, or not earlier).
   */
  getTaskResult(seqOrName: number | string): unknown
  /**
   * Adds a workflow. Use a deterministic ID (`${ctx.workflowID}-child`) so a
   * retried task does not spawn twice.
   */
  addWorkflow(input: SpawnWorkflowInput): Promise<SpawnedWorkflow>
  /**
   * Sends an event (see `WorkflowClient.sendEvent`). Give an `eventID`
   * derived from `idempotencyKey` so a retried task does not send twice.
   */
  sendEvent(input: SendEventInput): Promise<SentEvent>
}

/**
 * A named piece of work a workflow's tasks refer to.
 *
 * @typeParam In - the type of the task's `data`
 * @typeParam Out - the type of the result's `data`
 * @typeParam N - the runner's name (a literal type with {@link defineTask})
 */
export interface TaskRunner<In = unknown, Out = unknown, N extends string = string, Prepared = unknown> {
  /** The name tasks use in `task: "..."`. Unique within a WorkflowRunner. */
  readonly Name: N
  /** Runs the task. At least once: make it idempotent. */
  Execute(ctx: TaskExecutionContext<In, Prepared>): Promise<TaskExecutionResult<Out>> | TaskExecutionResult<Out>
  /**
   * Runs before this runner's first `Execute` in a workflow (in this process);
   * its result reaches every later task of this runner in that workflow as
   * `ctx.preparedData`. Runs again after recovery.
   */
  Prepare?(ctx: TaskExecutionContext<In, undefined>): Promise<Prepared> | Prepared
  /** Retry policy for this runner; defaults to the WorkflowRunner's. */
  readonly retry?: RetryPolicy
  /** Abort and retry an attempt that runs longer than this. Default: no timeout. */
  readonly timeoutMS?: number
}

/**
 * Declares a task runner with typed input and output, so that `addWorkflow`
 * checks each task's `data` at compile time.
 *
 * @example
 * const sendEmail = defineTask<{ to: string }, { messageID: string }>()({
 *   Name: "SendEmail",
 *   Execute: async (ctx) => ({ data: { messageID: await send(ctx.data.to) } }),
 * })
 */
export function defineTask<In, Out = unknown>() {
  return <const N extends string, Prepared = undefined>(
    runner: TaskRunner<In, Out, N, Prepared>,
  ): TaskRunner<In, Out, N, Prepared> => runner
}
