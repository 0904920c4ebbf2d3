/**
 * A storage call that keeps failing is reported at `error` on its first
 * failure and then every 30 s while it goes on, saying what fails, for how
 * long and what to check; the retries in between go to `debug`, not flooding
 * the log; its recovery is reported at `info`.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowRunner } from "../src/index.js"
import { MemoryStorageProvider } from "../src/storage/memory.js"
import { STORAGE_FAILURE_REPORT_MS, StorageFailureLog, formatDuration, storageFailureHint } from "../src/runtime/storage-failure-log.js"
import { FaultInjectingStorage, InjectedStorageError } from "../src/testing/faults.js"
import { MemoryLogger, eventually } from "./helpers/runner.js"

const full = new InjectedStorageError("full", "applyWorkflowWrites")

describe("the storage failure log", () => {
  it("reports the first failure and then every 30 s at error, with the operation, the duration and what to check; the rest at debug", () => {
    let now = 1_000_000
    const logger = new MemoryLogger()
    const health = new StorageFailureLog(logger, () => now)

    health.failed("applyWorkflowWrites", full)
    assert.deepEqual(logger.at("error"), [
      "storage applyWorkflowWrites failed (1 in a row; retrying): SqliteError: database or disk is full (injected fault in applyWorkflowWrites). " +
        "Check: free disk space on the volume that holds the database; nothing else is needed: the runner resumes by itself, and nothing acknowledged is lost",
    ])

    // Retries with backoff for 28 s: no further error line.
    for (let i = 0; i < 14; i++) {
      now += 2_000
      health.failed("applyWorkflowWrites", full)
      // A claim that finds nothing writes nothing, so it succeeds on a full disk: that must not end the spell.
      health.recovered("claimWorkflows")
    }
    assert.equal(logger.at("error").length, 1, `one error line in the first 30 s: ${logger.at("error").join(" | ")}`)
    assert.equal(logger.at("debug").length, 14, "each retry is at debug")
    assert.match(logger.at("debug")[0]!, /^storage applyWorkflowWrites failed \(2 in a row\): SqliteError: database or disk is full/)

    now = 1_000_000 + STORAGE_FAILURE_REPORT_MS
    health.failed("applyWorkflowWrites", full)
    const second = logger.at("error")[1]
    assert.ok(second, "a second error line once 30 s have passed")
    assert.match(second, /^storage applyWorkflowWrites has been failing for 30 s \(16 in a row; still retrying\): SqliteError: database or disk is full/)
    assert.match(second, /Check: free disk space on the volume that holds the database/)

    now += 29_000
    health.failed("applyWorkflowWrites", full)
    assert.equal(logger.at("error").length, 2, "not again before another 30 s")
    now += 1_000
    health.failed("applyWorkflowWrites", full)
    assert.match(logger.at("error")[2] ?? "", /^storage applyWorkflowWrites has been failing for 1 min \(18 in a row; still retrying\)/)

    now += 5_000
    health.recovered("applyWorkflowWrites")
    assert.deepEqual(logger.at("info"), ["storage is answering again: applyWorkflowWrites succeeded after 18 failures over 1 min 5 s"])

    // A new spell starts from scratch.
    now += 1_000
    health.failed("applyWorkflowWrites", full)
    assert.match(logger.at("error")[3] ?? "", /^storage applyWorkflowWrites failed \(1 in a row; retrying\)/)
  })

  it("keeps each operation apart, and starts a new spell after a long quiet (reads report no successes)", () => {
    let now = 0
    const logger = new MemoryLogger()
    const health = new StorageFailureLog(logger, () => now)
    health.failed("getWorkflow", new InjectedStorageError("busy", "getWorkflow"))
    health.failed("renewLeases", new InjectedStorageError("outage", "renewLeases"))
    assert.equal(logger.at("error").length, 2, "the first failure of each operation is at error")
    now += 2 * STORAGE_FAILURE_REPORT_MS + 1
    health.failed("getWorkflow", new InjectedStorageError("busy", "getWorkflow"))
    assert.match(logger.at("error")[2] ?? "", /^storage getWorkflow failed \(1 in a row; retrying\)/)
  })

  it("says what to check for each kind of failure", () => {
    const hint = (kind: ConstructorParameters<typeof InjectedStorageError>[0]) => storageFailureHint(new InjectedStorageError(kind, "claimWorkflows"))
    assert.match(hint("full"), /free disk space/)
    assert.match(hint("readonly"), /may write the database file, its directory and its -wal and -shm files/)
    assert.match(hint("busy"), /keeps the database locked/)
    assert.match(hint("failure"), /I\/O errors/)
    assert.match(hint("outage"), /database server is running and reachable/)
    assert.match(storageFailureHint(Object.assign(new Error("could not extend file"), { code: "53100" })), /free disk space/, "Postgres disk_full")
    assert.match(storageFailureHint(new Error("something odd")), /reachable and writable and has free space/)
    assert.equal(formatDuration(850), "850 ms")
    assert.equal(formatDuration(45_000), "45 s")
    assert.equal(formatDuration(200_000), "3 min 20 s")
    assert.equal(formatDuration(7_500_000), "2 h 5 min")
  })

  it("a runner whose claims fail on a full disk logs one error line, another after 30 s with the duration, and the recovery", async () => {
    let offset = 0
    const storage = new FaultInjectingStorage(new MemoryStorageProvider())
    const logger = new MemoryLogger()
    const runner = new WorkflowRunner({
      taskRunners: [{ Name: "Noop", Execute: async () => ({ data: 1 }) }],
      storageProvider: storage,
      pollIntervalMS: 10,
      logger,
      // Time passes faster for the runner: 30 s go by when the test says so.
      clock: () => Date.now() + offset,
    })
    let claimFailures = 0
    runner.on("storageError", (e) => {
      if (e.operation === "claimWorkflows") claimFailures++
    })
    try {
      await runner.recover()
      storage.outage(true, "full")
      await eventually(() => (claimFailures >= 10 ? true : undefined), 5_000, "10 failed claims")
      const errors = logger.at("error")
      assert.equal(errors.length, 1, `one error line for ${claimFailures} failed claims: ${errors.join(" | ")}`)
      assert.match(errors[0]!, /^storage claimWorkflows failed \(1 in a row; retrying\): SqliteError: database or disk is full .*Check: free disk space/)
      assert.ok(logger.at("debug").filter((m) => m.startsWith("storage claimWorkflows failed")).length >= 9, "the other failures are at debug")

      offset += STORAGE_FAILURE_REPORT_MS + 1_000
      const report = await eventually(() => logger.at("error")[1], 5_000, "the second error line after 30 s")
      assert.match(report, /^storage claimWorkflows has been failing for 3[12] s \(\d+ in a row; still retrying\): SqliteError: database or disk is full/)
      assert.match(report, /Check: free disk space on the volume that holds the database/)

      storage.outage(false)
      const recovered = await eventually(() => logger.at("info").find((m) => m.startsWith("storage is answering again")), 5_000, "the recovery to be logged")
      assert.match(recovered, /^storage is answering again: claimWorkflows succeeded after \d+ failures over 3[12] s$/)
    } finally {
      storage.heal()
      await runner.stop()
    }
  })
})
