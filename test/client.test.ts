/**
 * The WorkflowClient: a process with no task code adds, reads, cancels and
 * retries workflows, and waits for results of workflows that other processes
 * run.
 */
import assert from "node:assert/strict"
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import { RunnerStoppedError, ValidationError, WorkflowClient, defineTask } from "../src/index.js"
import type { StorageProvider, WorkflowStatus } from "../src/storage/provider.js"
import { ALL_STORES, startRunner } from "./helpers/runner.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"

/** Counts the reads a result() waiter makes. */
function countingReads(storage: StorageProvider): { storage: StorageProvider; statusReads: number[]; batchReads: number[]; singleReads: () => number } {
  const statusReads: number[] = []
  const batchReads: number[] = []
  let singles = 0
  const counted = Object.create(storage) as StorageProvider
  const statuses = storage.getWorkflowStatuses?.bind(storage)
  if (statuses) {
    counted.getWorkflowStatuses = async (ids: string[]) => {
      statusReads.push(ids.length)
      return statuses(ids)
    }
  }
  const many = storage.getWorkflows?.bind(storage)
  if (many) {
    counted.getWorkflows = async (ids: string[]) => {
      batchReads.push(ids.length)
      return many(ids)
    }
  }
  counted.getWorkflow = async (id: string) => {
    singles++
    return storage.getWorkflow(id)
  }
  return { storage: counted, statusReads, batchReads, singleReads: () => singles }
}

