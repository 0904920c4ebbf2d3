/**
 * Fresh Postgres databases for benches that compare runs on empty tables:
 * created on the server of a connection string, dropped when done.
 *
 * @module
 */
import { randomBytes } from "node:crypto"
import pg from "pg"

/** A database made for one run. */
export interface FreshDatabase {
  name: string
  /** `connectionString` with this database's name. */
  url: string
  /** Drops it, closing its sessions. */
  drop(): Promise<void>
}

/** Runs one statement on the server of `connectionString`, on a connection of its own. */
async function admin(connectionString: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString })
  client.on("error", () => {})
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

/** Creates a database named `<prefix>_<random>` on the server of `connectionString` (the role needs CREATEDB). */
export async function freshDatabase(connectionString: string, prefix: string): Promise<FreshDatabase> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`
  await admin(connectionString, `CREATE DATABASE ${name}`)
  const url = new URL(connectionString)
  url.pathname = `/${name}`
  return { name, url: url.toString(), drop: () => admin(connectionString, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}
