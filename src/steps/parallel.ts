/**
 * The parallel step: `{ parallel: { a: step, b: step, … } }`.
 *
 * Its members (stored as the rows after the step's own, see
 * parallel-spec.ts) run at once within the workflow's one execution: tasks
 * with their own attempts and retries, sleeps, waits for events
 * (parallel-event.ts), child workflows. Each
 * member's progress is its own fenced `recordTask`, so a recovery runs only
 * the members that had not ended. When every member has settled:
 * - a member failed the workflow (aborted it, gave up): the others' signals
 *   were fired at once; the workflow ends failed;
 * - some members wait (a sleep not yet due, a child still running): the
 *   workflow parks, with no lease and no slot, until the earliest wake time
 *   or a child's end, and the step runs again then (ended members are not
 *   run again);
 * - else the step records `{ label: result }` of its completed members and
 *   the workflow goes on.
 *
 * A new kind of waiting member (an event, say) adds a case to `runMember`
 * that returns `{ kind: "waiting", … }` with what wakes it, and a way to
 * wake the parked workflow then (`wakeAt`, or a provider write as children
 * have).
 */
import { ValidationError } from "../errors.js"
import { planMember, planWrite, PROGRESS, type ExecutionEnd, type Outcome } from "../engine.js"
import { fromJSONText, toJSONText } from "../json.js"
import { errorMessage } from "../logger.js"
import { NEVER, type TaskChange, type TaskRow } from "../storage/provider.js"
import { attemptTask, reportOutcome, stampAttempt, type ExecutionEnvironment } from "../runtime/execution.js"
import type { RetryPolicy } from "../task.js"
import { memberCount } from "./parallel-spec.js"
import { ChildGoneError, childAddedMark, startChild } from "./child.js"
import { wakeTimeOf } from "./sleep.js"
import { runEventMember, serialTurns, type Turns } from "./parallel-event.js"

/** How often one execution goes round "members wait, park: an event arrived" before leaving it to a later claim. */
const MAX_EVENT_ROUNDS = 5

/** How one member settled in this execution. */
type MemberEnd =
  | { kind: "done" }
  /** Waits for a time (`wakeAt`) or a child's end (`childID`); a member may wait for either. */
  | { kind: "waiting"; wakeAt?: number; childID?: string; event?: true }
  | { kind: "failsWorkflow"; error: string }
  /** Names a runner this process does not have: the workflow is left for a runner that has it. */
  | { kind: "unknownRunner"; task: string }
  | { kind: "interrupted" }
  | { kind: "fenced" }

/**
 * Runs a reached parallel step `group` with its member rows `members` (the
 * rows after it); `steps` are all the workflow's rows. Returns how the
 * execution ends, or `undefined` to go on after the members.
 */
