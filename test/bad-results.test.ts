/**
 * Tasks that misbehave: results JSON cannot store, results JSON changes
 * (Date, undefined), tasks that never settle, and throws of non-Error values.
 * Each is handled per the outcomes table (DESIGN section 3), logged, and the
 * runner keeps going.
 */
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { WorkflowRunner, type TaskRunner } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { MemoryLogger, STORES, openStore, resultOf, startRunner, stopOnEnd } from "./helpers/runner.js"
import { nextEvent, onTestEnd } from "./helpers/wait.js"

const cyclic = (): unknown => {
  const o: Record<string, unknown> = { name: "loop" }
  o.self = o
  return o
}

const UNSTORABLE: Array<{ what: string; value: () => unknown; message: RegExp }> = [
  { what: "a BigInt", value: () => 10n, message: /contains a BigInt at \(top level\)/ },
  { what: "a nested BigInt", value: () => ({ order: { total: [1, 2n] } }), message: /contains a BigInt at order\.total\.1/ },
  { what: "a cycle", value: cyclic, message: /contains a cycle at self/ },
  { what: "a function", value: () => () => 1, message: /contains a function/ },
  { what: "a Map", value: () => new Map([["a", 1]]), message: /contains a Map/ },
  { what: "a Set", value: () => ({ tags: new Set(["x"]) }), message: /contains a Set at tags/ },
  { what: "NaN", value: () => ({ ratio: NaN }), message: /contains NaN at ratio/ },
]

for (const store of STORES) {
  describe(`results JSON cannot store (${store.name})`, () => {
    for (const bad of UNSTORABLE) {
      it(`a task returning ${bad.what}: failed without retry, SerializationError stored and logged, the workflow fails`, { timeout: 20_000 }, async (t) => {
        const storage = openStore(t, store)
        const logger = new MemoryLogger()
        let attempts = 0
        let later = 0
        const runner = await startRunner(
          t,
          storage,
          [
            { Name: "Bad", Execute: async () => (attempts++, { data: bad.value() }) },
            { Name: "Later", Execute: async () => (later++, { data: "never" }) },
            { Name: "Fine", Execute: async () => ({ data: "ok" }) },
          ],
          { logger },
        )
        const info = await resultOf(await runner.addWorkflow({ tasks: { bad: { task: "Bad" }, later: { task: "Later" } } }))
        assert.equal(info.status, "failed")
        assert.equal(attempts, 1, "not retried")
        assert.equal(later, 0, "the next task never ran")
        const task = info.tasks[0]!
        assert.equal(task.status, "failed")
        assert.equal(task.attempts, 1)
        assert.equal(task.result, undefined)
        assert.match(task.error ?? "", /^SerializationError: result of task "bad"/)
        assert.match(task.error ?? "", bad.message)
        assert.ok(logger.at("error").some((m) => m.includes('task "bad" failed: SerializationError')), "logged at error")
        assert.ok(!logger.at("warn").some((m) => /retrying/.test(m)), "no retry announced")
        // The runner keeps going.
        assert.equal((await resultOf(await runner.addWorkflow({ tasks: { fine: { task: "Fine" } } }))).status, "completed")
      })
    }

    it("undefined results are stored as null; undefined properties are dropped, as JSON does", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const seen: unknown[] = []
      const returns: Array<() => unknown> = [() => undefined, () => ({}), () => ({ data: undefined }), () => ({ data: { a: undefined, b: 1 } })]
      const runner = await startRunner(t, storage, [
        { Name: "Returns", Execute: async (ctx) => returns[ctx.data as number]!() as { data?: unknown } },
        { Name: "Look", Execute: async (ctx) => (seen.push(ctx.getTaskResult(0)), { data: "looked" }) },
      ])
      for (let i = 0; i < returns.length; i++) {
        const info = await resultOf(await runner.addWorkflow({ tasks: { r: { task: "Returns", data: i }, look: { task: "Look" } } }))
        assert.equal(info.status, "completed")
        assert.equal(info.tasks[0]!.status, "completed")
        assert.deepEqual(info.tasks[0]!.result, i === 3 ? { b: 1 } : null, `case ${i}`)
      }
      assert.deepEqual(seen, [null, null, null, { b: 1 }], "later tasks see null (a stored result), not undefined (no result)")
    })
  })
}

