/**
 * Many `result()` calls at once, for workflows that end in another runner:
 * a WorkflowClient adds `count` one-task workflows and waits for all of them,
 * while a runner on a provider of its own (as another process would have)
 * runs them. The client learns of the ends only from storage: one batch read
 * of the waited statuses per poll, and on Postgres a NOTIFY per batch that
 * ends workflows. Measures how long after its end each result resolves.
 */
import { WorkflowClient, WorkflowRunner } from "../../src/index.js"
import type { StorageProvider } from "../../src/storage/provider.js"
import { nowMS, percentile } from "../stats.js"
import { storageOpener, type BenchStoreFactory } from "./storage.js"

/** What one run measured. */
export interface ResultWaitersFigures {
  count: number
  pollIntervalMS: number
  /** Milliseconds from a workflow's end (as stored) to its result() resolving. */
  lagP50: number
  lagP99: number
  lagMax: number
  /** Batch status reads the client made while waiting. */
  statusReads: number
  /** Seconds from the first add to the last result. */
  totalSeconds: number
}

/** Runs the workload once on a fresh store. */
export async function runResultWaiters(stores: BenchStoreFactory, count: number, pollIntervalMS = 1_000): Promise<ResultWaitersFigures> {
  const store = await stores()
  const open = await storageOpener(store.spec)
  const clientStorage = countStatusReads(open())
  const client = new WorkflowClient({ storageProvider: clientStorage.storage, pollIntervalMS })
  const runner = new WorkflowRunner({
    taskRunners: [{ Name: "Noop", Execute: async () => ({}) }],
    storageProvider: open(),
    concurrency: 500,
  })
  try {
    const started = nowMS()
    const handles = []
    for (let i = 0; i < count; i += 1_000) {
      const slice = Array.from({ length: Math.min(1_000, count - i) }, (_, j) => client.addWorkflow({ workflowID: `w-${i + j}`, tasks: { a: { task: "Noop" } } }))
      handles.push(...(await Promise.all(slice)))
    }
    const lags: number[] = []
    const results = Promise.all(
      handles.map(async (h) => {
        const info = await h.result()
        lags.push(Date.now() - info.updatedAt.getTime())
      }),
    )
    await runner.recover()
    await results
    const totalSeconds = (nowMS() - started) / 1_000
    return {
      count,
      pollIntervalMS,
      lagP50: percentile(lags, 50),
      lagP99: percentile(lags, 99),
      lagMax: Math.max(...lags),
      statusReads: clientStorage.reads(),
      totalSeconds,
    }
  } finally {
    await runner.stop()
    await client.close()
    await store.remove()
  }
}

function countStatusReads(storage: StorageProvider): { storage: StorageProvider; reads(): number } {
  let reads = 0
  const read = storage.getWorkflowStatuses?.bind(storage)
  if (read) {
    storage.getWorkflowStatuses = (ids) => {
      reads++
      return read(ids)
    }
  }
  return { storage, reads: () => reads }
}