export async function runParallelStep(
  env: ExecutionEnvironment,
  group: TaskRow,
  members: TaskRow[],
  steps: readonly TaskRow[],
  isLast: boolean,
  signal: AbortSignal,
  round = 0,
): Promise<ExecutionEnd | undefined> {
  const turns = serialTurns()
  // One controller for the members: a member that fails the workflow stops the others at once.
  const stopMembers = new AbortController()
  const memberSignal = AbortSignal.any([signal, stopMembers.signal])
  // Fired when every member but the event waits has settled: until then a waiting event member holds on to its deadline (a timeout acts on time).
  const othersSettled = new AbortController()
  let others = members.filter((m) => m.kind !== "waitForEvent").length
  if (others === 0) othersSettled.abort()
  const holdSignal = AbortSignal.any([memberSignal, othersSettled.signal])
  // Run again after retryWorkflow (the step had failed): its failed child members run again too, as their children may have been retried with it.
  const retried = group.status === "failed"
  const ends = await Promise.all(
    members.map(async (member): Promise<MemberEnd> => {
      if (member.status !== "pending" && !(retried && member.status === "failed" && member.kind === "workflow")) {
        if (member.kind !== "waitForEvent" && --others === 0) othersSettled.abort()
        return { kind: "done" }
      }
      let end: MemberEnd
      try {
        end = await runMember(env, member, steps, memberSignal, { turns, hold: (ms) => pause(ms, holdSignal) })
      } catch (error) {
        // A member's own failure to run (a storage error reaching a child) is tried again later, as a whole.
        env.logger.warn?.(`member "${member.name}" of step "${group.name}" could not run: ${errorMessage(error)}`, { workflowID: group.workflowID, seq: member.seq })
        end = { kind: "waiting", wakeAt: env.now() + env.retryDelayMS }
      } finally {
        if (member.kind !== "waitForEvent" && --others === 0) othersSettled.abort()
      }
      if (end.kind === "failsWorkflow") stopMembers.abort(new Error(`member "${member.name}" of step "${group.name}" failed the workflow`))
      return end
    }),
  )
  if (ends.some((e) => e.kind === "fenced")) return { kind: "fenced" }
  const failed = ends.find((e): e is Extract<MemberEnd, { kind: "failsWorkflow" }> => e.kind === "failsWorkflow")
  if (failed) return record(env, group, { kind: "aborted", scope: "workflow", error: failed.error }, isLast)
  if (ends.some((e) => e.kind === "interrupted") || signal.aborted) return { kind: "interrupted" }
  const waiting = ends.filter((e): e is Extract<MemberEnd, { kind: "waiting" }> => e.kind === "waiting")
  const childIDs = waiting.flatMap((w) => (w.childID ? [w.childID] : []))
  // Members that added their child: marked with the park (see childAddedMark).
  const marks = members.flatMap((m, i) => {
    const end = ends[i]
    const mark = end?.kind === "waiting" && end.childID !== undefined ? (m.status === "failed" ? pendingAgain(m) : childAddedMark(m)) : undefined
    return mark ? [mark] : []
  })
  const eventSeqs = members.flatMap((m, i) => (ends[i]?.kind === "waiting" && (ends[i] as { event?: true }).event ? [m.seq] : []))
  const unknown = ends.find((e): e is Extract<MemberEnd, { kind: "unknownRunner" }> => e.kind === "unknownRunner")
  let parked: ExecutionEnd | "eventArrived" | undefined
  if (unknown) parked = await park(env, group, env.now() + env.retryDelayMS, childIDs, marks, eventSeqs, `names runner "${unknown.task}", which this process does not have`)
  else if (waiting.length > 0) {
    const wakeAt = Math.min(NEVER, ...waiting.map((w) => w.wakeAt ?? NEVER))
    parked = await park(env, group, wakeAt, childIDs, marks, eventSeqs, "waits for its members")
  }
  if (parked === "eventArrived") {
    // An event a member may take was sent between its read and the park: run the step again (ended members are not run again).
    if (round + 1 < MAX_EVENT_ROUNDS) return runParallelStep(env, group, members, steps, isLast, signal, round + 1)
    parked = await park(env, group, env.now() + env.retryDelayMS, childIDs, marks, [], "had events keep arriving while it parked")
  }
  if (parked !== undefined) return parked as ExecutionEnd
  const results: Record<string, unknown> = {}
  for (const m of members) if (m.status === "completed") results[m.name] = fromJSONText(m.result)
  let outcome: Outcome
  try {
    outcome = { kind: "completed", result: toJSONText(results, `result of parallel step "${group.name}"`, env.maxPayloadBytes) }
  } catch (error) {
    outcome = { kind: "failed", error: errorMessage(error), retry: false }
  }
  return record(env, group, outcome, isLast)
}

/** Runs one member until it has ended, waits, or fails the workflow. */
async function runMember(
  env: ExecutionEnvironment,
  member: TaskRow,
  steps: readonly TaskRow[],
  signal: AbortSignal,
  events: { turns: Turns; hold: (ms: number) => Promise<boolean> },
): Promise<MemberEnd> {
  switch (member.kind) {
    case "waitForEvent":
      return runEventMember(env, member, events.turns, { write: (change) => write(env, member, change), fail: (error) => failMember(env, member, error), hold: events.hold })
    case "sleep": {
      const now = env.now()
      let wakeAt: number
      try {
        wakeAt = wakeTimeOf(member, now)
      } catch (error) {
        return failMember(env, member, errorMessage(error))
      }
      if (now < wakeAt) {
        // Stored the first time it is reached, so a recovery keeps the wake time.
        if (member.wakeAt !== wakeAt && !(await write(env, member, { seq: member.seq, status: "pending", result: null, error: null, attempts: member.attempts, wakeAt }))) {
          return { kind: "fenced" }
        }
        return { kind: "waiting", wakeAt }
      }
      const result = JSON.stringify({ sleptUntil: new Date(wakeAt).toISOString() })
      if (!(await write(env, member, { seq: member.seq, status: "completed", result, error: null, attempts: member.attempts, wakeAt }))) return { kind: "fenced" }
      if (env.listening("taskCompleted")) {
        env.emit("taskCompleted", { workflowID: member.workflowID, seq: member.seq, name: member.name, task: "", result: fromJSONText(result) })
      }
      return { kind: "done" }
    }
    case "workflow": {
      if (!env.children) return failMember(env, member, `member "${member.name}" is a child workflow, and this storage provider does not declare "children"`)
      let state
      try {
        state = await startChild(env, env.children, member)
      } catch (error) {
        if (error instanceof ValidationError || error instanceof ChildGoneError) return failMember(env, member, error.message)
        throw error
      }
      if (!state.ended) return state.linked ? { kind: "waiting", childID: state.id } : { kind: "waiting", childID: state.id, wakeAt: env.now() + 60_000 }
      const end = await settle(env, member, state.outcome, undefined)
      return end.kind === "retry" ? { kind: "interrupted" } : end
    }
    default:
      return runTaskMember(env, member, steps, signal)
  }
}

