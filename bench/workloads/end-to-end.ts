/**
 * Workload 1, end to end: N workflows of 3 no-op tasks, added at once to a
 * running runner, until every one has ended (one process; bench/postgres.ts
 * measures Postgres with several runner processes instead).
 */
import { workflowIDs, type IDScheme } from "../floors.js"
import { countdown, nowMS } from "../stats.js"
import { TASKS_PER_WORKFLOW, benchRunner, workflowInput } from "./common.js"
import type { BenchStoreFactory } from "./storage.js"

export interface EndToEndRun {
  /** Tasks completed per second, from the first addWorkflow call to the last workflow's end. */
  tasksPerSec: number
  /** Time until every addWorkflow had returned. */
  addedMS: number
  totalMS: number
}

/** IDs are given explicitly in every scheme, so the figure does not depend on the runner's default IDs. */
export async function runEndToEnd(stores: BenchStoreFactory, ids: IDScheme, workflows: number, concurrency: number): Promise<EndToEndRun> {
  const { runner, cleanup } = await benchRunner(stores, { concurrency })
  try {
    await runner.recover()
    const ended = countdown(workflows)
    let failed = 0
    runner.on("workflowEnded", ({ status }) => {
      if (status !== "completed") failed++
      ended.tick()
    })
    const inputs = workflowIDs(ids, workflows).map((id) => workflowInput(id))
    const started = nowMS()
    let addedMS = 0
    const adds = Promise.all(inputs.map((input) => runner.addWorkflow(input))).then(() => (addedMS = nowMS() - started))
    await Promise.all([adds, ended.done])
    const totalMS = nowMS() - started
    if (failed > 0) throw new Error(`${failed} workflows did not complete`)
    return { tasksPerSec: (workflows * TASKS_PER_WORKFLOW) / (totalMS / 1000), addedMS, totalMS }
  } finally {
    await cleanup()
  }
}
