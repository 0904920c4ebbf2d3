/** Workload 5, memory: heap per pending workflow that is not in flight (measured in a child with --expose-gc). */
import { fmt, median, runChild } from "../stats.js"
import type { BenchStoreFactory } from "./storage.js"

export interface MemoryRun {
  /** Heap growth per pending workflow waiting in storage (every slot taken), over the second half added. */
  bytesPerPending: number
  /** The same over all pending workflows added, one-time growth included. */
  bytesPerPendingWithOneTime: number
  /** Heap bytes per workflow in flight, for contrast. */
  bytesPerInFlight: number
}

/** Measures in a child process on a fresh store from `stores`, removed afterwards. */
export async function runMemory(stores: BenchStoreFactory, pending: number, inFlight: number): Promise<MemoryRun> {
  const store = await stores()
  try {
    const r = await runChild<MemoryRun>("./workloads/memory-child.js", [JSON.stringify(store.spec), String(pending), String(inFlight)], ["--expose-gc"])
    return { bytesPerPending: r.bytesPerPending, bytesPerPendingWithOneTime: r.bytesPerPendingWithOneTime, bytesPerInFlight: r.bytesPerInFlight }
  } finally {
    await store.remove()
  }
}

/** The two figures of the memory workload (medians of `runs`), named `${keyPrefix}memory.…`. */
export function memoryFigures(runs: MemoryRun[], pending: number, inFlight: number, keyPrefix = "") {
  const perPending = median(runs.map((r) => r.bytesPerPending))
  return [
    {
      key: `${keyPrefix}memory.bytesPerPending`,
      label: `heap per pending workflow not in flight (${fmt(pending)} pending)`,
      unit: "bytes",
      median: perPending,
      samples: runs.map((r) => r.bytesPerPending),
      higherIsBetter: false,
      target: { text: "~0 bytes", met: Math.abs(perPending) < 8 },
      details: { bytesPerPendingWithOneTime: median(runs.map((r) => r.bytesPerPendingWithOneTime)), inFlight },
    },
    {
      key: `${keyPrefix}memory.bytesPerInFlight`,
      label: `heap per workflow in flight (${fmt(inFlight)} in flight)`,
      unit: "bytes",
      median: median(runs.map((r) => r.bytesPerInFlight)),
      samples: runs.map((r) => r.bytesPerInFlight),
      higherIsBetter: false,
    },
  ]
}
