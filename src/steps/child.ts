/**
 * The child workflow step: `{ workflow: { tasks, workflowID?, onFailure? } }`.
 *
 * When the parent reaches the step, the child is added (idempotently: its ID
 * is fixed, so a re-run or a recovery finds it rather than adding another)
 * with a link to the parent's step, and the parent parks with no lease and
 * no slot (`awaitChildren`). The provider makes the parent claimable in the
 * transaction that ends the child, so nothing polls per parent. Claimed
 * again, the parent reads the ended child and records its `{ id, status,
 * results }` as the step's result, or fails (a failed or cancelled child,
 * unless `onFailure: "continue"`).
 */
import { ValidationError } from "../errors.js"
import { planWrite, PROGRESS, type ExecutionEnd, type Outcome } from "../engine.js"
import { fromJSONText, toJSONText } from "../json.js"
import { errorMessage } from "../logger.js"
import { NEVER, type AwaitChildren, type NewWorkflow, type StorageProvider, type TaskChange, type TaskRow, type WorkflowWithTasks } from "../storage/provider.js"
import { retryAfterDelay, type ExecutionEnvironment } from "../runtime/execution.js"
import type { ChildWorkflowResult } from "./spec.js"
import { childIDOf, readChild, type StoredChild } from "./child-spec.js"

/** How often a parent looks at a child that is not linked to it (an ID the user gave, added before on its own), whose end cannot wake it. */
const UNLINKED_CHILD_POLL_MS = 60_000

/** What the runner lends the child step: storage operations of the `children` capability. */
export interface ChildOperations {
  /** Reads a workflow with its steps. */
  read(id: string): Promise<WorkflowWithTasks | null>
  /** Adds a child workflow (an existing ID is left as it is). */
  insert(child: NewWorkflow): Promise<void>
  /** Parks the parent until a child ends (see `StorageProvider.awaitChildren`); `null` if fenced off. */
  await(park: AwaitChildren): Promise<number | null>
}

/** A child the step had added is no longer stored (deleted once ended, before the parent read it): the step fails, saying so. */
export class ChildGoneError extends Error {
  override name = "ChildGoneError"
}

/**
 * The change a parent's park writes to a child step (or member) the first
 * time it waits: `wakeAt` set (to {@link NEVER}, which `getWorkflow` does not
 * show), marking that the child was added, so a later read that does not
 * find it knows it was deleted rather than never added. `undefined` once
 * marked.
 */
export function childAddedMark(step: TaskRow): TaskChange | undefined {
  if (typeof step.wakeAt === "number") return undefined
  return { seq: step.seq, status: "pending", result: null, error: step.error, attempts: step.attempts, wakeAt: NEVER }
}

/** The state of a child as a waiting step knows it: ended (with the step's outcome), or still running. */
export type ChildState = { ended: true; outcome: Outcome; result: ChildWorkflowResult } | { ended: false; id: string; linked: boolean }

/**
 * Finds the child of a child workflow step, adding it if it is not there
 * yet, and tells whether it has ended (and what that makes the step's
 * outcome).
 */
export async function startChild(env: ExecutionEnvironment, ops: ChildOperations, step: TaskRow): Promise<ChildState> {
  const definition = readChild(step)
  const id = childIDOf(step, definition)
  const existing = await ops.read(id)
  if (existing && existing.workflow.status !== "pending") return ended(env, step, definition, existing)
  if (!existing && typeof step.wakeAt === "number") {
    // The step added it before (its park marked the step), so it ended and was deleted: adding it again would run it twice.
    throw new ChildGoneError(
      `child workflow "${id}" of step "${step.name}" is gone: it was deleted (deleteEndedWorkflows or retention) before this workflow read its result`,
    )
  }
  if (!existing) {
    await ops.insert({ id, now: env.now(), tasks: definition.tasks, parent: { id: step.workflowID, seq: step.seq } })
    env.logger.debug?.(`step "${step.name}" added child workflow "${id}"`, { workflowID: step.workflowID, seq: step.seq })
  }
  return { ended: false, id, linked: !existing || existing.workflow.parentID === step.workflowID }
}

