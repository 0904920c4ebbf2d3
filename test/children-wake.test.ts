/**
 * A child's end wakes its parent across processes within a poll interval,
 * without polling per parent (Postgres, whose writes notify other
 * processes; SQLite has no notifications, so there a parent is found by
 * the next poll). The child runs in another process, which exits the
 * moment the child ends; the parent's runner here polls once a minute. The
 * waiting parent is stored claimable never (no poll can find it), so it can
 * only go on because the child's end made it claimable and told this
 * process so.
 */
import assert from "node:assert/strict"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { WorkflowClient, WorkflowRunner, type TaskRunner } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { NEVER } from "../src/storage/provider.js"
import { startFixture, type Child } from "./helpers/ledger.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { eventually } from "./helpers/runner.js"
import { waitFor } from "./helpers/wait.js"

const HOLD_MS = 1_500
/** How soon after the child's end the parent must go on: far less than the parent runner's poll (a minute). */
const WAKE_MS = 2_000

const reason = await postgresSkipReason().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))

describe("a child's end wakes its parent in another process (postgres)", { skip: typeof reason === "string" ? reason : false, timeout: 60_000 }, () => {
  it("the parent, parked with no lease and never claimable by time, goes on within a moment of its child's end in another process", async () => {
    if (reason instanceof Error) throw reason
    const schema = uniqueSchemaName()
    const dir = mkdtempSync(join(tmpdir(), "dt-children-wake-"))
    const local: TaskRunner<unknown, number, "Local"> = { Name: "Local", Execute: async () => ({ data: process.pid }) }
    // No Remote task here: a child claimed here is put back (after retryDelayMS) for the other process.
    const runner = new WorkflowRunner({
      taskRunners: [local],
      storageProvider: new PostgresStorageProvider(connectionString, { schema }),
      pollIntervalMS: 60_000,
      retryDelayMS: 100,
      logger: {},
    })
    const client = new WorkflowClient({ storageProvider: new PostgresStorageProvider(connectionString, { schema }) })
    let child: Child | undefined
    try {
      await runner.recover()
      child = startFixture("child-runner-worker", [`postgres:${schema}`, dir, String(HOLD_MS)])
      await waitFor(child.ready, { what: "the child runner to start", timeoutMS: 15_000 })
      const handle = await client.addWorkflow({ workflowID: "wake", tasks: { kid: { workflow: { tasks: { r: { task: "Remote" } } } }, after: { task: "Local" } } })

      const waiting = await eventually(
        async () => {
          const w = await client.getWorkflow("wake")
          return w?.tasks[0]?.state === "waiting for child workflow wake/kid" && w.lease === null ? w : undefined
        },
        10_000,
        "the parent to wait for its child",
      )
      assert.equal(waiting.nextRunAt, null)
      const stored = await client.storage.getWorkflow("wake")
      assert.equal(stored?.workflow.availableAt, NEVER, "a waiting parent must not be claimable by time")

      const exited = await waitFor(child.exited, { what: "the child runner to run the child and exit", timeoutMS: 20_000 })
      assert.equal(exited.code, 0, child.stderr())
      const ended = JSON.parse(readFileSync(join(dir, "ended.json"), "utf8")) as { workflowID: string; status: string; at: number }
      assert.deepEqual([ended.workflowID, ended.status], ["wake/kid", "completed"])

      const info = await waitFor(handle.result(), { what: "the parent to end", timeoutMS: 10_000 }).catch(async (error: unknown) => {
        // Say where the parent stands: which process holds it, and when it is claimable.
        throw new Error(`${String(error)}; parent ${JSON.stringify((await client.storage.getWorkflow("wake"))?.workflow)}`)
      })
      assert.equal(info.status, "completed")
      assert.deepEqual(info.tasks[0]?.result, { id: "wake/kid", status: "completed", results: { r: child.pid } })
      assert.equal(info.tasks[1]?.result, process.pid, "the parent's next step ran in another process than this one")
      const wentOn = info.tasks[1]!.updatedAt.getTime() - ended.at
      assert.ok(wentOn < WAKE_MS, `the parent went on ${wentOn} ms after its child ended in another process (its runner polls once a minute)`)
    } finally {
      if (child && child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
      await runner.stop()
      await client.close()
      await dropSchema(schema).catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
