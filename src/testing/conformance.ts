/**
 * The provider conformance suite: every rule of the StorageProvider contract
 * as a `node:test` test. Run it against your own provider:
 *
 * ```ts
 * import { runProviderConformance } from "durabletasks/testing"
 * runProviderConformance("my provider", async () => new MyProvider(...))
 * ```
 *
 * @module
 */
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { runInspectionConformance } from "./conformance-inspection.js"
import { runWaitsConformance } from "./conformance-waits.js"
import { runChildrenConformance } from "./conformance-children.js"
import { runEventsConformance } from "./conformance-events.js"
import { runAttemptHistoryConformance } from "./conformance-attempts.js"
import { runInsertConformance } from "./conformance-inserts.js"
import { runClaimConformance } from "./conformance-claims.js"
import { runWriteConformance } from "./conformance-writes.js"
import { runReadConformance } from "./conformance-reads.js"
import { runClientWriteConformance } from "./conformance-client-writes.js"
import { newWorkflow, uid } from "./conformance-fixtures.js"
import type { StorageProvider } from "../storage/provider.js"
import { scheduleConformanceTests } from "./schedule-conformance.js"

/** Options of {@link runProviderConformance}. */
export interface ConformanceOptions {
  /**
   * Whether two provider instances from the factory share one store (as two
   * processes on one database would). Enables the cross-instance tests.
   * Default `true`; set `false` for private stores such as the memory provider.
   */
  sharedStore?: boolean
  /** Called once after the suite, e.g. to drop a test schema. */
  cleanup?: () => Promise<void> | void
  /** Skip the whole suite with this message (e.g. "no database reachable"). */
  skip?: string
  /** How long one test may take before it fails (a provider that hangs fails instead of hanging the run). Default 30,000 ms. */
  testTimeoutMS?: number
}

/**
 * Registers the conformance tests for a provider.
 *
 * @param name - shown in the test names
 * @param createProvider - returns a fresh, initialized-or-not provider; each
 *   test calls it once (twice for cross-instance tests). Stores may be shared
 *   between calls: the tests use unique workflow IDs.
 */
export function runProviderConformance(
  name: string,
  createProvider: () => StorageProvider | Promise<StorageProvider>,
  options: ConformanceOptions = {},
): void {
  const shared = options.sharedStore ?? true
  const timeout = options.testTimeoutMS ?? 30_000
  const opened: StorageProvider[] = []
  const open = async (): Promise<StorageProvider> => {
    const provider = await createProvider()
    await provider.init()
    opened.push(provider)
    return provider
  }

  describe(`StorageProvider conformance: ${name}`, { skip: options.skip ?? false }, () => {
    after(async () => {
      for (const p of opened.splice(0)) await p.close()
      await options.cleanup?.()
    })

    // The core contract, one part per kind of method.
    const core = { open, shared, timeout }
    runInsertConformance(core)
    runClaimConformance(core)
    runWriteConformance(core)
    runReadConformance(core)
    runClientWriteConformance(core)

    // The "schedules" capability has its own part; its tests skip for providers that do not declare it.
    describe("schedules", () => scheduleConformanceTests(open, shared))
    // The inspection part; its tests skip for providers that do not declare it.
    runInspectionConformance(open)
    // The waits part (step kinds, wake times); its tests skip for providers that do not declare it.
    runWaitsConformance(open)
    // The children part (parent links, parking a parent, waking it when a child ends); skips without the capability.
    runChildrenConformance(open)
    // The events part (sendEvent, waitForEvent's matching, parking and waking); skips for providers without it.
    runEventsConformance(open)
    // The attempt-history part; its tests skip for providers that do not declare it.
    runAttemptHistoryConformance(open)

    if (shared) {
      it("shows one instance's writes to another (one shared store)", { timeout }, async () => {
        const [p, q] = [await open(), await open()]
        const id = uid()
        await p.insertWorkflowsAndTasks([newWorkflow(id, 1)])
        assert.equal((await q.getWorkflow(id))?.workflow.id, id)
        assert.deepEqual(await q.insertWorkflowsAndTasks([newWorkflow(id, 1)]), [false])
      })
    }
  })
}
