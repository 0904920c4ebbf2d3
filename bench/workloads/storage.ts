/**
 * Where a workload keeps its rows, so one workload runs on SQLite or Postgres:
 * a {@link StorageSpec} (plain data, passed to child processes as JSON), the
 * provider it opens, and factories of fresh, empty stores, one per run.
 */
import { randomBytes } from "node:crypto"
import path from "node:path"
import type pg from "pg"
import type { StorageProvider } from "../../src/storage/provider.js"
import type { Durability } from "../floors.js"
import { tempDir } from "../stats.js"

/** A store a provider can open, in this process or another. */
export type StorageSpec =
  | { kind: "sqlite"; file: string; synchronous?: Durability }
  | { kind: "postgres"; connectionString: string; schema: string }

/** A fresh store for one run; `remove()` deletes it once the runner on it has stopped. */
export interface BenchStore {
  spec: StorageSpec
  remove(): Promise<void>
}

/** Makes a fresh, empty store each call. */
export type BenchStoreFactory = () => Promise<BenchStore>

/**
 * Loads the provider module `spec` needs and returns a function that opens
 * the provider. Split in two so a measuring process can load modules before
 * its clock starts, and so the SQLite bench never loads `pg`.
 */
export async function storageOpener(spec: StorageSpec): Promise<() => StorageProvider> {
  if (spec.kind === "sqlite") {
    const { SQLiteStorageProvider } = await import("../../src/storage/sqlite.js")
    return () => new SQLiteStorageProvider(spec.file, { synchronous: spec.synchronous })
  }
  const { PostgresStorageProvider } = await import("../../src/storage/postgres.js")
  return () => new PostgresStorageProvider(spec.connectionString, { schema: spec.schema })
}

/** Opens the provider of `spec`. */
export async function openStorage(spec: StorageSpec): Promise<StorageProvider> {
  return (await storageOpener(spec))()
}

/** Fresh SQLite files (`bench.sqlite` in a new temporary directory) with this durability. */
export function sqliteStores(synchronous: Durability): BenchStoreFactory {
  return async () => {
    const tmp = tempDir()
    return {
      spec: { kind: "sqlite", file: path.join(tmp.dir, "bench.sqlite"), synchronous },
      remove: async () => tmp.remove(),
    }
  }
}

/** Fresh Postgres schemas (`dt_bench_<random>`, tables created), dropped on `remove()`. */
export function postgresStores(connectionString: string): BenchStoreFactory {
  return async () => {
    const schema = await freshSchema(connectionString)
    return {
      spec: { kind: "postgres", connectionString, schema },
      remove: () => dropSchema(connectionString, schema),
    }
  }
}

/**
 * Runs one statement on a connection of its own. Gives up connecting after
 * `connectTimeoutMS`, so an unreachable server fails fast.
 */
export async function postgresAdmin<R extends pg.QueryResultRow>(connectionString: string, text: string, connectTimeoutMS = 10_000): Promise<R[]> {
  const { default: postgres } = await import("pg")
  const client = new postgres.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMS })
  client.on("error", () => {})
  await client.connect()
  try {
    return (await client.query<R>(text)).rows
  } finally {
    await client.end()
  }
}

/** Creates a schema of its own with the provider's tables; returns its name. */
export async function freshSchema(connectionString: string): Promise<string> {
  const schema = `dt_bench_${randomBytes(5).toString("hex")}`
  const { PostgresStorageProvider } = await import("../../src/storage/postgres.js")
  const provider = new PostgresStorageProvider(connectionString, { schema })
  try {
    await provider.init()
  } finally {
    await provider.close()
  }
  return schema
}

/** Drops a schema made by {@link freshSchema} (and refuses any other). */
export async function dropSchema(connectionString: string, schema: string): Promise<void> {
  if (!/^dt_bench_[0-9a-f]+$/.test(schema)) throw new Error(`refusing to drop ${schema}`)
  await postgresAdmin(connectionString, `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
}