describe("a Date result (SQLite, across a restart)", () => {
  it("is stored as its ISO string; the next task sees the same string on its first run and after a restart", { timeout: 20_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "dt-bad-results-"))
    onTestEnd(t, "remove the store", () => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, "store.sqlite")
    const when = new Date("2024-02-29T12:34:56.789Z")
    const seen: Array<{ life: number; value: unknown }> = []
    const completedEvents: unknown[] = []
    const runnersFor = (life: number): TaskRunner[] => [
      { Name: "MakeDate", Execute: async () => ({ data: { at: when, list: [when] } }) },
      {
        Name: "UseDate",
        Execute: async (ctx) => {
          seen.push({ life, value: ctx.getTaskResult("make") })
          // In the first life, stay until the runner stops: the restart must run this task again.
          if (life === 1) await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }))
          return { data: (ctx.getTaskResult("make") as { at: string }).at }
        },
      },
    ]
    const first = new WorkflowRunner({ taskRunners: runnersFor(1), storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 50 })
    stopOnEnd(t, first)
    first.on("taskCompleted", (e) => completedEvents.push(e.result))
    await first.recover()
    const started = nextEvent(first, "taskStarted", { what: "task use starting", filter: (e) => e.seq === 1 })
    await first.addWorkflow({ workflowID: "dated", tasks: { make: { task: "MakeDate" }, use: { task: "UseDate" } } })
    await started
    await first.stop({ timeoutMS: 0 })

    const second = new WorkflowRunner({ taskRunners: runnersFor(2), storageProvider: new SQLiteStorageProvider(file), pollIntervalMS: 50 })
    stopOnEnd(t, second)
    await second.recover()
    const info = await resultOf(await second.addWorkflow({ workflowID: "dated", tasks: { make: { task: "MakeDate" }, use: { task: "UseDate" } } }))
    await second.stop()

    const iso = when.toISOString()
    assert.equal(info.status, "completed")
    assert.deepEqual(info.tasks[0]!.result, { at: iso, list: [iso] }, "stored as ISO strings")
    assert.deepEqual(seen, [
      { life: 1, value: { at: iso, list: [iso] } },
      { life: 2, value: { at: iso, list: [iso] } },
    ])
    assert.equal(typeof (seen[0]!.value as { at: unknown }).at, "string", "never a live Date, even on the first run")
    assert.deepEqual(completedEvents, [{ at: iso, list: [iso] }], "the taskCompleted event carries the stored form too")
    assert.equal(info.tasks[1]!.result, iso)
  })
})

