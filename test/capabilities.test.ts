/** Providers declare a contract version and capabilities; options that need one a provider lacks are refused clearly. */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { ValidationError, WorkflowRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { STORAGE_CONTRACT_VERSION, type StorageCapabilities, type StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const echo = [{ Name: "Echo", Execute: async () => ({ data: 1 }) }]

/** A memory provider that claims only what it is given. */
function declaring(capabilities: StorageCapabilities): StorageProvider {
  const p = new MemoryStorageProvider()
  Object.defineProperty(p, "capabilities", { value: capabilities })
  return p
}

describe("storage capabilities", () => {
  it("our providers declare the contract version and what they support", () => {
    assert.deepEqual(new MemoryStorageProvider().capabilities, {
      contract: STORAGE_CONTRACT_VERSION,
      supports: ["crash-counts", "status-reads", "schedules", "inspection", "waits", "events", "children", "attempt-history"],
    })
    const sqlite = new SQLiteStorageProvider(":memory:")
    assert.deepEqual(sqlite.capabilities.supports, ["crash-counts", "status-reads", "schedules", "inspection", "waits", "events", "children", "attempt-history"])
    void sqlite.close()
    const pg = new PostgresStorageProvider("postgres://127.0.0.1:1/none")
    assert.deepEqual(pg.capabilities.supports, ["crash-counts", "status-reads", "notifications", "schedules", "inspection", "waits", "events", "children", "attempt-history"])
    void pg.close()
  })

  it("refuses a provider built for another contract version, saying which", () => {
    assert.throws(
      () => new WorkflowRunner({ taskRunners: echo, storageProvider: declaring({ contract: 99, supports: [] }) }),
      (e: unknown) => e instanceof ValidationError && /contract version 99; this durabletasks implements version 1/.test(e.message),
    )
  })

  it("refuses maxCrashes on a provider that cannot count crashes; by default crash-loop protection is just off", async () => {
    const coreOnly = () => declaring({ contract: STORAGE_CONTRACT_VERSION, supports: [] })
    assert.throws(
      () => new WorkflowRunner({ taskRunners: echo, storageProvider: coreOnly(), maxCrashes: 3 }),
      (e: unknown) => e instanceof ValidationError && /maxCrashes needs a storage provider with the "crash-counts" capability/.test(e.message),
    )
    const runner = new WorkflowRunner({ taskRunners: echo, storageProvider: coreOnly(), maxCrashes: Infinity })
    await runner.stop()
    const byDefault = new WorkflowRunner({ taskRunners: echo, storageProvider: coreOnly() })
    await byDefault.recover()
    const handle = await byDefault.addWorkflow({ tasks: { a: { task: "Echo" } } })
    assert.equal((await handle.result()).status, "completed")
    await byDefault.stop()
  })

  it("provider option errors are ValidationErrors", () => {
    assert.throws(() => new SQLiteStorageProvider(":memory:", { tablePrefix: "bad prefix" }), ValidationError)
    assert.throws(() => new SQLiteStorageProvider(":memory:", { synchronous: "OFF" as "FULL" }), ValidationError)
    assert.throws(() => new SQLiteStorageProvider(""), ValidationError)
    assert.throws(() => new PostgresStorageProvider("postgres://127.0.0.1:1/none", { schema: "Bad-Schema" }), ValidationError)
    assert.throws(() => new PostgresStorageProvider("postgres://127.0.0.1:1/none", { writeBatchesInFlight: 0 }), ValidationError)
    assert.throws(() => new PostgresStorageProvider(""), ValidationError)
  })

  it("refuses waitForEvent steps, sendEvent and eventRetentionMS on a provider without events, before anything is written", async () => {
    const storage = declaring({ contract: STORAGE_CONTRACT_VERSION, supports: ["waits"] })
    assert.throws(
      () => new WorkflowRunner({ taskRunners: echo, storageProvider: storage, eventRetentionMS: 1_000 }),
      (e: unknown) => e instanceof ValidationError && /eventRetentionMS needs a storage provider with the "events" capability/.test(e.message),
    )
    const runner = new WorkflowRunner({ taskRunners: echo, storageProvider: storage })
    await assert.rejects(
      runner.addWorkflow({ workflowID: "w", tasks: { paid: { waitForEvent: { name: "paid" } } } }),
      (e: unknown) => e instanceof ValidationError && /the waitForEvent step "paid" needs a storage provider with the "events" capability/.test(e.message),
    )
    await assert.rejects(runner.sendEvent({ name: "paid" }), (e: unknown) => e instanceof ValidationError && /sendEvent needs .* "events" capability/.test(e.message))
    assert.equal(await runner.getWorkflow("w"), null)
    await runner.stop()
  })
})
