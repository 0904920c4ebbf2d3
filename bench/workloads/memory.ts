/** Workload 5, memory: heap per pending workflow that is not in flight (measured in a child with --expose-gc). */
import { runChild } from "../stats.js"

export interface MemoryRun {
  /** Heap growth per pending workflow waiting in storage (every slot taken), over the second half added. */
  bytesPerPending: number
  /** The same over all pending workflows added, one-time growth included. */
  bytesPerPendingWithOneTime: number
  /** Heap bytes per workflow in flight, for contrast. */
  bytesPerInFlight: number
}

export async function runMemory(pending: number, inFlight: number): Promise<MemoryRun> {
  const r = await runChild<MemoryRun>("./workloads/memory-child.js", [String(pending), String(inFlight)], ["--expose-gc"])
  return { bytesPerPending: r.bytesPerPending, bytesPerPendingWithOneTime: r.bytesPerPendingWithOneTime, bytesPerInFlight: r.bytesPerInFlight }
}
