/**
 * `npm run bench:postgres-floor`: what the server spends per workflow to
 * claim and end one-task workflows, with durabletasks' statements and with
 * bare statements that change less, on one connection, nothing else running.
 *
 * Each run stores N one-task workflows (untimed), then claims them 200 at a
 * time with the Postgres provider's claim and ends each batch with one of:
 * - `durabletasks`: the provider's fenced end write (`applyWorkflowWrites`);
 * - `same rows, bare`: one plain statement that makes the same row changes
 *   (the workflow's status and lease, the task's outcome), without fencing
 *   by token per row, notifications or the parent wake-up;
 * - `workflow row only`: the workflow's update alone (as if the task's
 *   outcome were stored in the workflow row);
 * - `move to a table of ended rows`: the workflow row deleted and its end
 *   inserted into a table keyed by ID only (the cheapest way to keep it,
 *   without the indexes listing and retention need), and into one that also
 *   has those indexes (end time, creation time);
 * - `delete the workflow row`: what a job queue's completion costs (it keeps
 *   nothing: graphile-worker deletes the job).
 * The figure is the CPU time of the server backend (Linux, local server:
 * `/proc/<pid>/stat`) per workflow over the run, claims included, so the
 * differences between rows are the differences between the end writes.
 * Runs are interleaved (round r of every variant before round r + 1); medians.
 *
 * Options: --workflows N (default 20,000) --runs N (default 3).
 * Connection: DURABLETASKS_BENCH_POSTGRES (default
 * postgres://postgres@127.0.0.1:5432/test); creates and drops databases named
 * floor_bench_* on that server.
 *
 * @module
 */
import fs from "node:fs"
import pg from "pg"
import { WorkflowClient } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { WorkflowWrite } from "../src/storage/provider.js"
import { fmt, median, table } from "./stats.js"
import { processCPUMS } from "./peers/server-cpu.js"
import { optionText } from "./workloads/args.js"
import { freshDatabase } from "./workloads/fresh-database.js"

const connectionString = process.env.DURABLETASKS_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test"
const BATCH = 200
const TOKEN = "8f14e45f-ceea-467f-a0e6-2b8c9d3c1a7e"
const OWNER = "floor-bench"

/** One way to end a claimed batch; `ids` are the batch's workflow IDs. */
type EndBatch = (provider: PostgresStorageProvider, ids: string[], now: number) => Promise<unknown>

const VARIANTS: Record<string, EndBatch> = {
  durabletasks: (provider, ids, now) =>
    provider.applyWorkflowWrites(
      ids.map(
        (id): WorkflowWrite => ({
          kind: "endWorkflow",
          workflowID: id,
          token: TOKEN,
          now,
          counts: { recoveries: 0, crashes: 0 },
          status: "completed",
          task: { seq: 0, status: "completed", result: "null", error: null, attempts: 1, startedAt: now, runnerID: OWNER },
        }),
      ),
    ),
  "same rows, bare": (provider, ids, now) =>
    provider.pool.query(
      `WITH w AS (
         UPDATE public.durabletasks_workflows SET status = 'completed', updated_at = $2, lease_owner = NULL, lease_token = NULL,
           lease_expires_at = NULL
         WHERE id = ANY($1) AND status = 'pending' AND lease_token = $3 RETURNING id)
       UPDATE public.durabletasks_tasks AS t SET status = 'completed', result = 'null', attempts = 1, updated_at = $2,
         started_at = $2, ended_at = $2, runner_id = $4
       FROM w WHERE t.workflow_id = w.id AND t.seq = 0`,
      [ids, now, TOKEN, OWNER],
    ),
  "workflow row only": (provider, ids, now) =>
    provider.pool.query(
      `UPDATE public.durabletasks_workflows SET status = 'completed', updated_at = $2, lease_owner = NULL, lease_token = NULL,
         lease_expires_at = NULL
       WHERE id = ANY($1) AND status = 'pending' AND lease_token = $3`,
      [ids, now, TOKEN],
    ),
  "move to a table of ended rows": (provider, ids, now) => moveToEnded(provider, ids, now, "floor_bench_ended"),
  "… that has listing indexes": (provider, ids, now) => moveToEnded(provider, ids, now, "floor_bench_ended_listed"),
  "delete the workflow row": (provider, ids) =>
    provider.pool.query(`DELETE FROM public.durabletasks_workflows WHERE id = ANY($1) AND lease_token = $2`, [ids, TOKEN]),
}

/**
 * The tables the "move" variants write ended workflows to: one keyed by ID
 * and nothing else, the cheapest way to keep them; one also indexed by end
 * time (retention) and by creation time (newest-first listing), as the
 * workflows table is.
 */
