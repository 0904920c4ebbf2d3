/**
 * Shared set-up for runner tests: a runner on a fresh store of each kind,
 * both cleaned up when the test ends, and bounded waits for workflows.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TestContext } from "node:test"
import {
  WorkflowRunner,
  type AnyTaskRunner,
  type Logger,
  type WorkflowHandle,
  type WorkflowInfo,
  type WorkflowRunnerOptions,
} from "../../src/index.js"
import { MemoryStorageProvider } from "../../src/storage/memory.js"
import type { StorageProvider } from "../../src/storage/provider.js"
import { PostgresStorageProvider } from "../../src/storage/postgres.js"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./postgres.js"
import { onTestEnd, waitFor } from "./wait.js"

/** A store a runner behaviour test runs on. */
export interface TestStore {
  name: string
  /**
   * Set when this store cannot run here (Postgres unreachable outside CI):
   * pass it as `describe`'s `skip` option.
   */
  skip?: string
  /**
   * A fresh, empty store. `cleanup` removes it once the test is done with it
   * (after `runner.stop()`); it may return a promise (Postgres drops its
   * schema), which callers should await. It never rejects.
   */
  open(): { storage: StorageProvider; cleanup(): void | Promise<void> }
}

const sqliteStore: TestStore = {
  name: "sqlite",
  open() {
    const dir = mkdtempSync(join(tmpdir(), "dt-test-"))
    return { storage: new SQLiteStorageProvider(join(dir, "store.sqlite")), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
  },
}

const memoryStore: TestStore = { name: "memory", open: () => ({ storage: new MemoryStorageProvider(), cleanup: () => {} }) }

/**
 * Postgres: each `open()` gets a schema of its own (created by the provider's
 * `init()`), dropped by `cleanup`. `undefined` reason: Postgres answers;
 * a string: it does not (outside CI); an Error: it does not and CI=true.
 */
const postgresReason: string | Error | undefined = await postgresSkipReason().catch((error: unknown) =>
  error instanceof Error ? error : new Error(String(error)),
)

const postgresStore: TestStore = {
  name: "postgres",
  ...(typeof postgresReason === "string" ? { skip: postgresReason } : {}),
  open() {
    // CI=true and Postgres unreachable: fail the test rather than skip it.
    if (postgresReason instanceof Error) throw postgresReason
    const schema = uniqueSchemaName()
    return {
      storage: new PostgresStorageProvider(connectionString, { schema }),
      cleanup: () =>
        dropSchema(schema).catch((error: unknown) => {
          // A leftover dt_test_ schema is harmless; a failed drop must not fail (or crash) the test.
          process.emitWarning(`could not drop test schema ${schema}: ${error instanceof Error ? error.message : String(error)}`)
        }),
    }
  },
}

/**
 * The stores every runner behaviour is tested on, that can run here. The
 * first is SQLite (tests that need a file use `STORES[0]`). Postgres is
 * included when it answers, and under CI=true (where an unreachable server
 * fails its tests instead of skipping them).
 */
export const STORES: readonly TestStore[] = [sqliteStore, memoryStore, ...(typeof postgresReason === "string" ? [] : [postgresStore])]

/**
 * {@link STORES} plus the stores that cannot run here, each with its `skip`
 * message: loop over these with `describe(name, { skip: store.skip })` so a
 * skipped store shows up as skipped rather than silently missing.
 */
export const ALL_STORES: readonly TestStore[] = [sqliteStore, memoryStore, postgresStore]

/** A logger that keeps every line, for asserting on levels. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: string; message: string }> = []
  debug(message: string) { this.lines.push({ level: "debug", message }) }
  info(message: string) { this.lines.push({ level: "info", message }) }
  warn(message: string) { this.lines.push({ level: "warn", message }) }
  error(message: string) { this.lines.push({ level: "error", message }) }
  at(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message)
  }
}

/**
 * A fresh, empty store of `store` for test `t`: closed and removed when the
 * test ends, pass or fail (after the runners started on it have stopped).
 */
export function openStore(t: TestContext, store: TestStore): StorageProvider {
  const { storage, cleanup } = store.open()
  onTestEnd(t, `close and remove the ${store.name} store`, async () => {
    await storage.close()
    await cleanup()
  })
  return storage
}

/**
 * Stops `runner` when test `t` ends, pass or fail, with a short grace period
 * (a test that got that far has failed, or stopped it already).
 */
export function stopOnEnd(t: TestContext, runner: Pick<WorkflowRunner, "runnerID" | "stop">, options: { closeStorage?: boolean } = {}): void {
  onTestEnd(t, `stop runner ${runner.runnerID}`, () => runner.stop({ timeoutMS: 200, ...options }))
}

/**
 * Starts a runner on `storage` with test-friendly defaults; it is stopped
 * when test `t` ends, pass or fail (stopping it earlier is fine).
 */
export async function startRunner<const Runners extends readonly AnyTaskRunner[]>(
  t: TestContext,
  storage: StorageProvider,
  taskRunners: Runners,
  options: Partial<WorkflowRunnerOptions<Runners>> = {},
): Promise<WorkflowRunner<Runners>> {
  const runner = new WorkflowRunner<Runners>({ taskRunners, storageProvider: storage, retryDelayMS: 10, pollIntervalMS: 50, ...options })
  stopOnEnd(t, runner)
  await runner.recover()
  return runner
}

/** The workflow's end (`handle.result()`), failing if it has not ended within `timeoutMS` (default 10 s). */
export function resultOf(handle: WorkflowHandle, timeoutMS = 10_000): Promise<WorkflowInfo> {
  return waitFor(handle.result(), { what: `workflow "${handle.id}" ending`, timeoutMS })
}

/**
 * Resolves when `check` returns a value other than undefined (or null, or
 * false), polling every 10 ms; fails after `timeoutMS` saying what did not happen.
 */
export function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMS = 5_000, what = "the condition"): Promise<T> {
  return waitFor(check, { what, timeoutMS })
}
