/**
 * The typed input of `addWorkflow` (its steps, checked against the task
 * runners a WorkflowRunner or a typed WorkflowClient knows) and the handle it
 * returns.
 *
 * @module
 */
import type { WorkflowInfo } from "./info.js"
import type { TaskRunner } from "./task.js"
import type { ChildWorkflowStep, ParallelStep, SleepStep, WaitForEventStep } from "./steps/spec.js"

/** The loosest TaskRunner type: every typed runner is one. */
export type AnyTaskRunner = TaskRunner<unknown, unknown, string, unknown>

/** A task entry of `addWorkflow`, typed by the runners a WorkflowRunner (or a typed WorkflowClient) knows. */
export type TaskSpec<R extends AnyTaskRunner> = R extends TaskRunner<infer In, unknown, infer N, unknown>
  ? { task: N } & (undefined extends In ? { data?: In } : { data: In })
  : never

/** A task entry of the array form of `tasks`: a {@link TaskSpec} with its label as `name`. */
export type NamedTaskSpec<R extends AnyTaskRunner> = TaskSpec<R> & {
  /** The task's label; unique within the workflow. */
  name: string
}

/**
 * A step of `tasks`: a task of a known runner, a {@link SleepStep}, a
 * {@link WaitForEventStep}, a {@link ChildWorkflowStep} (whose steps are
 * typed the same way), or a {@link ParallelStep} of such steps.
 */
export type StepSpec<R extends AnyTaskRunner> = MemberSpec<R> | ParallelStep<MemberSpec<R>>

/**
 * A step that may be a member of a {@link ParallelStep}: a task, a sleep, a
 * wait for an event, or a child workflow (one parallel step does not have
 * both of the last two yet: validation refuses it).
 */
export type MemberSpec<R extends AnyTaskRunner> = TaskSpec<R> | SleepStep | WaitForEventStep | ChildWorkflowStep<StepSpec<R>>

/** A step of the array form of `tasks`: a {@link StepSpec} with its label as `name`. */
export type NamedStepSpec<R extends AnyTaskRunner> = StepSpec<R> & {
  /** The step's label; unique within the workflow. */
  name: string
}

/** Input of `addWorkflow`. */
export interface WorkflowInput<R extends AnyTaskRunner = AnyTaskRunner> {
  /** Unique ID; a random UUID when omitted. Adding an existing ID changes nothing. */
  workflowID?: string
  /**
   * The steps, run in the order given: tasks, and sleeps ({@link SleepStep}).
   * Either an object whose keys are the labels (`{ charge: { task, data },
   * wait: { sleep: "1h" } }`), or an array of entries with their label as
   * `name` (`[{ name: "charge", task, data }, { name: "wait", sleep: "1h" }]`).
   * Integer-like labels (`"1"`, `"10"`) are refused in the object form,
   * because JavaScript orders such keys numerically whatever order they were
   * written in: use the array form for them.
   */
  tasks: Record<string, StepSpec<R>> | ReadonlyArray<NamedStepSpec<R>>
  /**
   * Delayed start: the workflow is stored now and runs from this time on
   * (a `Date`, an ISO 8601 string or epoch milliseconds), holding no lease
   * and no concurrency slot meanwhile. A time in the past runs at once. Not
   * with `delayMS`.
   */
  startAt?: Date | string | number
  /** Delayed start: the workflow runs this many milliseconds from now (see `startAt`). Not with `startAt`. */
  delayMS?: number
}

/** What `addWorkflow` returns once the workflow is durably stored. */
export interface WorkflowHandle {
  /** The workflow's ID. */
  readonly id: string
  /** `true` if this call created it, `false` if a workflow with this ID existed (it was left unchanged). */
  readonly created: boolean
  /** Waits until the workflow has ended (completed, failed or cancelled), wherever it runs, and returns it. */
  result(): Promise<WorkflowInfo>
}