/** A task member: attempts with its runner's retry policy, retrying in this execution (the other members go on meanwhile). */
async function runTaskMember(env: ExecutionEnvironment, member: TaskRow, steps: readonly TaskRow[], signal: AbortSignal): Promise<MemberEnd> {
  const runner = env.runners.get(member.task)
  if (!runner) return { kind: "unknownRunner", task: member.task }
  for (;;) {
    if (signal.aborted || !env.mayStartTask()) return { kind: "interrupted" }
    const startedAt = env.now()
    const outcome = await attemptTask(env, runner, member, steps, { signal })
    // Failed because we stopped it (stop, cancel, lost lease, another member failed the workflow): no attempt is counted.
    if (outcome.kind === "failed" && signal.aborted) return { kind: "interrupted" }
    const end = await settle(env, member, outcome, runner.retry ?? env.defaultRetry, startedAt)
    if (end.kind !== "retry") return end
    if (!(await pause(Math.max(0, end.at - env.now()), signal))) return { kind: "interrupted" }
  }
}

/**
 * Writes a member's outcome; returns how it settled, or when its next attempt
 * is due. `startedAt`: when the task member's attempt started (its attempt
 * history, as a task's).
 */
async function settle(
  env: ExecutionEnvironment,
  member: TaskRow,
  outcome: Outcome,
  retry: RetryPolicy | undefined,
  startedAt?: number,
): Promise<MemberEnd | { kind: "retry"; at: number }> {
  const plan = planMember(member, outcome, { token: env.token, now: env.now(), retry, retryDelayMS: env.retryDelayMS })
  if (startedAt !== undefined) stampAttempt(plan.change, member, startedAt, env.runnerID, undefined)
  if (!(await write(env, member, plan.change))) return { kind: "fenced" }
  const end: ExecutionEnd | undefined =
    plan.retryAt !== undefined ? { kind: "retryAt", at: plan.retryAt } : plan.failsWorkflow !== undefined ? { kind: "ended", status: "failed" } : undefined
  reportOutcome(env, member.workflowID, member, outcome, end)
  if (plan.retryAt !== undefined) return { kind: "retry", at: plan.retryAt }
  return plan.failsWorkflow !== undefined ? { kind: "failsWorkflow", error: `member "${member.name}": ${plan.failsWorkflow}` } : { kind: "done" }
}

async function failMember(env: ExecutionEnvironment, member: TaskRow, error: string): Promise<MemberEnd> {
  const end = await settle(env, member, { kind: "failed", error, retry: false }, undefined)
  return end.kind === "retry" ? { kind: "interrupted" } : end
}

/** Writes a member's change (the workflow stays leased) and keeps it in memory; `false` if fenced off. */
async function write(env: ExecutionEnvironment, member: TaskRow, change: TaskChange): Promise<boolean> {
  const applied = await env.commit({ kind: "recordTask", workflowID: member.workflowID, token: env.token, now: env.now(), counts: PROGRESS, task: change })
  if (applied) Object.assign(member, change)
  return applied
}

