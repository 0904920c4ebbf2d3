/**
 * What the peers bench needs from each system it compares: install its
 * tables, store jobs without running them, run a worker in this process, add
 * jobs through the API a user calls per job, and count what is left to do.
 *
 * One "job" is one unit of work: a graphile-worker or pg-boss job, a
 * durabletasks workflow of one task, a DBOS workflow of one step.
 *
 * @module
 */
import { createRequire } from "node:module"
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/** A worker running in this process. */
export interface PeerWorker {
  /** Adds `count` jobs (ids `prefix0` …), all at once through the per-job API; resolves once all are stored. */
  add(prefix: string, count: number): Promise<void>
  /** Stops the worker and closes its connections. */
  stop(): Promise<void>
}

/** Settings every system gets. */
export interface PeerContext {
  connectionString: string
  /** Called when a job's handler starts (`id` as given to `add`). */
  onJobStart(id: string): void
  /** A name unique to this process (worker or executor identity). */
  processName: string
}

/** One system under test. */
export interface PeerSystem {
  /** Name printed in the table. */
  name: string
  /** The package and version measured. */
  version(): string
  /** The settings used, in words (for the README). */
  settings: string
  /** Creates the system's tables in an empty database. */
  install(connectionString: string): Promise<void>
  /** Stores `count` runnable jobs without running them, as fast as the system allows (untimed). */
  preload(connectionString: string, count: number): Promise<void>
  /** Starts a worker; it runs stored jobs and jobs added through it. */
  start(context: PeerContext): Promise<PeerWorker>
  /** SQL counting the jobs stored and not yet finished, as committed (one row, column `n`). */
  remainingSQL: string
}

const here = path.dirname(fileURLToPath(import.meta.url))
/** bench/peers in the source tree, where `npm run bench:peers` installs the peers. */
export const peersDir = path.resolve(here, "..", "..", "..", "bench", "peers")

/** Loads a peer package installed in bench/peers (not the library's dependencies). */
export async function importPeer<T>(name: string): Promise<T> {
  const require = createRequire(path.join(peersDir, "package.json"))
  return (await import(pathToFileURL(require.resolve(name)).href)) as T
}

/** The installed version of a peer package. */
export function peerVersion(name: string): string {
  const file = path.join(peersDir, "node_modules", ...name.split("/"), "package.json")
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version
}

/** Runs one statement on a connection of its own (pg from the library's dev dependencies). */
export async function sql<R extends Record<string, unknown>>(connectionString: string, text: string, values: unknown[] = []): Promise<R[]> {
  const { default: pg } = await import("pg")
  const client = new pg.Client({ connectionString })
  client.on("error", () => {})
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}
