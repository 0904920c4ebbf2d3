/**
 * THE RACE for waitForEvent members of parallel steps (DESIGN §7): the park
 * of a parallel step whose event members read "no event yet" must be
 * serialized with the sends for every member's (name, key), or it parks
 * after a send looked for parked waiters, and sleeps forever (a lost
 * wake-up). On Postgres, with real processes: three runners run 300
 * workflows (two workflows per key), each one parallel step of an `Arrive`
 * task and two waits for its key; as each workflow's `Arrive` member runs,
 * its key's two events are sent from another process, timed to land
 * anywhere around the members' reads and the park. Every
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

const WORKFLOWS = Number(process.env.PARALLEL_EVENTS_RACE_WORKFLOWS ?? 300)
const RUNNERS = 3
const SENDERS = 2
/** After the last event was sent, every workflow must end within this. */
const SETTLE_MS = 30_000
/**
 * The parallel step parks only after its Arrive member's write, later still
 * on a loaded machine: sends spread this wide land on both sides of the park
 * (measured on 2 cores with both kept busy: 164 parks, 172 that found an
 * event sent meanwhile, 85 sends that woke a parked step; at 200 ms only 20
 * parks and 14 wake-ups).
 */
const SEND_DELAY_MS = 500

const postgresReason = await postgresSkipReason().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))

describe("parallel waitForEvent members: sendEvent and the parallel step's park, interleaved across processes (Postgres)", { skip: typeof postgresReason === "string" ? postgresReason : false, timeout: 180_000 }, () => {
  it(`${WORKFLOWS} workflows × a parallel step with 2 wait members, their events sent from another process as the step parks: no lost wake-up, no double take`, async (t) => {
    if (postgresReason instanceof Error) throw postgresReason
    const schema = uniqueSchemaName()
    const storage = new PostgresStorageProvider(connectionString, { schema, poolConfig: { max: 4 } })
    const client = new WorkflowClient({ storageProvider: storage, pollIntervalMS: 500 })
    const workers = new RaceWorkers(schema, { runners: RUNNERS, senders: SENDERS, sendDelayMS: SEND_DELAY_MS })
    try {
      await storage.init()
      const ids = await addRaceWorkflows(client, WORKFLOWS, (key) => ({
        p: {
          parallel: {
            arrive: { task: "Arrive", data: key },
            first: { waitForEvent: { name: "race", key } },
            second: { waitForEvent: { name: "race", key } },
          },
        },
      }))
      await workers.start()
      await workers.allSent(t, WORKFLOWS / 2, 120_000)
      await assertAllSettle(client, SETTLE_MS)

      await assertEachCompleted(client, ids, (info, key) => {
        const result = info.tasks[0]?.result as Record<string, { eventID: string }>
        // Either member may take either event (one may find the first event just after the other found none): two different ones.
        const got = [result.first?.eventID, result.second?.eventID].sort()
        assert.deepEqual(got, [`${key}-1`, `${key}-2`], `${info.id} took ${got.join(", ")}: the two members must take the key's two events, one each`)
      })

      const { parks, woke } = await workers.stop()
      t.diagnostic(`parks: ${JSON.stringify(parks)}; sends that woke a parked waiter: ${woke}`)
      // The interleaving happened both ways, many times: parks that saw an event sent after their read, and sends that woke parked waiters.
      assert.ok(parks.parked >= 20, `only ${parks.parked} parallel steps parked: the events arrived too early to race with the waits`)
      assert.ok(parks.eventArrived >= 20, `only ${parks.eventArrived} parks found an event sent after their members' reads`)
      assert.ok(woke >= 20, `only ${woke} sends woke a parked waiter`)
    } finally {
      workers.kill()
      await client.close()
      await dropSchema(schema).catch(() => {})
    }
  })
})
