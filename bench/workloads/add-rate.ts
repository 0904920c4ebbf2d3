/**
 * Workload 2, add rate: addWorkflow on a runner that executes nothing (not
 * recovered), so only storing is measured. "sequential" awaits each call
 * before the next (one commit per workflow); "concurrent" issues them all at
 * once (group commit batches them).
 */
import { workflowIDs, type IDScheme } from "../floors.js"
import { nowMS } from "../stats.js"
import { benchRunner, workflowInput } from "./common.js"
import type { BenchStoreFactory } from "./storage.js"

export interface AddRateRun {
  /** Workflows durably added per second. */
  workflowsPerSec: number
}

export async function runAddRate(
  stores: BenchStoreFactory,
  ids: IDScheme,
  mode: "sequential" | "concurrent",
  workflows: number,
): Promise<AddRateRun> {
  const { runner, cleanup } = await benchRunner(stores)
  try {
    await runner.addWorkflow(workflowInput("warm-up"))
    const inputs = workflowIDs(ids, workflows).map((id) => workflowInput(id))
    const started = nowMS()
    if (mode === "sequential") {
      for (const input of inputs) await runner.addWorkflow(input)
    } else {
      await Promise.all(inputs.map((input) => runner.addWorkflow(input)))
    }
    return { workflowsPerSec: workflows / ((nowMS() - started) / 1000) }
  } finally {
    await cleanup()
  }
}
