/**
 * The waitForEvent step: `{ waitForEvent: { name, key?, timeoutMS?, onTimeout? } }`.
 *
 * When the execution reaches it, the step asks the store for the earliest
 * event it may take (same name and key, sent after its workflow was added,
 * not taken by this workflow yet). With one, it records it as the step's
 * result (storing which event it took). Without one, it parks the workflow
 * (no lease, no slot) until its deadline; the park is serialized with
 * `sendEvent` for the step's (name, key) in the store, so an event sent
 * meanwhile is either seen by the park (which then does not park, and the
 * step takes it) or wakes the parked workflow. The decisions are the
 * engine's (`planEventWait`); this module reads and runs the plan.
 */
import { planEventWait, planWrite, PROGRESS, type ExecutionEnd } from "../engine.js"
import { fromJSONText } from "../json.js"
import { errorMessage } from "../logger.js"
import type { TaskRow } from "../storage/provider.js"
import { retryAfterDelay, type ExecutionEnvironment } from "../runtime/execution.js"
import type { EventStore } from "../storage/event-store.js"
import { readStoredWaitForEvent } from "../validate-events.js"

/** How often one execution goes round "no event, park: an event arrived" before leaving it to a later claim. */
const MAX_ROUNDS = 5

/**
 * What a reached waitForEvent step (or parallel member) `row` needs: the
 * provider's events and its stored definition; or why it cannot run here
 * (no events capability, a definition this code cannot read).
 */
export function readReachedWait(
  env: ExecutionEnvironment,
  row: TaskRow,
  where: string,
): { events: EventStore; wait: ReturnType<typeof readStoredWaitForEvent> } | { error: string } {
  try {
    if (!env.events) throw new Error(`${where} waits for an event, and the storage provider has no events capability`)
    return { events: env.events, wait: readStoredWaitForEvent(row.data, where) }
  } catch (error) {
    return { error: errorMessage(error) }
  }
}

/**
 * Runs a reached waitForEvent step: takes an event, times out, or parks the
 * workflow. Returns how the execution ends, or `undefined` to go on to the
 * next step.
 */
export async function runWaitForEventStep(env: ExecutionEnvironment, task: TaskRow, isLast: boolean): Promise<ExecutionEnd | undefined> {
  const where = `step "${task.name}" of workflow "${task.workflowID}"`
  const reached = readReachedWait(env, task, where)
  // A step no code here can run fails its workflow now, rather than crashing every runner that claims it.
  if ("error" in reached) return failStep(env, task, reached.error)
  const { events, wait } = reached
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const now = env.now()
    let plan: ReturnType<typeof planEventWait>
    try {
      const event = await events.findEvent({ workflowID: task.workflowID, seq: task.seq })
      plan = planEventWait(task, wait, event, { token: env.token, now, isLast })
      if (plan.kind === "park") {
        const parked = await events.parkForEvent({
          workflowID: task.workflowID,
          token: env.token,
          now,
          counts: PROGRESS,
          seq: task.seq,
          attempts: task.attempts,
          wakeAt: plan.wakeAt,
        })
        if (parked === "fenced") return { kind: "fenced" }
        if (parked === "eventArrived") continue
        task.wakeAt = plan.wakeAt
        env.logger.debug?.(`step "${task.name}" waits for event "${wait.name}"`, { workflowID: task.workflowID, seq: task.seq })
        return plan.end
      }
    } catch (error) {
      return retryLater(env, task, errorMessage(error))
    }
    if (!(await env.commit(plan.write))) return { kind: "fenced" }
    if (plan.write.task) Object.assign(task, plan.write.task)
    report(env, task, plan.timedOut)
    return plan.end
  }
  // Events keep arriving between the read and the park (cannot last: each round finds the one before): try again soon.
  return retryLater(env, task, "events kept arriving while the step parked")
}

function report(env: ExecutionEnvironment, task: TaskRow, timedOut: boolean): void {
  const fields = { workflowID: task.workflowID, seq: task.seq, name: task.name, task: task.task }
  if (task.status === "completed") {
    if (env.listening("taskCompleted")) env.emit("taskCompleted", { ...fields, result: fromJSONText(task.result) })
  } else {
    env.logger.info?.(`step "${task.name}" failed the workflow: ${task.error ?? ""}`, { workflowID: task.workflowID, seq: task.seq, timedOut })
    env.emit("taskFailed", { ...fields, error: task.error ?? "", retrying: false })
  }
}

/** The store could not be read or written: the workflow is parked for a retry delay and the step runs again then. */
async function retryLater(env: ExecutionEnvironment, task: TaskRow, error: string): Promise<ExecutionEnd> {
  env.logger.warn?.(`step "${task.name}" could not wait for its event (${error}); trying again in ${env.retryDelayMS} ms`, {
    workflowID: task.workflowID,
    seq: task.seq,
  })
  return retryAfterDelay(env, task.workflowID)
}

async function failStep(env: ExecutionEnvironment, task: TaskRow, error: string): Promise<ExecutionEnd> {
  env.logger.error?.(error, { workflowID: task.workflowID, seq: task.seq })
  const { write, end } = planWrite(task, { kind: "failed", error, retry: false }, {
    token: env.token,
    now: env.now(),
    isLast: false,
    retry: undefined,
    retryDelayMS: 0,
  })
  if (!(await env.commit(write))) return { kind: "fenced" }
  return end ?? { kind: "interrupted" }
}
