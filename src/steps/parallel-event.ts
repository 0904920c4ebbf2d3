/**
 * A waitForEvent member of a parallel step:
 * `{ parallel: { paid: { waitForEvent: { name, key?, timeoutMS?, onTimeout? } }, … } }`.
 *
 * Decided as the standalone step (the engine's `planEventWait`): it takes
 * the earliest event it may take, or times out (`{ timedOut: true }`, or
 * `onTimeout: "fail"` fails the workflow like a failing member), or waits.
 * A waiting member stores its deadline as its `wakeAt` the first time it is
 * reached (kept across restarts), and the parallel step parks through the
 * event store's `parkForEvents`, which re-checks every waiting member for an
 * event under the locks its `sendEvent`s take (no lost wake-up).
 *
 * The event members of one execution look up and take their events one
 * after the other ({@link serialTurns}), so two members waiting for the same
 * name and key take two different events.
 *
 * @module
 */
import { NO_TIMEOUT, planEventWait } from "../engine.js"
import { fromJSONText } from "../json.js"
import type { TaskChange, TaskRow } from "../storage/provider.js"
import type { ExecutionEnvironment } from "../runtime/execution.js"
import type { EventStore } from "../storage/event-store.js"
import { readStoredWaitForEvent } from "../validate-events.js"
import { readReachedWait } from "./wait-for-event.js"

/** How a waitForEvent member settled in this execution. */
export type EventMemberEnd =
  | { kind: "done" }
  /** Waits until `wakeAt` (its deadline) or an event: `event` marks it for the park. */
  | { kind: "waiting"; wakeAt: number; event: true }
  | { kind: "failsWorkflow"; error: string }
  | { kind: "fenced" }

/** Runs functions one at a time, in the order they were given. */
export type Turns = <T>(fn: () => Promise<T>) => Promise<T>

/** A fresh {@link Turns}: one per execution of a parallel step. */
export function serialTurns(): Turns {
  let last: Promise<unknown> = Promise.resolve()
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const next = last.then(fn, fn)
    last = next.catch(() => {})
    return next
  }
}

/** What the parallel step lends a member: its fenced write, how it fails a member (ending as `F`), and how it holds on while others run. */
export interface MemberWrites<F> {
  write(change: TaskChange): Promise<boolean>
  fail(error: string): Promise<F>
  /**
   * Waits `ms` while the step's other members still run; `false` as soon as
   * they have all settled (or the members are stopped): the member then
   * waits with the park.
   */
  hold(ms: number): Promise<boolean>
}

/**
 * Runs one reached waitForEvent member: takes an event, times out, or waits.
 * While other members still run, a member with a deadline holds on until
 * it, then looks again (so a timeout acts on time, and "fail" stops the
 * others).
 */
export async function runEventMember<F>(env: ExecutionEnvironment, member: TaskRow, turns: Turns, w: MemberWrites<F>): Promise<EventMemberEnd | F> {
  const where = `member "${member.name}" of workflow "${member.workflowID}"`
  const reached = readReachedWait(env, member, where)
  if ("error" in reached) return w.fail(reached.error)
  const { events, wait } = reached
  for (;;) {
    const end = await takeOrWait(env, member, wait, events, turns, w.write, where)
    if (end.kind === "broken") return w.fail(end.error)
    if (end.kind !== "waiting" || end.wakeAt >= NO_TIMEOUT) return end
    if (!(await w.hold(Math.max(0, end.wakeAt - env.now())))) return end
  }
}

/** One look: takes an event, times out, or stores the deadline and waits; `broken` if the plan has no change to record. */
async function takeOrWait(
  env: ExecutionEnvironment,
  member: TaskRow,
  wait: ReturnType<typeof readStoredWaitForEvent>,
  events: EventStore,
  turns: Turns,
  write: (change: TaskChange) => Promise<boolean>,
  where: string,
): Promise<EventMemberEnd | { kind: "broken"; error: string }> {
  return turns(async (): Promise<EventMemberEnd | { kind: "broken"; error: string }> => {
    const event = await events.findEvent({ workflowID: member.workflowID, seq: member.seq })
    const plan = planEventWait(member, wait, event, { token: env.token, now: env.now(), isLast: false })
    if (plan.kind === "park") {
      // Stored the first time it is reached (or anew when retryWorkflow resumed it), so a recovery keeps the deadline.
      if (member.wakeAt !== plan.wakeAt || member.error !== null) {
        const change: TaskChange = { seq: member.seq, status: "pending", result: null, error: null, attempts: member.attempts, wakeAt: plan.wakeAt }
        if (!(await write(change))) return { kind: "fenced" }
      }
      return { kind: "waiting", wakeAt: plan.wakeAt, event: true }
    }
    const change = plan.write.task
    if (!change) return { kind: "broken", error: `${where}: internal error, no change to record` }
    if (!(await write(change))) return { kind: "fenced" }
    const fields = { workflowID: member.workflowID, seq: member.seq, name: member.name, task: "" }
    if (change.status === "completed") {
      if (env.listening("taskCompleted")) env.emit("taskCompleted", { ...fields, result: fromJSONText(change.result) })
      return { kind: "done" }
    }
    env.emit("taskFailed", { ...fields, error: change.error ?? "", retrying: false })
    return { kind: "failsWorkflow", error: `member "${member.name}": ${change.error ?? ""}` }
  })
}
