/**
 * THE RACE (DESIGN §7): sending an event and starting a wait for it must be
 * serialized per (name, key), or a wait that read "no event yet" parks
 * after the send looked for parked waiters, and sleeps forever (a lost
 * wake-up). On Postgres, with real processes: three runners start the waits
 * of 1,500 workflows (two waits each, two workflows per key), and as each
 * workflow reaches its waits its key's two events are sent from another
 * process, timed to land anywhere around the wait's read and park. Every
 * workflow must end with exactly its key's two events, in order, within a
 * bounded time (no timeout is set, so a lost wake-up never ends), and no
 * wait may take an event twice. The counts show the interleaving happened:
 * parks that found an event sent meanwhile, and sends that woke a parked
 * waiter.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { WorkflowClient } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { addRaceWorkflows, assertAllSettle, assertEachCompleted, RaceWorkers } from "./helpers/race-harness.js"

const WORKFLOWS = Number(process.env.EVENTS_RACE_WORKFLOWS ?? 1_500)
const RUNNERS = 3
const SENDERS = 2
/** After the last event was sent, every workflow must end within this. */
const SETTLE_MS = 30_000

const postgresReason = await postgresSkipReason().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))

describe("events: sendEvent and the start of waits, interleaved across processes (Postgres)", { skip: typeof postgresReason === "string" ? postgresReason : false, timeout: 180_000 }, () => {
  it(`${WORKFLOWS} workflows × 2 waits, their events sent from another process as the waits start: no lost wake-up, no double delivery`, async (t) => {
    if (postgresReason instanceof Error) throw postgresReason
    const schema = uniqueSchemaName()
    const storage = new PostgresStorageProvider(connectionString, { schema, poolConfig: { max: 4 } })
    const client = new WorkflowClient({ storageProvider: storage, pollIntervalMS: 500 })
    const workers = new RaceWorkers(schema, { runners: RUNNERS, senders: SENDERS })
    try {
      await storage.init()
      const ids = await addRaceWorkflows(client, WORKFLOWS, (key) => [
        { name: "arrive", task: "Arrive", data: key },
        { name: "first", waitForEvent: { name: "race", key } },
        { name: "second", waitForEvent: { name: "race", key } },
      ])
      await workers.start()
      await workers.allSent(t, WORKFLOWS / 2, 120_000)
      await assertAllSettle(client, SETTLE_MS)

      await assertEachCompleted(client, ids, (info, key) => {
        const got = info.tasks.slice(1).map((s) => (s.result as { eventID: string }).eventID)
        assert.deepEqual(got, [`${key}-1`, `${key}-2`], `${info.id} took ${got.join(", ")}: each wait must take its own event, in order`)
      })

      const { parks, woke } = await workers.stop()
      t.diagnostic(`parks: ${JSON.stringify(parks)}; sends that woke a parked waiter: ${woke}`)
      // The interleaving happened both ways, many times: parks that saw an event sent after their read, and sends that woke parked waiters.
      assert.ok(parks.parked >= 20, `only ${parks.parked} waits parked: the events arrived too early to race with the waits`)
      assert.ok(woke >= 20, `only ${woke} sends woke a parked waiter`)
    } finally {
      workers.kill()
      await client.close()
      await dropSchema(schema).catch(() => {})
    }
  })
})