for (const store of ALL_STORES) {
  describe(`WorkflowClient (${store.name})`, { timeout: 30_000, skip: store.skip }, () => {
    it("adds workflows naming runners this process does not have; a runner sharing the store runs them and result() resolves", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const client = new WorkflowClient({ storageProvider: storage, pollIntervalMS: 20 })
      t.after(() => client.close({ closeStorage: false }))
      const handle = await client.addWorkflow({ workflowID: "from-client", tasks: { greet: { task: "Greet", data: "Ada" } } })
      assert.deepEqual({ id: handle.id, created: handle.created }, { id: "from-client", created: true })
      const again = await client.addWorkflow({ workflowID: "from-client", tasks: { greet: { task: "Greet", data: "other" } } })
      assert.equal(again.created, false)
      assert.equal((await client.getWorkflow("from-client"))?.status, "pending")

      const runner = await startRunner(t, storage, [{ Name: "Greet", Execute: async (ctx) => ({ data: `hello ${String(ctx.data)}` }) }])
      t.after(() => runner.stop({ closeStorage: false }))
      const info = await handle.result()
      assert.equal(info.status, "completed")
      assert.equal(info.tasks[0]?.result, "hello Ada")
      assert.equal((await client.listWorkflows({ status: "completed" })).length, 1)
    })

    it("tells what a pending workflow is doing: queued, running, waiting to retry; null once ended", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const client = new WorkflowClient({ storageProvider: storage })
      t.after(() => client.close({ closeStorage: false }))
      await client.addWorkflow({ workflowID: "blocked", tasks: { a: { task: "Block" } } })
      await client.addWorkflow({ workflowID: "flaky", tasks: { a: { task: "Flaky" } } })
      assert.equal((await client.getWorkflow("blocked"))?.state, "queued")
      let release: () => void = () => {}
      const gate = new Promise<void>((r) => (release = r))
      t.after(() => release())
      const runner = await startRunner(t, 
        storage,
        [
          { Name: "Block", Execute: async () => (await gate, { data: 1 }) },
          { Name: "Flaky", Execute: async () => { throw new Error("not yet") } },
        ],
        { retryDelayMS: 60_000 },
      )
      t.after(() => runner.stop({ closeStorage: false, timeoutMS: 0 }))
      const deadline = Date.now() + 5_000
      while ((await client.getWorkflow("flaky"))?.tasks[0]?.attempts !== 1) {
        assert.ok(Date.now() < deadline, "the flaky task failed once within 5 s")
        await new Promise((r) => setTimeout(r, 10))
      }
      const flaky = await client.getWorkflow("flaky")
      assert.equal(flaky?.state, "waiting")
      assert.ok(flaky?.nextRunAt && flaky.nextRunAt.getTime() > Date.now() + 50_000, "waiting until the retry")
      const running = (await client.listWorkflows()).find((w) => w.id === "blocked")
      assert.equal(running?.state, "running")
      assert.equal(running?.lease?.owner, "local")
      release()
      assert.equal((await (await client.addWorkflow({ workflowID: "blocked", tasks: { a: { task: "Block" } } })).result()).state, null)
    })

    it("refuses names outside knownTasks, and anything that is not a task, before writing", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const client = new WorkflowClient({ storageProvider: storage, knownTasks: ["Known"] })
      t.after(() => client.close())
      await assert.rejects(client.addWorkflow({ workflowID: "x", tasks: { a: { task: "Unknown" } } }), (e: unknown) => {
        assert.ok(e instanceof ValidationError)
        assert.match(e.message, /names runner "Unknown", which is not registered with this WorkflowClient \(knownTasks\)/)
        return true
      })
      await assert.rejects(client.addWorkflow({ workflowID: "y", tasks: {} }), ValidationError)
      await assert.rejects(client.addWorkflow({ workflowID: "z", tasks: { a: { task: "Known", data: () => 1 } } }), /JSON/)
      assert.equal(await client.getWorkflow("x"), null)
      assert.equal((await client.listWorkflows()).length, 0)
      assert.throws(() => new WorkflowClient({ storageProvider: storage, knownTasks: [""] }), ValidationError)
      assert.throws(() => new WorkflowClient({ storageProvider: storage, pollIntervalMS: 0 }), ValidationError)
    })

    it("cancels, retries and deletes; result() reports a cancel at once", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const client = new WorkflowClient({ storageProvider: storage, pollIntervalMS: 60_000 })
      t.after(() => client.close())
      const handle = await client.addWorkflow({ workflowID: "to-cancel", tasks: { a: { task: "Nobody" } } })
      const result = handle.result()
      assert.equal(await client.cancelWorkflow("to-cancel"), true)
      // The poll interval is a minute: only the local cancel can have resolved it.
      assert.equal((await result).status, "cancelled")
      assert.equal(await client.cancelWorkflow("to-cancel"), false)
      assert.equal(await client.retryWorkflow("to-cancel"), false)
      await new Promise((r) => setTimeout(r, 5)) // ended strictly before "now - 0"
      assert.equal(await client.deleteEndedWorkflows(0), 1)
      assert.equal(await client.getWorkflow("to-cancel"), null)
    })

    it("close() rejects waiting result() calls and refuses later adds", async (t) => {
      const { storage, cleanup } = store.open()
      t.after(cleanup)
      const client = new WorkflowClient({ storageProvider: storage })
      const handle = await client.addWorkflow({ tasks: { a: { task: "Nobody" } } })
      const waiting = handle.result()
      await client.close()
      await assert.rejects(waiting, RunnerStoppedError)
      await assert.rejects(client.addWorkflow({ tasks: { a: { task: "Nobody" } } }), RunnerStoppedError)
    })

    it("result() of many workflows reads their statuses in one batch per poll, not one read per workflow", async (t) => {
      const { storage: raw, cleanup } = store.open()
      t.after(cleanup)
      const { storage, statusReads, batchReads, singleReads } = countingReads(raw)
      const client = new WorkflowClient({ storageProvider: storage, pollIntervalMS: 50 })
      t.after(() => client.close())
      const handles = await Promise.all(Array.from({ length: 300 }, (_, i) => client.addWorkflow({ workflowID: `w${i}`, tasks: { a: { task: "Nobody" } } })))
      const results = Promise.all(handles.map((h) => h.result()))
      results.catch(() => {}) // awaited below; a failed assertion before then must not leave it unhandled
      await new Promise((r) => setTimeout(r, 400))
      // The first look (in case they had ended already) and then one look per poll.
      assert.ok(statusReads.length >= 4, `expected a batch read at once and every poll, saw ${statusReads.length} in 400 ms`)
      assert.ok(statusReads.every((n) => n === 300), `each read covers all 300 waited IDs at once, saw ${statusReads.join(", ")}`)
      assert.equal(singleReads(), 0, "no per-workflow reads")
      assert.deepEqual(batchReads, [], "nothing read in full while nothing has ended")
      // Ended elsewhere (a provider-level cancel, as another process would): found by the next poll.
      const ended = await Promise.all(handles.slice(0, 10).map((h) => raw.cancelWorkflow(h.id, Date.now())))
      assert.ok(ended.every(Boolean))
      const deadline = Date.now() + 5_000
      const readInFull = () => batchReads.reduce((a, b) => a + b, 0) + singleReads()
      while (readInFull() < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      await new Promise((r) => setTimeout(r, 100))
      // Found by a poll: one batch read of the 10. Announced by the provider (memory, Postgres NOTIFY): each read on
      // its own, and a poll under way may read some again. Never the 290 still pending.
      assert.ok(readInFull() >= 10 && readInFull() <= 20, `the 10 cancelled workflows are read in full once or twice each, saw ${readInFull()} reads`)
      assert.ok(batchReads.every((n) => n <= 10), `batch reads cover only ended workflows, saw ${batchReads.join(", ")}`)
      await Promise.all(handles.slice(10).map((h) => raw.cancelWorkflow(h.id, Date.now())))
      const infos = await results
      assert.ok(infos.every((i) => i.status === "cancelled"))
    })
  })
}

