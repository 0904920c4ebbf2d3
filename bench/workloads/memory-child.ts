/**
 * The measuring process of workload 5 (run with --expose-gc):
 * `node --expose-gc memory-child.js SPEC PENDING IN_FLIGHT`, SPEC being a
 * StorageSpec as JSON (an empty store).
 *
 * A runner with `concurrency = IN_FLIGHT` runs tasks that block until the end,
 * so every slot stays taken. Then PENDING more workflows are added in two equal
 * rounds; they wait in storage. Heap is measured after full collections; the
 * growth over the second round per workflow is what a pending workflow not in
 * flight costs. For contrast, the heap per in-flight workflow is measured too.
 */
import { WorkflowRunner, type AnyTaskRunner } from "../../src/index.js"
import { countdown } from "../stats.js"
import { workflowInput } from "./common.js"
import { openStorage, type StorageSpec } from "./storage.js"

const spec = JSON.parse(process.argv[2] ?? "null") as StorageSpec | null
const pending = Number(process.argv[3])
const inFlight = Number(process.argv[4])
const gc = (globalThis as { gc?: () => void }).gc
if (!spec || !(pending > 0) || !(inFlight > 0) || !gc) {
  console.error("usage: node --expose-gc memory-child.js SPEC PENDING IN_FLIGHT")
  process.exit(2)
}

async function heapAfterGC(): Promise<number> {
  // Let timers and settled promises run, then collect fully (twice: weak callbacks).
  await new Promise((resolve) => setTimeout(resolve, 50))
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}

let release!: () => void
const released = new Promise<void>((resolve) => (release = resolve))
const started = countdown(inFlight)
const taskRunners: AnyTaskRunner[] = [
  {
    Name: "Noop",
    Execute: async () => {
      started.tick()
      await released
      return {}
    },
  },
  { Name: "Quick", Execute: () => ({}) },
]
const runner = new WorkflowRunner({
  taskRunners,
  storageProvider: await openStorage(spec),
  concurrency: inFlight,
})
await runner.recover()
// Warm up code paths and statement caches with workflows that end at once, then measure.
const warmedUp = countdown(200)
runner.on("workflowEnded", warmedUp.tick)
for (let i = 0; i < 200; i++) await runner.addWorkflow({ workflowID: `warm-${i}`, tasks: { a: { task: "Quick" }, b: { task: "Quick" } } })
await warmedUp.done
runner.off("workflowEnded", warmedUp.tick)
const idle = await heapAfterGC()

// In flight: fill every slot (the warm-up workflows hold some already).
const adds: Array<Promise<unknown>> = []
for (let i = 0; i < inFlight; i++) adds.push(runner.addWorkflow(workflowInput(`run-${i}`)))
await Promise.all(adds)
await started.done
const full = await heapAfterGC()

// Pending, not in flight: every slot is taken, so these wait in storage. Two
// equal rounds: the second round's growth is the cost per pending workflow,
// free of one-time growth (statement caches, maps reaching a new size class).
const chunk = 1_000
let added = 0
async function addPending(count: number): Promise<number> {
  for (let i = 0; i < count; i += chunk) {
    const batch: Array<Promise<unknown>> = []
    for (let j = 0; j < Math.min(chunk, count - i); j++) batch.push(runner.addWorkflow(workflowInput(`wait-${added++}`)))
    await Promise.all(batch)
  }
  return heapAfterGC()
}
const half = Math.ceil(pending / 2)
const firstHalf = await addPending(half)
const secondHalf = await addPending(half)

console.log(
  JSON.stringify({
    bytesPerPending: (secondHalf - firstHalf) / half,
    bytesPerPendingWithOneTime: (secondHalf - full) / (2 * half),
    bytesPerInFlight: (full - idle) / inFlight,
    heapIdleBytes: idle,
    heapFullBytes: full,
    heapWithPendingBytes: secondHalf,
  }),
)
release()
await runner.stop({ timeoutMS: 1_000 })
