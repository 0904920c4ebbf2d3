/**
 * The context a task's `Prepare` and `Execute` receive in one attempt
 * (`TaskExecutionContext`).
 *
 * A class, not an object literal made for each attempt: a literal with a
 * getter (`get signal()`) gets a new getter function each time, which V8
 * cannot share between objects, so every context became a dictionary-mode
 * object; with its three method closures that was most of an attempt's
 * allocation (about 2 KB, measured with a sampling heap profile of a
 * burn-down on Postgres). Here the signal and the methods live on the
 * prototype, and an attempt that uses none of them makes nothing for them.
 */
import { fromJSONText } from "../json.js"
import type { SendEventInput, SentEvent } from "../steps/spec.js"
import type { TaskRow } from "../storage/provider.js"
import type { SpawnWorkflowInput, SpawnedWorkflow, TaskExecutionContext } from "../task.js"

/** What the context's methods use of the runner. */
export interface ContextServices {
  addWorkflow(input: SpawnWorkflowInput): Promise<SpawnedWorkflow>
  sendEvent(input: SendEventInput): Promise<SentEvent>
}

/**
 * The abort signal of one attempt, shared by its `Prepare` and `Execute`
 * contexts. Made only if the task reads it (the workflow's own signal is
 * lazy too, see lazy-abort.ts), and once: every read of `ctx.signal` must be
 * the same signal, or a listener removed through it stays on the one it was
 * added to.
 */
export class AttemptSignal {
  private made: AbortSignal | undefined

  /**
   * @param workflow - the execution's abort (cancel, lost lease, stop)
   * @param timeout - fired when the attempt times out; absent without `timeoutMS`
   */
  constructor(
    private readonly workflow: { readonly signal: AbortSignal },
    readonly timeout: AbortController | undefined,
  ) {}

  /** The attempt's signal: the workflow's, or it and the timeout's together. */
  get signal(): AbortSignal {
    return (this.made ??= this.timeout ? AbortSignal.any([this.workflow.signal, this.timeout.signal]) : this.workflow.signal)
  }
}

/** A task's context in one attempt; see the module's description. */
export class TaskContext<In = unknown, Prepared = unknown> implements TaskExecutionContext<In, Prepared> {
  readonly workflowID: string
  readonly seq: number
  readonly name: string
  readonly data: In
  readonly attempt: number
  readonly preparedData: Prepared | undefined
  readonly idempotencyKey: string
  // Private (#) so that a task sees the same own fields as before: only those above.
  readonly #services: ContextServices
  readonly #task: TaskRow
  readonly #tasks: readonly TaskRow[]
  readonly #signal: AttemptSignal
  // The methods as read off the context: see the getters below.
  #getTaskResult: ((seqOrName: number | string) => unknown) | undefined
  #addWorkflow: ((input: SpawnWorkflowInput) => Promise<SpawnedWorkflow>) | undefined
  #sendEvent: ((input: SendEventInput) => Promise<SentEvent>) | undefined

  /**
   * @param data - the task's input, parsed (`Prepare`'s and `Execute`'s contexts share it)
   * @param tasks - the workflow's steps, for `getTaskResult`
   */
  constructor(
    services: ContextServices,
    task: TaskRow,
    tasks: readonly TaskRow[],
    data: In,
    signal: AttemptSignal,
    preparedData: Prepared | undefined,
  ) {
    this.workflowID = task.workflowID
    this.seq = task.seq
    this.name = task.name
    this.data = data
    this.attempt = task.attempts
    this.preparedData = preparedData
    this.idempotencyKey = `${task.workflowID}:${task.seq}`
    this.#services = services
    this.#task = task
    this.#tasks = tasks
    this.#signal = signal
  }

  /** The same context with `Prepare`'s result: `Execute`'s, after `Prepare` (the same signal, made or not). */
  withPreparedData<P>(preparedData: P): TaskContext<In, P> {
    return new TaskContext(this.#services, this.#task, this.#tasks, this.data, this.#signal, preparedData)
  }

  get signal(): AbortSignal {
    return this.#signal.signal
  }

  // The methods are getters returning a function bound once, on first read: a task may take them off the
  // context (`const { getTaskResult } = ctx`) and call them detached, as it could the closures they replace.

  get getTaskResult(): (seqOrName: number | string) => unknown {
    return (this.#getTaskResult ??= (seqOrName) => this.#resultOf(seqOrName))
  }

  get addWorkflow(): (input: SpawnWorkflowInput) => Promise<SpawnedWorkflow> {
    return (this.#addWorkflow ??= (input) => this.#services.addWorkflow(input))
  }

  get sendEvent(): (input: SendEventInput) => Promise<SentEvent> {
    return (this.#sendEvent ??= (input) => this.#services.sendEvent(input))
  }

  #resultOf(seqOrName: number | string): unknown {
    const task = this.#task
    const earlier = this.#tasks.find((t) => (typeof seqOrName === "number" ? t.seq === seqOrName : t.name === seqOrName))
    return earlier && earlier.seq < task.seq && earlier.status === "completed" ? fromJSONText(earlier.result) : undefined
  }
}
