/**
 * Opens the store a command line names: `--sqlite PATH` or `--postgres URL`
 * (or the `DURABLETASKS_SQLITE` / `DURABLETASKS_POSTGRES` variables), with
 * `--schema` and `--table-prefix`.
 *
 * @module
 */
import { existsSync } from "node:fs"
import { validatePostgresSchema, validatePostgresTablePrefix } from "../storage/postgres/names.js"
import type { StorageProvider } from "../storage/provider.js"
import { validateSQLiteTablePrefix } from "../storage/sqlite/table-prefix.js"
import { UsageError, type OptionValues } from "./command.js"
import { asUsage, stringOption } from "./values.js"

/** The global options that say where the store is. */
export const STORE_OPTIONS = {
  sqlite: { type: "string" },
  postgres: { type: "string" },
  schema: { type: "string" },
  "table-prefix": { type: "string" },
} as const

/** Where the store is, once the command line and environment are checked. */
export type StoreLocation =
  | { kind: "sqlite"; path: string; tablePrefix: string | undefined }
  | { kind: "postgres"; url: string; schema: string | undefined; tablePrefix: string | undefined }

/**
 * Reads the store options (options win over the environment).
 *
 * @throws UsageError when none or both kinds are given, `--schema` with SQLite,
 *   or a `--schema` or `--table-prefix` the store would refuse
 */
export function storeLocation(values: OptionValues, env: NodeJS.ProcessEnv): StoreLocation {
  const sqliteOption = stringOption(values, "sqlite")
  const postgresOption = stringOption(values, "postgres")
  if (sqliteOption !== undefined && postgresOption !== undefined) throw new UsageError("give --sqlite or --postgres, not both")
  const fromOptions = sqliteOption !== undefined || postgresOption !== undefined
  const sqlite = fromOptions ? sqliteOption : nonEmpty(env.DURABLETASKS_SQLITE)
  const postgres = fromOptions ? postgresOption : nonEmpty(env.DURABLETASKS_POSTGRES)
  if (sqlite !== undefined && postgres !== undefined) {
    throw new UsageError("both DURABLETASKS_SQLITE and DURABLETASKS_POSTGRES are set: pick one with --sqlite or --postgres")
  }
  const schema = stringOption(values, "schema")
  const tablePrefix = stringOption(values, "table-prefix")
  if (sqlite !== undefined) {
    if (sqlite === "") throw new UsageError("--sqlite needs a file path")
    if (schema !== undefined) throw new UsageError("--schema is for Postgres; SQLite tables are told apart by --table-prefix")
    if (tablePrefix !== undefined) asUsage(() => validateSQLiteTablePrefix(tablePrefix, "--table-prefix"))
    return { kind: "sqlite", path: sqlite, tablePrefix }
  }
  if (postgres !== undefined) {
    if (postgres === "") throw new UsageError("--postgres needs a connection URL")
    if (schema !== undefined) asUsage(() => validatePostgresSchema(schema, "--schema"))
    if (tablePrefix !== undefined) asUsage(() => validatePostgresTablePrefix(tablePrefix, "--table-prefix"))
    return { kind: "postgres", url: postgres, schema, tablePrefix }
  }
  throw new UsageError("which store? give --sqlite PATH or --postgres URL (or set DURABLETASKS_SQLITE or DURABLETASKS_POSTGRES)")
}

/**
 * Opens the provider. A missing SQLite file is an error rather than a new,
 * empty store: a typo in the path must not look like a store with no workflows.
 *
 * @throws Error when the file is missing, or `pg` is not installed
 */
export async function openStore(location: StoreLocation): Promise<StorageProvider> {
  if (location.kind === "sqlite") {
    if (location.path !== ":memory:" && !existsSync(location.path)) throw new Error(`no SQLite database at ${JSON.stringify(location.path)}`)
    const { SQLiteStorageProvider } = await import("../storage/sqlite.js")
    return new SQLiteStorageProvider(location.path, location.tablePrefix === undefined ? {} : { tablePrefix: location.tablePrefix })
  }
  let module: typeof import("../storage/postgres.js")
  try {
    module = await import("../storage/postgres.js")
  } catch (error) {
    throw new Error(`cannot load the Postgres provider (is the "pg" package installed? npm install pg): ${(error as Error).message}`, { cause: error })
  }
  return new module.PostgresStorageProvider(location.url, {
    ...(location.schema === undefined ? {} : { schema: location.schema }),
    ...(location.tablePrefix === undefined ? {} : { tablePrefix: location.tablePrefix }),
    // A command reads or writes a few rows and exits: no LISTEN connection, a small pool that gives up in bounded time.
    notifications: false,
    poolConfig: { max: 2, connectionTimeoutMillis: 10_000 },
  })
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value
}
