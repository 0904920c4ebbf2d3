/**
 * Shared set-up for tests on a real Postgres: where it is, whether it is
 * reachable, and a private schema per test file.
 *
 * Postgres tests skip with a message when the server is unreachable, except
 * under `CI=true`, where an unreachable server fails them: CI must not pass by
 * skipping.
 */
import { randomBytes } from "node:crypto"
import type { TestContext } from "node:test"
import pg from "pg"

/** The test database; override with `DURABLETASKS_TEST_POSTGRES`. */
export const connectionString = process.env.DURABLETASKS_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"

let reachability: Promise<string | undefined> | undefined

/**
 * Resolves to `undefined` when Postgres answers, else to a skip message.
 *
 * @throws Error when Postgres is unreachable and `CI` is `"true"`
 */
export function postgresSkipReason(): Promise<string | undefined> {
  reachability ??= (async () => {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 3_000 })
    client.on("error", () => {})
    try {
      await client.connect()
      await client.query("SELECT 1")
      return undefined
    } catch (error) {
      const message = `Postgres is not reachable at ${redact(connectionString)} (${error instanceof Error ? error.message : String(error)})`
      if (process.env.CI === "true") throw new Error(`${message}; CI=true, so Postgres tests fail instead of skipping`)
      return `${message}: skipping; start Postgres or set DURABLETASKS_TEST_POSTGRES`
    } finally {
      await client.end().catch(() => {})
    }
  })()
  return reachability
}

/**
 * For a single test: skips it (returning `false`) when Postgres is unreachable.
 *
 * @throws Error when Postgres is unreachable and `CI` is `"true"`
 */
export async function postgresOrSkip(t: TestContext): Promise<boolean> {
  const reason = await postgresSkipReason()
  if (reason === undefined) return true
  t.skip(reason)
  return false
}

/** Runs one statement on a fresh connection of its own. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString })
  client.on("error", () => {})
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

/** A fresh, unique schema name (`dt_test_<random>`); the provider creates the schema. */
export function uniqueSchemaName(): string {
  return `dt_test_${randomBytes(6).toString("hex")}`
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  if (!/^dt_test_[0-9a-f]+$/.test(schema)) throw new Error(`refusing to drop ${schema}: not a test schema`)
  await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")
}
