/**
 * The set-up of the crash tests (a child process on a store, SIGKILLed, then
 * recovery): the stores they run on (SQLite and Postgres), named to the
 * child by an argument its fixture opens (test/fixtures/store-from-arg.ts);
 * and, per test, a fresh directory and store, with every child process,
 * provider and runner the test starts through it ended and the store removed
 * when the test ends, pass or fail.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TestContext } from "node:test"
import { WorkflowRunner, type AnyTaskRunner, type WorkflowInfo } from "../../src/index.js"
import type { StorageProvider } from "../../src/storage/provider.js"
import { PostgresStorageProvider } from "../../src/storage/postgres.js"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"
import { dumpPostgres, dumpSQLite, startFixture, type Child, type StoreDump } from "./ledger.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./postgres.js"
import { onTestEnd, waitFor } from "./wait.js"

/** Options of a provider this process opens on the test's store. */
export interface ProviderOptions {
  /** The most Postgres connections it holds (the provider's default when omitted; SQLite ignores it). */
  poolMax?: number
}

/** One test's store, as {@link CrashStore.open} makes it. */
export interface OpenedStore {
  /** What the child's fixture opens: `sqlite:<file>` or `postgres:<schema>`. */
  arg: string
  /** A new provider on the store, for this process. */
  provider(options?: ProviderOptions): StorageProvider
  /** The store's rows, read straight from its tables (for the ledger oracle). */
  dump(): Promise<StoreDump>
  /** Removes the store (never rejects). */
  cleanup(): Promise<void>
}

/** A store the crash tests run on. */
export interface CrashStore {
  name: string
  /** Set when it cannot run here (Postgres unreachable outside CI): `describe`'s `skip`. */
  skip?: string
  /** A fresh store (SQLite: a file in `dir`). */
  open(dir: string): OpenedStore
}

const postgresReason = await postgresSkipReason().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))

/** SQLite, and Postgres (skipped when it does not answer; under CI=true its tests fail instead). */
export const CRASH_STORES: readonly CrashStore[] = [
  {
    name: "sqlite",
    open: (dir) => {
      const file = join(dir, "store.sqlite")
      return { arg: `sqlite:${file}`, provider: () => new SQLiteStorageProvider(file), dump: async () => dumpSQLite(file), cleanup: async () => {} }
    },
  },
  {
    name: "postgres",
    ...(typeof postgresReason === "string" ? { skip: postgresReason } : {}),
    open: () => {
      if (postgresReason instanceof Error) throw postgresReason
      const schema = uniqueSchemaName()
      return {
        arg: `postgres:${schema}`,
        provider: ({ poolMax } = {}) => new PostgresStorageProvider(connectionString, { schema, ...(poolMax === undefined ? {} : { poolConfig: { max: poolMax } }) }),
        dump: () => dumpPostgres(schema),
        cleanup: () => dropSchema(schema).catch(() => {}),
      }
    },
  },
]

/** A crash test's directory and store; what it starts through this ends with the test. */
export interface CrashTestStore {
  /** A fresh directory (the fixtures write their ledger here). */
  dir: string
  /** What the child's fixture opens. */
  arg: string
  /** A new provider on the store, closed when the test ends. */
  provider(options?: ProviderOptions): StorageProvider
  /** The store's rows, read straight from its tables. */
  dump(): Promise<StoreDump>
  /** Starts `test/fixtures/<name>.js` with `args`; SIGKILLed when the test ends if it still runs. */
  startFixture(name: string, args: string[]): Child
  /**
   * Recovers in this process: starts a runner of `taskRunners` on a new
   * provider (stopped when the test ends), and resolves with workflow
   * `workflowID` once it has ended; fails if it has not within `timeoutMS`.
   */
  recoverUntilEnded(taskRunners: readonly AnyTaskRunner[], workflowID: string, timeoutMS: number): Promise<WorkflowInfo>
}

/**
 * A fresh directory (named `<prefix><random>`) and a fresh store of `store`
 * for test `t`. When the test ends, pass or fail, the children started
 * through it are killed, the providers it made are closed, and the store and
 * directory are removed.
 */
export function crashTestStore(t: TestContext, store: CrashStore, prefix: string): CrashTestStore {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const opened = store.open(dir)
  onTestEnd(t, `remove the ${store.name} store`, async () => {
    await opened.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })
  const provider = (options?: ProviderOptions) => {
    const made = opened.provider(options)
    onTestEnd(t, `close a provider on the ${store.name} store`, () => made.close())
    return made
  }
  return {
    dir,
    arg: opened.arg,
    dump: opened.dump,
    provider,
    startFixture(name, args) {
      const child = startFixture(name, args)
      onTestEnd(t, `kill ${name} (pid ${child.pid})`, () => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
      })
      return child
    },
    async recoverUntilEnded(taskRunners, workflowID, timeoutMS) {
      const runner = new WorkflowRunner({ taskRunners, storageProvider: provider(), pollIntervalMS: 50 })
      onTestEnd(t, "stop the recovering runner", () => runner.stop())
      await runner.recover()
      return waitFor(
        async () => {
          const w = await runner.getWorkflow(workflowID)
          return w && w.status !== "pending" ? w : undefined
        },
        { what: "the recovered workflow to end", timeoutMS },
      )
    },
  }
}