for (const store of STORES) {
  describe(`tasks that never settle or throw non-Errors (${store.name})`, () => {
    it("a task that never resolves, with timeoutMS: its signal fires, it is retried, and the runner keeps going", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      const logger = new MemoryLogger()
      const reasons: string[] = []
      const failures: Array<{ error: string; retrying: boolean }> = []
      const hang: TaskRunner = {
        Name: "HangOnce",
        timeoutMS: 100,
        Execute: (ctx) => {
          if (ctx.attempt > 0) return { data: `done on attempt ${ctx.attempt}` }
          ctx.signal.addEventListener("abort", () => reasons.push((ctx.signal.reason as Error).name), { once: true })
          return new Promise(() => {}) // never settles
        },
      }
      const forever: TaskRunner = { Name: "HangForever", timeoutMS: 50, retry: { maxAttempts: 2, delayMS: 10 }, Execute: () => new Promise(() => {}) }
      // One slot: a hung task must not keep it.
      const runner = await startRunner(t, storage, [hang, forever, { Name: "Quick", Execute: async () => ({ data: 1 }) }], { logger, concurrency: 1 })
      runner.on("taskFailed", (e) => failures.push({ error: e.error, retrying: e.retrying }))
      const hung = await runner.addWorkflow({ tasks: { h: { task: "HangOnce" } } })
      const quick = await runner.addWorkflow({ tasks: { q: { task: "Quick" } } })
      const stuck = await runner.addWorkflow({ tasks: { f: { task: "HangForever" } } })
      const [hungInfo, quickInfo, stuckInfo] = await Promise.all([resultOf(hung), resultOf(quick), resultOf(stuck)])
      assert.equal(quickInfo.status, "completed", "other work went on")
      assert.equal(hungInfo.status, "completed")
      assert.equal(hungInfo.tasks[0]!.result, "done on attempt 1")
      assert.equal(hungInfo.tasks[0]!.attempts, 1)
      assert.deepEqual(reasons, ["TimeoutError"], "the signal fired with a TimeoutError")
      assert.ok(failures.some((f) => f.retrying && /TimeoutError: timed out after 100 ms/.test(f.error)))
      assert.equal(stuckInfo.status, "failed", "a task that always hangs gives up after maxAttempts")
      assert.match(stuckInfo.tasks[0]!.error ?? "", /gave up after 2 attempts: TimeoutError: timed out after 50 ms/)
      assert.ok(logger.at("error").some((m) => /task "h" failed: TimeoutError: timed out after 100 ms/.test(m)))
      assert.ok(logger.at("warn").some((m) => /retrying task "h"/.test(m)))
    })

    it("a task that settles when its timeout fires (a listener on its signal): the attempt failed all the same, its result discarded", { timeout: 20_000 }, async (t) => {
      const storage = openStore(t, store)
      type Settle = (resolve: (result: { data: string }) => void, reject: (error: Error) => void) => void
      // The promise settles inside the signal's listener, which runs as the timeout fires.
      const onAbort = (signal: AbortSignal, settle: Settle) =>
        new Promise<{ data: string }>((resolve, reject) => signal.addEventListener("abort", () => settle(resolve, reject), { once: true }))
      const retry = { maxAttempts: 2, delayMS: 10 }
      const runners: TaskRunner[] = [
        { Name: "ResolvesOnAbort", timeoutMS: 50, retry, Execute: (ctx) => onAbort(ctx.signal, (resolve) => resolve({ data: "late" })) },
        { Name: "AsyncResolvesOnAbort", timeoutMS: 50, retry, Execute: async (ctx) => onAbort(ctx.signal, (resolve) => resolve({ data: "late" })) },
        { Name: "RejectsOnAbort", timeoutMS: 50, retry, Execute: (ctx) => onAbort(ctx.signal, (_, reject) => reject(new Error("aborted by its signal"))) },
      ]
      const runner = await startRunner(t, storage, runners)
      const handles = await Promise.all(runners.map((r) => runner.addWorkflow({ tasks: { a: { task: r.Name } } })))
      for (const [i, info] of (await Promise.all(handles.map((h) => resultOf(h)))).entries()) {
        const task = info.tasks[0]!
        assert.equal(info.status, "failed", `${runners[i]!.Name}: the workflow fails after its attempts timed out`)
        assert.equal(task.result, undefined, `${runners[i]!.Name}: no result is kept from a timed-out attempt`)
        assert.match(task.error ?? "", /gave up after 2 attempts: TimeoutError: timed out after 50 ms/, runners[i]!.Name)
      }
    })

    const THROWN: Array<{ what: string; thrown: () => unknown; message: string }> = [
      { what: "a string", thrown: () => "boom: card declined", message: "boom: card declined" },
      { what: "undefined", thrown: () => undefined, message: "non-Error thrown: undefined" },
      { what: "a number", thrown: () => 42, message: "non-Error thrown: 42" },
      { what: "null", thrown: () => null, message: "non-Error thrown: null" },
      { what: "a plain object", thrown: () => ({ code: "E_LIMIT", retryIn: 5 }), message: 'non-Error thrown: {"code":"E_LIMIT","retryIn":5}' },
      { what: "a symbol", thrown: () => Symbol("odd"), message: "non-Error thrown: Symbol(odd)" },
    ]
    for (const thrown of THROWN) {
      it(`a task that throws ${thrown.what}: retried, logged at error with a readable message`, { timeout: 20_000 }, async (t) => {
        const storage = openStore(t, store)
        const logger = new MemoryLogger()
        const errors: string[] = []
        let storedError: string | null | undefined
        const runner: WorkflowRunner = await startRunner(
          t,
          storage,
          [
            {
              Name: "Throws",
              Execute: async (ctx) => {
                if (ctx.attempt === 0) throw thrown.thrown()
                storedError = (await runner.getWorkflow(ctx.workflowID))?.tasks[0]?.error
                return { data: "recovered" }
              },
            },
            // Rejecting without a value is the same as throwing undefined, also from Prepare.
            { Name: "Rejects", Prepare: (ctx) => (ctx.attempt === 0 ? Promise.reject() : undefined), Execute: async () => ({ data: "ok" }) },
          ],
          { logger },
        )
        runner.on("taskFailed", (e) => errors.push(e.error))
        const info = await resultOf(await runner.addWorkflow({ tasks: { t: { task: "Throws" }, r: { task: "Rejects" } } }))
        assert.equal(info.status, "completed")
        assert.equal(info.tasks[0]!.result, "recovered")
        assert.equal(info.tasks[0]!.attempts, 1)
        assert.equal(storedError, thrown.message, "the failed attempt's error was stored readably while the retry waited")
        assert.equal(info.tasks[1]!.attempts, 1)
        assert.deepEqual(errors, [thrown.message, "non-Error thrown: undefined"])
        assert.ok(logger.at("error").includes(`task "t" failed: ${thrown.message}`), `error log: ${logger.at("error").join(" | ")}`)
        assert.ok(logger.at("warn").some((m) => m.startsWith('retrying task "t"')))
      })
    }
  })
}
