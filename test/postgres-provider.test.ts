/**
 * PostgresStorageProvider on a real Postgres: the conformance suite, plus what
 * only a shared network database can get wrong: concurrent processes (inserts,
 * claims, init), fencing, batching, LISTEN/NOTIFY, lost connections, and SQL
 * injection through names.
 */
import assert from "node:assert/strict"
import { randomUUID } from "node:crypto"
import { after, before, describe, it } from "node:test"
import pg from "pg"
import type { NewWorkflow } from "../src/storage/provider.js"
import { type CompactWrite, retryRequest, writes } from "./helpers/writes.js"
import { PostgresStorageProvider, type PostgresStorageOptions } from "../src/storage/postgres.js"
import { runProviderConformance } from "../src/testing/index.js"
import { adminQuery, connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { waitFor } from "./helpers/wait.js"
import { SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION } from "../src/storage/postgres/schema.js"

const skip = await postgresSkipReason()
const T0 = 1_700_000_000_000
const A = { owner: "runner-a", token: "token-a" }
const B = { owner: "runner-b", token: "token-b" }

describe("PostgresStorageProvider names", () => {
  const bad: Array<[string, PostgresStorageOptions]> = [
    ["a schema with a statement in it", { schema: "x; drop table y" }],
    ["a schema with a quote", { schema: 'x"y' }],
    ["a schema in upper case", { schema: "Jobs" }],
    ["a schema starting with a digit", { schema: "1jobs" }],
    ["an empty schema", { schema: "" }],
    ["an overlong schema", { schema: "s".repeat(42) }],
    ["a prefix with a statement in it", { tablePrefix: "x; drop table y; --" }],
    ["a prefix with a dot", { tablePrefix: "other.t_" }],
    ["a prefix with a space", { tablePrefix: "a b" }],
  ]
  for (const [what, options] of bad) {
    it(`rejects ${what}, naming the value`, () => {
      const value = options.schema ?? options.tablePrefix
      assert.throws(
        () => new PostgresStorageProvider(connectionString, options),
        (error: unknown) => error instanceof Error && error.message.includes(JSON.stringify(value)) && /invalid/.test(error.message),
      )
    })
  }

  for (const bad of [0, 1.5, 65, "2"]) {
    it(`rejects writeBatchesInFlight ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => new PostgresStorageProvider(connectionString, { writeBatchesInFlight: bad as number }),
        /writeBatchesInFlight must be an integer from 1 to 64/,
      )
    })
  }

  it("accepts plain names and an empty prefix, each with a notification channel of its own", { timeout: 20_000 }, async () => {
    const channels: string[] = []
    for (const options of [{ schema: "jobs_2", tablePrefix: "" }, { schema: "_x", tablePrefix: "app_" }, { schema: "_x", tablePrefix: "" }]) {
      const provider = new PostgresStorageProvider(connectionString, options)
      assert.match(provider.notificationChannel, new RegExp(`^${options.tablePrefix}work_[0-9a-f]{12}$`))
      channels.push(provider.notificationChannel)
      await provider.close()
    }
    assert.equal(new Set(channels).size, channels.length, `two schema/prefix pairs share a channel: ${channels.join(", ")}`)
  })
})

describe("PostgresStorageProvider", { skip: skip ?? false }, () => {
  const schema = uniqueSchemaName()
  const opened: PostgresStorageProvider[] = []
  let p: PostgresStorageProvider

  /** A provider on this file's schema, with its own pool (as another process would have). */
  function open(options: PostgresStorageOptions = {}): PostgresStorageProvider {
    const provider = new PostgresStorageProvider(connectionString, { schema, ...options })
    opened.push(provider)
    return provider
  }

  before(async () => {
    p = open()
  })

  after(async () => {
    for (const provider of opened.splice(0)) await provider.close()
    await dropSchema(schema)
  })

  it("creates its schema once when many processes init at the same time", { timeout: 20_000 }, async () => {
    const providers = Array.from({ length: 8 }, () => open({ poolConfig: { max: 1 } }))
    await Promise.all(providers.map((provider) => provider.init()))
    await p.init()
    await p.init()
    const versions = await adminQuery<{ version: number }>(`SELECT version FROM ${schema}.durabletasks_schema_version`)
    assert.deepEqual(versions.map((v) => v.version).sort((a, b) => a - b), Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1))
    const indexes = await adminQuery<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname",
      [schema],
    )
    assert.deepEqual(
      indexes.map((i) => i.indexname),
      [
        "durabletasks_events_event_id_key",
        "durabletasks_events_match",
        "durabletasks_events_pkey",
        "durabletasks_events_sent",
        "durabletasks_schedules_buffered",
        "durabletasks_schedules_due",
        "durabletasks_schedules_pkey",
        "durabletasks_schema_version_pkey",
        "durabletasks_tasks_event_waits",
        "durabletasks_tasks_pkey",
        "durabletasks_workflows_cancelled_created",
        "durabletasks_workflows_claimable",
        "durabletasks_workflows_created",
        "durabletasks_workflows_ended_at",
        "durabletasks_workflows_failed_created",
        "durabletasks_workflows_not_completed",
        "durabletasks_workflows_parent",
        "durabletasks_workflows_pkey",
      ],
    )
  })

  it("refuses tables made by a newer durabletasks", { timeout: 20_000 }, async () => {
    const other = uniqueSchemaName()
    const provider = new PostgresStorageProvider(connectionString, { schema: other })
    try {
      await provider.init()
      await adminQuery(`INSERT INTO ${other}.durabletasks_schema_version (version) VALUES (99)`)
      const later = new PostgresStorageProvider(connectionString, { schema: other })
      await assert.rejects(later.init(), new RegExp(`schema version 99, newer than this library's ${POSTGRES_SCHEMA_VERSION}: upgrade durabletasks`))
      await later.close()
    } finally {
      await provider.close()
      await dropSchema(other)
    }
  })

  it("migrates version 1 tables, keeping their rows", { timeout: 20_000 }, async () => {
    const other = uniqueSchemaName()
    const provider = new PostgresStorageProvider(connectionString, { schema: other })
    try {
      await provider.init()
      await provider.insertWorkflowsAndTasks([{ id: "old", now: 1, tasks: [{ name: "a", task: "T", data: "1" }] }])
      // Back to what version 1 made.
      await adminQuery(`ALTER TABLE ${other}.durabletasks_workflows DROP COLUMN recoveries, DROP COLUMN crashes`)
      await adminQuery(
        `ALTER TABLE ${other}.durabletasks_tasks DROP COLUMN kind, DROP COLUMN wake_at, DROP COLUMN event_name, DROP COLUMN event_key, DROP COLUMN event_after, DROP COLUMN event_seq`,
      )
      await adminQuery(`DROP TABLE ${other}.durabletasks_events`)
      await adminQuery(`DROP TABLE ${other}.durabletasks_schedules`)
      await adminQuery(`DELETE FROM ${other}.durabletasks_schema_version WHERE version >= 2`)
      const later = new PostgresStorageProvider(connectionString, { schema: other })
      try {
        await later.init()
        const versions = await adminQuery<{ version: number }>(`SELECT version FROM ${other}.durabletasks_schema_version`)
        assert.deepEqual(versions.map((v) => v.version).sort((a, b) => a - b), Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1))
        const stored = await later.getWorkflow("old")
        assert.equal(stored?.workflow.recoveries, 0)
        assert.equal(stored?.workflow.crashes, 0)
        assert.equal(stored?.tasks[0]?.data, "1")
        assert.equal(stored?.tasks[0]?.kind, "task", "version 5 makes every task stored before it a task step")
        assert.equal(stored?.tasks[0]?.wakeAt, null)
      } finally {
        await later.close()
      }
    } finally {
      await provider.close()
      await dropSchema(other)
    }
  })

  it("inserts idempotently, in input order, a repeated ID once", { timeout: 20_000 }, async () => {
    const [a, b, c] = [uid(), uid(), uid()]
    assert.deepEqual(await p.insertWorkflowsAndTasks([newWorkflow(a, 2), newWorkflow(b, 1)]), [true, true])
    const changed = { ...newWorkflow(a, 3), now: T0 + 99 }
    assert.deepEqual(await p.insertWorkflowsAndTasks([changed, newWorkflow(c, 1), newWorkflow(c, 4)]), [false, true, false])
    const stored = await p.getWorkflow(a)
    assert.equal(stored?.workflow.createdAt, T0, "an existing workflow was changed")
    assert.equal(stored?.tasks.length, 2)
    assert.equal((await p.getWorkflow(c))?.tasks.length, 1, "a repeated ID in one batch got two task sets")
    assert.deepEqual(await p.insertWorkflowsAndTasks([]), [])
  })

  it("creates one workflow and one task set when 20 processes insert the same ID at once", { timeout: 20_000 }, async () => {
    const providers = Array.from({ length: 20 }, () => open({ poolConfig: { max: 1 } }))
    const id = uid()
    const inputs = providers.map((_, i) => ({
      id,
      now: T0 + i,
      tasks: Array.from({ length: 1 + (i % 3) }, (_, seq) => ({ name: `t${seq}`, task: "Runner", data: JSON.stringify({ writer: i, seq }) })),
    }))
    const created = (await Promise.all(providers.map((provider, i) => provider.insertWorkflowsAndTasks([inputs[i]!])))).map((r) => r[0])
    assert.equal(created.filter((x) => x === true).length, 1)
    const winner = created.indexOf(true)
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.workflow.createdAt, T0 + winner)
    assert.deepEqual(stored?.tasks.map((t) => t.data), inputs[winner]!.tasks.map((t) => t.data))
    const count = await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.durabletasks_tasks WHERE workflow_id = $1`, [id])
    assert.equal(Number(count[0]?.n), inputs[winner]!.tasks.length)
  })

  it("returns times as numbers and JSON text byte for byte", { timeout: 20_000 }, async () => {
    const id = uid()
    const data = JSON.stringify({ s: "héllo ✓ 𝄞 \u0000 \\ \"q\" '; DROP TABLE x; --", lone: "\ud800", n: -0.1e-7 })
    await p.insertWorkflowsAndTasks([{ id, now: 8_640_000_000_000_000 - 1, tasks: [{ name: "a'b", task: "R\"", data }] }])
    const stored = await p.getWorkflow(id)
    assert.equal(stored?.tasks[0]?.data, data)
    assert.equal(stored?.tasks[0]?.name, "a'b")
    assert.equal(stored?.workflow.createdAt, 8_640_000_000_000_000 - 1)
    assert.equal(typeof stored?.tasks[0]?.createdAt, "number")
    await assert.rejects(p.insertWorkflowsAndTasks([{ id: "nul\u0000id", now: T0, tasks: [] }]), /U\+0000/)
    assert.equal(await p.getWorkflow("nul\u0000id"), null)
  })

  it("never hands a workflow to two processes claiming at the same time", { timeout: 20_000 }, async () => {
    const [q, r] = [open({ poolConfig: { max: 4 } }), open({ poolConfig: { max: 4 } })]
    const base = T0 + 1e12
    const wfs = Array.from({ length: 300 }, () => uid())
    await p.insertWorkflowsAndTasks(wfs.map((id) => newWorkflow(id, 2, base)))
    const claimedBy = new Map<string, string>()
    const duplicates: string[] = []
    const claimer = async (provider: PostgresStorageProvider, name: string) => {
      for (;;) {
        const got = await provider.claimWorkflows(claim({ owner: name, token: name }, base, 7))
        if (got.length === 0) return
        for (const w of got) {
          if (claimedBy.has(w.workflow.id)) duplicates.push(w.workflow.id)
          claimedBy.set(w.workflow.id, name)
        }
      }
    }
    await Promise.all([q, r].flatMap((provider, i) => [0, 1, 2, 3].map((j) => claimer(provider, `claimer-${i}-${j}`))))
    assert.deepEqual(duplicates, [])
    assert.equal(wfs.filter((id) => claimedBy.has(id)).length, wfs.length)
    const owners = await adminQuery<{ lease_token: string; n: string }>(
      `SELECT lease_token, count(*) AS n FROM ${schema}.durabletasks_workflows WHERE id = ANY($1) GROUP BY lease_token`,
      [wfs],
    )
    for (const { lease_token, n } of owners) {
      assert.equal(Number(n), wfs.filter((id) => claimedBy.get(id) === lease_token).length)
    }
    const sample = await p.getWorkflow(wfs[0]!)
    assert.equal(sample?.workflow.leaseToken, claimedBy.get(wfs[0]!))
  })

  it("fences off a stale lease holder: its update changes nothing", { timeout: 20_000 }, async () => {
    const id = uid()
    await p.insertWorkflowsAndTasks([{ ...newWorkflow(id, 2), lease: { ...A, expiresAt: T0 + 1000 } }])
    const taken = await p.claimWorkflows(claim(B, T0 + 1000, 100_000))
    assert.ok(taken.some((w) => w.workflow.id === id))
    const before = await p.getWorkflow(id)
    const stale: CompactWrite = {
      ...completeTask(id, A.token, 0, T0 + 5000),
      workflow: { status: "completed" },
    }
    assert.deepEqual(await p.applyWorkflowWrites(writes([stale])), [false])
    assert.deepEqual(await p.getWorkflow(id), before, "a fenced update changed something")
    assert.deepEqual(await p.applyWorkflowWrites(writes([completeTask(id, B.token, 0, T0 + 5000)])), [true])
    assert.equal((await p.getWorkflow(id))?.tasks[0]?.status, "completed")
  })

  it("applies several updates of one workflow in one batch in order, with other workflows", { timeout: 20_000 }, async () => {
    const [x, y, z] = [await leased(p, 3), await leased(p, 2), await leased(p, 1)]
    const results = await p.applyWorkflowWrites(writes([
      completeTask(x, A.token, 0),
      completeTask(y, A.token, 0),
      completeTask(x, A.token, 1),
      // Released for a retry: the next write of x in this batch is fenced off.
      { workflowID: x, token: A.token, now: T0 + 8, task: { seq: 2, status: "pending", error: "boom", attempts: 1 }, workflow: { status: "pending", availableAt: T0 + 50 } },
      completeTask(x, A.token, 2),
      { ...completeTask(y, A.token, 1), workflow: { status: "completed" } },
      completeTask(z, B.token, 0),
      completeTask(y, A.token, 0),
    ]))
    assert.deepEqual(results, [true, true, true, true, false, true, false, false])
    const sx = await p.getWorkflow(x)
    assert.deepEqual(sx?.tasks.map((t) => [t.status, t.attempts, t.error]), [["completed", 0, null], ["completed", 0, null], ["pending", 1, "boom"]])
    assert.equal(sx?.workflow.leaseToken, null)
    assert.equal(sx?.workflow.availableAt, T0 + 50)
    const sy = await p.getWorkflow(y)
    assert.equal(sy?.workflow.status, "completed")
    assert.deepEqual(sy?.tasks.map((t) => t.status), ["completed", "completed"])
    assert.equal((await p.getWorkflow(z))?.tasks[0]?.status, "pending")
  })

  it("writes a batch of 2,000 updates in one statement on one connection", { timeout: 20_000 }, async () => {
    const pool = new pg.Pool({ connectionString, max: 2 })
    const provider = new PostgresStorageProvider(pool, { schema })
    try {
      const ids = Array.from({ length: 2000 }, () => uid())
      await provider.insertWorkflowsAndTasks(ids.map((id) => ({ ...newWorkflow(id, 1), lease: { ...A, expiresAt: T0 + 1e13 } })))
      let acquired = 0
      pool.on("acquire", () => acquired++)
      const results = await provider.applyWorkflowWrites(writes(ids.map((id) => ({ ...completeTask(id, A.token, 0), workflow: { status: "completed" } }))))
      assert.equal(acquired, 1)
      assert.ok(results.every((x) => x === true))
      const done = await adminQuery<{ n: string }>(
        `SELECT count(*) AS n FROM ${schema}.durabletasks_tasks WHERE workflow_id = ANY($1) AND status = 'completed'`,
        [ids],
      )
      assert.equal(Number(done[0]?.n), 2000)
    } finally {
      await provider.close()
      assert.equal(pool.ended, false, "close() ended a pool it did not create")
      await pool.end()
    }
  })

  it("renews and releases only the leases its token holds", { timeout: 20_000 }, async () => {
    const [mine, theirs] = [await leased(p, 1), await leased(p, 1, B)]
    assert.deepEqual(await p.renewLeases({ token: A.token, workflowIDs: [theirs, mine, uid()], expiresAt: T0 + 5e13 }), [mine])
    assert.equal((await p.getWorkflow(mine))?.workflow.availableAt, T0 + 5e13)
    assert.equal((await p.getWorkflow(theirs))?.workflow.availableAt, T0 + 1e13)
    await p.releaseLeases({ token: A.token, workflowIDs: [mine, theirs], availableAt: T0 + 3 })
    const released = await p.getWorkflow(mine)
    assert.deepEqual([released?.workflow.leaseOwner, released?.workflow.leaseToken, released?.workflow.availableAt], [null, null, T0 + 3])
    assert.equal((await p.getWorkflow(theirs))?.workflow.leaseToken, B.token)
    assert.deepEqual(await p.renewLeases({ token: A.token, workflowIDs: [mine], expiresAt: T0 + 6e13 }), [], "renewed a released lease")
  })

  it("reclaims its own earlier life's leases at once, before their expiry", { timeout: 20_000 }, async () => {
    const id = uid()
    await p.insertWorkflowsAndTasks([{ ...newWorkflow(id, 1), lease: { owner: "restarting", token: "life-1", expiresAt: T0 + 9e13 } }])
    const got = await p.claimWorkflows({ lease: { owner: "restarting", token: "life-2", expiresAt: T0 + 100 }, now: T0, limit: 1_000_000, reclaimOwn: true })
    assert.ok(got.some((w) => w.workflow.id === id && w.workflow.leaseToken === "life-2"))
  })

  it("cancels, retries and deletes ended workflows, never pending ones", { timeout: 20_000 }, async () => {
    const cancelled = await leased(p, 1)
    assert.equal(await p.cancelWorkflow(cancelled, T0 + 10), true)
    assert.equal(await p.cancelWorkflow(cancelled, T0 + 11), false)
    assert.deepEqual(await p.applyWorkflowWrites(writes([completeTask(cancelled, A.token, 0)])), [false])

    const failed = await leased(p, 3)
    await p.applyWorkflowWrites(writes([
      { workflowID: failed, token: A.token, now: T0 + 20, task: { seq: 0, status: "failed", error: "aborted", attempts: 0 } },
      { workflowID: failed, token: A.token, now: T0 + 21, task: { seq: 1, status: "failed", error: "fatal", attempts: 3 }, workflow: { status: "failed" } },
    ]))
    assert.equal(await p.retryWorkflow(await retryRequest(p, failed, T0 + 30)), true)
    const resumed = await p.getWorkflow(failed)
    assert.deepEqual(resumed?.tasks.map((t) => [t.status, t.attempts, t.error]), [["failed", 0, "aborted"], ["pending", 0, "fatal"], ["pending", 0, null]])
    assert.deepEqual([resumed?.workflow.status, resumed?.workflow.leaseToken, resumed?.workflow.availableAt], ["pending", null, T0 + 30])
    assert.equal(await p.retryWorkflow(await retryRequest(p, failed, T0 + 31)), false)
    assert.equal(await p.retryWorkflow({ id: uid(), now: T0, resumeSeq: 0, counts: { recoveries: 0, crashes: 0 } }), false)

    const oldPending = uid()
    await p.insertWorkflowsAndTasks([newWorkflow(oldPending, 2, 1)])
    const deleted = await p.deleteEndedWorkflows(T0 + 1_000)
    assert.ok(deleted >= 1)
    assert.equal(await p.getWorkflow(cancelled), null)
    assert.equal((await p.getWorkflow(oldPending))?.tasks.length, 2, "a pending workflow was deleted")
    assert.ok(await p.getWorkflow(failed), "a resumed (pending) workflow was deleted")
    const orphans = await adminQuery(`SELECT 1 FROM ${schema}.durabletasks_tasks WHERE workflow_id = $1`, [cancelled])
    assert.deepEqual(orphans, [])
  })

  it("lists in byte order of IDs, a page at a time", { timeout: 20_000 }, async () => {
    const prefix = `list-${randomUUID()}-`
    const ids = ["b", "B", "a", "_", "ä"].map((s) => prefix + s)
    await p.insertWorkflowsAndTasks(ids.map((id) => newWorkflow(id, 1)))
    const listed: string[] = []
    let afterID = prefix
    for (;;) {
      const page = (await p.listWorkflows({ status: "pending", afterID, limit: 2 })).filter((w) => w.id.startsWith(prefix))
      if (page.length === 0) break
      listed.push(...page.map((w) => w.id))
      afterID = page[page.length - 1]!.id
    }
    assert.deepEqual(listed, [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))))
  })

  it("wakes listeners through LISTEN/NOTIFY, and again after its connection is killed", { timeout: 30_000 }, async () => {
    const q = open()
    const wakes = counter()
    const unsubscribe = p.onWorkAvailable(wakes.call)
    try {
      const listenerPid = async (): Promise<number | undefined> => {
        const rows = await adminQuery<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query = $1", [`LISTEN ${p.notificationChannel}`])
        return rows[0]?.pid
      }
      const first = await waitUntil(listenerPid)

      await q.insertWorkflowsAndTasks([newWorkflow(uid(), 1)])
      await wakes.reach(1)

      await adminQuery("SELECT pg_terminate_backend($1)", [first])
      await wakes.reach(2) // called once after reconnecting
      const second = await waitUntil(listenerPid)
      assert.notEqual(second, first)

      await q.insertWorkflowsAndTasks([newWorkflow(uid(), 1)])
      await wakes.reach(3)

      const id = await leased(q, 1)
      await q.releaseLeases({ token: A.token, workflowIDs: [id], availableAt: T0 })
      await wakes.reach(4)

      const retried = await leased(q, 1)
      await q.applyWorkflowWrites(writes([
        { workflowID: retried, token: A.token, now: T0, task: { seq: 0, status: "pending", error: "x", attempts: 1 }, workflow: { status: "pending", availableAt: T0 } },
      ]))
      await wakes.reach(5)

      const failed = await leased(q, 1)
      await q.applyWorkflowWrites(writes([{ workflowID: failed, token: A.token, now: T0, task: { seq: 0, status: "failed", error: "x", attempts: 0 }, workflow: { status: "failed" } }]))
      await q.retryWorkflow(await retryRequest(q, failed, T0))
      await wakes.reach(6)
    } finally {
      unsubscribe()
    }
    // The last unsubscribe closes the LISTEN connection.
    await waitUntil(async () => {
      const rows = await adminQuery("SELECT pid FROM pg_stat_activity WHERE query = $1", [`LISTEN ${p.notificationChannel}`])
      return rows.length === 0 ? true : undefined
    })
  })

  it("works on, for every call, right after all its connections are killed", { timeout: 60_000 }, async () => {
    const applicationName = `dt_test_${randomUUID().slice(0, 8)}`
    const provider = open({ poolConfig: { application_name: applicationName, max: 4 } })
    await provider.init()
    const removed = counter()
    provider.pool.on("remove", removed.call)
    let dropped = 0
    for (let round = 0; round < 5; round++) {
      const id = await leased(provider, 2)
      const failed = await leased(provider, 1)
      await provider.applyWorkflowWrites(writes([
        { workflowID: failed, token: A.token, now: T0, task: { seq: 0, status: "failed", error: "x", attempts: 0 }, workflow: { status: "failed" } },
      ]))
      await Promise.all(Array.from({ length: 8 }, () => provider.getWorkflow(id)))
      const connections = provider.pool.totalCount
      assert.ok(connections >= 2)

      await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [applicationName])
      // At once, before the pool may have noticed: idle clients are dead, and every kind of call still succeeds.
      const results = await Promise.all([
        provider.getWorkflow(id).then((w) => w?.workflow.id),
        provider.listWorkflows({ afterID: id, limit: 1 }).then((rows) => rows.length <= 1),
        provider.renewLeases({ token: A.token, workflowIDs: [id], expiresAt: T0 + 2e13 }),
        provider.applyWorkflowWrites(writes([completeTask(id, A.token, 0)])),
        provider.insertWorkflowsAndTasks([newWorkflow(uid(), 1)]),
        provider.claimWorkflows(claim(B, 0, 1)),
        provider.retryWorkflow(await retryRequest(provider, failed, T0 + 1)),
        provider.deleteEndedWorkflows(0),
      ])
      assert.deepEqual(results, [id, true, [id], [true], [true], [], true, 0])
      assert.equal(await provider.cancelWorkflow(id, T0 + 1), true)
      // The pool dropped every dead client.
      dropped += connections
      await removed.reach(dropped)
    }
  })

  it("runs a statement again on a new connection when the server kills its session mid-statement", { timeout: 30_000 }, async () => {
    const applicationName = `dt_test_${randomUUID().slice(0, 8)}`
    const provider = open({ poolConfig: { application_name: applicationName } })
    await provider.init()
    const id = await leased(provider, 1)
    const blockedPids = async () =>
      (
        await adminQuery<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' ORDER BY pid",
          [applicationName],
        )
      ).map((r) => r.pid)
    /** Waits until exactly one statement of the provider waits on the lock, other than `known`, and returns its backend. */
    const nextBlocked = (known: number[]) =>
      waitUntil(async () => {
        const pids = (await blockedPids()).filter((pid) => !known.includes(pid))
        return pids.length === 1 ? pids[0] : undefined
      })
    const locker = new pg.Client({ connectionString })
    locker.on("error", () => {})
    await locker.connect()
    try {
      // A statement blocked on a table lock has surely started; killing it then tests a mid-statement loss.
      await locker.query("BEGIN")
      await locker.query(`LOCK TABLE ${schema}.durabletasks_workflows IN ACCESS EXCLUSIVE MODE`)
      // Settled into values at once, so no rejection is unhandled while we wait.
      const reading = provider.getWorkflow(id).then((value) => ({ value }), (error: unknown) => ({ error }))
      const firstRead = await nextBlocked([])
      await adminQuery("SELECT pg_terminate_backend($1)", [firstRead])
      const secondRead = await nextBlocked([firstRead])

      const cancelling = provider.cancelWorkflow(id, T0 + 1).then((value) => ({ value }), (error: unknown) => ({ error }))
      const firstWrite = await nextBlocked([firstRead, secondRead])
      await adminQuery("SELECT pg_terminate_backend($1)", [firstWrite])
      // The server aborted the killed write, so it runs again and waits for the lock anew.
      await nextBlocked([firstRead, secondRead, firstWrite])

      await locker.query("COMMIT")
      assert.deepEqual(await cancelling, { value: true })
      const read = await reading
      assert.ok("value" in read && read.value?.workflow.id === id)
      assert.equal((await provider.getWorkflow(id))?.workflow.status, "cancelled")
    } finally {
      await locker.end()
    }
  })

  it("prepares its statements once per connection, or not at all with preparedStatements: false", { timeout: 20_000 }, async () => {
    for (const prepared of [true, false]) {
      const pool = new pg.Pool({ connectionString, max: 1 })
      const provider = new PostgresStorageProvider(pool, { schema, ...(prepared ? {} : { preparedStatements: false }) })
      const id = uid()
      await provider.insertWorkflowsAndTasks([newWorkflow(id, 2)])
      await provider.getWorkflow(id)
      await provider.getWorkflow(id)
      // The pool's one connection is the provider's: its prepared statements are visible to it.
      const names = (await pool.query<{ name: string }>("SELECT name FROM pg_prepared_statements")).rows.map((r) => r.name)
      const ours = names.filter((n) => n.startsWith("durabletasks_"))
      if (prepared) assert.ok(ours.length >= 2, `insert and read are prepared: ${names.join(", ")}`)
      else assert.deepEqual(ours, [])
      await provider.close()
      await pool.end()
    }
  })

  it("leaves a pool it was given open, and ends its own", { timeout: 20_000 }, async () => {
    const pool = new pg.Pool({ connectionString, max: 1 })
    const given = new PostgresStorageProvider(pool, { schema })
    await given.getWorkflow(uid())
    await given.close()
    assert.deepEqual((await pool.query("SELECT 1 AS one")).rows, [{ one: 1 }])
    await pool.end()
    const own = new PostgresStorageProvider(connectionString, { schema })
    await own.getWorkflow(uid())
    await own.close()
    assert.equal(own.pool.ended, true)
  })
})

{
  const schema = uniqueSchemaName()
  runProviderConformance("Postgres", () => new PostgresStorageProvider(connectionString, { schema, poolConfig: { max: 4 } }), {
    skip,
    cleanup: () => dropSchema(schema),
  })
  const prefixed = uniqueSchemaName()
  runProviderConformance(
    "Postgres, table prefix, no notifications, unprepared statements",
    () =>
      new PostgresStorageProvider(connectionString, {
        schema: prefixed,
        tablePrefix: "other_app_",
        notifications: false,
        preparedStatements: false,
        poolConfig: { max: 4 },
      }),
    { skip, cleanup: () => dropSchema(prefixed) },
  )
}

function uid(): string {
  return `pg-${randomUUID()}`
}

function newWorkflow(id: string, taskCount: number, now = T0): NewWorkflow {
  return {
    id,
    now,
    tasks: Array.from({ length: taskCount }, (_, i) => ({ name: `t${i}`, task: "Runner", data: JSON.stringify({ i }) })),
  }
}

/** Inserts a workflow already leased (far into the future) to `who`. */
async function leased(provider: PostgresStorageProvider, taskCount: number, who = A): Promise<string> {
  const id = uid()
  await provider.insertWorkflowsAndTasks([{ ...newWorkflow(id, taskCount), lease: { ...who, expiresAt: T0 + 1e13 } }])
  return id
}

function claim(who: { owner: string; token: string }, now: number, limit: number) {
  return { lease: { ...who, expiresAt: now + 1000 }, now, limit, reclaimOwn: false }
}

function completeTask(workflowID: string, token: string, seq: number, now = T0 + 7): CompactWrite {
  return { workflowID, token, now, task: { seq, status: "completed", result: JSON.stringify(`r${seq}`), error: null, attempts: 0 } }
}

/** Counts calls; `reach(n)` resolves once there have been at least `n`. */
function counter(): { call: () => void; reach: (n: number) => Promise<void> } {
  let count = 0
  const waiters: Array<{ n: number; resolve: () => void }> = []
  return {
    call() {
      count++
      for (const w of waiters.filter((w) => count >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    },
    reach(n) {
      if (count >= n) return Promise.resolve()
      const reached = new Promise<void>((resolve) => waiters.push({ n, resolve }))
      return waitFor(reached, { what: `call ${n} (${count} so far)`, timeoutMS: 10_000 })
    },
  }
}

/** Polls a database condition (state that has no event) until it yields a value. */
function waitUntil<T>(probe: () => Promise<T | undefined>, timeoutMS = 10_000): Promise<T> {
  return waitFor(probe, { what: "a database condition", timeoutMS })
}
