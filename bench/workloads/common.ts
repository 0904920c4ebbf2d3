/** What every workload shares: the no-op task runner, a runner on a fresh store, workflow input. */
import { WorkflowRunner, type WorkflowRunnerOptions } from "../../src/index.js"
import { openStorage, type BenchStoreFactory, type StorageSpec } from "./storage.js"

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

/** A WorkflowRunner on a fresh store from `stores`; `cleanup()` stops it and removes the store. */
export async function benchRunner(
  stores: BenchStoreFactory,
  options: Partial<WorkflowRunnerOptions> = {},
): Promise<{ runner: WorkflowRunner; spec: StorageSpec; cleanup(): Promise<void> }> {
  const store = await stores()
  const runner = new WorkflowRunner({
    taskRunners: [noop],
    storageProvider: await openStorage(store.spec),
    ...options,
  })
  return {
    runner,
    spec: store.spec,
    cleanup: async () => {
      try {
        await runner.stop({ timeoutMS: 1_000 })
      } finally {
        await store.remove()
      }
    },
  }
}