const ENDED_TABLES = [
  `CREATE TABLE public.floor_bench_ended (id text COLLATE "C" PRIMARY KEY, status text NOT NULL, created_at bigint NOT NULL,
     ended_at bigint NOT NULL, result text)`,
  `CREATE TABLE public.floor_bench_ended_listed (LIKE public.floor_bench_ended INCLUDING ALL)`,
  `CREATE INDEX ON public.floor_bench_ended_listed (ended_at)`,
  `CREATE INDEX ON public.floor_bench_ended_listed (created_at, id)`,
]

/** Deletes the batch's workflow rows and inserts their ends into `table`, in one statement. */
function moveToEnded(provider: PostgresStorageProvider, ids: string[], now: number, table: string): Promise<unknown> {
  return provider.pool.query(
    `WITH moved AS (DELETE FROM public.durabletasks_workflows WHERE id = ANY($1) AND lease_token = $2 RETURNING id, created_at)
     INSERT INTO public.${table} (id, status, created_at, ended_at, result) SELECT id, 'completed', created_at, $3, 'null' FROM moved`,
    [ids, TOKEN, now],
  )
}

/** Whether `pid` is a Postgres process on this machine (Linux `/proc`). */
function isLocalPostgres(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("postgres")
  } catch {
    return false
  }
}

/** One run: N workflows stored, then claimed and ended by `end`; returns server CPU µs per workflow. */
async function runVariant(end: EndBatch, workflows: number): Promise<number> {
  const db = await freshDatabase(connectionString, "floor_bench")
  try {
    const client = new WorkflowClient({ storageProvider: new PostgresStorageProvider(db.url) })
    for (let i = 0; i < workflows; i += 5_000) {
      const ids = Array.from({ length: Math.min(5_000, workflows - i) }, (_, k) => `wf-${i + k}`)
      await Promise.all(ids.map((id) => client.addWorkflow({ workflowID: id, tasks: { job: { task: "Noop" } } })))
    }
    await client.close()
    // One connection, so that one backend does all the work measured.
    const pool = new pg.Pool({ connectionString: db.url, max: 1 })
    const provider = new PostgresStorageProvider(pool, { notifications: false })
    try {
      await provider.init()
      for (const sql of ENDED_TABLES) await pool.query(sql)
      const pid = Number((await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid)
      // A server elsewhere has its own process IDs: this one must be a Postgres backend of this machine.
      if (!isLocalPostgres(pid)) throw new Error("the server's backend is not a process of this machine: run this bench beside the server")
      const cpu = () => {
        const ms = processCPUMS(pid)
        if (ms === undefined) throw new Error(`the server's backend ${pid} exited during the run`)
        return ms
      }
      const before = cpu()
      let done = 0
      for (;;) {
        const now = Date.now()
        const claimed = await provider.claimWorkflows({ lease: { owner: OWNER, token: TOKEN, expiresAt: now + 60_000 }, now, limit: BATCH, reclaimOwn: false })
        if (claimed.length === 0) break
        await end(
          provider,
          claimed.map((c) => c.workflow.id),
          now,
        )
        done += claimed.length
      }
      const cpuMS = cpu() - before
      if (done !== workflows) throw new Error(`claimed ${done} of ${workflows} workflows`)
      return (cpuMS * 1000) / workflows
    } finally {
      await provider.close()
      await pool.end()
    }
  } finally {
    await db.drop()
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const workflows = Number(optionText(argv, "workflows") ?? 20_000)
  const runs = Number(optionText(argv, "runs") ?? 3)
  if (!Number.isInteger(workflows) || workflows < BATCH) throw new Error(`--workflows must be an integer >= ${BATCH}`)
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer")
  if (!fs.existsSync("/proc/self/stat")) throw new Error("this bench reads the server's CPU from /proc: run it on Linux, beside the server")
  const samples = new Map<string, number[]>(Object.keys(VARIANTS).map((v) => [v, []]))
  for (let r = 0; r < runs; r++) {
    for (const [variant, end] of Object.entries(VARIANTS)) {
      const us = await runVariant(end, workflows)
      samples.get(variant)!.push(us)
      process.stderr.write(`run ${r + 1}/${runs} ${variant}: ${us.toFixed(1)} µs per workflow\n`)
    }
  }
  const ours = median(samples.get("durabletasks")!)
  const rows = [...samples].map(([variant, values]) => {
    const m = median(values)
    return [variant, `${m.toFixed(1)} µs`, values.map((v) => v.toFixed(1)).join(" / "), `${(m - ours >= 0 ? "+" : "") + (m - ours).toFixed(1)} µs`]
  })
  console.log(`\nserver CPU per workflow to claim and end ${fmt(workflows)} one-task workflows, ${BATCH} per statement; medians of ${runs}\n`)
  console.log(table(["end write", "median", "runs", "vs durabletasks"], rows))
}

await main()
