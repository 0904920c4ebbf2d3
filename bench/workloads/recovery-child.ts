/**
 * The recovering process of workload 4: `node recovery-child.js FILE WORKFLOWS CONCURRENCY`.
 * Opens FILE, recovers, waits until WORKFLOWS workflows have ended, prints one JSON line.
 */
import { WorkflowRunner } from "../../src/index.js"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"
import { countdown, nowMS } from "../stats.js"
import { TASKS_PER_WORKFLOW } from "./common.js"

const [file, workflowsArg, concurrencyArg] = process.argv.slice(2)
const workflows = Number(workflowsArg)
const concurrency = Number(concurrencyArg)
if (!file || !(workflows > 0) || !(concurrency > 0)) {
  console.error("usage: recovery-child.js FILE WORKFLOWS CONCURRENCY")
  process.exit(2)
}

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
  storageProvider: new SQLiteStorageProvider(file),
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