/** Writes the parallel step's own outcome (its result, or the workflow's failure). */
async function record(env: ExecutionEnvironment, group: TaskRow, outcome: Outcome, isLast: boolean): Promise<ExecutionEnd | undefined> {
  const { write: w, end } = planWrite(group, outcome, { token: env.token, now: env.now(), isLast, retry: undefined, retryDelayMS: 0 })
  if (!(await env.commit(w))) return { kind: "fenced" }
  if (w.kind !== "markCrash" && w.task) Object.assign(group, w.task)
  if (outcome.kind === "completed" && env.listening("taskCompleted")) {
    env.emit("taskCompleted", { workflowID: group.workflowID, seq: group.seq, name: group.name, task: "", result: fromJSONText(outcome.result) })
  } else if (outcome.kind !== "completed") {
    env.emit("taskFailed", { workflowID: group.workflowID, seq: group.seq, name: group.name, task: "", error: outcome.error, retrying: false })
  }
  return end
}

/** A failed child member run again that now waits (its child was retried): pending again, and marked as having added its child. */
function pendingAgain(m: TaskRow): TaskChange {
  return { seq: m.seq, status: "pending", result: null, error: m.error, attempts: m.attempts, wakeAt: NEVER }
}

/**
 * Parks the workflow until `wakeAt` or the end of one of `childIDs`, whichever is first, writing `marks` (child members that added their child)
 * with it; or, with waitForEvent members `eventSeqs` waiting (validation keeps them apart from child members), until `wakeAt` or one of their
 * events, unless one has arrived (`eventArrived`).
 */
async function park(
  env: ExecutionEnvironment,
  group: TaskRow,
  wakeAt: number,
  childIDs: string[],
  marks: TaskChange[],
  eventSeqs: number[],
  why: string,
): Promise<ExecutionEnd | "eventArrived"> {
  const now = env.now()
  env.logger.debug?.(`parallel step "${group.name}" ${why}`, { workflowID: group.workflowID, seq: group.seq })
  if (childIDs.length > 0 && env.children) {
    const at = await env.children.await({ workflowID: group.workflowID, token: env.token, now, counts: PROGRESS, childIDs, availableAt: wakeAt, tasks: marks })
    if (at === null) return { kind: "fenced" }
    return { kind: "waiting", at: at >= NEVER ? Infinity : at }
  }
  if (eventSeqs.length > 0 && env.events) {
    const parked = await env.events.parkForEvents({ workflowID: group.workflowID, token: env.token, now, counts: PROGRESS, seqs: eventSeqs, availableAt: wakeAt })
    if (parked === "eventArrived") return parked
    return parked === "parked" ? { kind: "waiting", at: wakeAt } : { kind: "fenced" }
  }
  const applied = await env.commit({ kind: "parkUntil", workflowID: group.workflowID, token: env.token, now, counts: PROGRESS, availableAt: wakeAt })
  return applied ? { kind: "waiting", at: wakeAt } : { kind: "fenced" }
}

/** Waits `ms`, or until `signal` fires; `false` if it fired. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort)
      resolve(true)
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    signal.addEventListener("abort", onAbort, { once: true })
  })
}

/**
 * Runs the parallel step at `steps[index]` (with its members, the rows after
 * it). Returns how the execution ends, or `undefined` to go on, and how many
 * member rows the caller skips.
 */
export async function runParallelAt(
  env: ExecutionEnvironment,
  steps: TaskRow[],
  index: number,
  signal: AbortSignal,
): Promise<{ end: ExecutionEnd | undefined; members: number }> {
  const group = steps[index] as TaskRow
  let count: number
  try {
    count = memberCount(group)
  } catch (error) {
    const isLast = !steps.slice(index + 1).some((t) => t.status === "pending")
    return { end: await record(env, group, { kind: "failed", error: errorMessage(error), retry: false }, isLast), members: 0 }
  }
  const members = steps.slice(index + 1, index + 1 + count)
  const isLast = !steps.slice(index + 1 + count).some((t) => t.status === "pending")
  return { end: await runParallelStep(env, group, members, steps, isLast, signal), members: count }
}

/**
 * Whether the step at `steps[index]` is a parallel step to run: pending, or
 * ended with a member pending again (`retryWorkflow` resumed a member that
 * failed the workflow, so the step runs again for it).
 */
export function parallelDue(steps: readonly TaskRow[], index: number): boolean {
  const group = steps[index] as TaskRow
  if (group.kind !== "parallel") return false
  if (group.status === "pending") return true
  try {
    return steps.slice(index + 1, index + 1 + memberCount(group)).some((m) => m.status === "pending")
  } catch {
    return false
  }
}