describe("WorkflowClient on Postgres", { timeout: 30_000 }, () => {
  it("result() is woken by NOTIFY when a workflow ends in another process's runner, not by its poll", async (t) => {
    if (postgresReason instanceof Error) throw postgresReason
    if (postgresReason !== undefined) return t.skip(postgresReason)
    const schema = uniqueSchemaName()
    t.after(() => dropSchema(schema).catch(() => {}))
    const storage = new PostgresStorageProvider(connectionString, { schema })
    // The client polls once a minute: only the notification can resolve its waiters within the bound below.
    const client = new WorkflowClient({ storageProvider: storage, pollIntervalMS: 60_000 })
    t.after(() => client.close())
    const handles = await Promise.all(Array.from({ length: 20 }, (_, i) => client.addWorkflow({ workflowID: `n${i}`, tasks: { a: { task: "Quick" } } })))
    const results = Promise.all(handles.map((h) => h.result()))
    results.catch(() => {})
    await new Promise((r) => setTimeout(r, 200)) // the waiters' first look is over, the LISTEN connection is up
    // A second provider (its own pool and LISTEN connection), as another process would have.
    const elsewhere = new PostgresStorageProvider(connectionString, { schema })
    const runner = await startRunner(t, elsewhere, [{ Name: "Quick", Execute: async () => ({ data: 1 }) }])
    t.after(() => runner.stop())
    const started = Date.now()
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("result() was not woken within 5 s of the workflows ending")), 5_000).unref())
    const infos = await Promise.race([results, timeout])
    assert.ok(infos.every((i) => i.status === "completed"))
    assert.ok(Date.now() - started < 5_000)
  })
})

describe("WorkflowClient types", () => {
  it("is typed from the runners' types alone", async () => {
    const storage = (await import("../src/storage/memory.js")).MemoryStorageProvider
    const greet = defineTask<{ name: string }, string>()({ Name: "Greet", Execute: async (ctx) => ({ data: ctx.data.name }) })
    const runners = [greet] as const
    // A web server would write `import type { runners } from "./worker.js"` and never load the task code.
    const client = new WorkflowClient<typeof runners>({ storageProvider: new storage() })
    await client.addWorkflow({ tasks: { a: { task: "Greet", data: { name: "Ada" } } } })
    // @ts-expect-error: data of Greet is { name: string }
    await client.addWorkflow({ tasks: { a: { task: "Greet", data: { nom: "Ada" } } } })
    // @ts-expect-error: no runner named Other
    await client.addWorkflow({ tasks: { a: { task: "Other", data: {} } } })
    await client.close()
  })
})

