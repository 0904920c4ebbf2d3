/**
 * The listing bench: what the CLI's and the dashboard's reads cost on SQLite
 * with a million workflows (one task each). Seeds a file through the
 * provider, sets statuses as a store that has run for a while has them
 * (97 % completed, 1 % failed, 1 % cancelled, 1 % pending: the newest ones
 * and a few old stuck ones), then times each read (median of 15).
 *
 *   node build/bench/listing.js [--workflows N] [--build DIR]
 *
 * `--build` points at another build's folder (holding `src/storage/sqlite.js`)
 * to time the same reads with that version's provider and indexes: how the
 * figures of two versions are compared.
 */
import { randomUUID } from "node:crypto"
import path from "node:path"
import { parseArgs } from "node:util"
import { fileURLToPath } from "node:url"
import type { StorageProvider, WorkflowFilter } from "../src/storage/provider.js"
import { fmt, median, tempDir } from "./stats.js"

const { values } = parseArgs({ options: { workflows: { type: "string" }, build: { type: "string" } } })
const total = Number(values.workflows ?? 1_000_000)
const buildDir = path.resolve(values.build ?? path.join(path.dirname(fileURLToPath(import.meta.url)), ".."))
const { SQLiteStorageProvider } = (await import(path.join(buildDir, "src/storage/sqlite.js"))) as typeof import("../src/storage/sqlite.js")

const T0 = Date.UTC(2026, 0, 1)
const STEP_MS = 10
const BATCH = 10_000

const temp = tempDir()
const file = path.join(temp.dir, "listing.sqlite")
const storage = new SQLiteStorageProvider(file, { synchronous: "NORMAL" })
await storage.init()

let started = performance.now()
for (let from = 0; from < total; from += BATCH) {
  const batch = []
  for (let i = from; i < Math.min(total, from + BATCH); i++) {
    // One in ten workflows runs "Rare" (the runner filter), the others "Common".
    batch.push({ id: randomUUID(), now: T0 + i * STEP_MS, tasks: [{ name: "t", task: i % 10 === 0 ? "Rare" : "Common", data: "null" }] })
  }
  await storage.insertWorkflowsAndTasks(batch)
}
const seeded = performance.now() - started
started = performance.now()
// Statuses by position: the newest 0.9 % pending (work in flight), and one in 1,000 of the rest pending too (stuck);
// one in 100 failed, one in 100 cancelled; the rest completed, 1 s after creation.
const newestPending = Math.floor(total * 0.991)
storage.db
  .prepare(
    `UPDATE durabletasks_workflows SET
       status = CASE WHEN rowid > ? OR rowid % 1000 = 7 THEN 'pending' WHEN rowid % 100 = 3 THEN 'failed' WHEN rowid % 100 = 5 THEN 'cancelled' ELSE 'completed' END,
       updated_at = created_at + 1000`,
  )
  .run(newestPending)
const statused = performance.now() - started

const deep = (await storage.listWorkflows({ order: "newest", limit: 1, cursor: { createdAt: T0 + Math.floor(total * 0.1) * STEP_MS + 1, id: "" } }))[0]!
const reads: Array<[string, () => Promise<unknown>]> = [
  ["page of 50, newest first", () => list({})],
  ["page of 50, newest first, status completed", () => list({ status: "completed" })],
  ["page of 50, newest first, status pending", () => list({ status: "pending" })],
  ["page of 50, newest first, status failed", () => list({ status: "failed" })],
  ["page of 50, newest first, status cancelled", () => list({ status: "cancelled" })],
  ["page of 50, cursor 90 % deep", () => list({ cursor: { createdAt: deep.createdAt, id: deep.id } })],
  ["page of 50, cursor 90 % deep, status failed", () => list({ status: "failed", cursor: { createdAt: deep.createdAt, id: deep.id } })],
  ["page of 50, creation-time window in the middle", () => list({ createdAfter: T0 + (total / 2) * STEP_MS, createdBefore: T0 + (total / 2 + 1_000) * STEP_MS })],
  ["page of 50, runner filter (10 % of workflows)", () => list({ runner: "Rare" })],
  ["page of 50, ID prefix (1/256 of workflows)", () => list({ idPrefix: "a7" })],
  ["stats (counts, oldest pending, ended in the last hour)", () => storage.getWorkflowStats!({ endedSince: T0 + (total - 360_000) * STEP_MS })],
]

console.log(`listing bench: ${fmt(total)} workflows, build ${buildDir}; seeded in ${(seeded / 1000).toFixed(1)} s, statuses set in ${(statused / 1000).toFixed(1)} s`)
for (const [what, read] of reads) {
  const times: number[] = []
  let rows = 0
  for (let run = 0; run < 15; run++) {
    const t = performance.now()
    const result = await read()
    times.push(performance.now() - t)
    rows = Array.isArray(result) ? result.length : 1
  }
  console.log(`${what.padEnd(56)} ${median(times).toFixed(2).padStart(9)} ms  (${rows} rows)`)
}
await storage.close()
temp.remove()

function list(filter: Omit<WorkflowFilter, "limit" | "order">): Promise<unknown[]> {
  return (storage as StorageProvider).listWorkflows({ ...filter, order: "newest", limit: 50 })
}
