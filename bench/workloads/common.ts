/** What every workload shares: the no-op task runner, a runner on a fresh SQLite file, workflow input. */
import path from "node:path"
import { WorkflowRunner, type WorkflowRunnerOptions } from "../../src/index.js"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"
import type { Durability } from "../floors.js"
import { tempDir } from "../stats.js"

/** The task every benchmark workflow runs: does nothing and returns nothing. */
export const noop = { Name: "Noop", Execute: () => ({}) } as const

/** Tasks per benchmark workflow. */
export const TASKS_PER_WORKFLOW = 3

/** `addWorkflow` input of a benchmark workflow: `tasks` no-op tasks. */
export function workflowInput(id: string, tasks = TASKS_PER_WORKFLOW): { workflowID: string; tasks: Record<string, { task: string }> } {
  const entries: Record<string, { task: string }> = {}
  for (let i = 0; i < tasks; i++) entries[`t${i}`] = { task: "Noop" }
  return { workflowID: id, tasks: entries }
}

/** A WorkflowRunner on a fresh SQLite file in a temporary directory. */
export function benchRunner(
  durability: Durability,
  options: Partial<WorkflowRunnerOptions> = {},
): { runner: WorkflowRunner; file: string; cleanup(): Promise<void> } {
  const tmp = tempDir()
  const file = path.join(tmp.dir, "bench.sqlite")
  const runner = new WorkflowRunner({
    taskRunners: [noop],
    storageProvider: new SQLiteStorageProvider(file, { synchronous: durability }),
    ...options,
  })
  return {
    runner,
    file,
    cleanup: async () => {
      await runner.stop({ timeoutMS: 1_000 })
      tmp.remove()
    },
  }
}