/** Collects a child's stdout lines; `line(match)` resolves with the first line matching. */
function watch(child: ChildProcess): { line(match: RegExp, timeoutMS: number, what: string): Promise<string> } {
  const lines: string[] = []
  const listeners = new Set<() => void>()
  createInterface({ input: child.stdout! }).on("line", (l) => {
    lines.push(l)
    for (const f of listeners) f()
  })
  return {
    line: (match, timeoutMS, what) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => match.test(l))
          if (found === undefined) return
          cleanup()
          resolve(found)
        }
        const timer = setTimeout(() => (cleanup(), reject(new Error(`timed out after ${timeoutMS} ms waiting for ${what}`))), timeoutMS)
        const onExit = (code: number | null) => (cleanup(), reject(new Error(`${what}: the process exited (${code}) first`)))
        const cleanup = () => {
          clearTimeout(timer)
          listeners.delete(check)
          child.off("exit", onExit)
        }
        listeners.add(check)
        child.once("exit", onExit)
        check()
      }),
  }
}

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url))

const postgresReason = await postgresSkipReason().catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))
const processStores = [
  { name: "sqlite", skip: undefined as string | undefined },
  { name: "postgres", skip: typeof postgresReason === "string" ? postgresReason : undefined },
]

for (const store of processStores) {
  describe(`WorkflowClient across processes (${store.name})`, { timeout: 60_000, skip: store.skip }, () => {
    it("a client process with no task code adds; two workers with different runners run them; its result() resolves for all", async (t) => {
      if (postgresReason instanceof Error && store.name === "postgres") throw postgresReason
      let arg: string
      if (store.name === "sqlite") {
        const dir = mkdtempSync(join(tmpdir(), "dt-client-"))
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        arg = `sqlite:${join(dir, "store.sqlite")}`
      } else {
        const schema = uniqueSchemaName()
        t.after(() => dropSchema(schema).catch(() => {}))
        arg = `postgres:${schema}`
      }
      const children: ChildProcess[] = []
      t.after(() => {
        for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
      })
      const start = (name: string, args: string[]) => {
        const child = spawn(process.execPath, [fixture(name), ...args], { stdio: ["ignore", "pipe", "inherit"] })
        children.push(child)
        return { child, out: watch(child) }
      }
      const count = 60
      const client = start("client-only", [arg, String(count)])
      await client.out.line(/^added$/, 20_000, "the client to add its workflows")
      const alpha = start("named-worker", [arg, "alpha-worker", "Alpha"])
      const beta = start("named-worker", [arg, "beta-worker", "Beta"])
      await Promise.all([alpha.out.line(/^ready$/, 20_000, "worker Alpha"), beta.out.line(/^ready$/, 20_000, "worker Beta")])
      const line = await client.out.line(/^\[/, 40_000, "the client's results")
      const results = JSON.parse(line) as Array<{ id: string; status: WorkflowStatus; results: string[] }>
      assert.equal(results.length, count)
      const pids = { Alpha: String(alpha.child.pid), Beta: String(beta.child.pid) }
      for (const r of results) {
        assert.equal(r.status, "completed", `${r.id} completed`)
        const i = r.id.split("-")[1]
        const expected = r.id.startsWith("alpha")
          ? [`Alpha:${pids.Alpha}:${i}`]
          : r.id.startsWith("beta")
            ? [`Beta:${pids.Beta}:${i}`]
            : [`Alpha:${pids.Alpha}:${i}`, `Beta:${pids.Beta}:${i}`]
        assert.deepEqual(r.results, expected, `${r.id} ran each task in the worker that has its runner`)
      }
      for (const w of [alpha.child, beta.child]) w.kill("SIGTERM")
    })
  })
}