/** The outcome of a step whose child has ended. */
function ended(env: ExecutionEnvironment, step: TaskRow, definition: StoredChild["workflow"], child: WorkflowWithTasks): ChildState {
  const status = child.workflow.status as ChildWorkflowResult["status"]
  const results: Record<string, unknown> = {}
  for (const t of child.tasks) if (t.status === "completed") results[t.name] = fromJSONText(t.result)
  const result: ChildWorkflowResult = { id: child.workflow.id, status, results }
  if (status !== "completed" && definition.onFailure !== "continue") {
    const failedStep = child.tasks.find((t) => t.status === "failed")
    const why = failedStep?.error ? `: step "${failedStep.name}": ${failedStep.error}` : ""
    return { ended: true, result, outcome: { kind: "aborted", scope: "workflow", error: `child workflow "${child.workflow.id}" ${status}${why}` } }
  }
  try {
    return { ended: true, result, outcome: { kind: "completed", result: toJSONText(result, `result of step "${step.name}"`, env.maxPayloadBytes) } }
  } catch (error) {
    return { ended: true, result, outcome: { kind: "failed", error: errorMessage(error), retry: false } }
  }
}

/**
 * Runs a reached child workflow step: records the ended child's result (or
 * fails), or adds the child and parks the parent until it ends. Returns how
 * the execution ends, or `undefined` to go on to the next step.
 */
export async function runChildStep(env: ExecutionEnvironment, step: TaskRow, isLast: boolean): Promise<ExecutionEnd | undefined> {
  const ops = env.children
  if (!ops) return fail(env, step, isLast, `step "${step.name}" is a child workflow, and this storage provider does not declare "children"`)
  let state: ChildState
  try {
    state = await startChild(env, ops, step)
  } catch (error) {
    // A definition no code can read fails the step; a storage error is tried again later.
    if (error instanceof ValidationError || error instanceof ChildGoneError) return fail(env, step, isLast, error.message)
    return retryLater(env, step, errorMessage(error))
  }
  if (state.ended) return record(env, step, state.outcome, isLast)
  const mark = childAddedMark(step)
  const park: AwaitChildren = {
    workflowID: step.workflowID,
    token: env.token,
    now: env.now(),
    counts: PROGRESS,
    childIDs: [state.id],
    availableAt: state.linked ? NEVER : env.now() + UNLINKED_CHILD_POLL_MS,
    tasks: mark ? [mark] : [],
  }
  let at: number | null
  try {
    at = await ops.await(park)
  } catch (error) {
    return retryLater(env, step, errorMessage(error))
  }
  if (at === null) return { kind: "fenced" }
  if (mark) step.wakeAt = NEVER
  env.logger.debug?.(`step "${step.name}" waits for child workflow "${state.id}"`, { workflowID: step.workflowID, seq: step.seq })
  return { kind: "waiting", at: at >= NEVER ? Infinity : at }
}

/** Writes a finished step's outcome (through group commit, like a task's) and reports it. */
export async function record(env: ExecutionEnvironment, step: TaskRow, outcome: Outcome, isLast: boolean): Promise<ExecutionEnd | undefined> {
  const { write, end } = planWrite(step, outcome, { token: env.token, now: env.now(), isLast, retry: undefined, retryDelayMS: 0 })
  if (!(await env.commit(write))) return { kind: "fenced" }
  if (write.kind !== "markCrash" && write.task) Object.assign(step, write.task)
  const fields = { workflowID: step.workflowID, seq: step.seq, name: step.name, task: step.task }
  if (outcome.kind === "completed") {
    if (env.listening("taskCompleted")) env.emit("taskCompleted", { ...fields, result: fromJSONText(outcome.result) })
  } else {
    env.logger.info?.(`step "${step.name}" failed: ${outcome.error}`, { ...fields, attempts: step.attempts })
    env.emit("taskFailed", { ...fields, error: outcome.error, retrying: false })
  }
  return end
}

function fail(env: ExecutionEnvironment, step: TaskRow, isLast: boolean, error: string): Promise<ExecutionEnd | undefined> {
  return record(env, step, { kind: "failed", error, retry: false }, isLast)
}

/** A storage error while adding or waiting for a child: leave the step pending, and look again after the retry delay. */
async function retryLater(env: ExecutionEnvironment, step: TaskRow, error: string): Promise<ExecutionEnd> {
  env.logger.warn?.(`step "${step.name}" could not reach its child workflow (${error}); trying again in ${env.retryDelayMS} ms`, {
    workflowID: step.workflowID,
    seq: step.seq,
  })
  return retryAfterDelay(env, step.workflowID)
}

/** The {@link ChildOperations} of a provider that declares `children`. */
export function childOperations(storage: StorageProvider): ChildOperations {
  return {
    read: (id) => storage.getWorkflow(id),
    insert: async (child) => void (await storage.insertWorkflowsAndTasks([child])),
    await: (park) => {
      if (!storage.awaitChildren) throw new Error("the storage provider declares children but has no awaitChildren")
      return storage.awaitChildren(park)
    },
  }
}
