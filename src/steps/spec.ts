/**
 * The shapes of the step kinds beyond a task, as users write them in
 * `tasks` (validated in validate.ts, run by their modules here).
 *
 * @module
 */

/**
 * A duration: milliseconds, or a number with a unit: `"500ms"`, `"90s"`,
 * `"15m"`, `"1h"`, `"2d"`.
 */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`

/**
 * A step that sleeps: for a duration counted from when the step is reached
 * (`{ sleep: "1h" }`), or until a point in time (`{ sleepUntil }`: a `Date`,
 * an ISO 8601 string or epoch ms; a time in the past wakes at once). The
 * wake time is stored when the step is reached and kept across restarts;
 * while it sleeps the workflow holds no lease and no concurrency slot. Its
 * result is `{ sleptUntil }` (an ISO 8601 string). Needs a provider with the
 * `waits` capability (every provider of this library has it).
 */
export type SleepStep =
  | { sleep: Duration; sleepUntil?: never; task?: never; data?: never }
  | { sleepUntil: Date | string | number; sleep?: never; task?: never; data?: never }

/**
 * A step that adds a child workflow and waits for its end, holding no lease
 * and no slot meanwhile: `{ workflow: { tasks, workflowID?, onFailure? } }`.
 * `tasks` takes the same steps as `addWorkflow` (tasks, sleeps, children).
 * The child's ID is `workflowID`, or `${parentID}/${label}`, so a re-run or a
 * recovery never adds two. Its result is the child's `{ id, status, results:
 * { label: result } }`; a child that fails or is cancelled fails the parent,
 * unless `onFailure: "continue"`, which makes that the result instead.
 * Cancelling the parent cancels the child. Needs a provider with the
 * `children` capability (every provider of this library has it).
 *
 * @typeParam S - the steps the child may have (a typed runner's {@link StepSpec})
 */
export interface ChildWorkflowStep<S> {
  workflow: {
    /** The child's steps, in either form of `addWorkflow`'s `tasks`. */
    tasks: Record<string, S> | ReadonlyArray<S & { name: string }>
    /** The child's ID; default `${parentID}/${label}`. */
    workflowID?: string
    /** `"continue"`: a failed or cancelled child does not fail the parent; the step's result says how it ended. */
    onFailure?: "continue"
  }
  task?: never
  data?: never
  sleep?: never
  sleepUntil?: never
  waitForEvent?: never
  parallel?: never
}

/**
 * A step that waits for an event (see `sendEvent`): the earliest event with
 * this `name` and `key` sent after the workflow was added that this
 * workflow has not taken yet. Its result is `{ name, key, payload, eventID,
 * sentAt }`; after `timeoutMS` without one (counted from when the step is
 * reached), `{ timedOut: true }` with `onTimeout: "continue"` (the default),
 * or the workflow fails with `onTimeout: "fail"`. While it waits the workflow
 * holds no lease and no concurrency slot. Needs a provider with the `events`
 * capability (every provider of this library has it).
 */
export interface WaitForEventStep {
  waitForEvent: {
    /** The event's name. */
    name: string
    /** The event's key (an order ID, a user ID): only events sent with this key match. Omit for events sent without a key. */
    key?: string
    /** How long to wait once the step is reached: ms or a duration string (`"15m"`). Default: no timeout. */
    timeoutMS?: Duration
    /** What a timeout does: `"continue"` (default: the result is `{ timedOut: true }`) or `"fail"` (fails the workflow). */
    onTimeout?: "continue" | "fail"
  }
  task?: never
  data?: never
  sleep?: never
  sleepUntil?: never
  workflow?: never
  parallel?: never
}

/** What a child workflow step's result is: the child's ID, how it ended, and the results of its completed steps by label. */
export interface ChildWorkflowResult {
  id: string
  status: "completed" | "failed" | "cancelled"
  results: Record<string, unknown>
}

/**
 * A step that runs its members at once and goes on when all have ended:
 * `{ parallel: { a: step, b: step, … } }`. Members are tasks, sleeps and
 * child workflows (not parallel steps); their labels are labels of the
 * workflow (unique with its other steps), so `ctx.getTaskResult("a")` reads
 * a member. Each member keeps its own attempts and result, and after a crash
 * only the unfinished ones run again. The step's result is `{ a: result, … }`
 * (members that completed). A member that aborts or fails the workflow fires
 * the other members' signals. Members run within the workflow's one
 * execution (one concurrency slot); to spread them over machines, make them
 * child workflows. Needs the `waits` capability (children: `children` too).
 *
 * @typeParam S - the steps a member may be (a typed runner's steps, without parallel ones)
 */
export interface ParallelStep<S> {
  parallel: Record<string, S>
  task?: never
  data?: never
  sleep?: never
  sleepUntil?: never
  workflow?: never
  waitForEvent?: never
}

/** The result of a `waitForEvent` step that took an event. */
export interface ReceivedEvent<Payload = unknown> {
  name: string
  /** `null` for an event sent without a key. */
  key: string | null
  payload: Payload
  eventID: string
  /** When it was sent (ISO 8601). */
  sentAt: string
}

/** The result of a `waitForEvent` step: the event it took, or `{ timedOut: true }`. */
export type WaitForEventResult<Payload = unknown> = ReceivedEvent<Payload> | { timedOut: true }

/** Input of `sendEvent`. */
export interface SendEventInput {
  /** The event's name (what `waitForEvent` steps name). */
  name: string
  /** Only steps waiting with this key match; omit for none. */
  key?: string
  /** Any JSON value (default `null`); at most `maxPayloadBytes`. */
  payload?: unknown
  /** Makes sending idempotent: a second send with the same ID stores and wakes nothing. Default: a random UUID. */
  eventID?: string
}

/** What `sendEvent` returns. */
export interface SentEvent {
  eventID: string
  /** When the stored event was sent (for a repeated `eventID`, the first send's time). */
  sentAt: Date
  /** `false` when an event with this `eventID` was stored already (this send changed nothing). */
  created: boolean
  /** The event's place in the store's order. */
  seq: number
  /** How many waiting workflows this send woke (made claimable now); 0 for a repeated `eventID`. */
  woken: number
}

/** An event as `listEvents` shows it. */
export interface EventInfo {
  seq: number
  name: string
  /** `null` for an event sent without a key. */
  key: string | null
  payload: unknown
  eventID: string
  sentAt: Date
}
