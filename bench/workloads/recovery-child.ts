/**
 * The recovering process of workload 4: `node recovery-child.js SPEC WORKFLOWS CONCURRENCY`,
 * SPEC being a StorageSpec as JSON. Opens the store, recovers, waits until
 * WORKFLOWS workflows have ended, prints one JSON line.
 */
import { WorkflowRunner } from "../../src/index.js"
import { countdown, nowMS } from "../stats.js"
import { TASKS_PER_WORKFLOW } from "./common.js"
import { storageOpener, type StorageSpec } from "./storage.js"

const [specArg, workflowsArg, concurrencyArg] = process.argv.slice(2)
const spec = JSON.parse(specArg ?? "null") as StorageSpec | null
const workflows = Number(workflowsArg)
const concurrency = Number(concurrencyArg)
if (!spec || !(workflows > 0) || !(concurrency > 0)) {
  console.error("usage: recovery-child.js SPEC WORKFLOWS CONCURRENCY")
  process.exit(2)
}

// The provider's module is loaded before the clock starts, as a static import would be.
const openStore = await storageOpener(spec)
const startRSSBytes = process.memoryUsage().rss
const t0 = nowMS()
let firstTaskMS: number | undefined
const runner = new WorkflowRunner({
  taskRunners: [
    {
      Name: "Noop",
      Execute: () => {
        firstTaskMS ??= nowMS() - t0
        return {}
      },
    },
  ],
  storageProvider: openStore(),
  concurrency,
})
const ended = countdown(workflows)
runner.on("workflowEnded", ended.tick)
await runner.recover()
await ended.done
const allDoneMS = nowMS() - t0
await runner.stop()
console.log(
  JSON.stringify({
    firstTaskMS,
    allDoneMS,
    tasksPerSec: (workflows * TASKS_PER_WORKFLOW) / (allDoneMS / 1000),
    peakRSSBytes: process.resourceUsage().maxRSS * 1024,
    startRSSBytes,
  }),
)
